"""SSE and SSE2 instructions (xlate/semantics/sse.py) against the real CPU, under both engines.

Each case runs one instruction natively (tests/oracle) and under an engine (tests/difftest) from
the same state, and compares all registers, flags, memory and MXCSR (less its sticky exception
flags, which xlate does not track). Register and memory operands are both drawn; float lanes
are drawn from values where x86 has a rule of its own (NaN payloads, signed zeros, infinities,
denormals, integer-conversion boundaries, rounding ties).

Set XLATE_EXPLORE=1 for random seeds and ten times the examples; by default examples are
derandomized so that CI runs repeat.
"""

from __future__ import annotations

import gc
import signal
import struct
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from tests.difftest import ENGINES, run_xlate, settings_for
from tests.oracle import DATA_ADDR, CpuState, assemble, run_native
from xlate.memory import GUARD, AddressSpace
from xlate.runtime import GUEST_SPACE, lib

U64 = (1 << 64) - 1
MXCSR_FLAGS = 0x3F  # sticky exception flags: not tracked, not compared
MEM = DATA_ADDR + 0x2000  # memory operands: 16-byte aligned, as movaps and addps m128 need
MEM_REG = "rsi"
SIGNS_32 = sum(1 << (i + 31) for i in range(0, 128, 32))
SIGNS_64 = sum(1 << (i + 63) for i in range(0, 128, 64))

engines = pytest.mark.parametrize("engine", ENGINES)

# Each machine reserves 64 GiB of host address space that AddressSpace never releases, so a
# process runs out after about 2,000 of them; release it when a machine is collected (the
# same stopgap as tests/integer_forms.py, applied once whichever module comes first).
if not hasattr(AddressSpace, "__del__") and not hasattr(AddressSpace, "close"):
    def _release(space: AddressSpace) -> None:
        lib.munmap(space.host_base, GUEST_SPACE + GUARD)

    AddressSpace.__del__ = _release  # type: ignore[attr-defined]
_runs = 0


# ---- values -------------------------------------------------------------------------------


