"""The arithmetic flags: how each kind of result sets them, and the condition codes.

Most flag-setting instructions describe their flags lazily, as QEMU does: the kind of operation,
its width, its result and its operands (`Builder.set_flags_lazy`). An engine keeps that
descriptor (in the cpu struct: cc_op, cc_dst, cc_src1, cc_src2) and computes a flag from it only
where something reads it, with the formulas below; most flags are never read. The other
instructions set flags explicitly (`Builder.set_flag`, `Builder.set_flags`), into the flag slots;
the descriptor then says EXPLICIT. INC and DEC keep the carry: their CF is the explicit slot's."""

from __future__ import annotations

from xlate.builder import Builder, Value
from xlate.runtime import lib

# The six arithmetic flags, in the order that packed flag bytes use (bit i is ARITH[i]).
ARITH = ("cf", "pf", "af", "zf", "sf", "of")

# Kinds of lazily described results r = x op y (csrc/xlate.h numbers them, for the C helpers
# that set flags). MUL's x is the 0/1 overflow of a multiplication (its CF and OF), r the low
# half of the product.
ADD, SUB, LOGIC, INC, DEC, MUL = (lib.XLATE_CC_ADD, lib.XLATE_CC_SUB, lib.XLATE_CC_LOGIC,
                                  lib.XLATE_CC_INC, lib.XLATE_CC_DEC, lib.XLATE_CC_MUL)
EXPLICIT = lib.XLATE_CC_EXPLICIT  # the cc_op value that says each flag is in its slot
_WIDTHS = (8, 16, 32, 64)
# cc_op value of (kind, bits), and back.
CC_OP = {(kind, bits): (kind - 1) * len(_WIDTHS) + i + 1
         for kind in (ADD, SUB, LOGIC, INC, DEC, MUL) for i, bits in enumerate(_WIDTHS)}
CC_KIND = {op: kind_bits for kind_bits, op in CC_OP.items()}
# cc_op values whose CF is the explicit slot's.
KEEPS_CARRY = frozenset(CC_OP[kind, bits] for kind in (INC, DEC) for bits in _WIDTHS)


def formula(b: Builder, kind: int, bits: int, name: str, r: Value, x: Value,
            y: Value) -> Value | None:
    """Flag `name` of r = x op y (values of `bits` bits) for a lazy kind; None where the flag is
    not the result's but the explicit slot's (INC and DEC keep CF)."""
    if name == "zf":
        return b.is_zero(r, bits)
    if name == "sf":
        return b.sign(r, bits)
    if name == "pf":
        return parity(b, r, bits)
    if kind == MUL and name in ("cf", "of"):
        return b.trunc(x, bits, 1)
    if kind in (LOGIC, MUL):  # and, or, xor, test: CF and OF clear; AF undefined and cleared
        return b.const(0, 1)
    if name == "cf":
        if kind == ADD:
            return b.ult(r, x, bits)
        if kind == SUB:
            return b.ult(x, y, bits)
        return None
    if name == "af":
        return b.bit(b.xor(b.xor(x, y, bits), r, bits), 4, bits)
    assert name == "of", name
    if kind in (ADD, INC):
        return b.sign(b.and_(b.xor(x, r, bits), b.xor(y, r, bits), bits), bits)
    return b.sign(b.and_(b.xor(x, y, bits), b.xor(x, r, bits), bits), bits)


def result(b: Builder, r: Value, bits: int) -> dict[str, Value]:
    """ZF, SF and PF, which every arithmetic and logic result sets the same way."""
    return {"zf": b.is_zero(r, bits), "sf": b.sign(r, bits), "pf": parity(b, r, bits)}


def parity(b: Builder, r: Value, bits: int) -> Value:
    """PF: set when the low byte has an even number of ones."""
    low = b.trunc(r, bits, 8) if bits > 8 else r
    return b.not_(b.trunc(b.popcount(low, 8), 8, 1), 1)


def logic(b: Builder, r: Value, bits: int) -> None:
    """and, or, xor, test."""
    b.set_flags_lazy(LOGIC, bits, r, r, r)


def add(b: Builder, r: Value, x: Value, y: Value, bits: int, carry: Value | None = None) -> None:
    """r = x + y (+ carry)."""
    if carry is None:
        b.set_flags_lazy(ADD, bits, r, x, y)
        return
    # With a carry in, r == x also means the sum wrapped.
    values = {name: formula(b, ADD, bits, name, r, x, y) for name in ARITH}
    values["cf"] = b.or_(values["cf"], b.and_(carry, b.eq(r, x, bits), 1), 1)
    b.set_flags(values)


def sub(b: Builder, r: Value, x: Value, y: Value, bits: int, borrow: Value | None = None) -> None:
    """r = x - y (- borrow)."""
    if borrow is None:
        b.set_flags_lazy(SUB, bits, r, x, y)
        return
    values = {name: formula(b, SUB, bits, name, r, x, y) for name in ARITH}
    values["cf"] = b.or_(values["cf"], b.and_(borrow, b.eq(x, y, bits), 1), 1)
    b.set_flags(values)


def condition(b: Builder, cc: str) -> Value:
    """The 1-bit value of a condition code suffix as Capstone spells it (jae, cmovle, setnp...)."""
    negate = cc.startswith("n")
    base = cc[1:] if negate else cc
    if base in _INVERSE:
        base, negate = _INVERSE[base], not negate
    v = _compare(b, base)
    if v is None:
        v = _from_flags(b, base)
    return b.not_(v, 1) if negate else v


# Conditions that are the negation of another, as the hardware encodes them.
_INVERSE = {"ae": "b", "a": "be", "ge": "l", "g": "le"}


def _compare(b: Builder, base: str) -> Value | None:
    """A condition read straight off a lazily described compare or logic result, where that
    is simpler than its flags (`cmp; jl` is a signed less-than); None otherwise."""
    lazy = b.lazy_flags()
    if lazy is None:
        return None
    kind, bits, r, x, y = lazy
    if kind == SUB:
        if base == "b":
            return b.ult(x, y, bits)
        if base == "e":
            return b.eq(x, y, bits)
        if base == "be":
            return b.or_(b.ult(x, y, bits), b.eq(x, y, bits), 1)
        if base == "l":
            return b.slt(x, y, bits)
        if base == "le":
            return b.or_(b.slt(x, y, bits), b.eq(x, y, bits), 1)
    elif kind == LOGIC:  # CF = OF = 0
        if base in ("b", "o"):
            return b.const(0, 1)
        if base in ("e", "be"):
            return b.is_zero(r, bits)
        if base in ("s", "l"):
            return b.sign(r, bits)
        if base == "le":
            return b.or_(b.is_zero(r, bits), b.sign(r, bits), 1)
    return None


def _from_flags(b: Builder, base: str) -> Value:
    f = b.get_flag
    if base == "o":
        return f("of")
    if base == "b":
        return f("cf")
    if base == "e":
        return f("zf")
    if base == "be":
        return b.or_(f("cf"), f("zf"), 1)
    if base == "s":
        return f("sf")
    if base == "p":
        return f("pf")
    if base == "l":
        return b.xor(f("sf"), f("of"), 1)
    if base == "le":
        return b.or_(f("zf"), b.xor(f("sf"), f("of"), 1), 1)
    raise KeyError(base)


CONDITIONS = ("o", "no", "b", "ae", "e", "ne", "be", "a",
              "s", "ns", "p", "np", "l", "ge", "le", "g")
