"""Native oracle for differential tests: run x86-64 code on the real CPU from a CpuState."""

from .asm import AsmError, assemble
from .native import HarnessError, NativeHarness, run_native
from .state import (
    AF,
    CF,
    CODE_ADDR,
    CODE_SIZE,
    DATA_ADDR,
    DATA_SIZE,
    DF,
    FLAGS_MASK,
    GPR_NAMES,
    MAX_CODE_LEN,
    OF,
    PF,
    SF,
    STATUS_FLAGS,
    ZF,
    CpuState,
)

__all__ = [
    "AF",
    "CF",
    "CODE_ADDR",
    "CODE_SIZE",
    "DATA_ADDR",
    "DATA_SIZE",
    "DF",
    "FLAGS_MASK",
    "GPR_NAMES",
    "MAX_CODE_LEN",
    "OF",
    "PF",
    "SF",
    "STATUS_FLAGS",
    "ZF",
    "AsmError",
    "CpuState",
    "HarnessError",
    "NativeHarness",
    "assemble",
    "run_native",
]
