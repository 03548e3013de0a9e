"""Hypothesis strategies for CpuState (a separate module: hypothesis is test-only)."""

from __future__ import annotations

from hypothesis import strategies as st

from .state import DATA_ADDR, DATA_SIZE, FLAGS_MASK, INTERESTING_U64, CpuState

u64s = st.one_of(st.sampled_from(INTERESTING_U64), st.integers(0, (1 << 64) - 1))
u128s = st.builds(lambda hi, lo: hi << 64 | lo, u64s, u64s)
flags = st.integers(0, FLAGS_MASK).map(lambda f: f & FLAGS_MASK)
# Addresses inside the data region, away from its edges so small offsets stay inside.
data_addrs = st.integers(DATA_ADDR + 0x100, DATA_ADDR + DATA_SIZE - 0x100)


@st.composite
def cpu_states(draw: st.DrawFn, *, random_mem: bool = True) -> CpuState:
    """GPRs biased to edge values, any defined flags, xmm, rsp 16-aligned in the middle
    of the data region, default MXCSR, empty x87 stack. Memory comes from a drawn seed
    (drawing 64 KiB byte by byte would be slow and shrink badly)."""
    seed = draw(st.integers(0, 2**32 - 1))
    s = CpuState.random(seed, random_mem=random_mem)
    s.gpr = [draw(u64s) for _ in range(16)]
    s.gpr[4] = DATA_ADDR + DATA_SIZE // 2
    s.rflags = draw(flags)
    s.xmm = [draw(u128s) for _ in range(16)]
    return s
