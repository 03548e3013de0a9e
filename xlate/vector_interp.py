"""The interpreter's vector (SSE) primitives, on Python ints; see xlate.vector.

x86's float rules are spelled out here rather than borrowed from the host, so that they hold on
any host: which NaN a result carries, the default NaN of invalid operations, min/max operand
order, the integer indefinite value, and rounding once to float32."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

M128 = (1 << 128) - 1


def _mask(bits: int) -> int:
    return (1 << bits) - 1


def _repeat(pattern: int, lane: int) -> int:
    """pattern in every lane of 128 bits."""
    out = 0
    for i in range(0, 128, lane):
        out |= pattern << i
    return out


def _split(v: int, lane: int, count: int | None = None) -> list[int]:
    m = _mask(lane)
    return [(v >> i) & m for i in range(0, lane * (count or 128 // lane), lane)]


def _join(values: list[int], lane: int) -> int:
    m = _mask(lane)
    out = 0
    for i, x in enumerate(values):
        out |= (x & m) << (i * lane)
    return out


def _signed(x: int, bits: int) -> int:
    return x - (1 << bits) if x >> (bits - 1) else x


def _lanewise(a: int, b: int, lane: int, fn: Callable[[int, int], int]) -> int:
    return _join([fn(x, y) for x, y in zip(_split(a, lane), _split(b, lane), strict=True)], lane)


def _clamp(x: int, lo: int, hi: int) -> int:
    return lo if x < lo else hi if x > hi else x


def _range(bits: int, signed: bool) -> tuple[int, int]:
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, _mask(bits))


# -- IEEE formats, as bit patterns ---------------------------------------------------------------


class _Format:
    def __init__(self, bits: int, mantissa: int, pack: str) -> None:
        self.bits = bits
        self.sign = 1 << (bits - 1)
        self.mantissa = _mask(mantissa)
        self.exponent = _mask(bits - 1) ^ self.mantissa
        self.quiet = 1 << (mantissa - 1)
        self.inf = self.exponent
        # Invalid operations give this "real indefinite": negative, quiet, no payload.
        self.default_nan = self.sign | self.exponent | self.quiet
        self.pack = pack

    def is_nan(self, x: int) -> bool:
        return x & self.exponent == self.exponent and bool(x & self.mantissa)

    def to_float(self, x: int) -> float:
        """A non-NaN pattern as a Python float (exact: float32 values fit in a double)."""
        return struct.unpack(self.pack, x.to_bytes(self.bits // 8, "little"))[0]

    def from_float(self, f: float) -> int:
        """f rounded once to this format (to nearest even); a NaN f is an invalid operation."""
        if f != f:
            return self.default_nan
        try:
            raw = struct.pack(self.pack, f)
        except OverflowError:  # struct refuses what rounds to infinity in float32
            return self.inf | (self.sign if math.copysign(1.0, f) < 0 else 0)
        return int.from_bytes(raw, "little")


F32 = _Format(32, 23, "<f")
F64 = _Format(64, 52, "<d")
FORMATS = {32: F32, 64: F64}


def _nan_operand(fmt: _Format, x: int, y: int) -> int | None:
    """The result when an operand is a NaN: the first NaN operand, quieted; else None."""
    if fmt.is_nan(x):
        return x | fmt.quiet
    if fmt.is_nan(y):
        return y | fmt.quiet
    return None


def _divide(fmt: _Format, x: int, y: int) -> int:
    a, b = fmt.to_float(x), fmt.to_float(y)
    if b == 0.0:
        if a == 0.0:
            return fmt.default_nan
        # Python raises where IEEE gives an infinity signed by the operands' signs.
        return fmt.inf | ((x ^ y) & fmt.sign)
    return fmt.from_float(a / b)


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
}


def _arith(op: str, fmt: _Format, x: int, y: int) -> int:
    nan = _nan_operand(fmt, x, y)
    if nan is not None:
        return nan
    if op == "div":
        return _divide(fmt, x, y)
    # A double holds float32 sums, products and quotients with enough bits that rounding the
    # double to float32 gives the once-rounded result.
    return fmt.from_float(_ARITHMETIC[op](fmt.to_float(x), fmt.to_float(y)))


def _sqrt(fmt: _Format, x: int) -> int:
    if fmt.is_nan(x):
        return x | fmt.quiet
    f = fmt.to_float(x)
    if f < 0.0:
        return fmt.default_nan
    return fmt.from_float(math.sqrt(f))  # sqrt(-0) is -0


def _compare(predicate: int, fmt: _Format, x: int, y: int) -> bool:
    unordered = fmt.is_nan(x) or fmt.is_nan(y)
    if predicate & 3 == 3:  # unord, ord
        return unordered != bool(predicate & 4)
    if unordered:
        return bool(predicate & 4)  # the negated predicates hold for NaNs
    a, b = fmt.to_float(x), fmt.to_float(y)
    holds = (a == b, a < b, a <= b)[predicate & 3]
    return holds != bool(predicate & 4)


def _widen(x: int) -> int:
    """float32 -> float64: exact; a NaN keeps its sign and payload (shifted up), quieted."""
    if F32.is_nan(x):
        return (x & F32.sign) << 32 | F64.exponent | F64.quiet | (x & F32.mantissa) << 29
    return F64.from_float(F32.to_float(x))


def _narrow(x: int) -> int:
    """float64 -> float32, rounded; a NaN keeps its sign and the top of its payload, quieted."""
    if F64.is_nan(x):
        return (x >> 32) & F32.sign | F32.exponent | F32.quiet | (x & F64.mantissa) >> 29
    return F32.from_float(F64.to_float(x))


def _int_to_float(fmt: _Format, i: int) -> int:
    magnitude = abs(i)
    extra = magnitude.bit_length() - 53
    if fmt is F32 and extra > 0:
        # Round to odd at 53 bits first (keeping a sticky bit), so that converting the
        # double to float32 rounds once: int -> double -> float would round twice.
        kept = magnitude >> extra
        if magnitude & _mask(extra):
            kept |= 1
        return fmt.from_float(math.copysign(math.ldexp(float(kept), extra), i))
    return fmt.from_float(float(i))  # Python rounds int -> double to nearest even


def _float_to_int(fmt: _Format, x: int, ibits: int, truncate: bool) -> int:
    indefinite = 1 << (ibits - 1)
    if fmt.is_nan(x) or x & fmt.exponent == fmt.exponent:
        return indefinite
    f = fmt.to_float(x)
    r = math.trunc(f) if truncate else round(f)  # round() on a float ties to even
    if -indefinite <= r < indefinite:
        return r & _mask(ibits)
    return indefinite


class VectorInterp:
    """The vector primitives on Python ints (mixed into xlate.interp.InterpBuilder)."""

    cpu: object

    # -- integer lanes --------------------------------------------------------------------------

    def vadd(self, a: int, b: int, lane: int) -> int:
        # Add below each lane's top bit, then fix the top bits: no carry crosses lanes.
        high = _repeat(1 << (lane - 1), lane)
        return ((a & ~high) + (b & ~high)) ^ ((a ^ b) & high)

    def vsub(self, a: int, b: int, lane: int) -> int:
        high = _repeat(1 << (lane - 1), lane)
        return ((a | high) - (b & ~high)) ^ ((a ^ ~b) & high) & M128

    def vadd_sat(self, a: int, b: int, lane: int, signed: bool) -> int:
        lo, hi = _range(lane, signed)
        conv = (lambda x: _signed(x, lane)) if signed else (lambda x: x)
        return _lanewise(a, b, lane, lambda x, y: _clamp(conv(x) + conv(y), lo, hi))

    def vsub_sat(self, a: int, b: int, lane: int, signed: bool) -> int:
        lo, hi = _range(lane, signed)
        conv = (lambda x: _signed(x, lane)) if signed else (lambda x: x)
        return _lanewise(a, b, lane, lambda x, y: _clamp(conv(x) - conv(y), lo, hi))

    def vmin(self, a: int, b: int, lane: int, signed: bool) -> int:
        if signed:
            return _lanewise(a, b, lane, lambda x, y: min(_signed(x, lane), _signed(y, lane)))
        return _lanewise(a, b, lane, min)

    def vmax(self, a: int, b: int, lane: int, signed: bool) -> int:
        if signed:
            return _lanewise(a, b, lane, lambda x, y: max(_signed(x, lane), _signed(y, lane)))
        return _lanewise(a, b, lane, max)

    def vmul_lo(self, a: int, b: int, lane: int) -> int:
        return _lanewise(a, b, lane, lambda x, y: x * y)

    def vmul_hi(self, a: int, b: int, lane: int, signed: bool) -> int:
        if signed:
            return _lanewise(a, b, lane,
                             lambda x, y: (_signed(x, lane) * _signed(y, lane)) >> lane)
        return _lanewise(a, b, lane, lambda x, y: (x * y) >> lane)

    def vavg(self, a: int, b: int, lane: int) -> int:
        return _lanewise(a, b, lane, lambda x, y: (x + y + 1) >> 1)

    def vcmpeq(self, a: int, b: int, lane: int) -> int:
        ones = _mask(lane)
        return _lanewise(a, b, lane, lambda x, y: ones if x == y else 0)

    def vcmpgt(self, a: int, b: int, lane: int) -> int:
        ones = _mask(lane)
        return _lanewise(a, b, lane,
                         lambda x, y: ones if _signed(x, lane) > _signed(y, lane) else 0)

    def vshl(self, a: int, count: int, lane: int) -> int:
        if count >= lane:
            return 0
        return (a << count) & _repeat(_mask(lane - count) << count, lane)

    def vlshr(self, a: int, count: int, lane: int) -> int:
        if count >= lane:
            return 0
        return (a >> count) & _repeat(_mask(lane - count), lane)

    def vashr(self, a: int, count: int, lane: int) -> int:
        count = min(count, lane - 1)  # sign fill: the same as shifting by lane - 1
        return _join([_signed(x, lane) >> count for x in _split(a, lane)], lane)

    def vshuffle(self, a: int, b: int, lane: int, indices: tuple[int, ...]) -> int:
        both = _split(a, lane) + _split(b, lane)
        return _join([both[i] for i in indices], lane)

    def vextract(self, a: int, lane: int, index: int) -> int:
        return (a >> (lane * index)) & _mask(lane)

    def vinsert(self, a: int, x: int, lane: int, index: int) -> int:
        shift = lane * index
        return (a & ~(_mask(lane) << shift)) | (x << shift)

    def vmovmask(self, a: int, lane: int) -> int:
        out = 0
        for i, x in enumerate(_split(a, lane)):
            out |= (x >> (lane - 1)) << i
        return out

    def vpack_sat(self, a: int, b: int, lane: int, unsigned: bool) -> int:
        half = lane // 2
        lo, hi = _range(half, not unsigned)
        both = _split(a, lane) + _split(b, lane)
        return _join([_clamp(_signed(x, lane), lo, hi) for x in both], half)

    # -- float lanes ----------------------------------------------------------------------------

    def _float_lanes(self, a: int, b: int, fbits: int, bits: int,
                     fn: Callable[[_Format, int, int], int]) -> int:
        fmt = FORMATS[fbits]
        n = bits // fbits
        return _join([fn(fmt, x, y) for x, y in
                      zip(_split(a, fbits, n), _split(b, fbits, n), strict=True)], fbits)

    def fadd(self, a: int, b: int, fbits: int, bits: int) -> int:
        return self._float_lanes(a, b, fbits, bits, lambda f, x, y: _arith("add", f, x, y))

    def fsub(self, a: int, b: int, fbits: int, bits: int) -> int:
        return self._float_lanes(a, b, fbits, bits, lambda f, x, y: _arith("sub", f, x, y))

    def fmul(self, a: int, b: int, fbits: int, bits: int) -> int:
        return self._float_lanes(a, b, fbits, bits, lambda f, x, y: _arith("mul", f, x, y))

    def fdiv(self, a: int, b: int, fbits: int, bits: int) -> int:
        return self._float_lanes(a, b, fbits, bits, lambda f, x, y: _arith("div", f, x, y))

    def fsqrt(self, a: int, fbits: int, bits: int) -> int:
        return self._float_lanes(a, a, fbits, bits, lambda f, x, _: _sqrt(f, x))

    def fmin(self, a: int, b: int, fbits: int, bits: int) -> int:
        return self._float_lanes(a, b, fbits, bits, lambda f, x, y: x if not (
            f.is_nan(x) or f.is_nan(y)) and f.to_float(x) < f.to_float(y) else y)

    def fmax(self, a: int, b: int, fbits: int, bits: int) -> int:
        return self._float_lanes(a, b, fbits, bits, lambda f, x, y: x if not (
            f.is_nan(x) or f.is_nan(y)) and f.to_float(x) > f.to_float(y) else y)

    def fcmp(self, predicate: int, a: int, b: int, fbits: int, bits: int) -> int:
        ones = _mask(fbits)
        return self._float_lanes(a, b, fbits, bits, lambda f, x, y: ones if _compare(
            predicate, f, x, y) else 0)

    def fconvert(self, a: int, fbits: int, to_fbits: int, lanes: int) -> int:
        convert = _widen if to_fbits > fbits else _narrow
        return _join([convert(x) for x in _split(a, fbits, lanes)], to_fbits)

    def int_to_float(self, a: int, ibits: int, fbits: int, lanes: int) -> int:
        fmt = FORMATS[fbits]
        return _join([_int_to_float(fmt, _signed(x, ibits)) for x in _split(a, ibits, lanes)],
                     fbits)

    def float_to_int(self, a: int, fbits: int, ibits: int, lanes: int, truncate: bool) -> int:
        fmt = FORMATS[fbits]
        return _join([_float_to_int(fmt, x, ibits, truncate) for x in _split(a, fbits, lanes)],
                     ibits)

    # -- state ----------------------------------------------------------------------------------

    def get_mxcsr(self) -> int:
        return self.cpu.mxcsr

    def set_mxcsr(self, value: int) -> None:
        self.cpu.mxcsr = value
