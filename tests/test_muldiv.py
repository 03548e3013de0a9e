"""Multiplication and division (xlate/semantics/muldiv.py, csrc/divide.c) against the real CPU,
every width and form, with divide errors (#DE: SIGFPE at the instruction, nothing written)
raised on both sides (tests/integer_forms.py)."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from tests.integer_forms import (
    GPR,
    Operands,
    check_cases,
    engines,
    full_name,
    imm,
    signed,
    values,
    widths_with_legacy8,
)


@st.composite
def multiplies(draw: st.DrawFn, mnemonic: str) -> object:
    operands = 1 if mnemonic == "mul" else draw(st.sampled_from((1, 2, 3)))
    if operands == 1:  # rdx:rax (ax for bytes) = accumulator * r/m
        bits, legacy8 = widths_with_legacy8(draw)
        ops = Operands(draw, legacy8=legacy8)
        return ops.case(f"{mnemonic} {ops.rm(bits)}")
    bits = draw(st.sampled_from((16, 32, 64)))
    ops = Operands(draw)
    dst = ops.reg(bits)
    src = ops.rm(bits)
    if operands == 2:
        return ops.case(f"imul {dst}, {src}")
    return ops.case(f"imul {dst}, {src}, {imm(draw, bits):#x}")  # imm8 or imm16/imm32


@engines
@pytest.mark.parametrize("mnemonic", ["mul", "imul"])
def test_multiplies_match_the_cpu_in_every_form(engine, mnemonic):
    # CF and OF (the high half is significant) are defined; SF ZF AF PF are not.
    check_cases(engine, multiplies(mnemonic), 150)


def _dividend_and_divisor(draw: st.DrawFn, mnemonic: str, bits: int) -> tuple[int, int]:
    """A 2*bits dividend and a divisor: mostly ones whose quotient fits, some that overflow,
    and zero divisors."""
    kind = draw(st.sampled_from(("fits", "fits", "fits", "overflow", "zero")))
    low = (1 << bits) - 1
    if kind == "zero":
        return draw(values) & ((1 << 2 * bits) - 1), 0
    if mnemonic == "div":
        divisor = draw(values.filter(lambda v: v & low)) & low
        if kind == "overflow":  # the high half at least the divisor
            high = draw(st.integers(divisor, low))
            return high << bits | draw(values) & low, divisor
        quotient, remainder = draw(values) & low, draw(st.integers(0, divisor - 1))
        return quotient * divisor + remainder, divisor
    divisor = signed(draw(values.filter(lambda v: v & low)), bits)
    if kind == "overflow":
        if draw(st.booleans()):
            return -(1 << (2 * bits - 1)) if draw(st.booleans()) else -(1 << (bits - 1)), -1
        quotient = draw(st.integers(1 << (bits - 1), 1 << bits)) * draw(st.sampled_from((1, -1)))
    else:
        quotient = signed(draw(values), bits)
    remainder = draw(st.integers(0, abs(divisor) - 1))
    dividend = quotient * divisor
    # The remainder takes the dividend's sign (division truncates toward zero).
    dividend += remainder if dividend >= 0 else -remainder
    return dividend, divisor


@st.composite
def divides(draw: st.DrawFn, mnemonic: str) -> object:
    bits, legacy8 = widths_with_legacy8(draw)
    # The dividend lives in rdx:rax (ax for bytes): the divisor's operand avoids them.
    ops = Operands(draw, legacy8=legacy8, avoid=frozenset({"rsp", "rax", "rdx"}))
    dividend, divisor = _dividend_and_divisor(draw, mnemonic, bits)
    dividend &= (1 << 2 * bits) - 1
    if draw(st.booleans()):
        addr = ops.address(bits // 8)
        operand = ops.mem(bits, addr)
        ops.poke(addr, (divisor & ((1 << bits) - 1)).to_bytes(bits // 8, "little"))
    else:
        operand = ops.reg(bits)
        ops.put(operand, divisor)
    if bits == 8:
        ops.put("ax", dividend)
    else:
        ops.put(GPR[bits][0], dividend)
        ops.put(GPR[bits][2], dividend >> bits)
    return ops.case(f"{mnemonic} {operand}")


@engines
@pytest.mark.parametrize("mnemonic", ["div", "idiv"])
def test_divides_match_the_cpu_and_raise_divide_errors_like_it(engine, mnemonic):
    # Quotient overflow and division by zero: SIGFPE at the div, registers untouched.
    check_cases(engine, divides(mnemonic), 200)


@engines
@pytest.mark.parametrize("mnemonic", ["div", "idiv"])
def test_divides_by_a_part_of_the_dividend_match_the_cpu(engine, mnemonic):
    # `div rdx`, `idiv ah`...: the divisor is read from the dividend's own registers.
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        bits, legacy8 = widths_with_legacy8(draw)
        ops = Operands(draw, legacy8=legacy8)
        operand = draw(st.sampled_from([r for r in ops.pool(bits)
                                        if full_name(r) in ("rax", "rdx")]))
        return ops.case(f"{mnemonic} {operand}")
    check_cases(engine, cases(), 40)
