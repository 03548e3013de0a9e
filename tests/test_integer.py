"""What the integer differential tests rely on: the undefined flags that the semantics declare
(and the tests therefore ignore) are exactly those the Intel and AMD manuals leave undefined.

The tests of each family are in test_alu.py, test_shift.py, test_muldiv.py, test_bits.py,
test_control.py, test_string.py and test_system.py; their shared machinery in integer_forms.py.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.integer_forms import Operands, check_cases, engines
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
    set (or keep): only fully defined flags are ever read (shifts by 0 or 1 only)."""
    ops = Operands(draw)
    lines = []
    for _ in range(draw(st.integers(2, 6))):
        bits = draw(st.sampled_from((8, 16, 32, 64)))
        a, c = (draw(st.sampled_from(SEQUENCE_REGS[bits])) for _ in range(2))
        cc = draw(st.sampled_from(CONDITIONS))
        lines.append(draw(st.sampled_from((
            f"add {a}, {c}", f"adc {a}, {c}", f"sub {a}, {c}", f"sbb {a}, {c}", f"cmp {a}, {c}",
            f"and {a}, {c}", f"xor {a}, {c}", f"test {a}, {c}", f"inc {a}", f"dec {a}",
            f"neg {a}", f"not {a}", f"shl {a}, 1", f"sar {a}, 1", f"shr {a}, 0", f"rcl {a}, 1",
            f"rcr {a}, 1", f"set{cc} {SEQUENCE_REGS[8][0]}", f"cmov{cc} r8, r9",
            f"j{cc} 1f\nmov r10d, {len(lines)}\n1:", "stc", "clc", "cmc"))))
    return ops.case("\n".join(lines))


@engines
def test_flags_flow_between_instructions_as_on_the_cpu(engine):
    # Each single-instruction test compares the flags at the end; here flags are consumed
    # inside the block, where an engine may compute them lazily or drop dead ones.
    check_cases(engine, flag_sequences(), 150)
