"""The x87 FPU under both engines against the real CPU (tests/oracle runs the same code natively).

Every case starts from a random x87 state: a stack of 0-8 values (specials, denormals,
unsupported encodings, values near the integer and float limits, random ones), any TOP, any
rounding and precision control with every exception masked, and random sticky flags and
condition codes. The final control, status and tag words, the registers in use, the general
registers, rflags and the whole data region must be identical, but for the condition codes
Intel's manual leaves undefined and, for the transcendental instructions (which no two
implementations round alike), a last-place difference in their results and C1.

Set XLATE_EXPLORE=k to look for new bugs: random seeds and k times the examples. By default the
examples are derandomized, so that CI runs are repeatable (random ones found the two fyl2x cases
pinned below, in one run of the suite in some twenty).
"""

from __future__ import annotations

import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.difftest import ENGINES, compare, run_xlate, settings_for
from tests.oracle import DATA_ADDR, CpuState, assemble, run_native
from xlate.machine import ENGINES as ENGINES_OF_THE_COMMAND

ROOT = Path(__file__).resolve().parent.parent
OPERAND_ADDR = DATA_ADDR + 0x100  # rax points here: [rax] is every memory operand

BIAS = 0x3FFF
SIGN = 1 << 79
INT_BIT = 1 << 63


def f80(sign: int, exponent: int, mantissa: int) -> int:
    return sign << 79 | exponent << 64 | mantissa


SPECIAL_F80 = (
    0, SIGN,                                            # +-0
    f80(0, BIAS, INT_BIT), f80(1, BIAS, INT_BIT),       # +-1
    f80(0, BIAS - 1, INT_BIT), f80(0, BIAS + 1, 3 << 62),  # 0.5, 3
    f80(0, 0x7FFF, INT_BIT), f80(1, 0x7FFF, INT_BIT),   # +-infinity
    f80(0, 0x7FFF, 3 << 62), f80(1, 0x7FFF, 3 << 62),   # quiet NaNs (the indefinite is negative)
    f80(0, 0x7FFF, 3 << 62 | 0x1234), f80(1, 0x7FFF, INT_BIT | 1),  # payload; signaling
    f80(0, 0x7FFF, INT_BIT | 1 << 40),
    f80(0, 0x7FFE, (1 << 64) - 1), f80(1, 0x7FFE, (1 << 64) - 1),  # largest
    f80(0, 1, INT_BIT), f80(0, 0, 1), f80(1, 0, (1 << 63) - 1),    # smallest normal, denormals
    f80(0, 0, INT_BIT), f80(1, 0, INT_BIT | 5),          # pseudo-denormals
    f80(0, BIAS, 1 << 62), f80(0, 0x7FFF, 0), f80(0, 0x7FFF, 1 << 62),  # unsupported
    f80(0, BIAS + 15, INT_BIT), f80(1, BIAS + 15, INT_BIT),
    f80(0, BIAS + 14, ((1 << 15) - 1) << 49),
    f80(1, BIAS + 31, INT_BIT), f80(0, BIAS + 31, INT_BIT), f80(1, BIAS + 63, INT_BIT),
    f80(0, BIAS + 63, INT_BIT), f80(0, BIAS + 62, (1 << 64) - 1),
    f80(0, BIAS - 1, INT_BIT | 1), f80(1, BIAS + 1, 5 << 61),  # just above 0.5, -2.5
    f80(0, BIAS + 127, (1 << 64) - (1 << 39)), f80(0, BIAS - 126, INT_BIT),  # float edges
    f80(0, BIAS - 149, INT_BIT), f80(0, BIAS + 1023, (1 << 64) - (1 << 11)),  # double edges
    f80(0, BIAS - 1074, INT_BIT), f80(1, BIAS - 1022, INT_BIT | 1 << 10),
)  # fmt: skip


