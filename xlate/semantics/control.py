"""Jumps, calls, returns, conditional moves and sets, and the stack."""

from __future__ import annotations

from xlate.builder import Builder
from xlate.decoder import IMM, MEM, Insn
from xlate.runtime import EXIT_FAULT
from xlate.semantics import flags
from xlate.semantics.registry import semantics


def _target(b: Builder, insn: Insn):
    op = insn.op(0)
    if op.kind == IMM:  # Capstone resolves relative targets to absolute addresses
        return b.const(op.imm & (2**64 - 1), 64)
    return _canonical(b, b.read(op))


def _canonical(b: Builder, target):
    """The target, after a #GP (SIGSEGV at the branch, before any of its effects) when it is
    not canonical: bits 63..47 must be equal."""
    b.exit_if(b.ne(b.sext(b.trunc(target, 64, 48), 48, 64), target, 64), EXIT_FAULT)
    return target


@semantics("jmp")
def jmp(b: Builder, insn: Insn) -> None:
    b.end_block(_target(b, insn))


@semantics(*("j" + cc for cc in flags.CONDITIONS))
def jcc(b: Builder, insn: Insn) -> None:
    taken = flags.condition(b, insn.name[1:])
    b.end_block(b.select(taken, _target(b, insn), b.const(insn.next, 64), 64))


@semantics("jrcxz", "jecxz")
def jump_if_count_zero(b: Builder, insn: Insn) -> None:
    bits = 64 if insn.name == "jrcxz" else 32
    zero = b.is_zero(b.get_reg(1, bits), bits)
    b.end_block(b.select(zero, _target(b, insn), b.const(insn.next, 64), 64))


def _address_bits(insn: Insn) -> int:
    """64, or 32 with the address-size prefix (0x67), which makes loop count in ecx."""
    return 32 if insn.addr32 else 64


@semantics("loop", "loope", "loopne")
def loop(b: Builder, insn: Insn) -> None:
    bits = _address_bits(insn)  # a 32-bit count is written as ecx, zero-extending
    count = b.sub(b.get_reg(1, bits), b.const(1, bits), bits)
    b.set_reg(1, count, bits)
    go = b.ne(count, b.const(0, bits), bits)
    if insn.name == "loope":
        go = b.and_(go, b.get_flag("zf"), 1)
    elif insn.name == "loopne":
        go = b.and_(go, b.not_(b.get_flag("zf"), 1), 1)
    b.end_block(b.select(go, _target(b, insn), b.const(insn.next, 64), 64))


@semantics("call")
def call(b: Builder, insn: Insn) -> None:
    target = _target(b, insn)  # read before the push: `call [rsp]` uses the old rsp
    b.push(b.const(insn.next, 64))
    b.end_block(target)


@semantics("ret")
def ret(b: Builder, insn: Insn) -> None:
    rsp = b.get_gpr(4)
    target = _canonical(b, b.load(rsp, 64))
    release = 8 + (insn.op(0).imm & 0xffff if insn.ops else 0)  # ret imm16 pops arguments too
    b.set_gpr(4, b.add(rsp, b.const(release, 64), 64))
    b.end_block(target)


@semantics(*("cmov" + cc for cc in flags.CONDITIONS))
def cmov(b: Builder, insn: Insn) -> None:
    # The source is read (and may fault) even when the condition is false, and a 32-bit
    # destination is zero-extended either way.
    bits = insn.op(0).size * 8
    taken = flags.condition(b, insn.name[4:])
    source = b.read(insn.op(1), volatile=True)  # so the JIT keeps the load when unused
    b.write(insn.op(0), b.select(taken, source, b.read(insn.op(0)), bits))


@semantics(*("set" + cc for cc in flags.CONDITIONS))
def setcc(b: Builder, insn: Insn) -> None:
    b.write(insn.op(0), b.zext(flags.condition(b, insn.name[3:]), 1, 8))


@semantics("push")
def push(b: Builder, insn: Insn) -> None:
    # Capstone sizes push imm8/imm32 at 8 bytes (sign-extended) and pushw imm at 2.
    bits = insn.op(0).size * 8
    b.push(b.read(insn.op(0)), bits)


@semantics("pop")
def pop(b: Builder, insn: Insn) -> None:
    bits = insn.op(0).size * 8
    op = insn.op(0)
    rsp = b.get_gpr(4)
    value = b.load(rsp, bits)
    bumped = b.add(rsp, b.const(bits // 8, 64), 64)
    if op.kind == MEM:
        # The address is computed after the increment (`pop [rsp]` stores above the popped
        # slot), but rsp changes only once the store has not faulted.
        b.set_gpr(4, bumped)
        addr = b.address(op)
        b.set_gpr(4, rsp)
        b.store(addr, value, bits)
        b.set_gpr(4, bumped)
    else:
        b.set_gpr(4, bumped)
        b.write(op, value)  # `pop rsp` ends with the popped value, written after the bump


@semantics("leave")
def leave(b: Builder, insn: Insn) -> None:
    # Load the saved rbp before changing anything: a bad rbp faults with rsp as it was.
    frame = b.get_gpr(5)
    saved = b.load(frame, 64)
    b.set_gpr(4, b.add(frame, b.const(8, 64), 64))
    b.set_gpr(5, saved)


@semantics("enter")
def enter(b: Builder, insn: Insn) -> None:
    # Level 0 is push rbp; mov rbp, rsp; sub rsp, size. A nesting level L also copies L - 1
    # frame pointers from the old frame's display ([rbp - 8], [rbp - 16]...) and pushes the
    # new frame pointer. Then the CPU touches the new stack top: a frame that does not fit
    # faults there, with the pushes in memory but rsp and rbp as they were.
    size, level = insn.op(0).imm & 0xffff, insn.op(1).imm & 0x1f
    old_frame = b.get_gpr(5)
    eight = b.const(8, 64)
    top = b.sub(b.get_gpr(4), eight, 64)
    b.store(top, old_frame, 64)
    frame = top
    if level:
        for i in range(1, level):
            display = b.load(b.sub(old_frame, b.const(8 * i, 64), 64), 64)
            top = b.sub(top, eight, 64)
            b.store(top, display, 64)
        top = b.sub(top, eight, 64)
        b.store(top, frame, 64)
    top = b.sub(top, b.const(size, 64), 64)
    b.load(top, 8, volatile=True)
    b.set_gpr(5, frame)
    b.set_gpr(4, top)
