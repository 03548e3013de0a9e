"""Jumps, conditional moves and sets, loops, calls, returns and the stack
(xlate/semantics/control.py) against the real CPU, every condition under random flags
(tests/integer_forms.py)."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from tests.integer_forms import (
    PTR,
    STACK,
    Case,
    Operands,
    check,
    check_cases,
    engines,
    values,
    widths_with_legacy8,
)
from xlate.semantics.flags import CONDITIONS

# Condition suffixes as Capstone spells them, and the aliases gas also takes.
ALIASES = {"b": "c", "ae": "nc", "e": "z", "ne": "nz", "be": "na", "a": "nbe", "p": "pe",
           "np": "po", "l": "nge", "ge": "nl", "le": "ng", "g": "nle"}


def stack_operands(draw: st.DrawFn, **kw: object) -> Operands:
    """Operands for code that pushes and pops: rsp stays the stack pointer."""
    return Operands(draw, stack=True, **kw)


@engines
@pytest.mark.parametrize("cc", CONDITIONS)
def test_conditional_jumps_take_the_branch_the_cpu_takes(engine, cc):
    # r8/r9 record which way each jump went; the flags are random.
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = Operands(draw)
        name = draw(st.sampled_from((cc, ALIASES.get(cc, cc))))
        form = draw(st.sampled_from(("short", "near", "backward")))
        if form == "backward":
            asm = (f"jmp 2f\n1: mov r9d, 2\njmp 3f\n2: j{name} 1b\nmov r8d, 1\n3:")
        else:
            prefix = "{disp32} " if form == "near" else ""
            asm = f"{prefix}j{name} 1f\nmov r8d, 1\n1:"
        return ops.case(asm)
    check_cases(engine, cases(), 30)


@engines
@pytest.mark.parametrize("cc", CONDITIONS)
def test_cmov_moves_when_the_cpu_does_and_always_zero_extends_32_bits(engine, cc):
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = Operands(draw)
        bits = draw(st.sampled_from((16, 32, 64)))
        dst = ops.reg(bits)
        return ops.case(f"cmov{cc} {dst}, {ops.rm(bits)}")
    check_cases(engine, cases(), 30)


@engines
def test_cmov_reads_its_memory_source_even_when_the_condition_is_false(engine):
    # A faulting source faults whatever the flags say.
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = Operands(draw)
        cc = draw(st.sampled_from(CONDITIONS))
        bits = draw(st.sampled_from((16, 32, 64)))
        return ops.case(f"cmov{cc} {ops.reg(bits)}, {PTR[bits]} [0x8]")
    check_cases(engine, cases(), 20)


@engines
@pytest.mark.parametrize("asm", ["cmovz rax, qword ptr [rax]", "cmovz ax, word ptr [rax]"])
def test_cmov_faults_on_its_source_when_the_destination_is_also_the_base(engine, asm):
    gpr = [0] * 16
    gpr[0], gpr[4] = 0x8, STACK
    check(Case(asm, tuple(gpr), rflags=0, seed=1), engine)  # ZF clear: no move, still a fault


@engines
@pytest.mark.parametrize("cc", CONDITIONS)
def test_setcc_writes_the_condition_the_cpu_computes(engine, cc):
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        _, legacy8 = widths_with_legacy8(draw, (8,))
        ops = Operands(draw, legacy8=legacy8)
        return ops.case(f"set{cc} {ops.rm(8)}")
    check_cases(engine, cases(), 25)


@engines
@pytest.mark.parametrize("mnemonic", ["loop", "loope", "loopne"])
def test_loops_jump_forward_like_the_cpu_from_any_count(engine, mnemonic):
    # From any count: 0 wraps to 2**64 - 1 and jumps.
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        return Operands(draw).case(f"{mnemonic} 1f\nmov r8d, 1\n1:", rcx=draw(values))
    check_cases(engine, cases(), 30)


@engines
@pytest.mark.parametrize("mnemonic", ["loop", "loope", "loopne"])
def test_loops_count_rcx_and_test_zf_like_the_cpu(engine, mnemonic):
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = Operands(draw, avoid=frozenset({"rsp", "rcx", "rsi"}))
        # A real loop over bytes: loope runs while they match al, loopne until one does.
        start = ops.address(16)
        data = bytes(draw(st.lists(st.sampled_from((0, 1)), min_size=16, max_size=16)))
        ops.poke(start, data)
        asm = (f"1: cmp byte ptr [rsi], al\nlea rsi, [rsi + 1]\ninc r8\n{mnemonic} 1b")
        return ops.case(asm, rcx=draw(st.integers(1, 12)), rsi=start, rax=draw(st.integers(0, 1)))
    check_cases(engine, cases(), 40)


@engines
@pytest.mark.parametrize("mnemonic", ["jrcxz", "jecxz"])
def test_jump_if_count_zero_tests_the_right_width(engine, mnemonic):
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = Operands(draw)
        rcx = draw(st.sampled_from((0, 1 << 32, 0xFFFF_FFFF_0000_0000, 1, 5)) | values)
        return ops.case(f"{mnemonic} 1f\nmov r8d, 1\n1:", rcx=rcx)
    check_cases(engine, cases(), 30)


@engines
@pytest.mark.parametrize("then", ["1f", "2f"])
def test_addr32_loop_counts_ecx_like_the_cpu(engine, then):
    # With the 0x67 prefix, loop decrements and tests ecx (and zero-extends it into rcx).
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = Operands(draw)
        rcx = draw(st.sampled_from((1, 1 << 32 | 1, 0xFFFF_FFFF_0000_0000)) | values)
        # 2f: the loop is the block's last instruction either way.
        return ops.case(f"addr32 loop {then}\n2: mov r8d, 1\n1:", rcx=rcx)
    check_cases(engine, cases(), 20)


@engines
def test_jumps_reach_their_targets_like_the_cpu(engine):
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = Operands(draw, avoid=frozenset({"rsp", "r11"}))
        form = draw(st.sampled_from(("short", "near", "reg", "mem")))
        if form in ("short", "near"):
            prefix = "{disp32} " if form == "near" else ""
            return ops.case(f"{prefix}jmp 1f\nmov r8d, 1\n1:")
        target = "r11"
        if form == "mem":
            addr = ops.address(8)
            target = ops.mem(64, addr)
            return ops.case(f"lea r11, [rip + 1f]\nmov {target}, r11\njmp {target}\n"
                            "mov r8d, 1\n1:")
        return ops.case(f"lea r11, [rip + 1f]\njmp {target}\nmov r8d, 1\n1:")
    check_cases(engine, cases(), 40)


@engines
def test_calls_push_the_return_address_and_returns_pop_it(engine):
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = stack_operands(draw, avoid=frozenset({"rsp", "r11", "r8"}))
        form = draw(st.sampled_from(("rel", "reg", "mem", "stack slot", "ret imm")))
        # The callee records its return address in r8 and returns.
        callee = "jmp 2f\n1: mov r8, [rsp]\nret\n2:"
        if form == "rel":
            return ops.case(f"call 1f\n{callee}")
        if form == "ret imm":
            n = draw(st.sampled_from((0, 8, 16, 0x18)))
            return ops.case(f"call 1f\njmp 2f\n1: ret {n}\n2:")
        if form == "reg":
            return ops.case(f"lea r11, [rip + 1f]\ncall r11\n{callee}")
        if form == "stack slot":  # the target is read before the push overwrites its slot
            return ops.case(f"lea r11, [rip + 1f]\nmov [rsp - 8], r11\n"
                            f"call qword ptr [rsp - 8]\n{callee}")
        target = ops.mem(64)
        return ops.case(f"lea r11, [rip + 1f]\nmov {target}, r11\ncall {target}\n{callee}")
    check_cases(engine, cases(), 50)


@st.composite
def pushes_and_pops(draw: st.DrawFn) -> object:
    ops = stack_operands(draw)
    form = draw(st.sampled_from((
        "push r", "push m", "push imm", "pop r", "pop m", "push rsp", "pop rsp",
        "push [rsp]", "pop [rsp]", "push/pop 16")))
    if form == "push r":
        return ops.case(f"push {ops.reg(64)}")
    if form == "push m":
        return ops.case(f"push {ops.mem(64)}")
    if form == "push imm":  # imm8 and imm32, sign-extended to 64 bits
        return ops.case(f"push {draw(st.integers(-(1 << 31), (1 << 31) - 1)):#x}")
    if form == "pop r":
        return ops.case(f"pop {ops.reg(64)}")
    if form == "pop m":
        return ops.case(f"pop {ops.mem(64)}")
    if form == "push rsp":  # the value before the decrement
        return ops.case("push rsp")
    if form == "pop rsp":  # the popped value, not the incremented pointer
        return ops.case("pop rsp")
    if form == "push [rsp]":
        return ops.case("push qword ptr [rsp + 8]")
    if form == "pop [rsp]":  # the address is computed after the increment
        return ops.case(f"pop qword ptr [rsp + {draw(st.sampled_from((0, 8, -8))):#x}]")
    # 16-bit pushes and pops move rsp by 2 and merge into the register.
    text = draw(st.sampled_from((
        f"push {ops.reg(16)}", f"pop {ops.reg(16)}", f"push {ops.mem(16)}",
        f"pushw {draw(st.integers(-0x8000, 0x7FFF)):#x}", "pop word ptr [rsp]")))
    return ops.case(text)


@engines
def test_push_and_pop_move_rsp_and_memory_like_the_cpu(engine):
    check_cases(engine, pushes_and_pops(), 150)


@engines
def test_enter_and_leave_build_and_drop_frames_like_the_cpu(engine):
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = stack_operands(draw)
        rbp = STACK - 8 * draw(st.integers(-0x40, 0x40))
        if draw(st.booleans()):
            return ops.case("leave", rbp=rbp)
        # Nesting levels copy frame pointers from below the old rbp (the level is mod 32).
        # Those lie above the stack pointer in real frames: when they overlap the pushes and
        # the allocation crosses a page, AMD CPUs copy differently (unspecified behaviour).
        level = draw(st.sampled_from((0, 0, 1, 2, 5, 31, 32, 33, 0xFF)))
        if level & 31:
            rbp = STACK + 8 * draw(st.integers(32, 0x80))
        return ops.case(f"enter {draw(st.integers(0, 0xFFFF)):#x}, {level:#x}", rbp=rbp)
    check_cases(engine, cases(), 30)