@st.composite
def f80_values(draw: st.DrawFn) -> int:
    """80-bit register contents: specials a quarter of the time, else random, mostly normal."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(SPECIAL_F80))
    exponent = draw(st.one_of(
        st.integers(BIAS - 70, BIAS + 70),
        st.integers(0, 0x7FFF),
        st.sampled_from((0, 1, 0x7FFE, BIAS + 14, BIAS + 15, BIAS + 30, BIAS + 31, BIAS + 62,
                         BIAS + 63, BIAS - 126, BIAS - 150, BIAS - 1022, BIAS - 1075,
                         BIAS + 127, BIAS + 1023, BIAS + 16384 - 64)),
    ))  # fmt: skip
    mantissa = draw(st.integers(0, (1 << 63) - 1))
    mantissa &= ~((1 << draw(st.integers(0, 63))) - 1)  # short ones give exact results and ties
    if exponent and draw(st.integers(0, 15)):
        mantissa |= INT_BIT
    return f80(draw(st.integers(0, 1)), exponent & 0x7FFF, mantissa)


FLOAT32_SPECIALS = (0, 0x8000_0000, 0x3F80_0000, 0xBF80_0000, 0x7F80_0000, 0xFF80_0000,
                    0x7FC0_0000, 0xFFC0_0000, 0x7F80_0001, 0x7FA0_1234, 0x0000_0001, 0x807F_FFFF,
                    0x0080_0000, 0x7F7F_FFFF, 0x4F00_0000, 0xCF00_0000, 0x3F00_0000)
FLOAT64_SPECIALS = (0, 1 << 63, 0x3FF0 << 48, 0xBFF0 << 48, 0x7FF0 << 48, 0xFFF0 << 48,
                    0x7FF8 << 48, 0xFFF8 << 48, 0x7FF0_0000_0000_0001, 0x7FF4 << 48 | 0x5678, 1,
                    0x800F_FFFF_FFFF_FFFF, 0x0010 << 48, 0x7FEF_FFFF_FFFF_FFFF,
                    0x43E0 << 48, 0xC3E0 << 48, 0x3FE0 << 48, 0x4330_0000_0000_0001)
INT_SPECIALS = (0, 1, -1, 2, -2, 0x7FFF, -0x8000, 0x7FFF_FFFF, -0x8000_0000, (1 << 63) - 1,
                -(1 << 63), 12345, -98765)


def _bits(width: int, specials: tuple[int, ...]) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(specials), st.integers(0, (1 << width) - 1))


MEMORY = {
    "m32fp": _bits(32, FLOAT32_SPECIALS).map(lambda v: struct.pack("<I", v)),
    "m64fp": _bits(64, FLOAT64_SPECIALS).map(lambda v: struct.pack("<Q", v)),
    "m80fp": f80_values().map(lambda v: v.to_bytes(10, "little")),
    "m16int": _bits(16, tuple(v & 0xFFFF for v in INT_SPECIALS)).map(
        lambda v: struct.pack("<H", v)),
    "m32int": _bits(32, tuple(v & 0xFFFF_FFFF for v in INT_SPECIALS)).map(
        lambda v: struct.pack("<I", v)),
    "m64int": _bits(64, tuple(v & (1 << 64) - 1 for v in INT_SPECIALS)).map(
        lambda v: struct.pack("<Q", v)),
    "m80bcd": st.builds(lambda digits, sign: bytes(
        digits[i] | digits[i + 1] << 4 for i in range(0, 18, 2)) + bytes([sign << 7]),
        st.lists(st.integers(0, 9), min_size=18, max_size=18), st.integers(0, 1)),
    "none": st.just(b""),
}  # fmt: skip

# Control words with every exception masked: any rounding, any precision (1 is reserved and
# behaves as 3), the infinity bit either way.
control_words = st.builds(lambda rc, pc, x: 0x037F & ~0x0F00 | rc << 10 | pc << 8 | x << 12,
                          st.integers(0, 3), st.integers(0, 3), st.integers(0, 1))
# Sticky exception flags (IE DE ZE OE UE PE, SF) and condition codes C0-C3 from before.
old_status = st.integers(0, 0xFFFF).map(lambda w: w & 0x477F)


@dataclass
class Setup:
    """An x87 starting state: small, so that hypothesis reports a failing one readably."""

    fcw: int
    fsw: int
    depth: int
    st: list[int]  # physical registers
    operand: bytes  # at [rax]
    seed: int  # of the general registers

    def state(self) -> CpuState:
        s = CpuState.random(self.seed, random_mem=False)
        s["rax"] = OPERAND_ADDR
        s.fcw, s.fsw = self.fcw, self.fsw
        top = self.fsw >> 11 & 7
        s.st = [self.st[(top + i) & 7] for i in range(8)]
        s.ftw = sum(1 << ((top + i) & 7) for i in range(self.depth))
        s.poke(OPERAND_ADDR, self.operand)
        return s


@st.composite
def x87_setups(draw: st.DrawFn, memory: str = "none", min_depth: int = 0,
               max_depth: int = 8) -> Setup:
    """A stack of min_depth..max_depth values from a random TOP, an operand at [rax]."""
    depth = draw(st.integers(min_depth, max_depth))
    fsw = draw(old_status) | draw(st.integers(0, 7)) << 11
    values = [draw(f80_values()) for _ in range(8)]
    for i in range(1, depth):  # equal operands now and then, for compares and x - x
        if draw(st.integers(0, 7)) == 0:
            values[i] = values[draw(st.integers(0, i - 1))]
    top = fsw >> 11 & 7
    physical = [values[(p - top) & 7] for p in range(8)]
    operand = draw(MEMORY[memory]) + draw(st.binary(min_size=16, max_size=16))
    return Setup(draw(control_words), fsw, depth, physical, operand,
                 draw(st.integers(0, 2**32 - 1)))


def _examples(n: int) -> settings:
    return settings_for(n, suppress=(HealthCheck.too_slow, HealthCheck.data_too_large))


C0, C1, C2, C3 = 0x0100, 0x0200, 0x0400, 0x4000
UNDERFLOW = 0x0010  # fsw.UE
# Condition codes that Intel's manual leaves undefined after an instruction. xlate gives what
# the AMD CPU it was developed on gives (mostly: left alone), but other CPUs may differ, so
# these are not compared. fcomi's C1 is "set to 0" by the manual, left alone by that CPU.
_UNDEFINED_CODES = {
    **dict.fromkeys(("fld", "fild", "fbld", "fld1", "fldz", "fldpi", "fldl2e", "fldl2t",
                     "fldlg2", "fldln2", "fst", "fstp", "fist", "fistp", "fisttp", "fbstp",
                     "fchs", "fabs", "fsqrt", "frndint", "fscale", "fxtract", "fxch",
                     "fincstp", "fdecstp", *(f"fcmov{cc}" for cc in (
                         "b", "e", "be", "u", "nb", "ne", "nbe", "nu"))), C0 | C2 | C3),
    **dict.fromkeys((op + suffix for op in ("fadd", "fmul", "fsub", "fsubr", "fdiv", "fdivr")
                     for suffix in ("", "p")), C0 | C2 | C3),
    **dict.fromkeys(("fiadd", "fimul", "fisub", "fisubr", "fidiv", "fidivr"), C0 | C2 | C3),
    **dict.fromkeys(("ffree", "ffreep", "fldcw", "fnstcw", "fstcw", "fnstsw", "fstsw",
                     "fnclex", "fclex", "fnop", "fwait"), C0 | C1 | C2 | C3),
    **dict.fromkeys(("fcomi", "fcomip", "fucomi", "fucomip"), C1),
}


def undefined_codes(asm: str) -> int:
    """The condition codes no instruction of asm defines after an earlier one left them
    undefined: the union of the undefined codes of its instructions (a rough but safe rule)."""
    codes = 0
    for line in asm.splitlines():
        codes |= _UNDEFINED_CODES.get(line.split(" ")[0], 0)
    return codes


def check(asm: str, setup: Setup | CpuState, engine: str) -> None:
    """The native run and the engine's agree, but for condition codes left undefined."""
    state = setup.state() if isinstance(setup, Setup) else setup
    code = assemble(asm)
    native, emulated = run_native(code, state), run_xlate(code, state, engine)
    ignored = undefined_codes(asm)
    native.fsw &= ~ignored
    emulated.fsw &= ~ignored
    diffs = native.diff(emulated, outcome=False)
    if native.signal != emulated.signal:
        diffs.append(f"signal: native {native.signal} != xlate {emulated.signal}")
    assert not diffs, f"{asm!r} under {engine}: {diffs}"


