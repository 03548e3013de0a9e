"""Instruction semantics, one function per family, shared by every engine."""

from xlate.semantics import (  # noqa: F401  (importing a family registers it)
    alu,
    bits,
    control,
    muldiv,
    shift,
    sse,
    string,
    system,
    x87,
)
from xlate.semantics.registry import SEMANTICS, UNDEFINED_FLAGS

__all__ = ["SEMANTICS", "UNDEFINED_FLAGS"]
