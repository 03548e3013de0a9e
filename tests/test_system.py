"""Flag-register, no-op, trapping and identification instructions (xlate/semantics/system.py,
csrc/cpuid.c): against the real CPU where the result is architectural, against xlate's own
definition where it is not (cpuid, rdtsc)."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from tests.difftest import run_xlate
from tests.integer_forms import STACK, Operands, check_cases, engines
from tests.oracle import FLAGS_MASK, CpuState, assemble
from xlate.runtime import ffi, lib

# rflags bits popf may set in these tests: the status flags, DF, and the always-one bit 1
# (TF would trap, AC would fault misaligned accesses, IF/IOPL cannot change in user mode).
POPF_BITS = FLAGS_MASK | 0x2


@engines
@pytest.mark.parametrize("asm", ["lahf", "sahf", "clc", "stc", "cmc", "cld", "std"])
def test_flag_instructions_match_the_cpu(engine, asm):
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        return Operands(draw).case(asm)
    check_cases(engine, cases(), 25)


@engines
@pytest.mark.parametrize("asm", [
    "pushfq", "popfq", "pushfq\npop rax", "push rax\npopfq", "pushfw", "popfw",
    "pushfw\npop ax", "push ax\npopfw"])
def test_pushf_and_popf_move_the_flags_like_the_cpu(engine, asm):
    # pushf stores IF and bit 1 set along with the flags; popf takes back the ones it may.
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = Operands(draw, stack=True)
        flags = draw(st.integers(0, 0xFFFF)) & POPF_BITS
        ops.poke(STACK, flags.to_bytes(8, "little"))
        return ops.case(asm, rax=flags)
    check_cases(engine, cases(), 25)


@engines
@pytest.mark.parametrize("asm", [
    "nop", "xchg ax, ax", "nop dword ptr [rax + rax*1 + 0x0]", "nop word ptr [rbx + 0x7fff]",
    "pause", "lfence", "mfence", "sfence", "endbr64", "prefetcht0 [rax]", "prefetcht1 [rbx]",
    "prefetcht2 [rcx]", "prefetchnta [rdx]", "prefetchw [rsi]", "prefetch [rdi]"])
def test_no_ops_change_nothing_even_with_wild_addresses(engine, asm):
    # Random registers: prefetches and long nops never fault, whatever they name.
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        return Operands(draw).case(asm)
    check_cases(engine, cases(), 10)


@engines
@pytest.mark.parametrize("asm", [
    "ud2", "ud1 eax, dword ptr [rax]", "ud0 eax, dword ptr [rax]", "hlt",
    "mov eax, 1\nud2\nmov eax, 2"])
def test_trapping_instructions_raise_the_cpus_signal_at_the_instruction(engine, asm):
    # ud0/ud1/ud2: SIGILL; hlt in user mode: #GP, SIGSEGV. The state is that before the instruction.
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        return Operands(draw).case(asm)
    check_cases(engine, cases(), 2)


def _cpuid_helper(leaf: int) -> tuple[int, int, int, int]:
    """eax, ebx, ecx, edx as csrc/cpuid.c defines them for the leaf."""
    cpu = ffi.new("xlate_cpu *")
    cpu.gpr[0] = leaf
    lib.xlate_helper_cpuid(cpu, 0, 0)
    return cpu.gpr[0], cpu.gpr[3], cpu.gpr[1], cpu.gpr[2]


def _run_cpuid(engine: str, rax: int, rcx: int = 0) -> tuple[int, int, int, int]:
    state = CpuState.random(7)
    state["rax"], state["rcx"] = rax, rcx
    out = run_xlate(assemble("cpuid"), state, engine)
    assert out.signal == 0
    return out["rax"], out["rbx"], out["rcx"], out["rdx"]


@engines
def test_cpuid_leaf_0_gives_xlates_vendor_and_ignores_the_upper_half_of_rax(engine):
    eax, ebx, ecx, edx = _run_cpuid(engine, 0xFFFF_FFFF_0000_0000, rcx=0x1234)
    assert (eax, ebx, ecx, edx) == _cpuid_helper(0)
    vendor = b"".join(v.to_bytes(4, "little") for v in (ebx, edx, ecx))
    assert vendor == b"XlateEmulatr"
    assert eax >= 1  # leaf 1 exists


@engines
def test_cpuid_leaf_1_announces_the_x86_64_baseline_and_zero_extends(engine):
    eax, ebx, ecx, edx = _run_cpuid(engine, 1)
    assert (eax, ebx, ecx, edx) == _cpuid_helper(1)
    assert max(eax, ebx, ecx, edx) < 1 << 32  # 32-bit results, zero-extended
    for bit in (0, 4, 15, 24, 25, 26):  # FPU, TSC, CMOV, FXSR, SSE, SSE2
        assert edx >> bit & 1


@engines
def test_rdtsc_counts_up_in_edx_eax(engine):
    asm = "rdtsc\nmov r8d, eax\nmov r9d, edx\nrdtsc"
    state = CpuState.random(3)
    out = run_xlate(assemble(asm), state, engine)
    assert out.signal == 0
    assert out["rax"] < 1 << 32 and out["rdx"] < 1 << 32
    first = out["r9"] << 32 | out["r8"]
    assert out["rdx"] << 32 | out["rax"] >= first > 0
