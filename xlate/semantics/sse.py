"""SSE and SSE2: moves, integer and float lane arithmetic, compares, shuffles, conversions.

Names ending in ss/sd are scalar: they compute on lane 0 and keep the destination's other lanes
(loads from memory into a register zero them instead, for movss/movsd). ps/pd/p* are packed
over the whole 128 bits. Misaligned memory operands of the aligned forms (movaps, addps xmm, m128)
fault on hardware; here they are accepted."""

from __future__ import annotations

from xlate.builder import Builder, Value, mask
from xlate.decoder import IMM, MEM, REG, XMM, Insn, Operand
from xlate.semantics import string
from xlate.semantics.registry import semantics

LANE_BITS = {"b": 8, "w": 16, "d": 32, "q": 64}


def _is_xmm(op: Operand) -> bool:
    return op.kind == REG and op.reg.file == XMM


def _imm(insn: Insn) -> int:
    return insn.ops[-1].imm & 0xFF


def _write_low(b: Builder, op: Operand, value: Value, bits: int) -> None:
    """A scalar result: into lane 0 of an xmm register (keeping the rest), or stored."""
    if _is_xmm(op) and bits < 128:
        b.set_xmm(op.reg.index, b.vinsert(b.get_xmm(op.reg.index), value, bits, 0))
    else:
        b.write(op, value, bits)


def _float_kind(suffix: str) -> tuple[int, int]:
    """(lane bits, operand bits) of an ss/sd/ps/pd suffix."""
    fbits = 32 if suffix[1] == "s" else 64
    return fbits, 128 if suffix[0] == "p" else fbits


# -- moves ----------------------------------------------------------------------------------


@semantics("movaps", "movups", "movapd", "movupd", "movdqa", "movdqu",
           "movntdq", "movntps", "movntpd", "movnti")
def move(b: Builder, insn: Insn) -> None:
    # Non-temporal hints change nothing a single thread can see.
    bits = insn.op(0).size * 8
    b.write(insn.op(0), b.read(insn.op(1), bits), bits)


@semantics("movd", "movq")
def move_int(b: Builder, insn: Insn) -> None:
    # Into an xmm register the value is zero-extended (write() does it), even from xmm (movq).
    bits = 32 if insn.name == "movd" else 64
    b.write(insn.op(0), b.read(insn.op(1), bits), bits)


@semantics("movss", "movsd")
def move_scalar(b: Builder, insn: Insn) -> None:
    dst, src = insn.op(0), insn.op(1)
    if not (_is_xmm(dst) or _is_xmm(src)):  # movsd is also the string move of dwords
        string.string(b, insn)
        return
    bits = 32 if insn.name == "movss" else 64
    value = b.read(src, bits)
    if _is_xmm(src):
        _write_low(b, dst, value, bits)
    else:
        b.write(dst, value, bits)  # a load zero-extends


@semantics("movlps", "movlpd", "movhps", "movhpd")
def move_half(b: Builder, insn: Insn) -> None:
    high = insn.name in ("movhps", "movhpd")
    dst, src = insn.op(0), insn.op(1)
    if dst.kind == MEM:
        b.write(dst, b.vextract(b.read(src, 128), 64, int(high)), 64)
    else:
        b.set_xmm(dst.reg.index, b.vinsert(b.get_xmm(dst.reg.index), b.read(src, 64), 64,
                                           int(high)))


@semantics("movhlps", "movlhps")
def move_between_halves(b: Builder, insn: Insn) -> None:
    # Lanes 0-1 are the destination's, 2-3 the source's (as 64-bit lanes).
    indices = (3, 1) if insn.name == "movhlps" else (0, 2)
    _shuffle(b, insn, 64, indices)


@semantics("pmovmskb", "movmskps", "movmskpd")
def move_mask(b: Builder, insn: Insn) -> None:
    lane = {"pmovmskb": 8, "movmskps": 32, "movmskpd": 64}[insn.name]
    bits = insn.op(0).size * 8
    b.write(insn.op(0), b.zext(b.vmovmask(b.read(insn.op(1), 128), lane), 32, bits), bits)


@semantics("pextrw")
def extract_word(b: Builder, insn: Insn) -> None:
    word = b.vextract(b.read(insn.op(1), 128), 16, _imm(insn) & 7)
    bits = insn.op(0).size * 8  # a register is zero-extended; the SSE4.1 store writes 16
    b.write(insn.op(0), b.zext(word, 16, bits), bits)


@semantics("pinsrw")
def insert_word(b: Builder, insn: Insn) -> None:
    dst = insn.op(0).reg.index
    word = b.read(insn.op(1), 16)
    b.set_xmm(dst, b.vinsert(b.get_xmm(dst), word, 16, _imm(insn) & 7))


