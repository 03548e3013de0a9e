"""The arithmetic flags: how each kind of result sets them, and the condition codes."""

from __future__ import annotations

from xlate.builder import Builder, Value


def result(b: Builder, r: Value, bits: int) -> None:
    """ZF, SF and PF, which every arithmetic and logic result sets the same way."""
    b.set_flag("zf", b.is_zero(r, bits))
    b.set_flag("sf", b.sign(r, bits))
    b.set_flag("pf", parity(b, r, bits))


def parity(b: Builder, r: Value, bits: int) -> Value:
    """PF: set when the low byte has an even number of ones."""
    low = b.trunc(r, bits, 8) if bits > 8 else r
    return b.not_(b.trunc(b.popcount(low, 8), 8, 1), 1)


def logic(b: Builder, r: Value, bits: int) -> None:
    """and, or, xor, test: CF and OF clear; AF is undefined and we clear it, as hardware does."""
    zero = b.const(0, 1)
    b.set_flag("cf", zero)
    b.set_flag("of", zero)
    b.set_flag("af", zero)
    result(b, r, bits)


def add(b: Builder, r: Value, x: Value, y: Value, bits: int, carry: Value | None = None) -> None:
    """r = x + y (+ carry)."""
    cf = b.ult(r, x, bits)
    if carry is not None:  # with a carry in, r == x also means the sum wrapped
        cf = b.or_(cf, b.and_(carry, b.eq(r, x, bits), 1), 1)
    b.set_flag("cf", cf)
    b.set_flag("of", b.sign(b.and_(b.xor(x, r, bits), b.xor(y, r, bits), bits), bits))
    b.set_flag("af", b.bit(b.xor(b.xor(x, y, bits), r, bits), 4, bits))
    result(b, r, bits)


def sub(b: Builder, r: Value, x: Value, y: Value, bits: int, borrow: Value | None = None) -> None:
    """r = x - y (- borrow)."""
    cf = b.ult(x, y, bits)
    if borrow is not None:
        cf = b.or_(cf, b.and_(borrow, b.eq(x, y, bits), 1), 1)
    b.set_flag("cf", cf)
    b.set_flag("of", b.sign(b.and_(b.xor(x, y, bits), b.xor(x, r, bits), bits), bits))
    b.set_flag("af", b.bit(b.xor(b.xor(x, y, bits), r, bits), 4, bits))
    result(b, r, bits)


def condition(b: Builder, cc: str) -> Value:
    """The 1-bit value of a condition code suffix as Capstone spells it (jae, cmovle, setnp...)."""
    negate = cc.startswith("n")
    base = cc[1:] if negate else cc
    f = b.get_flag
    if base == "o":
        v = f("of")
    elif base == "b":
        v = f("cf")
    elif base == "ae":
        v, negate = f("cf"), not negate
    elif base == "e":
        v = f("zf")
    elif base == "be":
        v = b.or_(f("cf"), f("zf"), 1)
    elif base == "a":
        v, negate = b.or_(f("cf"), f("zf"), 1), not negate
    elif base == "s":
        v = f("sf")
    elif base == "p":
        v = f("pf")
    elif base == "l":
        v = b.xor(f("sf"), f("of"), 1)
    elif base == "ge":
        v, negate = b.xor(f("sf"), f("of"), 1), not negate
    elif base == "le":
        v = b.or_(f("zf"), b.xor(f("sf"), f("of"), 1), 1)
    elif base == "g":
        v, negate = b.or_(f("zf"), b.xor(f("sf"), f("of"), 1), 1), not negate
    else:
        raise KeyError(cc)
    return b.not_(v, 1) if negate else v


CONDITIONS = ("o", "no", "b", "ae", "e", "ne", "be", "a",
              "s", "ns", "p", "np", "l", "ge", "le", "g")
