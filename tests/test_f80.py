"""The portable x87 extended-precision library (csrc/f80.c) against the host x87.

The comparison itself lives in tests/f80/check.c: every operation runs on the host FPU and
in software, and the 80-bit (or integer/float) result bits, exception flags and defined
condition codes must be identical. Here it is built and run over a table of special values
and random operands, and driven by hypothesis through ctypes so that a failure shrinks to
a small case.
"""

from __future__ import annotations

import ctypes
import platform
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
F80_SOURCE = ROOT / "csrc" / "f80.c"
DRIVER_SOURCE = ROOT / "tests" / "f80" / "check.c"
RANDOM_OPERANDS_PER_OP = 300_000
C_FLAGS = ["-std=gnu99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'csrc'}"]

host_has_x87 = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64", "i386", "i686"),
    reason="the oracle is the host's x87 FPU",
)


def _gcc(args: list[str]) -> None:
    proc = subprocess.run(["gcc", *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("f80") / "check"
    _gcc([*C_FLAGS, str(DRIVER_SOURCE), str(F80_SOURCE), "-o", str(exe)])
    return exe


@pytest.fixture(scope="module")
def checker_library(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    lib_path = tmp_path_factory.mktemp("f80lib") / "libcheck.so"
    _gcc([*C_FLAGS, "-shared", "-fPIC", str(DRIVER_SOURCE), str(F80_SOURCE), "-o", str(lib_path)])
    lib = ctypes.CDLL(str(lib_path))
    lib.f80_check_one.argtypes = [
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_uint64,
        ctypes.c_uint,
        ctypes.c_uint64,
    ]
    lib.f80_check_one.restype = ctypes.c_int
    lib.f80_op_name.argtypes = [ctypes.c_int]
    lib.f80_op_name.restype = ctypes.c_char_p
    return lib


@pytest.fixture(scope="module")
def op_names(checker_library: ctypes.CDLL) -> list[str]:
    names = []
    while (name := checker_library.f80_op_name(len(names))) is not None:
        names.append(name.decode())
    return names


# Status bits the host must have raised somewhere in the run, so that a pass means the
# corner was compared rather than never reached.
EXPECTED_HOST_EVENTS = {
    "fadd": {"IE", "DE", "OE", "UE", "PE", "C1"},
    "fsub": {"IE", "DE", "OE", "UE", "PE", "C1"},
    "fmul": {"IE", "DE", "OE", "UE", "PE", "C1"},
    "fdiv": {"IE", "DE", "ZE", "OE", "UE", "PE", "C1"},
    "fscale": {"IE", "DE", "OE", "UE", "PE", "C1"},
    "fprem": {"IE", "DE", "C1", "C2"},
    "fprem1": {"IE", "DE", "C1", "C2"},
    "fcom": {"IE", "DE"},
    "fucom": {"IE", "DE"},
    "fsqrt": {"IE", "DE", "PE", "C1"},
    "frndint": {"IE", "DE", "PE", "C1"},
    "fxtract": {"IE", "DE", "ZE"},
    "fist16": {"IE", "PE", "C1"},
    "fist64": {"IE", "PE", "C1"},
    "fisttp32": {"IE", "PE"},
    "fst32": {"IE", "OE", "UE", "PE", "C1"},
    "fst64": {"IE", "OE", "UE", "PE", "C1"},
    "fld32": {"IE", "DE"},
    "fld64": {"IE", "DE"},
}


@host_has_x87
def test_f80_matches_host_x87_on_special_values_and_random_operands(checker: Path) -> None:
    proc = subprocess.run(
        [str(checker), str(RANDOM_OPERANDS_PER_OP), "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("OK"), proc.stdout[-6000:]
    summary = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"(\S+)\s+(\d+) checked\s+(\d+) mismatched; host raised (.*)", line)
        if m:
            raised = {k for k, v in (kv.split("=") for kv in m.group(4).split()) if int(v) > 0}
            summary[m.group(1)] = (int(m.group(2)), raised)
    assert set(EXPECTED_HOST_EVENTS) <= set(summary)
    assert all(count > 0 for count, _ in summary.values())
    for op, events in EXPECTED_HOST_EVENTS.items():
        assert events <= summary[op][1], f"{op}: never saw {events - summary[op][1]}"


BIAS = 16383
# Exponents (relative to the bias) where formats and integer widths end.
BOUNDARIES = [0, -1, 14, 15, 31, 32, 63, 64, 127, -126, -149, 1023, -1022, -1074, -16382]

exponents = st.one_of(
    st.integers(0, 0x7FFF),
    st.sampled_from([0, 1, 0x7FFE, 0x7FFF]),
    st.integers(-70, 70).map(lambda d: BIAS + d),
    st.tuples(st.sampled_from(BOUNDARIES), st.integers(-2, 2)).map(lambda t: BIAS + t[0] + t[1]),
)
mantissas = st.one_of(
    st.integers(0, 2**64 - 1),
    st.integers(0, 1024).map(lambda d: 2**63 + d),
    st.integers(0, 1024).map(lambda d: 2**64 - 1 - d),
    st.tuples(st.integers(0, 63), st.integers(1, 64)).map(
        lambda t: (((1 << t[1]) - 1) << t[0]) & (2**64 - 1)
    ),
    st.sampled_from([0, 1, 2**62, 2**63, 3 << 62, 2**63 + 2**40, 2**63 + 2**10]),
)
values = st.tuples(st.integers(0, 1), exponents, mantissas).map(lambda t: (t[0] << 15 | t[1], t[2]))
control_words = st.tuples(st.integers(0, 3), st.integers(0, 3)).map(
    lambda t: 0x007F | t[0] << 10 | t[1] << 8
)


@host_has_x87
@settings(
    max_examples=1500,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(op_index=st.integers(0, 2**16 - 1), cw=control_words, a=values, b=values)
def test_f80_matches_host_x87_on_generated_operands(
    checker_library: ctypes.CDLL,
    op_names: list[str],
    op_index: int,
    cw: int,
    a: tuple[int, int],
    b: tuple[int, int],
) -> None:
    op = op_index % len(op_names)
    if op_names[op] == "fldconst":  # the operand selects one of the seven constants
        a = (0, a[1] % 7)
    mismatch = checker_library.f80_check_one(op, cw, a[0], a[1], b[0], b[1])
    assert mismatch == 0, (
        f"{op_names[op]} cw={cw:#06x} a={a[0]:04x}:{a[1]:016x} b={b[0]:04x}:{b[1]:016x}"
    )


def test_f80_compiles_warning_free_without_floating_point_registers(tmp_path: Path) -> None:
    # -mgeneral-regs-only (x86 and aarch64) rejects any float, double or long double code:
    # proof that the library is integer-only and so gives the same bits on every host.
    _gcc(
        [
            "-std=c99",
            "-pedantic",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O2",
            "-mgeneral-regs-only",
            "-c",
            str(F80_SOURCE),
            "-o",
            str(tmp_path / "f80.o"),
        ]
    )


def test_f80_source_uses_no_inline_asm_or_host_float_types() -> None:
    code = ""
    for path in (F80_SOURCE, F80_SOURCE.with_suffix(".h")):
        text = path.read_text()
        code += re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
    forbidden = re.findall(r"\b(?:asm|__asm__|float|double|fenv\.h|math\.h)\b", code)
    assert forbidden == []
