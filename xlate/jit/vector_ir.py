"""The JIT's vector (SSE) primitives: see xlate.vector.

Values stay i128 (or i32/i64 for scalars) between primitives, as the builder interface has them;
each primitive bitcasts to the LLVM vector type it works on, which costs nothing. Float results
follow x86's rules because LLVM emits the same SSE instructions on an x86-64 host, and the
arithmetic is LLVM's constrained (unfoldable) form so that constant folding cannot substitute
LLVM's own NaN rules. An aarch64 port must make the rules explicit where marked "x86 host" (which
NaN a result carries, quieting, the negative default NaN), as xlate.vector_interp does; min/max,
compares and the integer indefinite value are already spelled out here.
"""

from __future__ import annotations

from xlate.jit import llir as ir
from xlate.runtime import ffi

I1, I32, I64, I128 = (ir.IntType(n) for n in (1, 32, 64, 128))
MXCSR_OFFSET = ffi.offsetof("xlate_cpu", "mxcsr")

_FLOAT_TYPES = {32: ir.FloatType(), 64: ir.DoubleType()}
# cmpps predicate -> (ordered?, LLVM fcmp operator); see xlate.vector.FCMP_PREDICATES.
_FCMP = (
    (True, "=="), (True, "<"), (True, "<="), (True, "uno"),
    (False, "!="), (False, ">="), (False, ">"), (True, "ord"),
)