def _forms(*groups: tuple[str, str]) -> st.SearchStrategy[tuple[str, str]]:
    return st.sampled_from(groups)


def _run_family(data: st.DataObject, forms: st.SearchStrategy[tuple[str, str]], engine: str,
                min_depth: int = 0) -> None:
    asm, memory = data.draw(forms, label="form")
    check(asm, data.draw(x87_setups(memory, min_depth), label="setup"), engine)


engines = pytest.mark.parametrize("engine", ENGINES)

LOADS = _forms(
    ("fld dword ptr [rax]", "m32fp"), ("fld qword ptr [rax]", "m64fp"),
    ("fld tbyte ptr [rax]", "m80fp"), ("fild word ptr [rax]", "m16int"),
    ("fild dword ptr [rax]", "m32int"), ("fild qword ptr [rax]", "m64int"),
    ("fld st(0)", "none"), ("fld st(3)", "none"), ("fld st(7)", "none"),
    ("fbld tbyte ptr [rax]", "m80bcd"), ("fld1", "none"), ("fldz", "none"), ("fldpi", "none"),
    ("fldl2e", "none"), ("fldl2t", "none"), ("fldlg2", "none"), ("fldln2", "none"),
)  # fmt: skip


@engines
@_examples(50)
@given(data=st.data())
def test_loads_widen_exactly_and_overflow_the_stack_as_the_cpu(engine: str, data) -> None:
    _run_family(data, LOADS, engine)


