"""The JIT's vector (SSE) primitives: see xlate.vector."""

from __future__ import annotations


class VectorIR:
    """Vector primitives emitted as LLVM IR (mixed into xlate.jit.irbuilder.IRBuilder)."""
