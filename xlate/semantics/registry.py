"""The table from instruction name to its semantics function."""

from __future__ import annotations

from collections.abc import Callable

from xlate.builder import Builder
from xlate.decoder import Insn

Semantics = Callable[[Builder, Insn], None]

SEMANTICS: dict[str, Semantics] = {}
# Flags that an instruction leaves architecturally undefined: differential tests ignore them.
UNDEFINED_FLAGS: dict[str, frozenset[str]] = {}


def semantics(*names: str, undefined: str = "") -> Callable[[Semantics], Semantics]:
    """Register fn as the semantics of the named instructions (Capstone's names)."""
    def register(fn: Semantics) -> Semantics:
        for name in names:
            assert name not in SEMANTICS, f"{name} defined twice"
            SEMANTICS[name] = fn
            UNDEFINED_FLAGS[name] = frozenset(undefined.split())
        return fn
    return register
