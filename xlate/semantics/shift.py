"""Shifts and rotates. The count is masked to 5 bits (6 for 64-bit operands); a masked count of
zero changes neither the operand nor the flags."""

from __future__ import annotations

from xlate.builder import Builder, Value
from xlate.decoder import IMM, Insn
from xlate.semantics import flags
from xlate.semantics.registry import semantics


def _constant_count(insn: Insn, bits: int, operand: int) -> int | None:
    """The masked count when the instruction gives it (an immediate, or the implicit 1 of the
    one-operand forms d0/d1), else None."""
    if len(insn.ops) <= operand:
        n = 1
    elif insn.op(operand).kind == IMM:
        # The immediate itself: Capstone gives `rcl byte ptr [rax], 1` (d0 /2) a 0-byte size.
        n = insn.op(operand).imm & 0xFF
    else:
        return None
    return n & (63 if bits == 64 else 31)


def _count(b: Builder, insn: Insn, bits: int, operand: int = 1) -> Value:
    """The masked count, as a 64-bit value."""
    n = _constant_count(insn, bits, operand)
    if n is not None:
        return b.const(n, 64)
    n = b.resize(b.read(insn.op(operand)), insn.op(operand).size * 8, 64)
    return b.and_(n, b.const(63 if bits == 64 else 31, 64), 64)


def _set_flags_unless_zero(b: Builder, insn: Insn, bits: int, zero: Value,
                           new: dict[str, Value], operand: int = 1) -> None:
    """Set the flags to new unless the count is zero, which changes none of them."""
    n = _constant_count(insn, bits, operand)
    if n is None:
        new = {name: b.select(zero, b.get_flag(name), value, 1) for name, value in new.items()}
    elif n == 0:
        return
    b.set_flags(new)


@semantics("shl", "sal", "shr", "sar", undefined="af of")
def shift(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    x = b.read(insn.op(0))
    n = _count(b, insn, bits)
    zero = b.is_zero(n, 64)
    # Work in 64 bits: the sign-extended operand for sar, zero-extended otherwise.
    wide = b.sext(x, bits, 64) if insn.name == "sar" and bits < 64 else b.resize(x, bits, 64)
    if insn.name in ("shl", "sal"):
        kind, r64 = flags.SHL, b.shl(wide, n, 64)
    else:
        kind = flags.SAR if insn.name == "sar" else flags.SHR
        r64 = (b.ashr if kind == flags.SAR else b.lshr)(wide, n, 64)
    r = b.resize(r64, 64, bits)
    b.write(insn.op(0), b.select(zero, x, r, bits))
    # The flags are the shift's, described lazily (flags.formula), unless the count is zero.
    count = b.trunc(n, 64, bits)
    constant = _constant_count(insn, bits, 1)
    if constant is None:
        b.set_flags_lazy(kind, bits, r, x, count, unless=zero)
    elif constant:
        b.set_flags_lazy(kind, bits, r, x, count)


@semantics("rol", "ror", undefined="of")
def rotate(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    x = b.read(insn.op(0))
    n = _count(b, insn, bits)
    zero = b.is_zero(n, 64)
    # The rotate amount modulo the width; CF and OF still change when it is a multiple of it.
    k = b.trunc(b.and_(n, b.const(bits - 1, 64), 64), 64, bits) if bits < 64 else n
    left = insn.name == "rol"
    inverse = b.and_(b.sub(b.const(0, bits), k, bits), b.const(bits - 1, bits), bits)
    first, second = (b.shl, b.lshr) if left else (b.lshr, b.shl)
    r = b.or_(first(x, k, bits), second(x, inverse, bits), bits)
    r = b.select(b.is_zero(k, bits), x, r, bits)
    if left:
        cf = b.trunc(r, bits, 1)
        of = b.xor(b.sign(r, bits), cf, 1)
    else:
        cf = b.sign(r, bits)
        of = b.xor(cf, b.bit(r, bits - 2, bits), 1)
    b.write(insn.op(0), r)
    _set_flags_unless_zero(b, insn, bits, zero, {"cf": cf, "of": of})


@semantics("rcl", "rcr", undefined="of")
def rotate_through_carry(b: Builder, insn: Insn) -> None:
    # A rotate of the (bits+1)-bit value CF:x, done one step at a time up to the masked count:
    # rcl/rcr are rare, so clarity wins over speed here.
    bits = insn.op(0).size * 8
    x = b.read(insn.op(0))
    n = _count(b, insn, bits)
    modulus = bits + 1
    steps = n if bits >= 32 else b.urem(n, b.const(modulus, 64), 64)
    value, cf = x, b.get_flag("cf")
    one = b.const(1, bits)
    for i in range(1, (63 if bits == 64 else 31 if bits == 32 else bits) + 1):
        active = b.ult(b.const(i - 1, 64), steps, 64)
        if insn.name == "rcl":
            out = b.sign(value, bits)
            shifted = b.or_(b.shl(value, one, bits), b.zext(cf, 1, bits), bits)
        else:
            out = b.trunc(value, bits, 1)
            top = b.shl(b.zext(cf, 1, bits), b.const(bits - 1, bits), bits)
            shifted = b.or_(b.lshr(value, one, bits), top, bits)
        value = b.select(active, shifted, value, bits)
        cf = b.select(active, out, cf, 1)
    if insn.name == "rcl":
        of = b.xor(b.sign(value, bits), cf, 1)
    else:
        of = b.xor(b.sign(value, bits), b.bit(value, bits - 2, bits), 1)
    b.write(insn.op(0), value)
    _set_flags_unless_zero(b, insn, bits, b.is_zero(n, 64), {"cf": cf, "of": of})


@semantics("shld", "shrd", undefined="af of")
def double_shift(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    x, fill = b.read(insn.op(0)), b.read(insn.op(1))
    n = _count(b, insn, bits, operand=2)
    zero = b.is_zero(n, 64)
    # Shift the 128-bit pair and take the half that holds the destination. Counts above the
    # width (16-bit operands) are undefined; the pair then keeps shifting into x's bits.
    n128 = b.zext(n, 64, 128)
    x128, fill128 = b.zext(x, bits, 128), b.zext(fill, bits, 128)
    if insn.name == "shld":
        pair = b.or_(b.shl(x128, b.const(bits, 128), 128), fill128, 128)
        shifted = b.shl(pair, n128, 128)
        r = b.trunc(b.lshr(shifted, b.const(bits, 128), 128), 128, bits)
        cf = b.trunc(b.lshr(pair, b.sub(b.const(2 * bits, 128), n128, 128), 128), 128, 1)
    else:
        pair = b.or_(b.shl(fill128, b.const(bits, 128), 128), x128, 128)
        r = b.trunc(b.lshr(pair, n128, 128), 128, bits)
        cf = b.trunc(b.lshr(pair, b.sub(n128, b.const(1, 128), 128), 128), 128, 1)
    of = b.xor(b.sign(r, bits), b.sign(x, bits), 1)
    b.write(insn.op(0), b.select(zero, x, r, bits))
    _set_flags_unless_zero(b, insn, bits, zero, {"cf": cf, "of": of, **flags.result(b, r, bits)},
                           operand=2)
