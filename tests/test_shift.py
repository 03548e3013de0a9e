"""Shifts, rotates and double shifts (xlate/semantics/shift.py) against the real CPU, by 0, 1,
random and at-least-the-width counts, with every flag the manual defines for the count compared
(tests/integer_forms.py)."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from tests.integer_forms import (
    Operands,
    check_cases,
    engines,
    widths_with_legacy8,
)

SHIFTS = ("shl", "sal", "shr", "sar")
ROTATES = ("rol", "ror", "rcl", "rcr")
MODRM_REG = {"rol": 0, "ror": 1, "rcl": 2, "rcr": 3, "shl": 4, "shr": 5, "sal": 6, "sar": 7}


def counts(bits: int) -> st.SearchStrategy[int]:
    edges = (0, 1, 2, bits - 1, bits, bits + 1, 31, 32, 33, 63, 64, 65, 0x81, 0xFF)
    return st.one_of(st.sampled_from(edges), st.integers(0, 0xFF))


def undefined_flags(mnemonic: str, bits: int, count: int) -> frozenset[str]:
    """What the manual leaves undefined after this shift or rotate by this count."""
    masked = count & (63 if bits == 64 else 31)
    if masked == 0:
        return frozenset()  # nothing changes, flags included
    undefined = set() if masked == 1 else {"of"}  # OF is defined for 1-bit shifts only
    if mnemonic in SHIFTS:
        undefined.add("af")
        if mnemonic != "sar" and masked >= bits:  # shl/shr by the width or more (8/16-bit)
            undefined.add("cf")
    return frozenset(undefined)


@st.composite
def shifts(draw: st.DrawFn, mnemonic: str) -> object:
    """`mnemonic r/m, count` with the count as 1 (d0/d1), cl (d2/d3) or imm8 (c0/c1)."""
    bits, legacy8 = widths_with_legacy8(draw)
    how = draw(st.sampled_from(("1", "cl", "imm8")))
    memory = draw(st.booleans())
    # A memory operand cannot use rcx as a base when cl holds the count.
    avoid = frozenset({"rsp", "rcx"} if memory and how == "cl" else {"rsp"})
    ops = Operands(draw, legacy8=legacy8, avoid=avoid)
    dst = ops.mem(bits) if memory else ops.reg(bits)
    if how == "1":
        count = 1
    else:
        count = draw(counts(bits))
        if how == "cl":
            ops.put("cl", count)  # also when the destination is (part of) rcx: cl is its low byte
    asm = f"{mnemonic} {dst}, {'cl' if how == 'cl' else count}"
    return ops.case(asm, undefined=undefined_flags(mnemonic, bits, count))


@engines
@pytest.mark.parametrize("mnemonic", SHIFTS + ROTATES)
def test_shifts_and_rotates_match_the_cpu_for_every_count(engine, mnemonic):
    check_cases(engine, shifts(mnemonic), 150)


@engines
@pytest.mark.parametrize("mnemonic", SHIFTS + ROTATES)
def test_shift_by_immediate_one_in_the_c1_encoding_defines_overflow(engine, mnemonic):
    # gas writes `shl rax, 1` as d1 /4; c1 /4 ib with ib = 1 is the same shift by one, and
    # Capstone gives it an immediate operand: OF must be defined and right here too.
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = Operands(draw)
        bits = draw(st.sampled_from((16, 32, 64)))
        index = draw(st.integers(0, 7))
        prefix = {16: "0x66, ", 32: "", 64: "0x48, "}[bits]
        asm = f".byte {prefix}0xc1, {0xC0 | MODRM_REG[mnemonic] << 3 | index:#x}, 0x01"
        return ops.case(asm, undefined=undefined_flags(mnemonic, bits, 1))
    check_cases(engine, cases(), 25)


@st.composite
def double_shifts(draw: st.DrawFn, mnemonic: str) -> object:
    bits = draw(st.sampled_from((16, 32, 64)))
    how = draw(st.sampled_from(("cl", "imm8")))
    memory = draw(st.booleans())
    ops = Operands(draw, avoid=frozenset({"rsp", "rcx"} if memory and how == "cl" else {"rsp"}))
    dst = ops.mem(bits) if memory else ops.reg(bits)
    src = ops.reg(bits)
    # Counts above the width (16-bit operands only) leave the result and flags undefined.
    count = draw(counts(bits).filter(lambda n: n & (63 if bits == 64 else 31) <= bits))
    if how == "cl":
        ops.put("cl", count)
    masked = count & (63 if bits == 64 else 31)
    undefined = set() if masked == 0 else {"af"} | ({"of"} if masked != 1 else set())
    text = f"{mnemonic} {dst}, {src}, {'cl' if how == 'cl' else count}"
    return ops.case(text, undefined=frozenset(undefined))


@engines
@pytest.mark.parametrize("mnemonic", ["shld", "shrd"])
def test_double_shifts_match_the_cpu_up_to_the_width(engine, mnemonic):
    check_cases(engine, double_shifts(mnemonic), 150)
