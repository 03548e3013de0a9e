"""The string instructions, with and without rep prefixes: a C helper walks the elements."""

from __future__ import annotations

from xlate.builder import Builder
from xlate.decoder import Insn
from xlate.semantics import flags
from xlate.semantics.registry import semantics

_SIZES = {"b": 1, "w": 2, "d": 4, "q": 8}
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
    b.call_helper("rep_" + kind, b.const(size, 64), b.const(insn.rep, 64), _STATE[kind])
