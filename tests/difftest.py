"""The xlate side of the differential tests: run code bytes from a CpuState under an engine, in
the same layout as the native oracle (tests/oracle), and read the final state back."""

from __future__ import annotations

import os
import signal

from hypothesis import HealthCheck, settings

from tests.oracle import CODE_ADDR, CODE_SIZE, DATA_ADDR, DATA_SIZE, CpuState, run_native
from xlate.machine import Machine
from xlate.memory import PROT_EXEC, PROT_READ, PROT_WRITE
from xlate.runtime import ffi
from xlate.semantics import UNDEFINED_FLAGS
from xlate.semantics.system import RFLAGS_BITS

# XLATE_EXPLORE=k: the differential tests look for new bugs, with random seeds and k times their
# examples. By default their examples are derandomized, so that CI runs repeat.
EXPLORE = int(os.environ.get("XLATE_EXPLORE") or 0)


def settings_for(n: int, times: int = 0, suppress: tuple[HealthCheck, ...] = ()) -> settings:
    """Hypothesis settings for n examples, or n * times (by default XLATE_EXPLORE's k) random
    ones when exploring."""
    return settings(max_examples=n * (times or EXPLORE) if EXPLORE else n, deadline=None,
                    derandomize=not EXPLORE, database=None, suppress_health_check=suppress)


# "python": the JIT's cheap tier for every block (threaded code, xlate.threaded, or where it
# cannot express a block, a Python function, xlate.pyblocks), LLVM never.
ENGINES = ("interp", "jit", "python")


def run_xlate(code: bytes, state: CpuState, engine: str) -> CpuState:
    """Run code at CODE_ADDR from state under the engine; the result as the oracle reports it."""
    if engine == "python":
        machine = Machine.bare("jit", jit_threshold=1 << 62, python_threshold=0)
    else:
        machine = Machine.bare(engine)
    memory, cpu = machine.memory, machine.cpu
    memory.map(DATA_ADDR, DATA_SIZE, PROT_READ | PROT_WRITE)
    memory.write(DATA_ADDR, state.mem)
    memory.map(CODE_ADDR, CODE_SIZE, PROT_READ | PROT_EXEC)
    memory.poke(CODE_ADDR, code)
    for i, value in enumerate(state.gpr):
        cpu.gpr[i] = value
    machine.rflags = state.rflags
    for i, value in enumerate(state.xmm):
        ffi.buffer(cpu.xmm[i])[:] = value.to_bytes(16, "little")
    cpu.mxcsr = state.mxcsr
    # x87: the oracle's FXSAVE form has ST(i) in stack order and an abridged tag (bit set: in
    # use); the cpu struct has physical registers and a bit set for each empty one.
    cpu.fpu_cw, cpu.fpu_sw, cpu.fpu_tag = state.fcw, state.fsw, ~state.ftw & 0xFF
    top = state.fsw >> 11 & 7
    for i, value in enumerate(state.st):
        ffi.buffer(cpu.st[(top + i) & 7])[0:10] = value.to_bytes(10, "little")
    cpu.rip = CODE_ADDR
    end = CODE_ADDR + len(code)
    result = machine.run(until=end)
    out = state.copy()
    out.gpr = list(cpu.gpr)
    out.rflags = machine.rflags & sum(1 << bit for bit in RFLAGS_BITS.values())
    out.xmm = [int.from_bytes(ffi.buffer(cpu.xmm[i]), "little") for i in range(16)]
    out.mxcsr = cpu.mxcsr
    out.fcw, out.fsw, out.ftw = cpu.fpu_cw, cpu.fpu_sw, ~cpu.fpu_tag & 0xFF
    top = cpu.fpu_sw >> 11 & 7
    out.st = [int.from_bytes(ffi.buffer(cpu.st[(top + i) & 7])[0:10], "little") for i in range(8)]
    out.mem = memory.read(DATA_ADDR, DATA_SIZE)
    out.rip = cpu.rip
    out.signal = result.signal
    if result.exit_status is not None and not result.signal:
        out.signal = signal.SIGKILL  # it exited: something the oracle never does
    return out


def undefined_flags_mask(code_names: list[str]) -> int:
    """rflags bits that are defined after running instructions with these names."""
    mask = 0
    for name in code_names:
        for flag in UNDEFINED_FLAGS.get(name, ()):
            mask |= 1 << RFLAGS_BITS[flag]
    return mask


def compare(code: bytes, state: CpuState, engine: str, undefined: int = 0) -> list[str]:
    """Differences between the native run and the engine's run ([] when they agree)."""
    native = run_native(code, state)
    emulated = run_xlate(code, state, engine)
    flags_mask = 0xCD5 & ~undefined
    return native.diff(emulated, flags_mask=flags_mask, outcome=False) + (
        [f"signal: native {native.signal} != xlate {emulated.signal}"]
        if native.signal != emulated.signal else [])