STORES = _forms(
    ("fst dword ptr [rax]", "none"), ("fst qword ptr [rax]", "none"),
    ("fstp dword ptr [rax]", "none"), ("fstp qword ptr [rax]", "none"),
    ("fstp tbyte ptr [rax]", "none"),
    ("fist word ptr [rax]", "none"), ("fist dword ptr [rax]", "none"),
    ("fistp word ptr [rax]", "none"), ("fistp dword ptr [rax]", "none"),
    ("fistp qword ptr [rax]", "none"),
    ("fisttp word ptr [rax]", "none"), ("fisttp dword ptr [rax]", "none"),
    ("fisttp qword ptr [rax]", "none"), ("fbstp tbyte ptr [rax]", "none"),
    ("fst st(0)", "none"), ("fst st(2)", "none"), ("fstp st(0)", "none"), ("fstp st(1)", "none"),
    ("fstp st(5)", "none"),
)  # fmt: skip


@engines
@_examples(80)
@given(data=st.data())
def test_stores_round_with_the_control_word_as_the_cpu(engine: str, data) -> None:
    _run_family(data, STORES, engine)


_ARITH = ("fadd", "fmul", "fsub", "fsubr", "fdiv", "fdivr")
ARITH_REGISTERS = _forms(
    *((f"{op} st, st({i})", "none") for op in _ARITH for i in (0, 1, 3)),
    *((f"{op} st({i}), st", "none") for op in _ARITH for i in (1, 2)),
    *((f"{op}p st({i}), st", "none") for op in _ARITH for i in (1, 4)),
)  # fmt: skip


@engines
@_examples(120)
@given(data=st.data())
def test_register_arithmetic_matches_the_cpu(engine: str, data) -> None:
    _run_family(data, ARITH_REGISTERS, engine, min_depth=1)


ARITH_MEMORY = _forms(
    *((f"{op} dword ptr [rax]", "m32fp") for op in _ARITH),
    *((f"{op} qword ptr [rax]", "m64fp") for op in _ARITH),
    *((f"fi{op[1:]} word ptr [rax]", "m16int") for op in _ARITH),
    *((f"fi{op[1:]} dword ptr [rax]", "m32int") for op in _ARITH),
)  # fmt: skip


@engines
@_examples(100)
@given(data=st.data())
def test_memory_arithmetic_matches_the_cpu(engine: str, data) -> None:
    _run_family(data, ARITH_MEMORY, engine)


# fnstsw ax after each compare: the condition codes also reach the integer side.
COMPARES_STATUS = _forms(
    *((f"{op} st({i})\nfnstsw ax", "none")
      for op in ("fcom", "fcomp", "fucom", "fucomp") for i in (1, 2)),
    ("fcompp\nfnstsw ax", "none"), ("fucompp\nfnstsw ax", "none"), ("ftst\nfnstsw ax", "none"),
    ("fcom dword ptr [rax]\nfnstsw ax", "m32fp"), ("fcomp qword ptr [rax]\nfnstsw ax", "m64fp"),
    ("ficom word ptr [rax]\nfnstsw ax", "m16int"), ("ficomp dword ptr [rax]\nfnstsw ax", "m32int"),
)  # fmt: skip


