"""The native oracle itself, pinned with results that are architecturally certain."""

from __future__ import annotations

import os
import signal
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.oracle import (
    CODE_ADDR,
    DATA_ADDR,
    DATA_SIZE,
    FLAGS_MASK,
    MAX_CODE_LEN,
    AsmError,
    CpuState,
    HarnessError,
    NativeHarness,
    assemble,
    run_native,
)
from tests.oracle.native import compile_harness
from tests.oracle.state import AF, CF, DF, OF, PF, SF, U64, ZF
from tests.oracle.strategies import cpu_states, u64s

STACK = DATA_ADDR + 0x8000

# si_code values from <asm-generic/siginfo.h>.
ILL_ILLOPN = 2
FPE_INTDIV = 1
SEGV_MAPERR = 1
SI_KERNEL = 0x80


def state(**regs: int) -> CpuState:
    s = CpuState.default(rsp=STACK)
    for name, value in regs.items():
        s[name] = value
    return s


def run(asm: str, s: CpuState, **kw: float) -> CpuState:
    return run_native(assemble(asm), s, **kw)


def unchanged_except(before: CpuState, after: CpuState, *allowed: str) -> None:
    """Everything but rip and the named registers must round-trip exactly."""
    diffs = [d for d in before.diff(after, outcome=False) if d.split(":")[0] not in allowed]
    assert not diffs, diffs


# ---- integer semantics and flags --------------------------------------------------------


def test_add_signed_overflow():
    r = run("add rax, rbx", state(rax=0x7FFF_FFFF_FFFF_FFFF, rbx=1))
    assert r.signal == 0
    assert r["rax"] == 0x8000_0000_0000_0000
    # 0x7f..ff + 1: no unsigned carry, signed overflow, carry out of bit 3, low byte 0.
    assert r.rflags == OF | SF | AF | PF


def test_add_unsigned_carry_to_zero():
    r = run("add rax, rbx", state(rax=U64, rbx=1))
    assert r["rax"] == 0
    assert r.rflags == CF | ZF | AF | PF


def test_sub_borrow():
    r = run("sub rax, rbx", state(rax=0, rbx=1))
    assert r["rax"] == U64
    assert r.rflags == CF | SF | AF | PF


def test_flags_are_loaded_before_the_code():
    # adc/sbb consume CF, so the input rflags must reach the CPU.
    s = state(rax=5)
    s.rflags = CF
    assert run("adc rax, 0", s)["rax"] == 6
    s.rflags = 0
    assert run("adc rax, 0", s)["rax"] == 5


def _add_flags(a: int, b: int, cin: int = 0) -> int:
    r = (a + b + cin) & U64
    f = 0
    f |= CF if a + b + cin > U64 else 0
    f |= PF if bin(r & 0xFF).count("1") % 2 == 0 else 0
    f |= AF if ((a ^ b ^ r) >> 4) & 1 else 0
    f |= ZF if r == 0 else 0
    f |= SF if r >> 63 else 0
    f |= OF if (~(a ^ b) & (a ^ r)) >> 63 & 1 else 0
    return f


@settings(max_examples=200, deadline=None)
@given(u64s, u64s, st.booleans(), st.booleans())
def test_add_adc_flags_match_the_manual(a, b, carry_in, use_adc):
    s = state(rax=a, rbx=b)
    s.rflags = CF if carry_in else 0
    r = run("adc rax, rbx" if use_adc else "add rax, rbx", s)
    cin = int(carry_in and use_adc)
    assert r["rax"] == (a + b + cin) & U64
    assert r.rflags == _add_flags(a, b, cin), hex(r.rflags)


# ---- the round trip of every piece of state ---------------------------------------------


@settings(max_examples=60, deadline=None)
@given(cpu_states())
def test_empty_code_returns_the_state_unchanged(s):
    r = run_native(b"", s)
    assert r.signal == 0
    assert r.rip == CODE_ADDR
    unchanged_except(s, r)