def _ivec(lane: int, count: int | None = None) -> ir.Type:
    return ir.VectorType(ir.IntType(lane), count or 128 // lane)


def _ftype(fbits: int, lanes: int) -> ir.Type:
    scalar = _FLOAT_TYPES[fbits]
    return scalar if lanes == 1 else ir.VectorType(scalar, lanes)


def _mangle(ty: ir.Type) -> str:
    """The type suffix of an overloaded intrinsic's name: i8, f64, v16i8, v4f32."""
    if isinstance(ty, ir.VectorType):
        return f"v{ty.count}{_mangle(ty.element)}"
    if isinstance(ty, ir.IntType):
        return f"i{ty.width}"
    return "f32" if isinstance(ty, ir.FloatType) else "f64"


def _splat(ty: ir.Type, value: int | float) -> ir.Constant:
    if isinstance(ty, ir.VectorType):
        return ir.Constant(ty, [value] * ty.count)
    return ir.Constant(ty, value)


class VectorIR:
    """Vector primitives emitted as LLVM IR (mixed into xlate.jit.irbuilder.IRBuilder)."""

    ir: ir.IRBuilder
    module: ir.Module

    # -- plumbing ---------------------------------------------------------------------------

    def _as_ivec(self, a: ir.Value, lane: int) -> ir.Value:
        return self.ir.bitcast(a, _ivec(lane))

    def _as_int(self, v: ir.Value) -> ir.Value:
        """A vector (or float) back to the integer of its width."""
        ty = v.type
        count, element = (ty.count, ty.element) if isinstance(ty, ir.VectorType) else (1, ty)
        width = element.width if isinstance(element, ir.IntType) else (
            32 if isinstance(element, ir.FloatType) else 64)
        return self.ir.bitcast(v, ir.IntType(count * width))

    def _vector_intrinsic(self, name: str, ret: ir.Type, *args: ir.Value) -> ir.Value:
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(ret, [a.type for a in args]), name)
        return self.ir.call(fn, list(args))

    def _lanewise(self, a: ir.Value, b: ir.Value, lane: int, fn) -> ir.Value:
        return self._as_int(fn(self._as_ivec(a, lane), self._as_ivec(b, lane)))

    def _mask_to_lanes(self, cond: ir.Value, ty: ir.Type) -> ir.Value:
        """<n x i1> -> all-ones or zero lanes of the integer vector type ty."""
        return self.ir.sext(cond, ty)

    def _widen_mul(self, x: ir.Value, y: ir.Value, lane: int, signed: bool) -> ir.Value:
        wide = _ivec(2 * lane, 128 // lane)
        ext = self.ir.sext if signed else self.ir.zext
        return self.ir.mul(ext(x, wide), ext(y, wide))

    # -- integer lanes ------------------------------------------------------------------------

    def vadd(self, a, b, lane):
        return self._lanewise(a, b, lane, self.ir.add)

    def vsub(self, a, b, lane):
        return self._lanewise(a, b, lane, self.ir.sub)

    def _saturating(self, op: str, a, b, lane, signed):
        ty = _ivec(lane)
        name = f"llvm.{'s' if signed else 'u'}{op}.sat.{_mangle(ty)}"
        return self._lanewise(a, b, lane, lambda x, y: self._vector_intrinsic(name, ty, x, y))

    def vadd_sat(self, a, b, lane, signed):
        return self._saturating("add", a, b, lane, signed)

    def vsub_sat(self, a, b, lane, signed):
        return self._saturating("sub", a, b, lane, signed)

    def _int_pick(self, a, b, lane, signed, less: bool):
        def pick(x, y):
            cmp = self.ir.icmp_signed if signed else self.ir.icmp_unsigned
            return self.ir.select(cmp("<" if less else ">", x, y), x, y)
        return self._lanewise(a, b, lane, pick)

    def vmin(self, a, b, lane, signed):
        return self._int_pick(a, b, lane, signed, True)

    def vmax(self, a, b, lane, signed):
        return self._int_pick(a, b, lane, signed, False)

    def vmul_lo(self, a, b, lane):
        return self._lanewise(a, b, lane, self.ir.mul)

    def vmul_hi(self, a, b, lane, signed):
        def mulhi(x, y):
            product = self._widen_mul(x, y, lane, signed)
            high = self.ir.lshr(product, _splat(product.type, lane))
            return self.ir.trunc(high, _ivec(lane))
        return self._lanewise(a, b, lane, mulhi)

    def vavg(self, a, b, lane):
        def average(x, y):
            wide = _ivec(2 * lane, 128 // lane)
            total = self.ir.add(self.ir.add(self.ir.zext(x, wide), self.ir.zext(y, wide)),
                                _splat(wide, 1))
            return self.ir.trunc(self.ir.lshr(total, _splat(wide, 1)), _ivec(lane))
        return self._lanewise(a, b, lane, average)

    def vcmpeq(self, a, b, lane):
        return self._lanewise(a, b, lane, lambda x, y: self._mask_to_lanes(
            self.ir.icmp_unsigned("==", x, y), x.type))

    def vcmpgt(self, a, b, lane):
        return self._lanewise(a, b, lane, lambda x, y: self._mask_to_lanes(
            self.ir.icmp_signed(">", x, y), x.type))

    def _vector_shift(self, op, a, count, lane: int, sign_fill: bool):
        ty = _ivec(lane)
        x = self._as_ivec(a, lane)
        if isinstance(count, ir.Constant):  # the immediate forms: decide here
            n = count.constant
            if n >= lane and not sign_fill:
                return ir.Constant(I128, 0)
            return self._as_int(op(x, _splat(ty, min(n, lane - 1))))
        # LLVM shifts by the lane width or more are poison; x86 gives zeros or the sign.
        big = self.ir.icmp_unsigned(">=", count, ir.Constant(I64, lane))
        n = self.ir.select(big, ir.Constant(I64, lane - 1 if sign_fill else 0), count)
        n = self.ir.trunc(n, ir.IntType(lane)) if lane < 64 else n
        splat = self.ir.shuffle_vector(
            self.ir.insert_element(ir.Constant(ty, ir.Undefined), n, ir.Constant(I32, 0)),
            ir.Constant(ty, ir.Undefined), ir.Constant(_ivec(32, ty.count), [0] * ty.count))
        shifted = op(x, splat)
        if not sign_fill:
            shifted = self.ir.select(big, ir.Constant(ty, [0] * ty.count), shifted)
        return self._as_int(shifted)

    def vshl(self, a, count, lane):
        return self._vector_shift(self.ir.shl, a, count, lane, False)

    def vlshr(self, a, count, lane):
        return self._vector_shift(self.ir.lshr, a, count, lane, False)

    def vashr(self, a, count, lane):
        return self._vector_shift(self.ir.ashr, a, count, lane, True)

    def vshuffle(self, a, b, lane, indices):
        mask = ir.Constant(_ivec(32, len(indices)), list(indices))
        x, y = self._as_ivec(a, lane), self._as_ivec(b, lane)
        return self._as_int(self.ir.shuffle_vector(x, y, mask))

    def vextract(self, a, lane, index):
        if lane == 128:
            return a
        return self.ir.extract_element(self._as_ivec(a, lane), ir.Constant(I32, index))

    def vinsert(self, a, x, lane, index):
        if lane == 128:
            return x
        # A float result is put in as a float: LLVM then blends vector registers, where an
        # integer lane would go through a general register and back.
        if isinstance(x, ir.Bitcast) and x.source.type == _FLOAT_TYPES.get(lane):
            x = x.source
            vector = self.ir.bitcast(a, _ftype(lane, 128 // lane))
        else:
            vector = self._as_ivec(a, lane)
        return self._as_int(self.ir.insert_element(vector, x, ir.Constant(I32, index)))

    def vmovmask(self, a, lane):
        x = self._as_ivec(a, lane)
        negative = self.ir.icmp_signed("<", x, ir.Constant(x.type, [0] * x.type.count))
        bits = self.ir.bitcast(negative, ir.IntType(x.type.count))
        return self.ir.zext(bits, I32)

    def vpack_sat(self, a, b, lane, unsigned):
        half = lane // 2
        n = 128 // lane
        both = self.ir.shuffle_vector(self._as_ivec(a, lane), self._as_ivec(b, lane),
                                      ir.Constant(_ivec(32, 2 * n), list(range(2 * n))))
        lo, hi = (0, (1 << half) - 1) if unsigned else (-(1 << (half - 1)), (1 << (half - 1)) - 1)
        low, high = _splat(both.type, lo), _splat(both.type, hi)
        clamped = self.ir.select(self.ir.icmp_signed("<", both, low), low, both)
        clamped = self.ir.select(self.ir.icmp_signed(">", clamped, high), high, clamped)
        return self._as_int(self.ir.trunc(clamped, _ivec(half, 2 * n)))

    # -- float lanes ---------------------------------------------------------------------------

    def _as_float(self, a, fbits: int, bits: int) -> ir.Value:
        return self.ir.bitcast(a, _ftype(fbits, bits // fbits))

    def _strict(self, op: str, *args: ir.Value) -> ir.Value:
        """LLVM's constrained form of a float operation, with exceptions strict: it cannot be
        constant-folded, so the result is the instruction's even when the guest's operands are
        constants in the block (LLVM would fold 0/0 to a positive NaN, x*1.0 to an unquieted
        signalling x)."""
        ty = args[0].type
        metadata = [ir.MetaDataString(self.module, "round.tonearest"),
                    ir.MetaDataString(self.module, "fpexcept.strict")]
        name = f"llvm.experimental.constrained.{op}.{_mangle(ty)}"
        fn = self.module.globals.get(name)
        if fn is None:
            fnty = ir.FunctionType(ty, [a.type for a in args] + [ir.MetaDataType()] * 2)
            fn = ir.Function(self.module, fnty, name)
        return self.ir.call(fn, [*args, *metadata])

    def _farith(self, op: str, a, b, fbits, bits):
        # x86 host: NaN operands, the default NaN and rounding are the SSE instruction's own.
        x, y = self._as_float(a, fbits, bits), self._as_float(b, fbits, bits)
        return self._as_int(self._strict(op, x, y))

    def fadd(self, a, b, fbits, bits): return self._farith("fadd", a, b, fbits, bits)
    def fsub(self, a, b, fbits, bits): return self._farith("fsub", a, b, fbits, bits)
    def fmul(self, a, b, fbits, bits): return self._farith("fmul", a, b, fbits, bits)
    def fdiv(self, a, b, fbits, bits): return self._farith("fdiv", a, b, fbits, bits)

    def fsqrt(self, a, fbits, bits):
        return self._as_int(self._strict("sqrt", self._as_float(a, fbits, bits)))

    def _fpick(self, a, b, fbits, bits, operator: str):
        # Written as x86 defines minps/maxps (the second operand unless a < b / a > b), which
        # is also the pattern LLVM's x86 back end turns into those instructions.
        x, y = self._as_float(a, fbits, bits), self._as_float(b, fbits, bits)
        return self._as_int(self.ir.select(self.ir.fcmp_ordered(operator, x, y), x, y))

    def fmin(self, a, b, fbits, bits): return self._fpick(a, b, fbits, bits, "<")
    def fmax(self, a, b, fbits, bits): return self._fpick(a, b, fbits, bits, ">")

    def fcmp(self, predicate, a, b, fbits, bits):
        ordered, operator = _FCMP[predicate]
        x, y = self._as_float(a, fbits, bits), self._as_float(b, fbits, bits)
        fcmp = self.ir.fcmp_ordered if ordered else self.ir.fcmp_unordered
        holds = fcmp(operator, x, y)
        lanes = bits // fbits
        return self.ir.bitcast(self.ir.sext(holds, _ftype_int(fbits, lanes)), ir.IntType(bits))

    def fconvert(self, a, fbits, to_fbits, lanes):
        # x86 host: cvtss2sd/cvtsd2ss keep and quiet NaN payloads.
        x = self._as_float(a, fbits, fbits * lanes)
        convert = self.ir.fpext if to_fbits > fbits else self.ir.fptrunc
        return self._as_int(convert(x, _ftype(to_fbits, lanes)))

    def int_to_float(self, a, ibits, fbits, lanes):
        x = self.ir.bitcast(a, _ftype_int(ibits, lanes)) if lanes > 1 else a
        return self._as_int(self.ir.sitofp(x, _ftype(fbits, lanes)))

    def float_to_int(self, a, fbits, ibits, lanes, truncate):
        x = self._as_float(a, fbits, fbits * lanes)
        rounding = "trunc" if truncate else "rint"  # rint: MXCSR's mode, nearest by default
        whole = self._vector_intrinsic(f"llvm.{rounding}.{_mangle(x.type)}", x.type, x)
        # fptosi is poison out of range: select x86's indefinite value there (and for NaN,
        # where both ordered compares are false).
        limit = float(1 << (ibits - 1))
        inside = self.ir.and_(self.ir.fcmp_ordered(">=", whole, _splat(x.type, -limit)),
                              self.ir.fcmp_ordered("<", whole, _splat(x.type, limit)))
        ty = _ftype_int(ibits, lanes)
        r = self.ir.select(inside, self.ir.fptosi(whole, ty), _splat(ty, -(1 << (ibits - 1))))
        return self.ir.bitcast(r, ir.IntType(ibits * lanes)) if lanes > 1 else r

    # -- state ---------------------------------------------------------------------------------

    def get_mxcsr(self):
        return self.load_field(MXCSR_OFFSET, I32)

    def set_mxcsr(self, value):
        self.store_field(MXCSR_OFFSET, value)


def _ftype_int(bits: int, lanes: int) -> ir.Type:
    """The integer type with the shape of `lanes` lanes of `bits` (a scalar for one lane)."""
    return ir.IntType(bits) if lanes == 1 else _ivec(bits, lanes)
