"""Multiplication and division at every width, including the 128-bit rdx:rax forms."""

from __future__ import annotations

from xlate.builder import Builder
from xlate.decoder import Insn
from xlate.runtime import EXIT_DIVIDE
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
    b.set_flag("cf", spill)
    b.set_flag("of", spill)


@semantics("div", "idiv", undefined="cf of af zf sf pf")
def divide(b: Builder, insn: Insn) -> None:
    # The quotient overflow and divide-by-zero checks need the full-width dividend: a C helper
    # does it (also sparing LLVM the 128-bit division library calls). Nonzero means #DE, and
    # then nothing has been written.
    size = insn.op(0).size
    divisor = b.zext(b.read(insn.op(0)), size * 8, 64)
    status = b.call_helper(insn.name, b.const(size, 64), divisor)
    b.exit_if(b.ne(status, b.const(0, 64), 64), EXIT_DIVIDE)
