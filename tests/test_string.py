"""The string instructions (xlate/semantics/string.py, csrc/strings.c) against the real CPU:
every element size, with and without rep/repe/repne, forwards and backwards (DF), overlapping
copies included (tests/integer_forms.py)."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from tests.integer_forms import Operands, check_cases, engines, values
from tests.oracle import DATA_ADDR, DATA_SIZE
from tests.oracle.state import DF

SIZES = "bwdq"
PREFIXES = {"movs": ("", "rep "), "stos": ("", "rep "), "lods": ("", "rep "),
            "cmps": ("", "repe ", "repne "), "scas": ("", "repe ", "repne ")}


# Around the string instruction: registers and flags that the instruction reads, writes or
# leaves alone are changed just before it and read just after (under the JIT, values that the
# compiled code holds in host registers across its call to the C helper).
AROUND = ("add rsi, 8; lea rbx, [rcx + 1]; {insn}; setc r10b; setz r11b; adc r9, rbx; "
          "lea r8, [rcx + rsi]; add rdi, rbx")


@st.composite
def strings(draw: st.DrawFn, kind: str, size: str, around: bool = False) -> object:
    ops = Operands(draw, avoid=frozenset({"rsp", "rsi", "rdi", "rcx", "rbx", "r8", "r9", "r10",
                                          "r11"} if around else {"rsp", "rsi", "rdi", "rcx"}))
    prefix = draw(st.sampled_from(PREFIXES[kind]))
    width = {"b": 1, "w": 2, "d": 4, "q": 8}[size]
    count = draw(st.sampled_from((0, 1, 2, 5, 8)) | st.integers(0, 8))
    # Both pointers well inside the data region so that 8 elements either way fit.
    source = DATA_ADDR + 0x2000 + draw(st.integers(0, 0x1000))
    if kind == "movs" and draw(st.booleans()):  # overlapping copies go element by element
        dest = source + draw(st.integers(-16, 16))
    else:
        dest = DATA_ADDR + 0x4000 + draw(st.integers(0, 0x1000))
    if kind in ("cmps", "scas"):
        # Equal runs with one difference somewhere, so that repe and repne stop part-way.
        accumulator = draw(values)
        element = (accumulator & ((1 << 8 * width) - 1)).to_bytes(width, "little")
        run = element if kind == "scas" else draw(st.binary(min_size=width, max_size=width))
        area = bytearray((run * 128)[:128])  # 64 bytes either side of rdi
        if draw(st.booleans()):
            area[draw(st.integers(0, 127))] ^= 1 << draw(st.integers(0, 7))
        ops.poke(dest - 64, bytes(area))
        if kind == "cmps":
            ops.poke(source - 64, (run * 128)[:128])
        ops.put("rax", accumulator)
    df = DF if draw(st.booleans()) else 0
    rflags = draw(st.integers(0, 0xFFF)) & 0x8D5 | df
    insn = f"{prefix}{kind}{size}"
    return ops.case(AROUND.format(insn=insn) if around else insn, rflags=rflags,
                    rsi=source - 8 if around else source, rdi=dest, rcx=count)


@engines
@pytest.mark.parametrize("kind", ["movs", "stos", "lods", "cmps", "scas"])
@pytest.mark.parametrize("size", SIZES)
def test_string_instructions_match_the_cpu_with_every_prefix_and_direction(engine, kind, size):
    check_cases(engine, strings(kind, size), 40)


@engines
@pytest.mark.parametrize("kind", ["movs", "stos", "lods", "cmps", "scas"])
def test_string_instructions_keep_the_state_around_them(engine, kind):
    check_cases(engine, strings(kind, "b", True) | strings(kind, "q", True), 20)


@st.composite
def strings_off_the_edge(draw: st.DrawFn, kind: str) -> object:
    """Repeated string operations that run off the end (or, backwards, the start) of the data
    region part-way, elements straddling the edge included."""
    ops = Operands(draw, avoid=frozenset({"rsp", "rsi", "rdi", "rcx"}))
    size = draw(st.sampled_from(SIZES))
    width = {"b": 1, "w": 2, "d": 4, "q": 8}[size]
    # (A single movs is a load and a store in compiled code, not the helper: it is here too.)
    prefix = draw(st.sampled_from([p for p in PREFIXES[kind] if p or kind == "movs"]))
    backwards = draw(st.booleans())
    count = draw(st.integers(1, 40))
    edge = DATA_ADDR if backwards else DATA_ADDR + DATA_SIZE
    # Which pointer goes over the edge: the one read (rsi) or the one written or compared (rdi).
    near = edge + draw(st.integers(-count * width, count * width)) * (-1 if backwards else 1)
    near = min(max(near, DATA_ADDR - 8), DATA_ADDR + DATA_SIZE)
    inside = DATA_ADDR + 0x4000 + draw(st.integers(0, 0x1000))
    rsi, rdi = (near, inside) if draw(st.booleans()) else (inside, near)
    if kind == "scas" or kind == "stos":
        rdi = near
    flags = DF if backwards else 0
    # Equal memory keeps repe going (cmps, scas): zeros, with al/ax/eax/rax zero too.
    if kind in ("cmps", "scas") and draw(st.booleans()):
        for addr in (rsi, rdi):
            start = max(DATA_ADDR, min(addr, DATA_ADDR + DATA_SIZE) - 0x200)
            ops.poke(start, bytes(min(0x400, DATA_ADDR + DATA_SIZE - start)))
        ops.put("rax", 0)
    # A comparison that faults part-way leaves the flags of the last element compared on
    # AMD's CPUs, those from before the instruction on Intel's.
    compared = frozenset({"cf", "pf", "af", "zf", "sf", "of"}) if kind in ("cmps", "scas") \
        else frozenset()
    return ops.case(f"{prefix}{kind}{size}", rflags=flags, rsi=rsi, rdi=rdi, rcx=count,
                    undefined=compared)


@engines
@pytest.mark.parametrize("kind", ["movs", "stos", "lods", "cmps", "scas"])
def test_string_faults_part_way_leave_the_registers_and_memory_the_cpu_leaves(engine, kind):
    # SIGSEGV at the rep instruction, with rsi/rdi/rcx at the faulting element and every
    # element before it done.
    check_cases(engine, strings_off_the_edge(kind), 60)
