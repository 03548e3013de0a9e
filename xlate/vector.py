"""Vector (SSE) primitives of the builder interface; see xlate.builder.

Declared apart from the scalar primitives because they are many and grow with the ISA.

Integer primitives work on 128-bit values split into lanes of `lane` bits (8, 16, 32 or 64),
lane 0 in the low bits. Float primitives work on values of `bits` bits (32 or 64 for a scalar,
128 for a packed register) holding `bits // fbits` IEEE lanes of `fbits` bits. Both engines
must give x86's results, NaN payloads and all (see xlate.vector_interp for the rules spelled
out); 128-bit bitwise logic needs no primitive of its own (and_/or_/xor/not_ at 128 bits)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing's, without importing typing (see xlate.records)
if TYPE_CHECKING:
    from typing import Any as Value
else:  # a name for annotations only
    Value = object
# An int in the interpreter, an LLVM IR value (xlate.jit.llir) in the JIT: anything, to a type
# checker; xlate.builder, which the semantics import it from, has it from here.

# cmpps/cmpss predicate numbers (imm8 bits 2:0), as x86 names them.
FCMP_PREDICATES = ("eq", "lt", "le", "unord", "neq", "nlt", "nle", "ord")


class VectorPrimitives:
    """The SSE primitives each engine implements (interpreter: xlate.vector_interp; JIT:
    xlate.jit.vector_ir)."""

    # -- integer lanes ----------------------------------------------------------------------

    def vadd(self, a: Value, b: Value, lane: int) -> Value:
        """Lane-wise a + b, wrapping."""
        raise NotImplementedError

    def vsub(self, a: Value, b: Value, lane: int) -> Value:
        """Lane-wise a - b, wrapping."""
        raise NotImplementedError

    def vadd_sat(self, a: Value, b: Value, lane: int, signed: bool) -> Value:
        """Lane-wise a + b, saturated to the lane's signed or unsigned range (padds/paddus)."""
        raise NotImplementedError

    def vsub_sat(self, a: Value, b: Value, lane: int, signed: bool) -> Value:
        """Lane-wise a - b, saturated (psubs/psubus)."""
        raise NotImplementedError

    def vmin(self, a: Value, b: Value, lane: int, signed: bool) -> Value:
        raise NotImplementedError

    def vmax(self, a: Value, b: Value, lane: int, signed: bool) -> Value:
        raise NotImplementedError

    def vmul_lo(self, a: Value, b: Value, lane: int) -> Value:
        """Lane-wise low half of the product (pmullw)."""
        raise NotImplementedError

    def vmul_hi(self, a: Value, b: Value, lane: int, signed: bool) -> Value:
        """Lane-wise high half of the double-width product (pmulhw, pmulhuw)."""
        raise NotImplementedError

    def vavg(self, a: Value, b: Value, lane: int) -> Value:
        """Lane-wise unsigned (a + b + 1) >> 1, without overflow (pavgb, pavgw)."""
        raise NotImplementedError

    def vcmpeq(self, a: Value, b: Value, lane: int) -> Value:
        """All-ones lanes where a == b, zero lanes elsewhere."""
        raise NotImplementedError

    def vcmpgt(self, a: Value, b: Value, lane: int) -> Value:
        """All-ones lanes where a > b as signed integers."""
        raise NotImplementedError

    # Shift counts are 64-bit values of any size: a count of `lane` or more gives zero lanes
    # (vshl, vlshr) or sign-filled lanes (vashr), as x86's psll/psrl/psra do.
    def vshl(self, a: Value, count: Value, lane: int) -> Value: raise NotImplementedError
    def vlshr(self, a: Value, count: Value, lane: int) -> Value: raise NotImplementedError
    def vashr(self, a: Value, count: Value, lane: int) -> Value: raise NotImplementedError

    def vshuffle(self, a: Value, b: Value, lane: int, indices: tuple[int, ...]) -> Value:
        """Lane i of the result is lane indices[i] of the concatenation a:b (a's lanes first),
        like LLVM's shufflevector; indices are constants, one per lane of 128 bits."""
        raise NotImplementedError

    def vextract(self, a: Value, lane: int, index: int) -> Value:
        """Lane `index` (a constant) of a, as a lane-bit value."""
        raise NotImplementedError

    def vinsert(self, a: Value, x: Value, lane: int, index: int) -> Value:
        """a with lane `index` (a constant) replaced by the lane-bit value x."""
        raise NotImplementedError

    def vmovmask(self, a: Value, lane: int) -> Value:
        """The sign bit of each lane, lane 0 in bit 0, as a 32-bit value (pmovmskb, movmskps)."""
        raise NotImplementedError

    def vpack_sat(self, a: Value, b: Value, lane: int, unsigned: bool) -> Value:
        """Each signed lane of a, then of b, narrowed to lane/2 bits with signed (packss) or
        unsigned (packus) saturation."""
        raise NotImplementedError

    # -- float lanes -------------------------------------------------------------------------

    # NaN operands give the first operand's NaN if it is one, else the second's, quieted;
    # invalid operations (inf - inf, 0 * inf, 0 / 0, sqrt of a negative) give the negative
    # default NaN. Results are rounded once, to nearest even (MXCSR's default).
    def fadd(self, a: Value, b: Value, fbits: int, bits: int) -> Value: raise NotImplementedError
    def fsub(self, a: Value, b: Value, fbits: int, bits: int) -> Value: raise NotImplementedError
    def fmul(self, a: Value, b: Value, fbits: int, bits: int) -> Value: raise NotImplementedError
    def fdiv(self, a: Value, b: Value, fbits: int, bits: int) -> Value: raise NotImplementedError
    def fsqrt(self, a: Value, fbits: int, bits: int) -> Value: raise NotImplementedError

    # x86's min/max: a < b ? a : b (a > b for max), so b when either is a NaN (even a
    # signalling one, unquieted) and when both are zeros of either sign.
    def fmin(self, a: Value, b: Value, fbits: int, bits: int) -> Value: raise NotImplementedError
    def fmax(self, a: Value, b: Value, fbits: int, bits: int) -> Value: raise NotImplementedError

    def fcmp(self, predicate: int, a: Value, b: Value, fbits: int, bits: int) -> Value:
        """All-ones lanes where `a <predicate> b` holds (FCMP_PREDICATES[predicate]): eq, lt,
        le and ord are false when either is a NaN; unord, neq, nlt and nle are then true."""
        raise NotImplementedError

    def fconvert(self, a: Value, fbits: int, to_fbits: int, lanes: int) -> Value:
        """Float lanes to another float width (a is lanes * fbits wide, the result lanes *
        to_fbits): widening is exact, narrowing rounds; NaNs keep sign and the top of their
        payload, quieted."""
        raise NotImplementedError

    def int_to_float(self, a: Value, ibits: int, fbits: int, lanes: int) -> Value:
        """Signed integer lanes to float lanes, rounded once."""
        raise NotImplementedError

    def float_to_int(self, a: Value, fbits: int, ibits: int, lanes: int,
                     truncate: bool) -> Value:
        """Float lanes to signed integer lanes, truncated or rounded to nearest even; NaNs and
        results out of range give the "integer indefinite" 1 << (ibits - 1)."""
        raise NotImplementedError

    # -- state -------------------------------------------------------------------------------

    def get_mxcsr(self) -> Value:
        """The 32-bit MXCSR."""
        raise NotImplementedError

    def set_mxcsr(self, value: Value) -> None:
        raise NotImplementedError
