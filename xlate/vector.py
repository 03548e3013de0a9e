"""Vector (SSE) primitives of the builder interface; see xlate.builder.

Declared apart from the scalar primitives because they are many and grow with the ISA."""

from __future__ import annotations


class VectorPrimitives:
    """The SSE primitives each engine implements (interpreter: xlate.vector_interp; JIT:
    xlate.jit.vector_ir)."""
