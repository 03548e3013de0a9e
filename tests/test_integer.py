"""What the integer differential tests rely on: the undefined flags that the semantics declare
(and the tests therefore ignore) are exactly those the Intel and AMD manuals leave undefined.

The tests of each family are in test_alu.py, test_shift.py, test_muldiv.py, test_bits.py,
test_control.py, test_string.py and test_system.py; their shared machinery in integer_forms.py.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integer_forms import (
    PTR,
    STACK,
    Operands,
    check_cases,
    code_of,
    engines,
)
from tests.oracle import CODE_ADDR, DATA_ADDR, DATA_SIZE, run_native
from xlate.semantics import SEMANTICS, UNDEFINED_FLAGS
from xlate.semantics.flags import CONDITIONS

INTEGER_FAMILIES = {f"xlate.semantics.{family}" for family in (
    "alu", "bits", "control", "muldiv", "shift", "string", "system")}

# Flags the manuals leave undefined after each instruction that leaves any undefined. Where
# that depends on the count (shifts and rotates: OF is defined for a count of 1, shl/shr's CF
# for counts below the width), the declaration is the widest set and test_shift.py masks per
# count.
MANUAL_UNDEFINED = {
    **dict.fromkeys(("and", "or", "xor", "test"), "af"),
    **dict.fromkeys(("mul", "imul"), "sf zf af pf"),
    **dict.fromkeys(("div", "idiv"), "cf of sf zf af pf"),
    **dict.fromkeys(("bt", "bts", "btr", "btc"), "of sf af pf"),
    **dict.fromkeys(("bsf", "bsr"), "cf of sf af pf"),
    **dict.fromkeys(("tzcnt", "lzcnt"), "of sf af pf"),
    **dict.fromkeys(("shl", "sal", "shr", "sar"), "af of"),
    **dict.fromkeys(("rol", "ror", "rcl", "rcr"), "of"),
    **dict.fromkeys(("shld", "shrd"), "af of"),
}


def test_declared_undefined_flags_are_exactly_the_manuals():
    # Declaring more would let the differential tests skip flags that programs can read.
    integer = [name for name, fn in SEMANTICS.items() if fn.__module__ in INTEGER_FAMILIES]
    assert len(integer) > 150
    wrong = {name: (" ".join(sorted(UNDEFINED_FLAGS[name])), MANUAL_UNDEFINED.get(name, ""))
             for name in integer
             if UNDEFINED_FLAGS[name] != frozenset(MANUAL_UNDEFINED.get(name, "").split())}
    assert not wrong, f"declared vs manual: {wrong}"


# ---- flags that flow between instructions ----------------------------------------------------

SEQUENCE_REGS = {64: ("rax", "rbx", "rcx", "rdx"), 32: ("eax", "ebx", "ecx", "edx"),
                 16: ("ax", "bx", "cx", "dx"), 8: ("al", "bl", "cl", "dl")}


@st.composite
def flag_sequences(draw: st.DrawFn) -> object:
    """A few instructions on four registers, where later ones read the flags earlier ones
    set (or keep): only fully defined flags are ever read (shifts and rotates by 0 or 1 only).
    Some set all the flags, some a few (inc, dec and the rotates keep others), some none."""
    ops = Operands(draw)
    lines = []
    for _ in range(draw(st.integers(2, 6))):
        bits = draw(st.sampled_from((8, 16, 32, 64)))
        a, c = (draw(st.sampled_from(SEQUENCE_REGS[bits])) for _ in range(2))
        cc = draw(st.sampled_from(CONDITIONS))
        c16 = SEQUENCE_REGS[max(bits, 16)][1]
        lines.append(draw(st.sampled_from((
            f"add {a}, {c}", f"adc {a}, {c}", f"sub {a}, {c}", f"sbb {a}, {c}", f"cmp {a}, {c}",
            f"and {a}, {c}", f"xor {a}, {c}", f"test {a}, {c}", f"inc {a}", f"dec {a}",
            f"neg {a}", f"not {a}", f"shl {a}, 1", f"sar {a}, 1", f"shr {a}, 1", f"shr {a}, 0",
            f"and ecx, 1\nshl {a}, cl", f"and ecx, 1\nsar {a}, cl", f"rol {a}, 1", f"ror {a}, 1",
            f"rcl {a}, 1", f"rcr {a}, 1", f"popcnt {SEQUENCE_REGS[max(bits, 16)][0]}, {c16}",
            f"set{cc} {SEQUENCE_REGS[8][0]}", f"cmov{cc} r8, r9",
            f"j{cc} 1f\nmov r10d, {len(lines)}\n1:", "stc", "clc", "cmc"))))
    return ops.case("\n".join(lines))


@engines
def test_flags_flow_between_instructions_as_on_the_cpu(engine):
    # Each single-instruction test compares the flags at the end; here flags are consumed
    # inside the block, where an engine may compute them lazily or drop dead ones.
    check_cases(engine, flag_sequences(), 150)


# ---- faults ----------------------------------------------------------------------------------

# Unmapped addresses (below, between and above the oracle's regions), and one whose access
# straddles the end of the data region: an access there faults as a whole, writing nothing.
BAD_ADDRESSES = (0x8, 0x1000, DATA_ADDR - 0x10, DATA_ADDR + DATA_SIZE + 0x10)
MEMORY_FORMS = (
    "mov {m}, {r}", "mov {r}, {m}", "add {m}, {r}", "adc {r}, {m}", "inc {m}", "neg {m}",
    "xadd {m}, {r}", "xchg {r}, {m}", "cmpxchg {m}, {r}", "shl {m}, cl", "rcr {m}, 1",
    "bts {m}, 3", "push {m}", "pop {m}", "cmovz {r}, {m}", "imul {r}, {m}", "div {m}",
    "lock or {m}, {r}", "test {m}, {r}", "popcnt {r}, {m}")
STACK_FORMS = ("push rbx", "pop rbx", "call 1f\n1:", "ret", "ret 8", "pushfq", "popfq",
               "enter 8, 1", "enter 0, 0")


@st.composite
def faulting_accesses(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 3)) == 0:
        ops = Operands(draw, stack=True)
        form = draw(st.sampled_from((*STACK_FORMS, "leave")))
        # Straddling the start of the data region: the pushes' slot from DATA_ADDR + 4, the
        # pops' from DATA_ADDR - 4.
        straddle = DATA_ADDR + 4 if form.startswith(("push", "call", "enter")) else DATA_ADDR - 4
        rsp = draw(st.sampled_from((*BAD_ADDRESSES, straddle)))
        if form == "leave":
            return ops.case(form, undefined=frozenset(), rbp=rsp)
        return ops.case(form, undefined=frozenset(), rsp=rsp)
    form = draw(st.sampled_from(MEMORY_FORMS))
    bits = draw(st.sampled_from((16, 32, 64) if form.split()[0] in (
        "bts", "cmovz", "imul", "popcnt") else (64,) if form.split()[0] in ("push", "pop")
        else (8, 16, 32, 64)))
    addr = draw(st.sampled_from((*BAD_ADDRESSES, DATA_ADDR + DATA_SIZE - bits // 16)))
    ops = Operands(draw, avoid=frozenset({"rsp", "rcx"}))
    text = form.format(m=f"{PTR[bits]} {ops.addressing(addr)}", r=ops.reg(bits))
    return ops.case(text, undefined=frozenset())


@engines
def test_faulting_memory_accesses_change_nothing_the_cpu_does_not(engine):
    # SIGSEGV at the instruction with every register and flag as before it, no partial store,
    # and (pop, leave) no stack pointer moved; enter alone leaves its pushes in memory.
    check_cases(engine, faulting_accesses(), 150)


@st.composite
def table_lookups(draw: st.DrawFn) -> object:
    """A byte zero-extended and used as a scaled index, as table lookups do (the JIT adds such
    an index after its clamp of the base), from a table that ends where the data region does.
    (Not faulting ones: compiled code does not write back the index register before a fault
    in its block, which no exception handler sees yet.)"""
    scale = draw(st.sampled_from((1, 2, 4, 8)))
    base = draw(st.integers(DATA_ADDR, DATA_ADDR + DATA_SIZE - 255 * scale - 8))
    ops = Operands(draw, avoid=frozenset({"rsp", "rcx", "rdx"}))
    return ops.case(f"movzx edx, bl\nmov rax, qword ptr [rcx + rdx*{scale}]",
                    undefined=frozenset(), rcx=base)


@engines
def test_table_lookups_read_what_the_cpu_reads(engine):
    check_cases(engine, table_lookups(), 60)


# Wild branch targets: canonical ones, unmapped in both worlds (the last beyond xlate's guest
# space), and others.
WILD_TARGETS = {True: (0x1000, DATA_ADDR - 0x1000, DATA_ADDR + DATA_SIZE, 0x7FFF_FFFF_FFFF),
                False: (1 << 47, 0xDEAD_BEEF_0000_0000, 0xBFB1_8F5E_CE18_7157)}


@st.composite
def wild_branches(draw: st.DrawFn, canonical: bool) -> object:
    ops = Operands(draw, stack=True, avoid=frozenset({"rsp", "r11"}))
    target = draw(st.sampled_from(WILD_TARGETS[canonical]))
    slot = ops.address(8)
    ops.poke(slot, target.to_bytes(8, "little"))
    ops.poke(STACK, target.to_bytes(8, "little"))
    form = draw(st.sampled_from(("jmp r11", "call r11", "jmp {m}", "call {m}", "ret", "ret 8")))
    asm = form.format(m=ops.mem(64, slot))
    if not canonical and asm.startswith("call"):
        # Intel's CPUs store the return address below rsp though the call faults (rsp stays
        # as it was), AMD's do not: that word holds the return address already, either way.
        ops.poke(STACK - 8, (CODE_ADDR + len(code_of(asm))).to_bytes(8, "little"))
    return ops.case(asm, r11=target)


@engines
def test_branches_to_non_canonical_addresses_fault_at_the_branch(engine):
    # #GP: SIGSEGV with rip at the jmp/call/ret, and rsp as it was.
    check_cases(engine, wild_branches(canonical=False), 30)


@engines
def test_branches_to_unmapped_addresses_fault_at_the_target(engine):
    # SIGSEGV (not SIGILL) with rip at the target, the branch itself done.
    check_cases(engine, wild_branches(canonical=True), 30)


@st.composite
def wild_returns(draw: st.DrawFn, canonical: bool) -> object:
    """A call to code that puts a wild return address in place of its own and returns: the
    JIT compiles the return in a region with the call's return site, which it branches to
    directly when the address is that one (a switch), and through the jump cache else."""
    ops = Operands(draw, stack=True, avoid=frozenset({"rsp", "r11"}))
    target = draw(st.sampled_from(WILD_TARGETS[canonical]))
    return ops.case("call 1f\njmp 2f\n1: mov qword ptr [rsp], r11\nret\n2: nop", r11=target)


@engines
def test_returns_from_a_region_to_wild_addresses_fault_as_the_cpu_does(engine):
    # At the ret (rsp as it was) where not canonical, at the target (popped) where unmapped.
    check_cases(engine, st.one_of(wild_returns(canonical=False), wild_returns(canonical=True)),
                20)


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_every_addressing_form_the_tests_draw_reaches_the_chosen_address(data):
    # The tests poke memory at an address and draw an addressing form for it: the CPU's own
    # lea must compute that address, or the pokes would miss.
    ops = Operands(data.draw, avoid=frozenset({"rsp", "r15"}))
    addr = ops.address(8)
    case = ops.case(f"lea r15, {ops.addressing(addr)}")
    assert run_native(code_of(case.asm), case.state())["r15"] == addr, case