@engines
@_examples(80)
@given(data=st.data())
def test_compares_set_the_condition_codes_as_the_cpu(engine: str, data) -> None:
    _run_family(data, COMPARES_STATUS, engine)


COMPARES_RFLAGS = _forms(
    *((f"{op} st, st({i})", "none")
      for op in ("fcomi", "fcomip", "fucomi", "fucomip") for i in (1, 3)),
)  # fmt: skip


@engines
@_examples(60)
@given(data=st.data())
def test_fcomi_and_fucomi_set_zf_pf_cf_as_the_cpu(engine: str, data) -> None:
    _run_family(data, COMPARES_RFLAGS, engine)


UNARY = _forms(*((op, "none") for op in (
    "fchs", "fabs", "fsqrt", "frndint", "fxam", "fxtract", "fscale", "fprem", "fprem1",
    "fxam\nfnstsw ax",
)))  # fmt: skip


@engines
@_examples(100)
@given(data=st.data())
def test_operations_on_the_top_of_the_stack_match_the_cpu(engine: str, data) -> None:
    _run_family(data, UNARY, engine)


STACK = _forms(*((op, "none") for op in (
    "fxch st(1)", "fxch st(5)", "ffree st(0)", "ffree st(3)", "ffreep st(2)", "fincstp",
    "fdecstp", "fninit", "finit", "fnclex", "fclex", "fnop", "fwait", "fnstsw ax",
    "fnstsw word ptr [rax]", "fnstcw word ptr [rax]", "fstcw word ptr [rax]",
    *(f"fcmov{cc} st, st({i})" for cc in ("b", "e", "be", "u", "nb", "ne", "nbe", "nu")
      for i in (1, 4)),
)))  # fmt: skip


@engines
@_examples(80)
@given(data=st.data())
def test_stack_and_status_instructions_match_the_cpu(engine: str, data) -> None:
    _run_family(data, STACK, engine)


@st.composite
def loaded_control_words(draw: st.DrawFn) -> bytes:
    return struct.pack("<H", draw(control_words))


# fldcw then operations that round: with the value in ST(0), and again from a double in memory.
ROUNDING = (
    "fldcw word ptr [rax]\nfld st(0)\nfrndint\nfist dword ptr [rax+8]\nfld st(1)\n"
    "fadd st, st(2)\nfst qword ptr [rax+16]\nfdiv st, st(3)\nfistp qword ptr [rax+24]\n"
    "fsqrt\nfstp dword ptr [rax+32]\nfnstcw word ptr [rax+2]"
)


@engines
@_examples(60)
@given(data=st.data())
def test_fldcw_rounding_and_precision_control_reach_every_operation(engine: str, data) -> None:
    state = data.draw(x87_setups(min_depth=4), label="setup").state()
    state.poke(OPERAND_ADDR, data.draw(loaded_control_words(), label="cw"))
    check(ROUNDING, state, engine)


# ---- transcendental instructions: within an ulp of the hardware ---------------------------


@st.composite
def f80_between(draw: st.DrawFn, max_exponent: int) -> int:
    """Values of magnitude below 2^(max_exponent - BIAS + 1), or special ones."""
    value = draw(f80_values())
    exponent = value >> 64 & 0x7FFF
    if 0 < exponent < 0x7FFF and exponent > max_exponent:
        value = value & ~(0x7FFF << 64) | draw(st.integers(BIAS - 70, max_exponent)) << 64
    return value


def _near_multiples_of_half_pi(k: int, offset: int) -> int:
    """k * pi/2, rounded to 64 bits, plus offset ulps: where fsin and fcos reduce the most."""
    half_pi = 0xC90FDAA22168C234C4C6628B80DC1CD1  # pi/2 * 2^127
    product = half_pi * k
    shift = product.bit_length() - 64
    mantissa = (product >> shift) + offset
    return f80(0, BIAS + shift - 127 + 63, mantissa)