def test_all_gprs_round_trip_including_rsp():
    # rsp is used as is, even when it points nowhere: nothing here touches the stack.
    s = state()
    s.gpr = [0x1111_1111_1111_1111 * (i + 1) & U64 for i in range(16)]
    s["rsp"] = 0xDEAD_BEEF_0000_0008
    r = run_native(b"", s)
    assert r.gpr == s.gpr


def test_each_gpr_is_distinct():
    # Swapped or aliased register slots would survive a pure round trip; not these.
    asm = "\n".join(f"not {n}" for n in ("rax", "rcx", "rdx", "rbx", "rbp", "rsi", "rdi"))
    asm += "\n" + "\n".join(f"add r{i}, {i}" for i in range(8, 16)) + "\nadd rsp, 0x40"
    s = state()
    s.gpr = [i * 0x100 for i in range(16)]
    s["rsp"] = STACK
    r = run(asm, s)
    want = [~(i * 0x100) & U64 for i in range(8)] + [i * 0x100 + i for i in range(8, 16)]
    want[4] = STACK + 0x40
    assert r.gpr == want


@pytest.mark.parametrize("flags", range(128))
def test_every_flag_combination_round_trips(flags):
    bits = [CF, PF, AF, ZF, SF, DF, OF]
    s = state()
    s.rflags = sum(b for i, b in enumerate(bits) if flags >> i & 1)
    assert run_native(b"", s).rflags == s.rflags


def test_rflags_seen_by_the_code():
    # Only the 7 defined bits are loaded: TF/AC/NT/ID requests are dropped, so the code
    # sees bit 1 (reserved, always 1) and IF set by the kernel, plus what was asked for.
    s = state()
    s.rflags = 0xFFFF_FFFF
    r = run("pushfq\npop rax", s)
    assert r["rax"] == FLAGS_MASK | 0x2 | 0x200
    assert r.rflags == FLAGS_MASK


def test_df_in_and_out():
    s = state(rsi=DATA_ADDR + 0x100)
    s.rflags = DF
    r = run("lodsb", s)
    assert r["rsi"] == DATA_ADDR + 0xFF  # DF=1 reached the CPU: lods went down
    assert r.rflags & DF
    assert run("cld", s).rflags & DF == 0
    s.rflags = 0
    assert run("std", s).rflags & DF
    # The harness restores DF=0 for itself; the next case must not inherit DF=1.
    assert run("lodsb", s)["rsi"] == DATA_ADDR + 0x101


def test_xmm_round_trip_and_moves():
    s = state()
    s.xmm = [
        (0x0123_4567_89AB_CDEF_FEDC_BA98_7654_3210 * (i + 1)) & ((1 << 128) - 1) for i in range(16)
    ]
    r = run_native(b"", s)
    assert r.xmm == s.xmm
    r = run("movdqa xmm0, xmm15\npxor xmm15, xmm15", s)
    assert r.xmm[0] == s.xmm[15] and r.xmm[15] == 0 and r.xmm[1:15] == s.xmm[1:15]


def test_ymm_upper_halves_start_zero():
    s = state()
    s.xmm = [(1 << 128) - 1] * 16
    # vextracti128 needs AVX2; vextractf128 only AVX.
    r = run("vextractf128 xmm0, ymm1, 1", s)
    if r.signal == signal.SIGILL:
        pytest.skip("no AVX on this host")
    assert r.xmm[0] == 0


def test_mxcsr_round_trip_and_exception_flags():
    s = state()
    s.mxcsr = 0x1F80 | 0x6000  # round toward zero
    assert run_native(b"", s).mxcsr == s.mxcsr
    s.mxcsr = 0x1F80
    s.xmm[0] = struct.unpack("<Q", struct.pack("<d", 1.0))[0]
    r = run("xorpd xmm1, xmm1\ndivsd xmm0, xmm1", s)
    assert r.mxcsr == 0x1F80 | 0x4  # ZE: divide by zero, masked
    assert r.xmm[0] == struct.unpack("<Q", struct.pack("<d", float("inf")))[0]


