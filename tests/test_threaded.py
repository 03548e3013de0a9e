"""The cheap tier's threaded code (xlate.threaded, csrc/threaded.c) and how the dispatch loop runs
it. Its semantics are checked against the CPU by the differential tests, whose "python" engine
runs every block in the cheap tier; these check what they take for granted: that integer code
is threaded code there, and that running it in the dispatch loop keeps the engine's counts."""

from __future__ import annotations

from tests.oracle import CODE_ADDR, CODE_SIZE, assemble
from xlate import threaded
from xlate.machine import Machine
from xlate.memory import PROT_EXEC, PROT_READ, PROT_WRITE

STACK_TOP = 0x7F0000


def _machine(asm: str, threshold: int) -> tuple[Machine, bytes]:
    machine = Machine.bare("jit", jit_threshold=threshold)
    code = assemble(asm)
    machine.memory.map(CODE_ADDR, CODE_SIZE, PROT_READ | PROT_EXEC)
    machine.memory.poke(CODE_ADDR, code)
    machine.memory.map(STACK_TOP - 0x10000, 0x10000, PROT_READ | PROT_WRITE)
    machine.cpu.gpr[4] = STACK_TOP
    machine.cpu.rip = CODE_ADDR
    return machine, code


def test_integer_code_and_vector_moves_are_threaded_code_and_vector_arithmetic_is_not():
    machine, code = _machine("""
        mov rax, [rsp + 8]; add eax, ecx; imul edx, eax, 7; sar rdx, cl; setl bl
        cmovz rsi, rdi; push rax; pop rcx; bsf rax, rdx; adc rbx, 1; div rcx; jmp 1f
        1: movups xmm0, [rsp]; movntdq [rsp + 16], xmm0; pxor xmm1, xmm1; movq rax, xmm0
        movhps xmm2, [rsp]; movsd xmm3, xmm2; movd xmm4, eax; jmp 2f
        2: paddd xmm0, xmm1; ret""", 1 << 40)
    blocks = machine.decoder
    first = blocks.block(CODE_ADDR)
    moves = blocks.block(first.end)
    assert threaded.program(first) is not None
    assert threaded.program(moves) is not None
    assert threaded.program(blocks.block(moves.end)) is None  # paddd: left to Python


def test_a_loop_runs_in_the_dispatch_loop_until_hot_and_its_computed_jump_is_followed():
    """The block that ends in `jmp rax` runs as threaded code in the dispatch loop; its count
    there comes back to the engine when it is due to be compiled, and where it jumped, which
    the dispatch loop notes, is what a region follows."""
    machine, code = _machine("""
        mov ecx, 3000
        2: lea rax, [rip + 1f]; jmp rax
        1: add rbx, rcx; dec ecx; jnz 2b
        nop""", 1000)
    end = CODE_ADDR + len(code) - 1
    result = machine.run(until=end)
    assert result.exit_status is None and machine.cpu.rip == end
    assert machine.cpu.gpr[3] == sum(range(1, 3001))
    engine = machine.engine()
    assert machine.cpu.threaded_entries > 1000
    jump = engine.decoder.block(CODE_ADDR + 5)
    assert jump.insns[-1].name == "jmp"
    assert engine._runs(jump.start) >= 1000
    assert engine._compiled(jump.start)
    assert engine._likely_targets(jump.start) == [jump.end]