TRANSCENDENTAL = {  # ST(0), ST(1) operands within the domain the manual defines results for
    "f2xm1": (f80_between(BIAS - 1) | st.sampled_from((f80(0, BIAS, INT_BIT),
                                                       f80(1, BIAS, INT_BIT))), f80_values()),
    "fyl2x": (f80_values(), f80_values()),
    # (Not ST(0) infinite: the Intel CPU the tests ran on gives y * log2(inf) for +inf, with no
    # invalid-operation flag; xlate raises invalid, as the AMD CPU it was written on does.)
    "fyl2xp1": (f80_between(BIAS - 3).filter(lambda v: v & ~SIGN != f80(0, 0x7FFF, INT_BIT)),
                f80_values()),
    "fpatan": (f80_values(), f80_values()),
    **dict.fromkeys(("fsin", "fcos", "fsincos", "fptan"), (
        f80_values() | st.builds(_near_multiples_of_half_pi, st.integers(1, 1 << 20),
                                 st.integers(-2, 2)), f80_values())),
}


def _ulp_key(value: int) -> int:
    """Consecutive 80-bit values of one sign have consecutive keys."""
    return (value >> 64 & 0x7FFF) << 63 | (value & ((1 << 63) - 1))


def within_an_ulp(a: int, b: int) -> bool:
    return a == b or (a >> 79 == b >> 79 and abs(_ulp_key(a) - _ulp_key(b)) <= 1)


def _agree_to_an_ulp(engine: str, op: str, setup: Setup) -> None:
    # Neither is correctly rounded: results may differ by an ulp, and then so may C1, and UE
    # (one result the smallest normal number, the other the largest denormal below it).
    state = setup.state()
    code = assemble(op)
    native, emulated = run_native(code, state), run_xlate(code, state, engine)
    ignored = C0 | C1 | C2 | C3 if op in ("f2xm1", "fyl2x", "fyl2xp1", "fpatan") else C0 | C1 | C3
    for i in range(8):
        if native.st[i] != emulated.st[i] and within_an_ulp(native.st[i], emulated.st[i]):
            emulated.st[i] = native.st[i]
            ignored |= UNDERFLOW
    native.fsw &= ~ignored
    emulated.fsw &= ~ignored
    diffs = native.diff(emulated, outcome=False)
    assert not diffs, f"{op} under {engine}: {diffs}"


@engines
@_examples(80)
@given(data=st.data())
def test_transcendental_instructions_agree_with_the_cpu_to_an_ulp(engine: str, data) -> None:
    op = data.draw(st.sampled_from(sorted(TRANSCENDENTAL)), label="op")
    setup = data.draw(x87_setups(), label="setup")
    top = setup.fsw >> 11 & 7
    for i, operand in enumerate(TRANSCENDENTAL[op]):
        setup.st[(top + i) & 7] = data.draw(operand, label=f"st{i}")
    _agree_to_an_ulp(engine, op, setup)


@engines
@pytest.mark.parametrize("x", [0, f80(0, BIAS - 70, INT_BIT)], ids=["zero", "2^-70"])
def test_fyl2x_of_the_smallest_denormal_agrees_with_the_cpu(engine: str, x: int) -> None:
    """Cases hypothesis found: log2(0) times a denormal raises divide-by-zero alone (it takes
    precedence over the denormal operand), and a product that is exact but tiny underflows (the
    hardware's answer is inexact, exact or not)."""
    _agree_to_an_ulp(engine, "fyl2x", Setup(0x37F, 0, 2, [x, 1, 0, 0, 0, 0, 0, 0], bytes(16), 0))


# fmod's loop: fprem until C2 says the reduction is complete.
FMOD = ("fld qword ptr [rax+8]\nfld qword ptr [rax]\n1:\nfprem\nfnstsw ax\ntest ah, 4\n"
        "jnz 1b\nfstp qword ptr [rax+16]\nfstp st(0)")
doubles = _bits(64, FLOAT64_SPECIALS)


@engines
@_examples(40)
@given(data=st.data())
def test_fprem_loop_computes_fmod_as_the_cpu(engine: str, data) -> None:
    state = data.draw(x87_setups(max_depth=6), label="setup").state()
    x, y = data.draw(doubles, label="x"), data.draw(doubles, label="y")
    state.poke(OPERAND_ADDR, struct.pack("<QQ", x, y))
    check(FMOD, state, engine)


# Bytes of each image that hold the instruction and data pointers (not kept: they read as
# zero) and, for fxsave, the MXCSR mask (the host CPU's own).
_POINTER_BYTES = {"fnstenv": range(12, 24), "fnsave": range(12, 24),
                  "fxsave": range(6, 24), "fxsave64": range(6, 24)}
