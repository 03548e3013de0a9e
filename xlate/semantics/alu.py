"""Integer arithmetic, logic, data movement and conversions between widths."""

from __future__ import annotations

from xlate.builder import Builder, Value
from xlate.decoder import MEM, Insn, Operand
from xlate.runtime import EXIT_FAULT
from xlate.semantics import flags
from xlate.semantics.registry import semantics


@semantics("add", "adc", "sub", "sbb", "cmp")
def arith(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    x, y = b.read(insn.op(0)), b.read(insn.op(1), bits)
    carry = b.get_flag("cf") if insn.name in ("adc", "sbb") else None
    subtract = insn.name in ("sub", "sbb", "cmp")
    r = b.sub(x, y, bits) if subtract else b.add(x, y, bits)
    if carry is not None:
        c = b.zext(carry, 1, bits)
        r = b.sub(r, c, bits) if subtract else b.add(r, c, bits)
    if insn.name != "cmp":
        b.write(insn.op(0), r)
    (flags.sub if subtract else flags.add)(b, r, x, y, bits, carry is not None)


@semantics("and", "or", "xor", "test", undefined="af")
def logic(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    x, y = b.read(insn.op(0)), b.read(insn.op(1), bits)
    op = {"and": b.and_, "test": b.and_, "or": b.or_, "xor": b.xor}[insn.name]
    r = op(x, y, bits)
    if insn.name != "test":
        b.write(insn.op(0), r)
    flags.logic(b, r, bits)


@semantics("inc", "dec")
def inc_dec(b: Builder, insn: Insn) -> None:
    # add/sub of 1 that keep the carry.
    bits = insn.op(0).size * 8
    x, one = b.read(insn.op(0)), b.const(1, bits)
    r = b.add(x, one, bits) if insn.name == "inc" else b.sub(x, one, bits)
    b.write(insn.op(0), r)
    b.set_flags_lazy(flags.INC if insn.name == "inc" else flags.DEC, bits, r, x, one)


@semantics("neg")
def neg(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    x = b.read(insn.op(0))
    zero = b.const(0, bits)
    r = b.sub(zero, x, bits)
    b.write(insn.op(0), r)
    flags.sub(b, r, zero, x, bits)


@semantics("not")
def not_(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    b.write(insn.op(0), b.not_(b.read(insn.op(0)), bits))


@semantics("mov", "movabs")
def mov(b: Builder, insn: Insn) -> None:
    b.write(insn.op(0), b.read(insn.op(1), insn.op(0).size * 8))


@semantics("movzx", "movsx", "movsxd")
def move_extend(b: Builder, insn: Insn) -> None:
    to, frm = insn.op(0).size * 8, insn.op(1).size * 8
    x = b.read(insn.op(1))
    if frm == to:  # movsxd with a 32-bit destination is a plain move
        r = x
    elif insn.name == "movzx":
        r = b.zext(x, frm, to)
    else:
        r = b.sext(x, frm, to)
    b.write(insn.op(0), r)


@semantics("lea")
def lea(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    b.write(insn.op(0), b.resize(b.address(insn.op(1)), 64, bits))


def _write_two(b: Builder, first: Operand, first_value: Value, last: Operand,
               last_value: Value) -> None:
    """Write two operands; with two registers (the same one, maybe), `last` wins. A memory
    operand is written first: its address is that of the instruction's start, and writing
    the register first could change a register the address is made of."""
    if last.kind == MEM:
        b.write(last, last_value)
        b.write(first, first_value)
    else:
        b.write(first, first_value)
        b.write(last, last_value)


@semantics("xchg")
def xchg(b: Builder, insn: Insn) -> None:
    x, y = b.read(insn.op(0)), b.read(insn.op(1))
    _write_two(b, insn.op(1), x, insn.op(0), y)


@semantics("xadd")
def xadd(b: Builder, insn: Insn) -> None:
    # TEMP = SRC + DEST; SRC = DEST; DEST = TEMP: `xadd rax, rax` doubles rax.
    bits = insn.op(0).size * 8
    x, y = b.read(insn.op(0)), b.read(insn.op(1))
    r = b.add(x, y, bits)
    _write_two(b, insn.op(1), x, insn.op(0), r)
    flags.add(b, r, x, y, bits)


@semantics("cmpxchg")
def cmpxchg(b: Builder, insn: Insn) -> None:
    # Compare the accumulator with the destination; the destination is written either way
    # (with its own value when they differ), as the hardware's locked cycle does.
    bits = insn.op(0).size * 8
    dest, acc = b.read(insn.op(0)), b.get_reg(0, bits)
    r = b.sub(acc, dest, bits)
    flags.sub(b, r, acc, dest, bits)
    equal = b.eq(acc, dest, bits)
    b.write(insn.op(0), b.select(equal, b.read(insn.op(1)), dest, bits))
    # The accumulator is loaded only when they differ: after `cmpxchg ax, cx` succeeds, ax
    # holds cx. Whole-register select, so that a 32-bit load zero-extends and no load does not.
    kept = b.get_gpr(0)
    b.set_reg(0, dest, bits)
    b.set_gpr(0, b.select(equal, kept, b.get_gpr(0), 64))


@semantics("cmpxchg8b", "cmpxchg16b")
def cmpxchg_pair(b: Builder, insn: Insn) -> None:
    # edx:eax (rdx:rax) against the memory pair: equal stores ecx:ebx (rcx:rbx), else loads the
    # pair into the accumulators. Only ZF changes. cmpxchg16b's operand must be 16-byte
    # aligned (#GP, SIGSEGV); the pair is written back either way, as for cmpxchg.
    half = insn.op(0).size * 4
    addr = b.address(insn.op(0))
    if half == 64:
        b.exit_if(b.ne(b.and_(addr, b.const(15, 64), 64), b.const(0, 64), 64), EXIT_FAULT)
    high_addr = b.add(addr, b.const(half // 8, 64), 64)
    low, high = b.load(addr, half), b.load(high_addr, half)
    equal = b.and_(b.eq(low, b.get_reg(0, half), half), b.eq(high, b.get_reg(2, half), half), 1)
    b.store(addr, b.select(equal, b.get_reg(3, half), low, half), half)
    b.store(high_addr, b.select(equal, b.get_reg(1, half), high, half), half)
    for index, value in ((0, low), (2, high)):
        kept = b.get_gpr(index)
        b.set_reg(index, value, half)
        b.set_gpr(index, b.select(equal, kept, b.get_gpr(index), 64))
    b.set_flag("zf", equal)


@semantics("bswap")
def bswap(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    b.write(insn.op(0), b.bswap(b.read(insn.op(0)), bits))


@semantics("cbw", "cwde", "cdqe")
def sign_extend_accumulator(b: Builder, insn: Insn) -> None:
    to = {"cbw": 16, "cwde": 32, "cdqe": 64}[insn.name]
    b.set_reg(0, b.sext(b.get_reg(0, to // 2), to // 2, to), to)


@semantics("cwd", "cdq", "cqo")
def sign_extend_into_rdx(b: Builder, insn: Insn) -> None:
    bits = {"cwd": 16, "cdq": 32, "cqo": 64}[insn.name]
    sign = b.sign(b.get_reg(0, bits), bits)
    b.set_reg(2, b.neg(b.zext(sign, 1, bits), bits), bits)
