"""The string instructions, with and without rep prefixes: a C helper walks the elements."""

from __future__ import annotations

from xlate.builder import Builder
from xlate.decoder import Insn
from xlate.semantics.registry import semantics

_SIZES = {"b": 1, "w": 2, "d": 4, "q": 8}


@semantics(*(kind + size for kind in ("movs", "stos", "lods", "cmps", "scas") for size in "bwdq"))
def string(b: Builder, insn: Insn) -> None:
    # movsd/cmpsd are also SSE instructions: Capstone gives those register operands, and the
    # SSE family takes them (see xlate.semantics.sse), so only string forms arrive here.
    kind, size = insn.name[:4], _SIZES[insn.name[4]]
    b.call_helper("rep_" + kind, b.const(size, 64), b.const(insn.rep, 64))