@semantics("stmxcsr", "ldmxcsr")
def mxcsr(b: Builder, insn: Insn) -> None:
    # Only the value is kept: arithmetic always rounds to nearest with denormals enabled.
    if insn.name == "stmxcsr":
        b.write(insn.op(0), b.get_mxcsr(), 32)
    else:
        b.set_mxcsr(b.read(insn.op(0), 32))


# -- integer lanes ----------------------------------------------------------------------------


@semantics("pand", "andps", "andpd", "pandn", "andnps", "andnpd",
           "por", "orps", "orpd", "pxor", "xorps", "xorpd")
def logic(b: Builder, insn: Insn) -> None:
    x, y = b.read(insn.op(0), 128), b.read(insn.op(1), 128)
    if "andn" in insn.name:
        r = b.and_(b.not_(x, 128), y, 128)
    elif "and" in insn.name:
        r = b.and_(x, y, 128)
    elif "xor" in insn.name:
        r = b.xor(x, y, 128)
    else:
        r = b.or_(x, y, 128)
    b.write(insn.op(0), r, 128)


def _lane_ops() -> dict[str, tuple[str, int, tuple]]:
    """Instruction -> (primitive, lane bits, extra arguments)."""
    ops: dict[str, tuple[str, int, tuple]] = {}
    for s in "bwdq":
        ops["padd" + s] = ("vadd", LANE_BITS[s], ())
        ops["psub" + s] = ("vsub", LANE_BITS[s], ())
    for s in "bwd":
        ops["pcmpeq" + s] = ("vcmpeq", LANE_BITS[s], ())
        ops["pcmpgt" + s] = ("vcmpgt", LANE_BITS[s], ())
    for s in "bw":
        for signed, infix in ((True, "s"), (False, "us")):
            ops[f"padd{infix}{s}"] = ("vadd_sat", LANE_BITS[s], (signed,))
            ops[f"psub{infix}{s}"] = ("vsub_sat", LANE_BITS[s], (signed,))
        ops["pavg" + s] = ("vavg", LANE_BITS[s], ())
    ops.update({
        "pminub": ("vmin", 8, (False,)), "pmaxub": ("vmax", 8, (False,)),
        "pminsw": ("vmin", 16, (True,)), "pmaxsw": ("vmax", 16, (True,)),
        "pmullw": ("vmul_lo", 16, ()),
        "pmulhw": ("vmul_hi", 16, (True,)), "pmulhuw": ("vmul_hi", 16, (False,)),
    })
    return ops


LANE_OPS = _lane_ops()


@semantics(*LANE_OPS)
def lane_arith(b: Builder, insn: Insn) -> None:
    primitive, lane, extra = LANE_OPS[insn.name]
    x, y = b.read(insn.op(0), 128), b.read(insn.op(1), 128)
    b.write(insn.op(0), getattr(b, primitive)(x, y, lane, *extra), 128)


def _repeat(pattern: int, lane: int) -> int:
    return sum(pattern << i for i in range(0, 128, lane))


@semantics("pmuludq")
def multiply_unsigned_dwords(b: Builder, insn: Insn) -> None:
    # The even dwords, zero-extended, multiply to full 64-bit products.
    low = b.const(_repeat(mask(32), 64), 128)
    x = b.and_(b.read(insn.op(0), 128), low, 128)
    y = b.and_(b.read(insn.op(1), 128), low, 128)
    b.write(insn.op(0), b.vmul_lo(x, y, 64), 128)


@semantics("pmaddwd")
def multiply_add_words(b: Builder, insn: Insn) -> None:
    # Signed word products, adjacent pairs summed into dwords (wrapping only for
    # -32768 * -32768 twice, to 0x80000000, as hardware does).
    x, y = b.read(insn.op(0), 128), b.read(insn.op(1), 128)
    sixteen = b.const(16, 64)

    def even(v: Value) -> Value:
        return b.vashr(b.vshl(v, sixteen, 32), sixteen, 32)

    def odd(v: Value) -> Value:
        return b.vashr(v, sixteen, 32)

    r = b.vadd(b.vmul_lo(even(x), even(y), 32), b.vmul_lo(odd(x), odd(y), 32), 32)
    b.write(insn.op(0), r, 128)