_MXCSR_MASK_BYTES = range(28, 32)

ENVIRONMENT = (
    ("fnstenv [rax]\nfld1\nfldenv [rax]", "fnstenv", 28),
    ("fnsave [rax]\nfld1\nfrstor [rax]", "fnsave", 108),
    ("fnsave [rax]", "fnsave", 108),
    ("fxsave [rax]\nfninit\nfxrstor [rax]", "fxsave", 512),
    ("fxsave64 [rax]\nfld1\nfxrstor64 [rax]", "fxsave64", 512),
)


def _blank_pointers(state: CpuState, image: str) -> None:
    blank = set(_POINTER_BYTES[image])
    if image.startswith("fxsave"):
        blank |= set(_MXCSR_MASK_BYTES)
    data = bytearray(state.mem)
    for offset in blank:
        data[OPERAND_ADDR - DATA_ADDR + offset] = 0
    state.mem = bytes(data)


@engines
@_examples(30)
@given(data=st.data())
def test_environment_images_match_the_cpu_but_for_the_pointers(engine: str, data) -> None:
    asm, image, _ = data.draw(st.sampled_from(ENVIRONMENT), label="form")
    state = data.draw(x87_setups(), label="setup").state()
    code = assemble(asm)
    native, emulated = run_native(code, state), run_xlate(code, state, engine)
    _blank_pointers(native, image)
    _blank_pointers(emulated, image)
    diffs = native.diff(emulated, outcome=False)
    assert not diffs, f"{asm!r} under {engine}: {diffs}"


def test_fnstenv_reports_the_full_tag_word_and_masks_every_exception() -> None:
    state = CpuState.default()
    state["rax"] = OPERAND_ADDR
    state.fcw = 0x0372  # invalid and zero-divide unmasked
    state.fsw = 6 << 11
    state.st[0], state.st[1] = f80(0, BIAS, INT_BIT), 0  # a valid number and a zero
    state.ftw = 1 << 6 | 1 << 7
    out = run_xlate(assemble("fnstenv [rax]"), state, "interp")
    control, status, tags = struct.unpack_from("<HxxHxxH", out.peek(OPERAND_ADDR, 12))
    assert (control, status, tags) == (0x0372, 6 << 11, 0x4FFF)  # valid, zero, 6 empty
    assert out.fcw == 0x037F


FAULTS = ("fld dword ptr [rax]", "fstp qword ptr [rax]", "fistp dword ptr [rax]",
          "fadd qword ptr [rax]", "fxsave [rax]", "fnstenv [rax]", "fldcw word ptr [rax]")


@engines
@pytest.mark.parametrize("asm", FAULTS)
def test_a_faulting_memory_operand_leaves_the_fpu_untouched(engine: str, asm: str) -> None:
    state = CpuState.default()
    state["rax"] = 0x40  # unmapped
    state.fsw = 6 << 11
    state.st[0], state.st[1] = f80(0, BIAS, INT_BIT), f80(1, BIAS + 3, INT_BIT)
    state.ftw = 1 << 6 | 1 << 7
    diffs = compare(assemble(asm), state, engine)
    assert not diffs, diffs
    assert run_xlate(assemble(asm), state, engine).signal == 11


def _musl_hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "programs"))
    try:
        import build  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    try:
        return build.build("hello", "musl-static", tmp_path_factory.mktemp("x87-programs"))
    except build.BuildError as error:
        pytest.skip(str(error))


@pytest.mark.parametrize("engine", ENGINES_OF_THE_COMMAND)
def test_musl_printf_of_doubles_prints_what_it_prints_natively(
        engine: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    # musl formats doubles with long double arithmetic: every %f, %g, %e runs x87 code.
    binary = _musl_hello(tmp_path_factory)
    native = subprocess.run([str(binary)], capture_output=True, timeout=60)
    emulated = subprocess.run(
        [sys.executable, "-m", "xlate", "run", "--engine", engine, str(binary)],
        capture_output=True, timeout=300, cwd=ROOT)
    assert emulated.stderr.decode() == ""
    assert emulated.stdout.decode() == native.stdout.decode()
    assert emulated.returncode == native.returncode