def test_mxcsr_reserved_bits_are_refused():
    s = state()
    s.mxcsr = 0x1_1F80
    with pytest.raises(ValueError):
        run_native(b"", s)


def test_x87_state():
    r = run("fld1\nfldpi", state())
    one, pi = 0x3FFF_8000_0000_0000_0000, 0x4000_C90F_DAA2_2168_C235
    assert (r.st[0], r.st[1]) == (pi, one)
    assert (r.fsw >> 11) & 7 == 6  # TOP after two pushes
    assert r.ftw == 0b1100_0000  # physical registers 6 and 7 in use
    assert r.fcw == 0x37F


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, (1 << 80) - 1), min_size=8, max_size=8), st.integers(0, 7))
def test_x87_registers_round_trip(regs, top):
    s = state()
    s.st, s.ftw, s.fsw = regs, 0xFF, top << 11
    r = run_native(b"", s)
    assert (r.st, r.ftw, r.fsw, r.fcw) == (s.st, s.ftw, s.fsw, s.fcw)


# ---- memory ------------------------------------------------------------------------------


def test_push_pop_through_rsp():
    s = state(rbx=0x1122_3344_5566_7788)
    r = run("push rbx", s)
    assert r["rsp"] == STACK - 8
    assert r.peek(STACK - 8, 8) == (0x1122_3344_5566_7788).to_bytes(8, "little")
    assert r.mem[: STACK - 8 - DATA_ADDR] == s.mem[: STACK - 8 - DATA_ADDR]
    r = run("push rbx\npop rcx", s)
    assert r["rcx"] == s["rbx"] and r["rsp"] == STACK


def test_rsp_is_used_as_is():
    s = state(rax=7)
    s["rsp"] = DATA_ADDR + 0x123  # misaligned on purpose
    r = run("push rax", s)
    assert r["rsp"] == DATA_ADDR + 0x11B and r.peek(DATA_ADDR + 0x11B, 1) == b"\x07"


def test_data_region_round_trips():
    s = CpuState.random(7)
    r = run_native(b"", s)
    assert r.mem == s.mem


def test_writes_do_not_leak_into_the_next_case():
    s = state(rax=0xAAAA_AAAA_AAAA_AAAA)
    r = run(f"mov rdi, {DATA_ADDR:#x}\nmov rcx, {DATA_SIZE // 8}\nrep stosq", s)
    assert r.mem == b"\xaa" * DATA_SIZE  # the whole region, stack included
    # Same zeroed input state: the region must be zero again.
    r = run(f"mov rbx, [{DATA_ADDR:#x}]", s)
    assert r["rbx"] == 0 and r.mem == s.mem


def test_region_bounds():
    end = DATA_ADDR + DATA_SIZE
    assert run(f"mov rax, [{end - 8:#x}]", state()).signal == 0
    r = run(f"mov rax, [{end:#x}]", state())
    assert (r.signal, r.fault_addr) == (signal.SIGSEGV, end)


def test_memory_writes_before_a_fault_are_reported():
    r = run(f"mov qword ptr [{DATA_ADDR:#x}], 0x55\nud2", state())
    assert r.signal == signal.SIGILL and r.peek(DATA_ADDR, 1) == b"\x55"


def test_self_modifying_code_does_not_persist():
    # Overwrite our own first byte (mov byte ptr [rip-7], 0xcc is 7 bytes).
    code = assemble("mov byte ptr [rip - 7], 0xcc")
    r = run_native(code, state())
    assert r.signal == 0
    assert run_native(code, state()).signal == 0


def test_rip_relative_sees_code_addr():
    r = run("lea rax, [rip]", state())
    assert r["rax"] == CODE_ADDR + 7
    assert r.rip == CODE_ADDR + 7


