"""Integer arithmetic, logic, moves and conversions (xlate/semantics/alu.py), each operand form
and width, against the real CPU (see tests/integer_forms.py)."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from tests.integer_forms import (
    GPR,
    PTR,
    STACK,
    WIDTHS,
    Case,
    Operands,
    check,
    check_cases,
    engines,
    full_name,
    imm,
    values,
    widths_with_legacy8,
)


@st.composite
def binary(draw: st.DrawFn, mnemonic: str, *, lock: bool = False) -> object:
    """`mnemonic dst, src` in a drawn form: reg/reg (both encodings), reg/imm8 sign-extended,
    reg/imm, reg/mem, mem/reg, mem/imm; byte forms with ah..bh too."""
    bits, legacy8 = widths_with_legacy8(draw)
    ops = Operands(draw, legacy8=legacy8)
    form = draw(st.sampled_from(("r,r", "r,i", "r,m", "m,r", "m,i")))
    if lock:
        form = draw(st.sampled_from(("m,r", "m,i")))
    if form == "r,r":
        # {load} picks the reg <- r/m encoding (03 /r rather than 01 /r).
        prefix = draw(st.sampled_from(("", "{load} ")))
        return ops.case(f"{prefix}{mnemonic} {ops.reg(bits)}, {ops.reg(bits)}")
    if form == "r,i":
        return ops.case(f"{mnemonic} {ops.reg(bits)}, {imm(draw, bits):#x}")
    if form == "r,m":
        dst = ops.reg(bits)
        return ops.case(f"{mnemonic} {dst}, {ops.mem(bits)}")
    dst = ops.mem(bits)
    src = ops.reg(bits) if form == "m,r" else f"{imm(draw, bits):#x}"
    return ops.case(f"{'lock ' if lock else ''}{mnemonic} {dst}, {src}")


@st.composite
def unary(draw: st.DrawFn, mnemonic: str) -> object:
    bits, legacy8 = widths_with_legacy8(draw)
    ops = Operands(draw, legacy8=legacy8)
    lock = draw(st.booleans()) and mnemonic != "bswap"
    operand = ops.mem(bits) if lock else ops.rm(bits)
    return ops.case(f"{'lock ' if lock else ''}{mnemonic} {operand}")


@engines
@pytest.mark.parametrize("mnemonic", ["add", "adc", "sub", "sbb", "cmp"])
def test_add_and_subtract_match_the_cpu_in_every_form(engine, mnemonic):
    # adc/sbb draw CF at random, so the carry-in is exercised with every operand.
    check_cases(engine, binary(mnemonic), 120)


@engines
@pytest.mark.parametrize("mnemonic", ["and", "or", "xor", "test"])
def test_logic_ops_match_the_cpu_in_every_form(engine, mnemonic):
    check_cases(engine, binary(mnemonic), 80)


@engines
@pytest.mark.parametrize("mnemonic", ["add", "sub", "and", "or", "xor", "adc", "sbb"])
def test_locked_read_modify_write_matches_the_cpu(engine, mnemonic):
    check_cases(engine, binary(mnemonic, lock=True), 15)


@engines
@pytest.mark.parametrize("mnemonic", ["inc", "dec", "neg", "not"])
def test_unary_ops_match_the_cpu_and_inc_dec_keep_carry(engine, mnemonic):
    check_cases(engine, unary(mnemonic), 80)


@st.composite
def moves(draw: st.DrawFn) -> object:
    bits, legacy8 = widths_with_legacy8(draw)
    ops = Operands(draw, legacy8=legacy8)
    form = draw(st.sampled_from(("r,r", "r,i", "r,m", "m,r", "m,i", "r,i64", "moffs")))
    if form == "r,i64":  # movabs r64, imm64 (gas picks it for immediates beyond 32 bits)
        return ops.case(f"movabs {ops.reg(64)}, {draw(values):#x}")
    if form == "moffs":  # a0-a3: the accumulator to or from a 64-bit absolute address
        bits = draw(st.sampled_from(WIDTHS))
        acc, addr = GPR[bits][0], ops.address(bits // 8)
        load = draw(st.booleans())
        text = f"movabs {acc}, [{addr:#x}]" if load else f"movabs [{addr:#x}], {acc}"
        return ops.case(text)
    if form == "r,r":
        return ops.case(f"mov {ops.reg(bits)}, {ops.reg(bits)}")
    if form == "r,i":
        return ops.case(f"mov {ops.reg(bits)}, {imm(draw, bits):#x}")
    if form == "r,m":
        dst = ops.reg(bits)
        return ops.case(f"mov {dst}, {ops.mem(bits)}")
    dst = ops.mem(bits)
    return ops.case(f"mov {dst}, {ops.reg(bits) if form == 'm,r' else f'{imm(draw, bits):#x}'}")


@engines
def test_mov_matches_the_cpu_with_zero_extension_and_merging(engine):
    # Random upper register bits show whether 32-bit writes clear them and 8/16-bit ones keep them.
    check_cases(engine, moves(), 200)


@st.composite
def extensions(draw: st.DrawFn) -> object:
    mnemonic = draw(st.sampled_from(("movzx", "movsx", "movsxd")))
    if mnemonic == "movsxd":
        ops = Operands(draw)
        return ops.case(f"movsxd {ops.reg(64)}, {ops.rm(32)}")
    src_bits = draw(st.sampled_from((8, 16)))
    dst_bits = draw(st.sampled_from([b for b in (16, 32, 64) if b > src_bits]))
    legacy8 = src_bits == 8 and dst_bits < 64 and draw(st.booleans())
    ops = Operands(draw, legacy8=legacy8)
    dst = ops.reg(dst_bits)
    return ops.case(f"{mnemonic} {dst}, {ops.rm(src_bits)}")


@engines
def test_movzx_movsx_movsxd_match_the_cpu(engine):
    check_cases(engine, extensions(), 150)


@st.composite
def leas(draw: st.DrawFn) -> object:
    # lea computes the address without touching memory, so every register may hold anything.
    ops = Operands(draw, avoid=frozenset())
    bits = draw(st.sampled_from((16, 32, 64)))
    address_bits = draw(st.sampled_from((64, 64, 32)))  # 32: the 0x67 prefix, sums wrap at 2**32
    regs = GPR[address_bits]
    base = draw(st.sampled_from(regs))
    index = draw(st.sampled_from([r for r in regs if full_name(r) != "rsp"]))
    scale = draw(st.sampled_from((1, 2, 4, 8)))
    disp = draw(st.integers(-(1 << 31), (1 << 31) - 1))
    form = draw(st.sampled_from((
        f"[{base}]", f"[{base} + {disp:#x}]", f"[{base} + {index}*{scale} + {disp:#x}]",
        f"[{index}*{scale} + {disp:#x}]", f"[{base} + {index}]",
        "[rip + .Lcode + 0x100]" if address_bits == 64 else f"[{disp & 0x7fffffff:#x}]")))
    return ops.case(f"lea {ops.reg(bits)}, {form}")


@engines
def test_lea_computes_addresses_like_the_cpu(engine):
    check_cases(engine, leas(), 150)


@st.composite
def exchanges(draw: st.DrawFn, mnemonic: str) -> object:
    bits, legacy8 = widths_with_legacy8(draw)
    ops = Operands(draw, legacy8=legacy8)
    form = draw(st.sampled_from(("r,r", "m,r", "r,m") if mnemonic == "xchg" else ("r,r", "m,r")))
    if form == "r,r":
        return ops.case(f"{mnemonic} {ops.reg(bits)}, {ops.reg(bits)}")
    if form == "r,m":
        reg = ops.reg(bits)
        return ops.case(f"{mnemonic} {reg}, {ops.mem(bits)}")
    lock = "lock " if mnemonic == "xadd" and draw(st.booleans()) else ""
    dst = ops.mem(bits)
    return ops.case(f"{lock}{mnemonic} {dst}, {ops.reg(bits)}")


@engines
@pytest.mark.parametrize("mnemonic", ["xchg", "xadd"])
def test_xchg_and_xadd_match_the_cpu_including_same_register_operands(engine, mnemonic):
    check_cases(engine, exchanges(mnemonic), 120)


@st.composite
def compare_exchanges(draw: st.DrawFn) -> object:
    bits, legacy8 = widths_with_legacy8(draw)
    ops = Operands(draw, legacy8=legacy8)
    equal = draw(st.booleans())
    acc = GPR[bits][0]
    ops.put(acc, draw(values))
    accumulator = ops.fixed["rax"] & ((1 << bits) - 1)
    if draw(st.booleans()):
        addr = ops.address(bits // 8)
        dst = ops.mem(bits, addr)
        if equal:
            ops.poke(addr, accumulator.to_bytes(bits // 8, "little"))
    else:
        dst = ops.reg(bits)
        if equal and dst != acc:
            ops.put(dst, accumulator)
        elif bits == 32 and full_name(dst) != "rax":
            # When they differ, Intel writes a 32-bit register destination back (clearing its
            # upper half) and AMD does not write it: only the common behaviour is compared.
            ops.put(full_name(dst), draw(values) & 0xFFFF_FFFF)
    src = ops.reg(bits)
    lock = "lock " if "ptr" in dst and draw(st.booleans()) else ""
    return ops.case(f"{lock}cmpxchg {dst}, {src}")


@engines
def test_cmpxchg_matches_the_cpu_when_equal_and_not_equal(engine):
    # Pins what the 32-bit forms do to the upper halves of rax and of a register destination.
    check_cases(engine, compare_exchanges(), 200)


@engines
@pytest.mark.parametrize("destination", [5, 6], ids=["equal", "unequal"])
def test_cmpxchg_32_bit_loads_eax_only_when_unequal_so_rax_keeps_its_upper_half_otherwise(
        engine, destination):
    # eax = 5: equal to ecx = 5 (ecx = edx, rax untouched), not to ecx = 6 (eax = 6, rax
    # zero-extended). ecx's upper half is 0, because Intel and AMD differ on writing an unequal
    # register destination back.
    gpr = [0] * 16
    gpr[0], gpr[1], gpr[2], gpr[4] = 0xAAAA_AAAA_0000_0005, destination, 7, STACK
    check(Case("cmpxchg ecx, edx", tuple(gpr), rflags=0, seed=1), engine)


@engines
def test_bswap_matches_the_cpu(engine):
    @st.composite
    def swaps(draw: st.DrawFn) -> object:
        ops = Operands(draw)
        return ops.case(f"bswap {ops.reg(draw(st.sampled_from((32, 64))))}")
    check_cases(engine, swaps(), 40)


@engines
@pytest.mark.parametrize("mnemonic", ["cbw", "cwde", "cdqe", "cwd", "cdq", "cqo"])
def test_accumulator_sign_extensions_match_the_cpu(engine, mnemonic):
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        return Operands(draw).case(mnemonic)
    check_cases(engine, cases(), 25)



@engines
@pytest.mark.parametrize("mnemonic", ["cmpxchg8b", "cmpxchg16b"])
def test_cmpxchg_pair_matches_the_cpu_when_equal_not_equal_and_misaligned(engine, mnemonic):
    # cmpxchg16b faults (#GP, SIGSEGV) on an operand that is not 16-byte aligned.
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = Operands(draw, avoid=frozenset({"rsp", "rax", "rbx", "rcx", "rdx"}))
        half = 32 if mnemonic == "cmpxchg8b" else 64
        addr = ops.address(16) & ~15
        if draw(st.integers(0, 3)) == 0:
            addr += draw(st.integers(1, 15))
        memory = draw(st.binary(min_size=half // 4, max_size=half // 4))
        ops.poke(addr, memory)
        low = int.from_bytes(memory[: half // 8], "little")
        high = int.from_bytes(memory[half // 8:], "little")
        for reg, value in (("rax", low), ("rdx", high)):
            if draw(st.booleans()):  # equal halves (both: the exchange happens)
                ops.put({32: "e", 64: "r"}[half] + reg[1:], value)
        lock = draw(st.sampled_from(("", "lock ")))
        ptr = "qword ptr" if half == 32 else "xmmword ptr"
        return ops.case(f"{lock}{mnemonic} {ptr} {ops.addressing(addr)}")
    check_cases(engine, cases(), 60)


@engines
def test_memory_operands_with_32_bit_addresses_wrap_at_4_gib(engine):
    # With the 0x67 prefix the address is ebx + ecx*scale + disp, modulo 2**32: the upper
    # halves of the registers do not take part.
    @st.composite
    def cases(draw: st.DrawFn) -> object:
        ops = Operands(draw)
        bits = draw(st.sampled_from(WIDTHS))
        addr = ops.address(bits // 8)
        scale = draw(st.sampled_from((1, 2, 4, 8)))
        disp = draw(st.integers(-0x1000, 0x1000))
        index = draw(st.integers(0, 0xFFFF_FFFF))
        base = (addr - disp - index * scale) & 0xFFFF_FFFF
        ops.put("ebx", base)
        ops.put("ecx", index)
        ops.put("rbx", draw(values) << 32 | base)  # garbage above the 32-bit address parts
        ops.put("rcx", draw(values) << 32 | index)
        operand = f"{PTR[bits]} [ebx + ecx*{scale} + {disp:#x}]"
        reg = {8: "dl", 16: "dx", 32: "edx", 64: "rdx"}[bits]
        text = draw(st.sampled_from((f"mov {reg}, {operand}", f"add {operand}, {reg}")))
        return ops.case(text)
    check_cases(engine, cases(), 20)
