"""Multiplication and division at every width, including the 128-bit rdx:rax forms."""

from __future__ import annotations

from xlate.builder import Builder, mask
from xlate.decoder import Insn
from xlate.runtime import EXIT_DIVIDE
from xlate.semantics import flags
from xlate.semantics.registry import semantics


@semantics("mul", "imul", undefined="af zf sf pf")
def multiply(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    signed = insn.name == "imul"
    ext = b.sext if signed else b.zext
    if len(insn.ops) == 1:  # rdx:rax (ax for bytes) = accumulator * operand
        x, y = b.get_reg(0, bits), b.read(insn.op(0))
    elif len(insn.ops) == 2:
        x, y = b.read(insn.op(0)), b.read(insn.op(1), bits)
    else:
        x, y = b.read(insn.op(1)), b.read(insn.op(2), bits)
    full = b.mul(ext(x, bits, 2 * bits), ext(y, bits, 2 * bits), 2 * bits)
    low = b.trunc(full, 2 * bits, bits)
    high = b.trunc(b.lshr(full, b.const(bits, 2 * bits), 2 * bits), 2 * bits, bits)
    # CF = OF = the high half is more than the extension of the low half.
    if signed:
        spill = b.ne(b.sext(low, bits, 2 * bits), full, 2 * bits)
    else:
        spill = b.ne(high, b.const(0, bits), bits)
    if len(insn.ops) == 1:
        if bits == 8:
            b.set_reg(0, b.trunc(full, 16, 16), 16)
        else:
            b.set_reg(0, low, bits)
            b.set_reg(2, high, bits)
    else:
        b.write(insn.op(0), low)
    # CF = OF = spill; the undefined ZF, SF and PF follow the low half, AF is cleared.
    b.set_flags_lazy(flags.MUL, bits, low, b.zext(spill, 1, bits), b.const(0, bits))


@semantics("div", "idiv", undefined="cf of af zf sf pf")
def divide(b: Builder, insn: Insn) -> None:
    # rdx:rax (ax for bytes) by the operand; #DE (nothing written) for a zero divisor or a
    # quotient that does not fit. A 64-bit division needs a 128-bit dividend: a C function
    # does it (sparing LLVM the 128-bit division library calls), returning nonzero for #DE.
    bits = insn.op(0).size * 8
    divisor = b.read(insn.op(0))
    if bits == 64:
        status, q, r = b.call_pure(insn.name, b.get_gpr(2), b.get_gpr(0), divisor)
        b.exit_if(b.ne(status, b.const(0, 64), 64), EXIT_DIVIDE)
        b.set_gpr(0, q)
        b.set_gpr(2, r)
        return
    wide = 2 * bits
    if bits == 8:
        n = b.get_reg(0, 16)
    else:
        high = b.shl(b.zext(b.get_reg(2, bits), bits, wide), b.const(bits, wide), wide)
        n = b.or_(high, b.zext(b.get_reg(0, bits), bits, wide), wide)
    zero = b.is_zero(divisor, bits)
    if insn.name == "div":
        b.exit_if(zero, EXIT_DIVIDE)
        d = b.zext(divisor, bits, wide)
        q, r = b.udiv(n, d, wide), b.urem(n, d, wide)
        overflow = b.ult(b.const(mask(bits), wide), q, wide)
    else:
        d = b.sext(divisor, bits, wide)
        lowest = b.eq(n, b.const(1 << (wide - 1), wide), wide)
        b.exit_if(b.or_(zero, b.and_(lowest, b.eq(d, b.const(mask(wide), wide), wide), 1), 1),
                  EXIT_DIVIDE)
        q, r = b.sdiv(n, d, wide), b.srem(n, d, wide)
        # In range when q + 2**(bits-1) is below 2**bits.
        biased = b.add(q, b.const(1 << (bits - 1), wide), wide)
        overflow = b.not_(b.ult(biased, b.const(1 << bits, wide), wide), 1)
    b.exit_if(overflow, EXIT_DIVIDE)
    q, r = b.trunc(q, wide, bits), b.trunc(r, wide, bits)
    if bits == 8:  # al = quotient, ah = remainder
        b.set_reg(0, b.or_(b.zext(q, 8, 16), b.shl(b.zext(r, 8, 16), b.const(8, 16), 16), 16), 16)
    else:
        b.set_reg(0, q, bits)
        b.set_reg(2, r, bits)
