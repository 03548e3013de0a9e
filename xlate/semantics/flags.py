"""The arithmetic flags: how each kind of result sets them, and the condition codes.

Most flag-setting instructions describe their flags lazily, as QEMU does: the kind of operation,
its width, its result and its operands (`Builder.set_flags_lazy`). An engine keeps that
description (in the cpu struct: cc_op, cc_dst, cc_src1, cc_src2) and computes a flag from it only
where something reads it, with the formulas below; most flags are never read. Other
instructions set some flags explicitly (`Builder.set_flag`, `Builder.set_flags`), into the
flag slots; cc_op says which flags are still lazy, so that setting one flag never computes the
others. INC and DEC keep the carry: their CF stays in its slot."""

from __future__ import annotations

from xlate.builder import Builder, HelperState, Value
from xlate.decoder import GPR_NAMES
from xlate.runtime import lib

# The six arithmetic flags, in the order of cc_op's lazy bits and of packed flag bytes.
ARITH = ("cf", "pf", "af", "zf", "sf", "of")
BIT = {name: 1 << i for i, name in enumerate(ARITH)}
LAZY_SHIFT = lib.XLATE_CC_LAZY_SHIFT  # cc_op's lazy bits: (cc_op >> LAZY_SHIFT) & BIT[name]
ALL = lib.XLATE_CC_LAZY_ALL

# Kinds of lazily described results r = x op y (csrc/xlate.h numbers them, for the C helpers
# that set flags). MUL's x is the 0/1 overflow of a multiplication (its CF and OF), r the low
# half of the product. ADC and SBB are r = x + y + carry and x - y - borrow: their flags follow
# from r, x and y whatever the carry in was. The shifts' y is the (nonzero) count.
ADD, SUB, LOGIC, INC, DEC, MUL, ADC, SBB, SHL, SHR, SAR = (
    lib.XLATE_CC_ADD, lib.XLATE_CC_SUB, lib.XLATE_CC_LOGIC, lib.XLATE_CC_INC, lib.XLATE_CC_DEC,
    lib.XLATE_CC_MUL, lib.XLATE_CC_ADC, lib.XLATE_CC_SBB, lib.XLATE_CC_SHL, lib.XLATE_CC_SHR,
    lib.XLATE_CC_SAR)
_WIDTHS = (8, 16, 32, 64)
# The operation code (cc_op's low byte) of (kind, bits), and back.
CC_OP = {(kind, bits): (kind - 1) * len(_WIDTHS) + i + 1
         for kind in (ADD, SUB, LOGIC, INC, DEC, MUL, ADC, SBB, SHL, SHR, SAR)
         for i, bits in enumerate(_WIDTHS)}
CC_KIND = {op: kind_bits for kind_bits, op in CC_OP.items()}


def helper_state(reads: str, writes: str) -> HelperState:
    """A HelperState (what a C helper reads and writes) from names: general registers (rax,
    rcx, ...), flags (df, ...), and "flags" for the arithmetic flags as an instruction sets
    them (their lazy description)."""
    def keys(names: str) -> frozenset[tuple[str, int | str]]:
        found: set[tuple[str, int | str]] = set()
        for name in names.split():
            if name == "flags":
                found |= {("cc", part) for part in ("op", "dst", "src1", "src2")}
                found |= {("flag", flag) for flag in ARITH}
            elif name in GPR_NAMES:
                found.add(("gpr", GPR_NAMES.index(name)))
            else:
                found.add(("flag", name))
        return frozenset(found)
    return HelperState(keys(reads), keys(writes))


def lazy_bits(kind: int) -> int:
    """Which flags an operation of the kind leaves lazy: all but INC's and DEC's CF."""
    return ALL & ~BIT["cf"] if kind in (INC, DEC) else ALL


def formula(b: Builder, kind: int, bits: int, name: str, r: Value, x: Value,
            y: Value) -> Value | None:
    """Flag `name` of r = x op y (values of `bits` bits) for a lazy kind; None where it never
    is lazy (INC's and DEC's CF)."""
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
    if kind in (SHL, SHR, SAR):
        return _shift(b, kind, bits, name, r, x, y)
    if name == "cf":
        if kind == ADD:
            return b.ult(r, x, bits)
        if kind == SUB:
            return b.ult(x, y, bits)
        if kind == ADC:  # the carry out of the top bit, from its inputs and its sum
            return b.sign(b.or_(b.and_(x, y, bits), b.and_(b.or_(x, y, bits),
                                                         b.not_(r, bits), bits), bits), bits)
        if kind == SBB:  # the borrow out of the top bit
            not_x = b.not_(x, bits)
            return b.sign(b.or_(b.and_(not_x, y, bits), b.and_(b.or_(not_x, y, bits), r, bits),
                                bits), bits)
        return None
    if name == "af":
        return b.bit(b.xor(b.xor(x, y, bits), r, bits), 4, bits)
    assert name == "of", name
    if kind in (ADD, INC, ADC):
        return b.sign(b.and_(b.xor(x, r, bits), b.xor(y, r, bits), bits), bits)
    return b.sign(b.and_(b.xor(x, y, bits), b.xor(x, r, bits), bits), bits)


def _shift(b: Builder, kind: int, bits: int, name: str, r: Value, x: Value,
           n: Value) -> Value:
    """CF, OF and AF of r = x shifted by n (1 to 63, which may exceed bits): CF is the last bit
    shifted out; OF, defined for 1-bit shifts, the sign change for shl, x's sign for shr and
    clear for sar; AF is undefined and cleared."""
    if name == "af" or (name == "of" and kind == SAR):
        return b.const(0, 1)
    if name == "of" and kind == SHR:
        return b.sign(x, bits)
    # Work in 64 bits: the sign-extended operand for sar, zero-extended otherwise.
    wide = b.sext(x, bits, 64) if kind == SAR else b.zext(x, bits, 64)
    one_less = b.sub(b.zext(n, bits, 64), b.const(1, 64), 64)
    if kind == SHL:
        cf = b.bit(b.shl(wide, one_less, 64), bits - 1, 64)
        return b.xor(b.sign(r, bits), cf, 1) if name == "of" else cf
    return b.trunc((b.ashr if kind == SAR else b.lshr)(wide, one_less, 64), 64, 1)


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


def add(b: Builder, r: Value, x: Value, y: Value, bits: int, carry: bool = False) -> None:
    """r = x + y (+ a carry in, with carry)."""
    b.set_flags_lazy(ADC if carry else ADD, bits, r, x, y)


def sub(b: Builder, r: Value, x: Value, y: Value, bits: int, borrow: bool = False) -> None:
    """r = x - y (- a borrow in, with borrow)."""
    b.set_flags_lazy(SBB if borrow else SUB, bits, r, x, y)


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