def f64(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def f32(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


_BOUNDARIES = (0.0, 0.5, 1.0, 1.5, 2.5, 3.5, 1 / 3, 2.0**31, 2.0**31 - 0.5, 2.0**31 - 1,
               2.0**31 + 0.5, 2.0**31 - 1.5, 2.0**32, 2.0**63, 2.0**63 - 1024, 2.0**64,
               2.0**24 + 1, 2.0**53 + 2, 3.4028234663852886e38, 3.4028235677973366e38,
               3.4028235677973362e38, 1.401298464324817e-45, 7.006492321624085e-46,
               7.006492321624087e-46, 1.1754942106924411e-38, 1e-40, 1e300, 1e-300)
F64_SPECIAL = tuple(sorted({
    *(f64(x) for v in _BOUNDARIES for x in (v, -v)),
    f64(-(2.0**63) - 2048), f64(-(2.0**31) - 1), f64(-(2.0**31) - 0.5),
    0x7FF0000000000000, 0xFFF0000000000000,              # infinities
    0x7FF8000000000000, 0xFFF8000000000000,              # quiet NaNs (the second: default)
    0x7FF0000000000001, 0xFFF4000000000000,              # signalling NaNs
    0x7FFFFFFFFFFFFFFF, 0x7FF8DEADBEEF0001,              # quiet NaNs with payloads
    0x0000000000000001, 0x000FFFFFFFFFFFFF, 0x8000000000000001,  # denormals
    0x0010000000000000, 0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF,  # smallest/largest normals
}))
F32_SPECIAL = tuple(sorted({
    *(f32(x) for v in _BOUNDARIES if abs(v) <= 3.4028234663852886e38 and v not in (2.0**64,)
      for x in (v, -v)),
    0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFA00000, 0x7FFFFFFF,
    0x7FC0BEEF, 0x00000001, 0x007FFFFF, 0x80000001, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF,
    0x4F000000, 0xCF000000, 0x5F000000, 0xDF000000, 0x4EFFFFFF, 0x5EFFFFFF,  # 2^31, 2^63
}))



def _nans(exponent: int, mantissa_bits: int) -> st.SearchStrategy[int]:
    """NaNs of either sign, quiet or signalling, with any payload."""
    return st.builds(lambda sign, payload: sign << (mantissa_bits + exponent.bit_length())
                     | exponent << mantissa_bits | payload,
                     st.integers(0, 1), st.integers(1, (1 << mantissa_bits) - 1))


# The values most rules are about, and NaNs, get branches of their own, so that both operands
# of a lane often hold them (+0 against -0, a NaN against a NaN).
_COMMON = (1.0, -1.0, 1.5, -2.5, float("inf"), float("-inf"))
f64_lanes = st.one_of(
    st.sampled_from((0, 1 << 63)),
    st.sampled_from([f64(x) for x in _COMMON]),
    st.sampled_from(F64_SPECIAL),
    _nans(0x7FF, 52),
    st.floats(width=64, allow_nan=False).map(f64),
    st.integers(0, U64))
f32_lanes = st.one_of(
    st.sampled_from((0, 1 << 31)),
    st.sampled_from([f32(x) for x in _COMMON]),
    st.sampled_from(F32_SPECIAL),
    _nans(0xFF, 23),
    st.floats(width=32, allow_nan=False).map(f32),
    st.integers(0, (1 << 32) - 1))


def _lanes(strategy: st.SearchStrategy[int], lane: int) -> st.SearchStrategy[int]:
    return st.lists(strategy, min_size=128 // lane, max_size=128 // lane).map(
        lambda xs: sum(x << (i * lane) for i, x in enumerate(xs)))


def _edge_ints(lane: int) -> st.SearchStrategy[int]:
    top = 1 << (lane - 1)
    return st.one_of(st.sampled_from((0, 1, 2, top - 1, top, top + 1, 2 * top - 1, 2 * top - 2)),
                     st.integers(0, 2 * top - 1))


xmm_f64 = _lanes(f64_lanes, 64)
xmm_f32 = _lanes(f32_lanes, 32)
xmm_ints = st.one_of(st.integers(0, (1 << 128) - 1),
                     *(_lanes(_edge_ints(lane), lane) for lane in (8, 16, 32, 64)))
xmm_any = st.one_of(xmm_ints, xmm_f32, xmm_f64)


@st.composite
def _rounding_ties(draw: st.DrawFn) -> int:
    """64-bit integers just above a float32 or float64 rounding tie, by a sticky bit far
    below it: what rounding twice (to double, then to float) gets wrong."""
    width = draw(st.sampled_from((24, 53)))
    top = draw(st.integers(width + 1, 62))
    mantissa = draw(st.integers(1 << (width - 1), (1 << width) - 1))
    shift = top - width + 1
    value = mantissa << shift | 1 << (shift - 1) | draw(st.integers(0, 1))
    return (-value if draw(st.booleans()) else value) & U64


gpr_ints = st.one_of(
    st.sampled_from((0, 1, U64, 1 << 31, (1 << 31) - 1, 1 << 63, (1 << 63) - 1, (1 << 32) - 1,
                     (1 << 24) + 1, (1 << 53) + 1, (1 << 62) + (1 << 38) + 1,
                     0x7FFFFF4000000001, 0xFFFFFFFF7FFFFFFF)),
    _rounding_ties(),
    st.integers(0, U64))


# ---- cases and the comparison ---------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One instruction and the values it starts from; everything else comes from `seed`."""

    asm: str
    xmm: tuple[tuple[int, int], ...]  # (register, value)
    mem: bytes = b""  # at MEM, which MEM_REG points to
    gpr: tuple[tuple[str, int], ...] = ()
    seed: int = 0
    mxcsr: int | None = None

    def state(self) -> CpuState:
        s = CpuState.random(self.seed, random_mem=False)
        s[MEM_REG] = MEM
        for reg, value in self.xmm:
            s.xmm[reg] = value
        for name, value in self.gpr:
            s[name] = value
        s.poke(MEM, self.mem)
        if self.mxcsr is not None:
            s.mxcsr = self.mxcsr
        return s

    def __repr__(self) -> str:
        regs = " ".join(f"xmm{r}={v:#034x}" for r, v in self.xmm)
        gprs = " ".join(f"{n}={v:#x}" for n, v in self.gpr)
        return f"\n  {self.asm}\n  {regs} {gprs}\n  mem={self.mem.hex()} seed={self.seed}"


def differences(case: Case, engine: str) -> list[str]:
    global _runs
    _runs += 1
    if _runs % 256 == 0:
        gc.collect()  # machines are reference cycles: free their address space in time
    code = assemble(case.asm)
    state = case.state()
    native = run_native(code, state)
    emulated = run_xlate(code, state, engine)
    flags_mask = 0 if "ldmxcsr" in case.asm else MXCSR_FLAGS
    native.mxcsr &= ~flags_mask
    emulated.mxcsr &= ~flags_mask
    diffs = native.diff(emulated, outcome=False)
    if native.signal != emulated.signal:
        diffs.append(f"signal: native {native.signal} != xlate {emulated.signal}")
    return diffs


def check_cases(engine: str, cases: st.SearchStrategy[Case], examples: int) -> None:
    """The engine ends where the CPU does on `examples` drawn cases (half as many under the
    JIT, which compiles each one)."""
    n = examples if engine == "interp" else max(10, examples // 2)

    @settings_for(n, times=10, suppress=tuple(HealthCheck))
    @given(cases)
    def run(case: Case) -> None:
        diffs = differences(case, engine)
        assert not diffs, f"{engine} differs from the CPU on {case!r}\n" + "\n".join(diffs)

    run()


IMM8 = st.integers(0, 255)


@st.composite
def sse_case(draw: st.DrawFn, forms: list[str], values: st.SearchStrategy[int] | None = None,
             imms: st.SearchStrategy[int] = IMM8) -> Case:
    """A case from one of the asm forms, with {d} and {s} the destination and source xmm
    registers, {m} the memory operand [rsi], {i} an immediate; xmm{d}, xmm{s} and the 16
    bytes at [rsi] drawn from `values` (for each form's own kind when None)."""
    form = draw(st.sampled_from(forms))
    values = values if values is not None else _values_for(form)
    d = draw(st.sampled_from((0, 1, 8, 15)))
    s = draw(st.sampled_from((2, 1, 9, 14)))  # sometimes the destination itself
    asm = form.format(d=d, s=s, m=f"[{MEM_REG}]", i=draw(imms))
    first = draw(values)

    def second() -> int:
        # Often the first operand again, or it with every float lane's sign flipped: equal
        # lanes, +0 against -0, x against -x.
        flip = draw(st.sampled_from((None, 0, SIGNS_32, SIGNS_64)))
        return draw(values) if flip is None else first ^ flip

    xmm = ((d, first), (s, second())) if s != d else ((d, first),)
    mem = second().to_bytes(16, "little")
    gpr = tuple((name, draw(gpr_ints)) for name in ("rcx", "r10") if name in asm)
    return Case(asm, xmm, mem, gpr, seed=draw(st.integers(0, 2**32 - 1)))


def _values_for(form: str) -> st.SearchStrategy[int]:
    """Float lanes of the width an instruction reads, integers for the rest."""
    name = form.split()[0]
    if name.startswith("cvt"):
        source = name.removeprefix("cvtt").removeprefix("cvt")[:2]
    elif name.startswith(("mov", "and", "or", "xor", "p")):
        return xmm_any
    else:
        source = name[-2:]
    return {"ss": xmm_f32, "ps": xmm_f32, "sd": xmm_f64, "pd": xmm_f64}.get(source, xmm_any)


def forms(names: list[str] | tuple[str, ...], *operands: str) -> list[str]:
    return [f"{name} {ops}" for name in names for ops in operands]


# ---- moves ----------------------------------------------------------------------------------

MOVE_FORMS = [
    *forms(("movaps", "movups", "movapd", "movupd", "movdqa", "movdqu"),
           "xmm{d}, xmm{s}", "xmm{d}, xmmword ptr {m}", "xmmword ptr {m}, xmm{s}"),
    *forms(("movntdq", "movntps", "movntpd"), "xmmword ptr {m}, xmm{s}"),
    "movnti dword ptr {m}, ecx", "movnti qword ptr {m}, rcx",
    "movd xmm{d}, ecx", "movd xmm{d}, r10d", "movd ecx, xmm{s}", "movd xmm{d}, dword ptr {m}",
    "movd dword ptr {m}, xmm{s}",
    "movq xmm{d}, rcx", "movq r10, xmm{s}", "movq xmm{d}, qword ptr {m}",
    "movq qword ptr {m}, xmm{s}", "movq xmm{d}, xmm{s}",
    ".byte 0x66, 0x0f, 0xd6, 0xca",  # movq xmm2, xmm1 in its other encoding (66 0f d6)
    *forms(("movss",), "xmm{d}, xmm{s}", "xmm{d}, dword ptr {m}", "dword ptr {m}, xmm{s}"),
    *forms(("movsd",), "xmm{d}, xmm{s}", "xmm{d}, qword ptr {m}", "qword ptr {m}, xmm{s}"),
    *forms(("movlps", "movhps", "movlpd", "movhpd"),
           "xmm{d}, qword ptr {m}", "qword ptr {m}, xmm{s}"),
    "movhlps xmm{d}, xmm{s}", "movlhps xmm{d}, xmm{s}",
    "pmovmskb ecx, xmm{s}", "pmovmskb r10, xmm{s}", "movmskps ecx, xmm{s}",
    "movmskpd r10d, xmm{s}", "movmskpd rcx, xmm{s}",
    "pextrw ecx, xmm{s}, {i}", "pextrw r10, xmm{s}, {i}", "pextrw word ptr {m}, xmm{s}, {i}",
    "pinsrw xmm{d}, ecx, {i}", "pinsrw xmm{d}, word ptr {m}, {i}",
    "stmxcsr dword ptr {m}",
]


@engines
def test_moves_keep_or_zero_the_upper_lanes_as_the_cpu_does(engine):
    check_cases(engine, sse_case(MOVE_FORMS), 250)


@engines
@settings_for(20, times=1)
@given(value=st.integers(0, 0xFFFF), seed=st.integers(0, 2**32 - 1))
def test_ldmxcsr_loads_any_valid_mxcsr(engine, value, seed):
    case = Case("ldmxcsr dword ptr [rsi]", (), value.to_bytes(4, "little"), seed=seed)
    assert not differences(case, engine)


# ---- integer lanes --------------------------------------------------------------------------

INTEGER_OPS = [
    "paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq",
    "paddsb", "paddsw", "paddusb", "paddusw", "psubsb", "psubsw", "psubusb", "psubusw",
    "pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpgtb", "pcmpgtw", "pcmpgtd",
    "pminub", "pmaxub", "pminsw", "pmaxsw", "pavgb", "pavgw",
    "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmaddwd", "psadbw",
    "pand", "pandn", "por", "pxor", "andps", "andpd", "andnps", "andnpd", "orps", "orpd",
    "xorps", "xorpd",
]


@engines
@pytest.mark.parametrize("group", range(4))
def test_integer_lane_ops_match_the_cpu(engine, group):
    names = INTEGER_OPS[group::4]
    check_cases(engine, sse_case(forms(names, "xmm{d}, xmm{s}", "xmm{d}, xmmword ptr {m}")), 120)


SHIFTS = ["psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad"]
shift_counts = st.one_of(st.integers(0, 70), st.sampled_from((255, 128)))
# An xmm count is its whole low qword: small, just past the lane width, or huge.
xmm_counts = st.builds(lambda low, high: high << 64 | low,
                       st.one_of(st.integers(0, 70), st.integers(0, U64),
                                 st.sampled_from((1 << 32, 1 << 63, (1 << 32) + 3))),
                       st.integers(0, U64))


@st.composite
def shift_case(draw: st.DrawFn) -> Case:
    name = draw(st.sampled_from([*SHIFTS, "pslldq", "psrldq"]))
    kind = "imm" if name.endswith("dq") else draw(st.sampled_from(("imm", "xmm", "mem")))
    value = draw(xmm_ints)
    count = draw(xmm_counts)
    if kind == "imm":
        return Case(f"{name} xmm3, {draw(shift_counts)}", ((3, value),),
                    seed=draw(st.integers(0, 2**32 - 1)))
    if kind == "xmm":
        return Case(f"{name} xmm3, xmm12", ((3, value), (12, count)),
                    seed=draw(st.integers(0, 2**32 - 1)))
    return Case(f"{name} xmm3, xmmword ptr [rsi]", ((3, value),), count.to_bytes(16, "little"),
                seed=draw(st.integers(0, 2**32 - 1)))


@engines
def test_shifts_by_immediate_and_register_counts_fill_as_the_cpu_does(engine):
    check_cases(engine, shift_case(), 200)


# ---- shuffles and packs ---------------------------------------------------------------------

SHUFFLE_FORMS = [
    *forms(("pshufd", "pshuflw", "pshufhw", "shufps", "shufpd"),
           "xmm{d}, xmm{s}, {i}", "xmm{d}, xmmword ptr {m}, {i}"),
    *forms(("unpcklps", "unpckhps", "unpcklpd", "unpckhpd",
            "punpcklbw", "punpcklwd", "punpckldq", "punpcklqdq",
            "punpckhbw", "punpckhwd", "punpckhdq", "punpckhqdq",
            "packsswb", "packssdw", "packuswb"),
           "xmm{d}, xmm{s}", "xmm{d}, xmmword ptr {m}"),
]


@engines
def test_shuffles_unpacks_and_packs_match_the_cpu(engine):
    check_cases(engine, sse_case(SHUFFLE_FORMS, xmm_ints), 250)


# ---- floating point -------------------------------------------------------------------------


def _float_forms(ops: tuple[str, ...]) -> list[str]:
    out = []
    for op in ops:
        out += forms((op + "ss",), "xmm{d}, xmm{s}", "xmm{d}, dword ptr {m}")
        out += forms((op + "sd",), "xmm{d}, xmm{s}", "xmm{d}, qword ptr {m}")
        out += forms((op + "ps", op + "pd"), "xmm{d}, xmm{s}", "xmm{d}, xmmword ptr {m}")
    return out


@engines
@pytest.mark.parametrize("ops", [("add", "sub"), ("mul", "div"), ("min", "max", "sqrt")],
                         ids=lambda ops: "-".join(ops))
def test_float_arithmetic_rounds_and_propagates_nans_as_the_cpu_does(engine, ops):
    check_cases(engine, sse_case(_float_forms(ops)), 200)


@engines
def test_float_compares_give_lane_masks_for_all_eight_predicates(engine):
    # The imm8 forms with bits 3-7 set too: legacy SSE ignores them.
    cmp_forms = (forms(("cmpss",), "xmm{d}, xmm{s}, {i}", "xmm{d}, dword ptr {m}, {i}")
                 + forms(("cmpsd",), "xmm{d}, xmm{s}, {i}", "xmm{d}, qword ptr {m}, {i}")
                 + forms(("cmpps", "cmppd"), "xmm{d}, xmm{s}, {i}",
                         "xmm{d}, xmmword ptr {m}, {i}"))
    imms = st.one_of(st.integers(0, 7), st.integers(8, 255))
    check_cases(engine, sse_case(cmp_forms, imms=imms), 200)


@engines
def test_comis_and_ucomis_set_zf_pf_cf_and_clear_the_rest(engine):
    cases = sse_case(forms(("comiss", "ucomiss"), "xmm{d}, xmm{s}", "xmm{d}, dword ptr {m}")
                     + forms(("comisd", "ucomisd"), "xmm{d}, xmm{s}", "xmm{d}, qword ptr {m}"))
    check_cases(engine, cases, 150)


NAN = 0x7FF8000000000000
SNAN = 0x7FF0000000000001


@engines
@pytest.mark.parametrize("asm, x, y", [
    ("minsd xmm1, xmm2", f64(0.0), f64(-0.0)),  # zeros: the second operand
    ("maxsd xmm1, xmm2", f64(-0.0), f64(0.0)),
    ("minsd xmm1, xmm2", NAN, f64(1.0)),  # a NaN: the second operand, unquieted
    ("maxsd xmm1, xmm2", f64(1.0), SNAN),
    ("minps xmm1, xmm2", f32(0.0) | 0x7FC00001 << 32, f32(-0.0) | f32(2.0) << 32),
    ("addsd xmm1, xmm2", NAN | 0xBEEF, SNAN | 0xF00D),  # two NaNs: the first, quieted
    ("addsd xmm1, xmm2", f64(1.0), SNAN | 0xF00D),
    ("subsd xmm1, xmm2", f64(float("inf")), f64(float("inf"))),  # the negative default NaN
    ("mulss xmm1, xmm2", f32(0.0), f32(float("-inf"))),
    ("divsd xmm1, xmm2", f64(0.0), f64(-0.0)),
    ("divsd xmm1, xmm2", f64(-1.0), f64(-0.0)),  # +inf: Python would raise
    ("divss xmm1, xmm2", f32(3e38), f32(1e-38)),  # float32 overflow: struct would raise
    ("sqrtsd xmm1, xmm2", 0, f64(-1.0)),
    ("sqrtsd xmm1, xmm2", 0, f64(-0.0)),
    ("cvttsd2si eax, xmm2", 0, f64(2.0**31)),  # out of range: the indefinite 0x80000000
    ("cvttsd2si eax, xmm2", 0, f64(-(2.0**31) - 0.5)),  # truncates into range
    ("cvtsd2si eax, xmm2", 0, f64(2.5)),  # ties to even
    ("cvtsd2si eax, xmm2", 0, f64(2.0**31 - 0.5)),  # rounds out of range
    ("cvtsd2si rax, xmm2", 0, f64(-(2.0**63))),
    ("cvttss2si rax, xmm2", 0, f32(float("nan"))),
    ("cvtsd2ss xmm1, xmm2", 0, f64(3.4028235677973366e38)),  # rounds to float32 infinity
    ("cvtsd2ss xmm1, xmm2", 0, 0xFFF123456789ABCD),  # a NaN keeps the top of its payload
    ("cvtss2sd xmm1, xmm2", 0, 0xFF812345),
])
def test_x86_float_rules(engine, asm, x, y):
    assert not differences(Case(asm, ((1, x), (2, y))), engine)


@engines
def test_int64_to_float32_rounds_once(engine):
    # Rounding to double first would make this an exact tie, rounded down to even.
    value = (1 << 62) + (1 << 38) + 1
    assert not differences(Case("cvtsi2ss xmm1, rcx", (), gpr=(("rcx", value),)), engine)


@engines
@pytest.mark.parametrize("asm", [
    "xorpd xmm0, xmm0; divsd xmm0, xmm0",
    "xorps xmm0, xmm0; divps xmm0, xmm0",
    "mov rax, 0xbff0000000000000; movq xmm0, rax; sqrtsd xmm0, xmm0",
    "mov rax, 0xfff0000000000000; movq xmm0, rax; mov rcx, 0x7ff0000000000000; movq xmm1, rcx;"
    " addsd xmm0, xmm1",
    "mov rax, 0x7ff0000000000001; movq xmm0, rax; mov rcx, 0x3ff0000000000000; movq xmm1, rcx;"
    " mulsd xmm0, xmm1",
    "mov rax, 0x7ff0000000000001; movq xmm0, rax; mov rcx, 1 << 63; movq xmm1, rcx;"
    " addsd xmm0, xmm1",
    "mov eax, 0x7f800001; movd xmm0, eax; cvtss2sd xmm1, xmm0",
    "mov rax, 0x7ff0000000000001; movq xmm0, rax; cvtpd2ps xmm1, xmm0",
    "mov rax, 0x41e0000000000000; movq xmm0, rax; cvttsd2si ecx, xmm0",
])
def test_constant_operands_give_the_cpus_nans_not_llvms(engine, asm):
    # The JIT sees these operands as constants: LLVM must not fold them with its own rules
    # (a positive default NaN; x * 1.0 and x + -0.0 as x, leaving a signalling NaN unquieted).
    assert not differences(Case(asm, ()), engine)


CONVERSION_FORMS = [
    *forms(("cvtsi2ss", "cvtsi2sd"), "xmm{d}, ecx", "xmm{d}, rcx", "xmm{d}, dword ptr {m}",
           "xmm{d}, qword ptr {m}"),
    "cvtss2sd xmm{d}, xmm{s}", "cvtss2sd xmm{d}, dword ptr {m}",
    "cvtsd2ss xmm{d}, xmm{s}", "cvtsd2ss xmm{d}, qword ptr {m}",
    *forms(("cvttss2si", "cvtss2si"), "ecx, xmm{s}", "rcx, xmm{s}", "r10d, dword ptr {m}",
           "r10, dword ptr {m}"),
    *forms(("cvttsd2si", "cvtsd2si"), "ecx, xmm{s}", "rcx, xmm{s}", "r10d, qword ptr {m}",
           "r10, qword ptr {m}"),
    *forms(("cvtdq2ps", "cvtps2dq", "cvttps2dq", "cvtpd2dq", "cvttpd2dq", "cvtpd2ps"),
           "xmm{d}, xmm{s}", "xmm{d}, xmmword ptr {m}"),
    *forms(("cvtdq2pd", "cvtps2pd"), "xmm{d}, xmm{s}", "xmm{d}, qword ptr {m}"),
]


@engines
def test_conversions_round_and_give_the_integer_indefinite_as_the_cpu_does(engine):
    check_cases(engine, sse_case(CONVERSION_FORMS), 300)


@st.composite
def int_to_float_case(draw: st.DrawFn) -> Case:
    name = draw(st.sampled_from(("cvtsi2ss", "cvtsi2sd")))
    source = draw(st.sampled_from(("ecx", "rcx", "dword ptr [rsi]", "qword ptr [rsi]")))
    value = draw(gpr_ints)
    return Case(f"{name} xmm5, {source}", ((5, draw(xmm_any)),), value.to_bytes(8, "little"),
                (("rcx", value),), seed=draw(st.integers(0, 2**32 - 1)))


@engines
def test_int_to_float_rounds_once_even_from_64_bits_to_float32(engine):
    check_cases(engine, int_to_float_case(), 150)


# ---- names Capstone shares between SSE and other instructions -------------------------------


@engines
@pytest.mark.parametrize("asm", ["cmpneqps xmm1, xmm2", "cmpnltsd xmm1, xmm2",
                                 "cmpunordpd xmm1, xmm2", "cmpordss xmm1, xmm2"])
def test_sse_compares_that_capstone_names_like_string_ops_are_sse_compares(engine, asm):
    # Capstone 5.0 calls these cmpsq, cmpss, cmpsd and cmpxchg16b.
    nan_and_ones = (0x7FF8000000000000 << 64) | f64(1.0)
    case = Case(asm, ((1, nan_and_ones), (2, f64(2.0) << 64 | f64(1.0))))
    assert not differences(case, engine)


@engines
@pytest.mark.parametrize("asm", ["rep movsd", "movsd", "repe cmpsd", "cmpsd", "repne cmpsb",
                                 "cmpsw", "repe cmpsq"])
def test_string_movsd_and_cmps_still_run_as_string_instructions(engine, asm):
    data = bytes(range(64)) * 2
    gpr = (("rsi", MEM), ("rdi", MEM + 64), ("rcx", 5))
    case = Case(asm, (), data, gpr, seed=7)
    assert not differences(case, engine)


@engines
@pytest.mark.parametrize("asm", ["paddb mm0, mm1", "pxor mm2, mm3", "movd mm0, eax",
                                 "pmovmskb eax, mm1", "cvtpi2pd xmm0, mm1", "lddqu xmm0, [rsi]"])
def test_forms_without_semantics_stop_with_sigill(engine, asm):
    # MMX forms share names with the SSE2 ones, lddqu is SSE3: none may run as something else.
    code = assemble(asm)
    state = Case(asm, ()).state()
    assert run_xlate(code, state, engine).signal == signal.SIGILL