# ---- faults ------------------------------------------------------------------------------


def test_div_by_zero_is_sigfpe_with_the_state_before_it():
    s = state(rax=10, rdx=0, rcx=0)
    r = run("nop\ndiv rcx", s)
    assert (r.signal, r.si_code, r.rip) == (signal.SIGFPE, FPE_INTDIV, CODE_ADDR + 1)
    unchanged_except(s, r)


def test_div_overflow_is_sigfpe():
    r = run("div rcx", state(rax=0, rdx=1, rcx=1))
    assert r.signal == signal.SIGFPE


def test_ud2_is_sigill():
    s = CpuState.random(3)
    r = run("ud2", s)
    assert (r.signal, r.si_code, r.rip, r.fault_addr) == (
        signal.SIGILL,
        ILL_ILLOPN,
        CODE_ADDR,
        CODE_ADDR,
    )
    # The state at a fault comes from the signal frame: it must be as exact as at exit.
    unchanged_except(s, r)


@settings(max_examples=40, deadline=None)
@given(cpu_states())
def test_fault_state_is_exact(s):
    r = run("ud2", s)
    assert r.signal == signal.SIGILL
    unchanged_except(s, r)


def test_x87_state_at_a_fault():
    r = run("fld1\nud2", state())
    assert (r.signal, r.st[0], r.ftw) == (signal.SIGILL, 0x3FFF_8000_0000_0000_0000, 0x80)


def test_null_access_is_sigsegv():
    r = run("mov rax, [0]", state())
    assert (r.signal, r.si_code, r.fault_addr, r.rip) == (signal.SIGSEGV, SEGV_MAPERR, 0, CODE_ADDR)


def test_non_canonical_access_is_sigsegv_without_address():
    # #GP, not #PF: the kernel reports SI_KERNEL and si_addr 0.
    r = run("mov rax, [rbx]", state(rbx=0x8000_0000_0000_0000))
    assert (r.signal, r.si_code, r.fault_addr) == (signal.SIGSEGV, SI_KERNEL, 0)


def test_bad_stack_is_sigsegv():
    s = state(rax=1)
    s["rsp"] = 0x1000
    r = run("push rax", s)
    assert (r.signal, r.fault_addr, r["rsp"]) == (signal.SIGSEGV, 0xFF8, 0x1000)


def test_jump_to_nowhere():
    r = run("jmp rax", state(rax=0x1234_0000))
    assert (r.signal, r.rip, r.fault_addr) == (signal.SIGSEGV, 0x1234_0000, 0x1234_0000)


def test_int3_is_sigtrap_after_the_instruction():
    r = run("int3", state())
    assert (r.signal, r.rip) == (signal.SIGTRAP, CODE_ADDR + 1)


def test_endless_loop_times_out():
    r = run("1: jmp 1b", state(), timeout=0.05)
    assert (r.signal, r.rip) == (signal.SIGALRM, CODE_ADDR)


def test_code_that_blocks_sigalrm_is_killed():
    # rt_sigprocmask(SIG_BLOCK, &all, NULL) with the set on the stack, then spin.
    code = "mov qword ptr [rsp - 8], -1\nlea rsi, [rsp - 8]\nxor edi, edi\nxor edx, edx\n"
    code += "mov r10d, 8\nmov eax, 14\nsyscall\n1: jmp 1b"
    with pytest.raises(HarnessError, match="ignored SIGALRM"):
        run(code, state(), timeout=0.05)
    assert run("mov eax, 1", state())["rax"] == 1


def test_exit_syscall_is_an_error_and_the_harness_survives():
    with pytest.raises(HarnessError, match="exit status 7"):
        run("mov eax, 60\nmov edi, 7\nsyscall", state())
    with pytest.raises(HarnessError, match="killed by signal 9"):
        run("mov eax, 39\nsyscall\nmov edi, eax\nmov esi, 9\nmov eax, 62\nsyscall", state())
    assert run("mov eax, 1", state())["rax"] == 1