@semantics("psadbw")
def sum_absolute_differences(b: Builder, insn: Insn) -> None:
    # |x - y| per byte, then the eight bytes of each qword summed (pairwise, widening) into
    # its low word.
    x, y = b.read(insn.op(0), 128), b.read(insn.op(1), 128)
    r = b.vsub(b.vmax(x, y, 8, False), b.vmin(x, y, 8, False), 8)
    for lane in (16, 32, 64):
        half = b.const(lane // 2, 64)
        low = b.const(_repeat(mask(lane // 2), lane), 128)
        r = b.vadd(b.and_(r, low, 128), b.vlshr(r, half, lane), lane)
    b.write(insn.op(0), r, 128)


@semantics("psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad")
def shift(b: Builder, insn: Insn) -> None:
    lane = LANE_BITS[insn.name[-1]]
    src = insn.op(1)
    # The count is an imm8 or the whole low qword of an xmm/m128 operand, unmasked.
    count = b.const(_imm(insn), 64) if src.kind == IMM else b.read(src, 64)
    op = {"psll": b.vshl, "psrl": b.vlshr, "psra": b.vashr}[insn.name[:4]]
    b.write(insn.op(0), op(b.read(insn.op(0), 128), count, lane), 128)


@semantics("pslldq", "psrldq")
def shift_bytes(b: Builder, insn: Insn) -> None:
    # A byte shuffle with zeros (lane 16 of a:0) shifted in; 16 or more clears the register.
    n = _imm(insn)
    if insn.name == "pslldq":
        indices = tuple(i - n if i >= n else 16 for i in range(16))
    else:
        indices = tuple(i + n if i + n < 16 else 16 for i in range(16))
    x = b.read(insn.op(0), 128)
    b.write(insn.op(0), b.vshuffle(x, b.const(0, 128), 8, indices), 128)


# -- shuffles and packs ---------------------------------------------------------------------


def _shuffle(b: Builder, insn: Insn, lane: int, indices: tuple[int, ...]) -> None:
    """Destination := lanes of destination:source."""
    x, y = b.read(insn.op(0), 128), b.read(insn.op(1), 128)
    b.write(insn.op(0), b.vshuffle(x, y, lane, indices), 128)


def _select(imm: int, count: int, width: int) -> list[int]:
    """count fields of `width` bits from imm, lowest first."""
    return [(imm >> (width * i)) & mask(width) for i in range(count)]


@semantics("pshufd", "pshuflw", "pshufhw")
def shuffle_one_source(b: Builder, insn: Insn) -> None:
    sel = _select(_imm(insn), 4, 2)
    if insn.name == "pshufd":
        lane, indices = 32, sel
    elif insn.name == "pshuflw":
        lane, indices = 16, sel + [4, 5, 6, 7]
    else:
        lane, indices = 16, [0, 1, 2, 3] + [4 + i for i in sel]
    x = b.read(insn.op(1), 128)
    b.write(insn.op(0), b.vshuffle(x, x, lane, tuple(indices)), 128)


@semantics("shufps", "shufpd")
def shuffle_two_sources(b: Builder, insn: Insn) -> None:
    # The low half of the result comes from the destination, the high half from the source.
    if insn.name == "shufps":
        s = _select(_imm(insn), 4, 2)
        _shuffle(b, insn, 32, (s[0], s[1], 4 + s[2], 4 + s[3]))
    else:
        s = _select(_imm(insn), 2, 1)
        _shuffle(b, insn, 64, (s[0], 2 + s[1]))


_UNPACK_LANES = {"unpcklps": 32, "unpckhps": 32, "unpcklpd": 64, "unpckhpd": 64,
                 **{f"punpck{h}{s}": LANE_BITS[s[:-1] if s != "qdq" else "q"]
                    for h in "lh" for s in ("bw", "wd", "dq", "qdq")}}


@semantics(*_UNPACK_LANES)
def unpack(b: Builder, insn: Insn) -> None:
    # Interleave the low (or high) halves' lanes: dst0, src0, dst1, src1, ...
    lane = _UNPACK_LANES[insn.name]
    n = 128 // lane
    base = n // 2 if insn.name.removeprefix("p").startswith("unpckh") else 0
    _shuffle(b, insn, lane, tuple(base + i // 2 + (n if i % 2 else 0) for i in range(n)))


@semantics("packsswb", "packssdw", "packuswb")
def pack(b: Builder, insn: Insn) -> None:
    lane = 16 if insn.name.endswith("wb") else 32
    x, y = b.read(insn.op(0), 128), b.read(insn.op(1), 128)
    b.write(insn.op(0), b.vpack_sat(x, y, lane, insn.name.startswith("packus")), 128)


# -- floating point ---------------------------------------------------------------------------

FLOAT_OPS = ("add", "sub", "mul", "div", "min", "max")


@semantics(*(op + kind for op in FLOAT_OPS for kind in ("ss", "sd", "ps", "pd")))
def float_arith(b: Builder, insn: Insn) -> None:
    fbits, bits = _float_kind(insn.name[-2:])
    x, y = b.read(insn.op(0), bits), b.read(insn.op(1), bits)
    _write_low(b, insn.op(0), getattr(b, "f" + insn.name[:-2])(x, y, fbits, bits), bits)


@semantics("sqrtss", "sqrtsd", "sqrtps", "sqrtpd")
def float_sqrt(b: Builder, insn: Insn) -> None:
    fbits, bits = _float_kind(insn.name[-2:])
    _write_low(b, insn.op(0), b.fsqrt(b.read(insn.op(1), bits), fbits, bits), bits)


# The decoder names the 0f c2 compares cmpps/cmppd/cmpss/cmpsd by their prefix (see
# xlate.decoder); the predicate is the imm8, the last byte. cmpsd is also the string compare.
@semantics("cmpps", "cmppd", "cmpss", "cmpsd")
def float_compare(b: Builder, insn: Insn) -> None:
    if not _is_xmm(insn.op(0)):
        string.string(b, insn)
        return
    fbits, bits = _float_kind(insn.name[-2:])
    predicate = insn.raw[-1] & 7  # legacy SSE ignores imm8 bits 7:3
    x, y = b.read(insn.op(0), bits), b.read(insn.op(1), bits)
    _write_low(b, insn.op(0), b.fcmp(predicate, x, y, fbits, bits), bits)


@semantics("comiss", "comisd", "ucomiss", "ucomisd")
def float_compare_flags(b: Builder, insn: Insn) -> None:
    # Unordered: ZF PF CF = 111; less: 001; equal: 100; greater: 000. OF, SF, AF are cleared.
    # (comis and ucomis differ only in which NaNs raise the invalid exception.)
    fbits = 32 if insn.name.endswith("ss") else 64
    x, y = b.read(insn.op(0), fbits), b.read(insn.op(1), fbits)

    def holds(predicate: int) -> Value:
        return b.trunc(b.fcmp(predicate, x, y, fbits, fbits), fbits, 1)

    unordered, clear = holds(3), b.const(0, 1)
    b.set_flags({"zf": b.or_(unordered, holds(0), 1), "pf": unordered,
                 "cf": b.or_(unordered, holds(1), 1), "of": clear, "sf": clear, "af": clear})


@semantics("cvtsi2ss", "cvtsi2sd")
def convert_int_to_scalar(b: Builder, insn: Insn) -> None:
    fbits = 32 if insn.name.endswith("ss") else 64
    ibits = insn.op(1).size * 8
    r = b.int_to_float(b.read(insn.op(1)), ibits, fbits, 1)
    _write_low(b, insn.op(0), r, fbits)


@semantics("cvtss2sd", "cvtsd2ss")
def convert_scalar_float(b: Builder, insn: Insn) -> None:
    fbits, to = (32, 64) if insn.name == "cvtss2sd" else (64, 32)
    _write_low(b, insn.op(0), b.fconvert(b.read(insn.op(1), fbits), fbits, to, 1), to)


@semantics("cvttss2si", "cvtss2si", "cvttsd2si", "cvtsd2si")
def convert_scalar_to_int(b: Builder, insn: Insn) -> None:
    fbits = 32 if "ss2" in insn.name else 64
    ibits = insn.op(0).size * 8
    r = b.float_to_int(b.read(insn.op(1), fbits), fbits, ibits, 1, insn.name[3] == "t")
    b.write(insn.op(0), r, ibits)


# name -> (source lane bits, how many lanes, what the lanes become)
_PACKED_CONVERSIONS = {
    "cvtdq2ps": (32, 4, "f32"), "cvtdq2pd": (32, 2, "f64"),
    "cvtps2dq": (32, 4, "i32"), "cvttps2dq": (32, 4, "i32"),
    "cvtpd2dq": (64, 2, "i32"), "cvttpd2dq": (64, 2, "i32"),
    "cvtps2pd": (32, 2, "f64"), "cvtpd2ps": (64, 2, "f32"),
}


@semantics(*_PACKED_CONVERSIONS)
def convert_packed(b: Builder, insn: Insn) -> None:
    # Two-lane results (cvtpd2dq, cvtpd2ps) zero the upper half; two-lane sources read only
    # the low 64 bits (cvtdq2pd, cvtps2pd), from memory too.
    lane, lanes, result = _PACKED_CONVERSIONS[insn.name]
    x = b.read(insn.op(1), lane * lanes)
    to = int(result[1:])
    if result[0] == "i":
        r = b.float_to_int(x, lane, to, lanes, insn.name[3] == "t")
    elif insn.name.startswith("cvtdq"):
        r = b.int_to_float(x, lane, to, lanes)
    else:
        r = b.fconvert(x, lane, to, lanes)
    b.write(insn.op(0), r, to * lanes)
