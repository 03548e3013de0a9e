"""Instruction semantics, one function per family, shared by every engine."""

from xlate.semantics import (  # noqa: F401  (importing a family registers it)
    alu,
    bits,
    control,
    muldiv,
    shift,
    string,
    system,
)
from xlate.semantics.registry import SEMANTICS, UNDEFINED_FLAGS

__all__ = ["SEMANTICS", "UNDEFINED_FLAGS"]