def test_a_killed_helper_is_restarted():
    h = NativeHarness()
    try:
        assert h.run(assemble("mov eax, 1"), state())["rax"] == 1
        assert h._proc is not None
        os.kill(h._proc.pid, signal.SIGKILL)
        h._proc.wait()
        assert h.run(assemble("mov eax, 2"), state())["rax"] == 2
    finally:
        h.close()


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="mem"):
        run_native(b"", CpuState(mem=b"short"))
    with pytest.raises(ValueError, match="at most"):
        run_native(b"\x90" * (MAX_CODE_LEN + 1), state())
    s = state()
    s.gpr[0] = -1
    with pytest.raises(ValueError):
        run_native(b"", s)
    # Code of the maximal length still fits with its stub.
    assert run_native(b"\x90" * MAX_CODE_LEN, state()).rip == CODE_ADDR + MAX_CODE_LEN


# ---- diff --------------------------------------------------------------------------------


def test_diff_messages():
    a = state(rax=1)
    b = a.copy()
    assert a.diff(b) == []
    b["rax"], b.rflags, b.xmm[3] = 2, CF | ZF, 5
    b.poke(DATA_ADDR + 0x10, b"\x01\x02")
    b.signal = signal.SIGSEGV
    d = a.diff(b)
    assert "signal: none != SIGSEGV" in d
    assert "rax: 0x1 != 0x2" in d
    assert any(x.startswith("rflags: 0x0 [-] != 0x41 [CF ZF]") for x in d)
    assert any(x.startswith("xmm3: ") for x in d)
    assert f"mem[{DATA_ADDR + 0x10:#x}..+2]: 0000 != 0102" in d
    assert all("rflags" not in x for x in a.diff(b, flags_mask=0))


# ---- the harness build and assemble() ------------------------------------------------------


def test_harness_compiles_without_warnings(tmp_path):
    assert compile_harness(tmp_path / "h", ("-Werror",)) == ""


@pytest.mark.parametrize(
    "text, hexcode",
    [
        ("add rax, rbx", "4801d8"),
        ("push rbx", "53"),
        ("pop r15", "415f"),
        ("div rcx", "48f7f1"),
        ("ud2", "0f0b"),
        ("mov rax, [0]", "488b042500000000"),
        ("movdqa xmm0, xmm15", "66410f6fc7"),
        ("1: jmp 1b", "ebfe"),
        ("lea rax, [rip]", "488d0500000000"),
    ],
)
def test_assemble_known_encodings(text, hexcode):
    assert assemble(text).hex() == hexcode


def test_assemble_agrees_with_capstone():
    capstone = pytest.importorskip("capstone")
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    text = "add rax, rbx\nsub ecx, 5\nimul r8, r9, 7\nmovzx eax, byte ptr [rsi + 4]\nshl rdx, cl"
    code = assemble(text)
    got = [f"{i.mnemonic} {i.op_str}" for i in md.disasm(code, CODE_ADDR)]
    assert got == [
        "add rax, rbx",
        "sub ecx, 5",
        "imul r8, r9, 7",
        "movzx eax, byte ptr [rsi + 4]",
        "shl rdx, cl",
    ]


def test_assemble_labels_and_separators():
    assert assemble("xor eax, eax; 1: inc eax; cmp eax, 3; jne 1b") == assemble(
        "xor eax, eax\n1:\ninc eax\ncmp eax, 3\njne 1b"
    )
    assert run("xor eax, eax; 1: inc eax; cmp eax, 3; jne 1b", state())["rax"] == 3


def test_assemble_errors():
    with pytest.raises(AsmError, match="line 2"):
        assemble("nop\nbogus rax")
    with pytest.raises(AsmError, match="somewhere"):
        assemble("call somewhere")


def test_assemble_is_cached():
    text = "mov rax, 0x1234567 ; nop"
    assert assemble(text) is assemble(text)
