"""Bit tests, bit scans and counts."""

from __future__ import annotations

from xlate.builder import Builder
from xlate.decoder import MEM, Insn
from xlate.semantics import flags
from xlate.semantics.registry import semantics


@semantics("bt", "bts", "btr", "btc", undefined="of sf af pf")
def bit_test(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    target, index_op = insn.op(0), insn.op(1)
    index = b.read(index_op, bits) if index_op.kind != "imm" else None
    if target.kind == MEM and index is not None:
        # A register bit offset addresses memory beyond the operand: signed, in operand units.
        wide = b.sext(index, bits, 64)
        unit = b.shl(b.ashr(wide, b.const(bits.bit_length() - 1, 64), 64),
                     b.const((bits // 8).bit_length() - 1, 64), 64)
        addr = b.add(b.address(target), unit, 64)
        x = b.load(addr, bits)
    else:
        addr = None
        x = b.read(target)
    n = b.const(index_op.imm % bits, bits) if index is None else b.and_(
        index, b.const(bits - 1, bits), bits)
    one = b.shl(b.const(1, bits), n, bits)
    b.set_flag("cf", b.trunc(b.lshr(x, n, bits), bits, 1))
    if insn.name == "bt":
        return
    if insn.name == "bts":
        r = b.or_(x, one, bits)
    elif insn.name == "btr":
        r = b.and_(x, b.not_(one, bits), bits)
    else:
        r = b.xor(x, one, bits)
    if addr is not None:
        b.store(addr, r, bits)
    else:
        b.write(target, r)


@semantics("bsf", "bsr", undefined="cf of sf af pf")
def bit_scan(b: Builder, insn: Insn) -> None:
    # A zero source sets ZF and leaves the destination register unchanged, all 64 bits of it
    # (as AMD and now Intel document; some Intel parts clear the upper half of a 32-bit one).
    bits = insn.op(0).size * 8
    x = b.read(insn.op(1))
    zero = b.is_zero(x, bits)
    if insn.name == "bsf":
        r = b.ctz(x, bits)
    else:
        r = b.sub(b.const(bits - 1, bits), b.clz(x, bits), bits)
    index = insn.op(0).reg.index
    kept = b.get_gpr(index)
    b.write(insn.op(0), r)
    b.set_gpr(index, b.select(zero, kept, b.get_gpr(index), 64))
    b.set_flag("zf", zero)


@semantics("tzcnt", "lzcnt", undefined="of sf af pf")
def bit_count_zeros(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    x = b.read(insn.op(1))
    r = b.ctz(x, bits) if insn.name == "tzcnt" else b.clz(x, bits)
    b.write(insn.op(0), r)
    b.set_flags({"cf": b.is_zero(x, bits), "zf": b.is_zero(r, bits)})


@semantics("popcnt")
def popcnt(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    x = b.read(insn.op(1))
    r = b.popcount(x, bits)
    b.write(insn.op(0), r)
    clear = b.const(0, 1)
    b.set_flags({**{name: clear for name in flags.ARITH}, "zf": b.is_zero(x, bits)})
