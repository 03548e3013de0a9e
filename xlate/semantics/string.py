"""The string instructions: with a rep prefix a C helper walks the elements; a single move is
a load and a store (a single one is what compilers emit to copy a small struct, and what glibc's
qsort did 37 million times a run: a call and a register sync each through the helper)."""

from __future__ import annotations

from xlate.builder import Builder
from xlate.decoder import GPR_NAMES, Insn
from xlate.semantics import flags
from xlate.semantics.registry import semantics

_SIZES = {"b": 1, "w": 2, "d": 4, "q": 8}
RSI, RDI = GPR_NAMES.index("rsi"), GPR_NAMES.index("rdi")
# Names that SSE instructions have too: xlate.semantics.sse registers them and calls string()
# for the string forms.
_SHARED_WITH_SSE = {"movsd", "cmpsd"}
# The registers and flags each helper (csrc/strings.c) reads and writes.
_STATE = {
    "movs": flags.helper_state("rcx rsi rdi df", "rcx rsi rdi"),
    "stos": flags.helper_state("rcx rax rdi df", "rcx rdi"),
    "lods": flags.helper_state("rcx rax rsi df", "rcx rax rsi"),
    "cmps": flags.helper_state("rcx rsi rdi df", "rcx rsi rdi flags"),
    "scas": flags.helper_state("rcx rax rdi df", "rcx rdi flags"),
}


@semantics(*(kind + size for kind in ("movs", "stos", "lods", "cmps", "scas") for size in "bwdq"
             if kind + size not in _SHARED_WITH_SSE))
def string(b: Builder, insn: Insn) -> None:
    kind, size = insn.name[:4], _SIZES[insn.name[4]]
    if kind == "movs" and not insn.rep:
        _move(b, size)
        return
    b.call_helper("rep_" + kind, b.const(size, 64), b.const(insn.rep, 64), _STATE[kind])


def _move(b: Builder, size: int) -> None:
    """One movs: [rsi] to [rdi], then both step by size, down if DF is set. Like the helper,
    it takes rsi and rdi whole (the 0x67 prefix and segment overrides aside)."""
    src, dst = b.get_gpr(RSI), b.get_gpr(RDI)
    b.store(dst, b.load(src, 8 * size), 8 * size)
    step = b.select(b.get_flag("df"), b.const(-size, 64), b.const(size, 64), 64)
    b.set_gpr(RSI, b.add(src, step, 64))
    b.set_gpr(RDI, b.add(dst, step, 64))
