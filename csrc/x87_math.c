/* The x87's transcendental instructions in software; see x87_math.h.
 *
 * Finite values are computed as "wide" numbers: a sign, an exponent and a 128-bit significand,
 * with truncating arithmetic (about 2^-126 relative error an operation) that jams what it drops
 * into the last bit, so that exact results stay exact and inexact ones stay inexact on the right
 * side of every 64-bit rounding boundary; series are evaluated by
 * Horner's rule after argument reduction, and one final rounding done by f80.c's addition of
 * the top and bottom 64 bits, so that RC, PE, C1 and overflow are exactly f80's. */
#include "x87_math.h"

__extension__ typedef unsigned __int128 u128;

#define U128(hi, lo) (((u128)(hi) << 64) | (lo))
#define BIAS 16383
#define EXP_MAX 0x7FFF
#define INT_BIT ((uint64_t)1 << 63)
#define TOP128 ((u128)1 << 127)

/* sign * sig * 2^(exp - 127), sig with bit 127 set; sig == 0 for zero.  inexact: some bits
 * were lost on the way (the jammed last bit alone may not tell: errors can cancel). */
typedef struct {
    int sign;
    int32_t exp;
    u128 sig;
    int inexact;
} wide;

static const wide wide_ln2 = {0, -1, U128(0xB17217F7D1CF79ABu, 0xC9E3B39803F2F6AFu), 1};
static const wide wide_log2e = {0, 0, U128(0xB8AA3B295C17F0BBu, 0xBE87FED0691D3E89u), 1};
static const wide wide_pi = {0, 1, U128(0xC90FDAA22168C234u, 0xC4C6628B80DC1CD1u), 1};
static const u128 sqrt2_sig = U128(0xB504F333F9DE6484u, 0x597D89B3754ABE9Fu);
/* atan(k / 8) for k = 1..8 */
static const wide wide_atan_eighths[9] = {
    {0, 0, 0, 0},
    {0, -4, U128(0xFEADD4D5617B6E32u, 0xC897989F3E888EF8u), 1},
    {0, -3, U128(0xFADBAFC96406EB15u, 0x6DC79EF5F7A217E6u), 1},
    {0, -2, U128(0xB7B0CA0F26F78473u, 0x8AA32122DCFE4483u), 1},
    {0, -2, U128(0xED63382B0DDA7B45u, 0x6FE445ECBC3A8D03u), 1},
    {0, -1, U128(0x8F005D5EF7F59F9Bu, 0x5C835E1665C43748u), 1},
    {0, -1, U128(0xA4BC7D1934F70924u, 0x19A87F2A457DAC9Fu), 1},
    {0, -1, U128(0xB8053E2BC2319E73u, 0xCB2DA55210A4443Du), 1},
    {0, -1, U128(0xC90FDAA22168C234u, 0xC4C6628B80DC1CD1u), 1},
};
/* pi / 2 to the 66 bits the hardware reduces with, in units of 2^-65 */
static const u128 half_pi66 = U128(0x3u, 0x243F6A8885A308D3u);

static const xlate_f80 default_nan = {0xC000000000000000u, 0xFFFF};

/* ---- classification --------------------------------------------------------------------- */

enum kind { ZERO, FINITE, INF, NAN_OR_UNSUPPORTED };

static enum kind kind_of(xlate_f80 a)
{
    unsigned e = a.sign_exp & EXP_MAX;
    if (e == 0)
        return a.mant ? FINITE : ZERO;
    if (!(a.mant & INT_BIT))
        return NAN_OR_UNSUPPORTED;
    if (e == EXP_MAX)
        return (a.mant << 1) ? NAN_OR_UNSUPPORTED : INF;
    return FINITE;
}

static int sign_of(xlate_f80 a) { return a.sign_exp >> 15; }
static int is_denormal(xlate_f80 a) { return (a.sign_exp & EXP_MAX) == 0 && a.mant; }

static xlate_f80 make(int sign, unsigned exp, uint64_t mant)
{
    xlate_f80 r = {mant, (uint16_t)((unsigned)sign << 15 | exp)};
    return r;
}

static xlate_f80 zero_of(int sign) { return make(sign, 0, 0); }
static xlate_f80 infinity_of(int sign) { return make(sign, EXP_MAX, INT_BIT); }

/* NaN operands (and unsupported encodings) decide the result as for any arithmetic. */
static xlate_f80 nan_result(xlate_f80 a, xlate_f80 b, xlate_f80_env *env)
{
    return xlate_f80_add(a, b, env);
}

static xlate_f80 invalid(xlate_f80_env *env)
{
    env->sw |= XLATE_F80_IE;
    return default_nan;
}

static void note_denormal(xlate_f80_env *env, xlate_f80 a, xlate_f80 b)
{
    if (is_denormal(a) || is_denormal(b))
        env->sw |= XLATE_F80_DE;
}

/* ---- wide arithmetic -------------------------------------------------------------------- */

static int clz128(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)x);
}

static wide normalized(int sign, int32_t exp, u128 sig)
{
    wide w = {sign, exp, sig, 0};
    if (sig) {
        int n = clz128(sig);
        w.sig = sig << n;
        w.exp = exp - n;
    }
    return w;
}

static wide from_f80(xlate_f80 a) /* finite */
{
    int32_t e = a.sign_exp & EXP_MAX;
    if (e == 0)
        e = 1;
    return normalized(sign_of(a), e - BIAS, (u128)a.mant << 64); /* mant * 2^(e - BIAS - 63) */
}

static wide from_int(int64_t n)
{
    uint64_t magnitude = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
    return normalized(n < 0, 127, magnitude);
}

static wide negated(wide a)
{
    a.sign = !a.sign;
    return a;
}

static wide mul(wide a, wide b)
{
    wide r = {a.sign ^ b.sign, 0, 0, 0};
    if (!a.sig || !b.sig)
        return r;
    uint64_t a1 = (uint64_t)(a.sig >> 64), a0 = (uint64_t)a.sig;
    uint64_t b1 = (uint64_t)(b.sig >> 64), b0 = (uint64_t)b.sig;
    u128 p00 = (u128)a0 * b0, p01 = (u128)a0 * b1, p10 = (u128)a1 * b0, p11 = (u128)a1 * b1;
    u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
    u128 hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    uint64_t lo_top = (uint64_t)mid; /* bits 64-127 of the product */
    int dropped = lo_top != 0 || (uint64_t)p00 != 0;
    if (hi & TOP128) {
        r.sig = hi;
        r.exp = a.exp + b.exp + 1;
    } else {
        r.sig = hi << 1 | lo_top >> 63;
        r.exp = a.exp + b.exp;
        dropped = (lo_top << 1) != 0 || (uint64_t)p00 != 0;
    }
    r.sig |= (u128)dropped;
    r.inexact = a.inexact | b.inexact | dropped;
    return r;
}

static int magnitude_below(wide a, wide b)
{
    if (!a.sig || !b.sig)
        return !a.sig && b.sig;
    return a.exp < b.exp || (a.exp == b.exp && a.sig < b.sig);
}

static wide add(wide a, wide b)
{
    if (!a.sig)
        return b;
    if (!b.sig)
        return a;
    if (magnitude_below(a, b)) {
        wide t = a;
        a = b;
        b = t;
    }
    int32_t shift = a.exp - b.exp + 1; /* both shifted right once, for the carry */
    u128 x = a.sig >> 1 | (a.sig & 1), y = shift >= 128 ? 0 : b.sig >> shift;
    int dropped = (a.sig & 1) || shift >= 128 || (b.sig << (128 - shift)) != 0;
    y |= (u128)dropped; /* what was shifted out */
    wide r = normalized(a.sign, a.exp + 1, a.sign == b.sign ? x + y : x - y);
    r.inexact = a.inexact | b.inexact | dropped;
    return r;
}

static wide sub(wide a, wide b) { return add(a, negated(b)); }

static wide divide(wide a, wide b) /* b nonzero */
{
    wide q = {a.sign ^ b.sign, a.exp - b.exp, 0, a.inexact | b.inexact};
    if (!a.sig)
        return q;
    u128 r = a.sig, d = b.sig;
    int carry = 0;
    if (r < d) {
        q.exp--;
        carry = 1;
        r <<= 1; /* r had its top bit set: the shifted-out bit is the carry */
    }
    for (int i = 0; i < 128; i++) {
        int bit = carry || r >= d;
        if (bit)
            r -= d;
        q.sig = q.sig << 1 | (u128)bit;
        carry = (int)(r >> 127);
        r <<= 1;
    }
    q.sig |= (u128)(carry || r != 0);
    q.inexact |= carry || r != 0;
    return q;
}

static wide reciprocal_of(int64_t n) { return divide(from_int(1), from_int(n)); }

/* Rounded once to 64 bits with RC, as f80.c would round an exact result (twice when denormal:
 * in range, then by fscale). */
static xlate_f80 rounded(wide w, xlate_f80_env *env)
{
    if (!w.sig)
        return zero_of(w.sign);
    xlate_f80_env env64 = {(uint16_t)(env->cw | 0x0300), 0}; /* PC does not apply */
    int32_t exp = w.exp + BIAS;
    int32_t scale = 0;
    if (exp < 129 || exp > EXP_MAX - 1) { /* rounded in range (the low half too), then scaled */
        scale = exp - BIAS;
        exp = BIAS;
    }
    xlate_f80 hi = make(w.sign, (unsigned)exp, (uint64_t)(w.sig >> 64));
    uint64_t low = (uint64_t)w.sig;
    xlate_f80 r = hi;
    if (low) {
        int n = __builtin_clzll(low);
        r = xlate_f80_add(hi, make(w.sign, (unsigned)(exp - 64 - n), low << n), &env64);
    } else if (w.inexact) { /* errors cancelled: hi is within an ulp, but not exact */
        env64.sw |= XLATE_F80_PE;
    }
    if (scale) {
        r = xlate_f80_scale(r, xlate_f80_from_int32(scale), &env64);
        if ((r.sign_exp & EXP_MAX) == 0 && (env64.sw & XLATE_F80_PE)) /* tiny and inexact */
            env64.sw |= XLATE_F80_UE;
    }
    env->sw = (uint16_t)((env->sw & ~XLATE_F80_C1) | env64.sw);
    return r;
}

/* ---- series ----------------------------------------------------------------------------- */

/* 2^x - 1 = expm1(x ln 2), by Taylor series: |x ln 2| < 0.7 needs some 40 terms. */
static wide exp2m1(wide x)
{
    wide y = mul(x, wide_ln2), one = from_int(1), t = one;
    for (int n = 44; n >= 2; n--)
        t = add(one, divide(mul(t, y), from_int(n)));
    return mul(y, t);
}

/* 2 atanh(t) = ln((1 + t) / (1 - t)) for |t| <= 0.172. */
static wide two_atanh(wide t)
{
    wide t2 = mul(t, t), u = reciprocal_of(61);
    for (int n = 29; n >= 0; n--)
        u = add(reciprocal_of(2 * n + 1), mul(t2, u));
    wide r = mul(t, u);
    r.exp++;
    return r;
}

/* log2 of a finite positive x. */
static wide log2_of(xlate_f80 x)
{
    wide m = from_f80(x);
    int32_t e = m.exp;
    m.exp = 0; /* m in [1, 2), then [sqrt(2) / 2, sqrt(2)) */
    if (m.sig > sqrt2_sig) {
        m.exp = -1;
        e++;
    }
    wide one = from_int(1);
    wide ln_m = two_atanh(divide(sub(m, one), add(m, one)));
    return add(from_int(e), mul(ln_m, wide_log2e));
}

/* atan(z) for |z| <= 1/16: z (1 - z^2/3 + z^4/5 - ...). */
static wide atan_small(wide z)
{
    wide z2 = mul(z, z), t = reciprocal_of(41);
    for (int n = 19; n >= 0; n--)
        t = sub(reciprocal_of(2 * n + 1), mul(z2, t));
    return mul(z, t);
}

/* atan(q) for 0 <= q <= 1: atan(k/8) + atan((q - k/8) / (1 + q k/8)), k the nearest eighth. */
static wide atan_unit(wide q)
{
    wide eighths = mul(q, from_int(8));
    int k = 0;
    if (eighths.sig && eighths.exp >= -1) /* q >= 1/16 */
        k = (int)((eighths.sig >> (126 - eighths.exp)) + 1) >> 1; /* round(8q) */
    if (k == 0)
        return atan_small(q);
    wide c = divide(from_int(k), from_int(8));
    wide z = divide(sub(q, c), add(from_int(1), mul(q, c)));
    return add(wide_atan_eighths[k], atan_small(z));
}

/* sin(r) and cos(r) for |r| <= pi/4 by Taylor series. */
static wide sin_small(wide r)
{
    wide r2 = mul(r, r), one = from_int(1), t = one;
    for (int n = 22; n >= 1; n--)
        t = sub(one, divide(mul(t, r2), from_int((2 * n) * (2 * n + 1))));
    return mul(r, t);
}

static wide cos_small(wide r)
{
    wide r2 = mul(r, r), one = from_int(1), t = one;
    for (int n = 22; n >= 1; n--)
        t = sub(one, divide(mul(t, r2), from_int((2 * n - 1) * (2 * n))));
    return t;
}

/* ---- the instructions ------------------------------------------------------------------- */

xlate_f80 xlate_x87_f2xm1(xlate_f80 x, xlate_f80_env *env)
{
    env->sw &= (uint16_t)~XLATE_F80_C1;
    switch (kind_of(x)) {
    case NAN_OR_UNSUPPORTED:
        return nan_result(x, x, env);
    case ZERO:
        return x;
    case INF: /* 2^-inf - 1 = -1 */
        return sign_of(x) ? make(1, BIAS, INT_BIT) : x;
    default:
        break;
    }
    note_denormal(env, x, x);
    if ((x.sign_exp & EXP_MAX) > BIAS + 6) /* far outside the defined range: saturate */
        return sign_of(x) ? make(1, BIAS, INT_BIT) : infinity_of(0);
    return rounded(exp2m1(from_f80(x)), env);
}

xlate_f80 xlate_x87_fyl2x(xlate_f80 x, xlate_f80 y, xlate_f80_env *env)
{
    enum kind kx = kind_of(x), ky = kind_of(y);
    env->sw &= (uint16_t)~XLATE_F80_C1;
    if (kx == NAN_OR_UNSUPPORTED || ky == NAN_OR_UNSUPPORTED)
        return nan_result(x, y, env);
    if (sign_of(x) && kx != ZERO)
        return invalid(env);
    if (kx == ZERO) { /* log2(0) = -inf */
        if (ky == ZERO)
            return invalid(env);
        if (ky == FINITE) /* (not DE as well for a denormal y: #Z takes precedence over #D) */
            env->sw |= XLATE_F80_ZE;
        return infinity_of(!sign_of(y));
    }
    if (kx == INF) {
        if (ky == ZERO)
            return invalid(env);
        note_denormal(env, y, y);
        return infinity_of(sign_of(y));
    }
    note_denormal(env, x, y);
    int x_is_one = x.mant == INT_BIT && (x.sign_exp & EXP_MAX) == BIAS;
    int log_negative = (x.sign_exp & EXP_MAX) < BIAS;
    if (ky == INF) {
        if (x_is_one)
            return invalid(env);
        return infinity_of(sign_of(y) ^ log_negative);
    }
    if (ky == ZERO || x_is_one)
        return zero_of(sign_of(y) ^ log_negative);
    /* The hardware's answer is inexact, exact or not: PE, and UE where it is tiny. */
    env->sw |= XLATE_F80_PE;
    wide w = mul(from_f80(y), log2_of(x));
    w.inexact = 1;
    return rounded(w, env);
}

xlate_f80 xlate_x87_fyl2xp1(xlate_f80 x, xlate_f80 y, xlate_f80_env *env)
{
    enum kind kx = kind_of(x), ky = kind_of(y);
    env->sw &= (uint16_t)~XLATE_F80_C1;
    if (kx == NAN_OR_UNSUPPORTED || ky == NAN_OR_UNSUPPORTED)
        return nan_result(x, y, env);
    if (kx == INF) /* far outside the defined range */
        return invalid(env);
    int log_negative = sign_of(x);
    if (kx == ZERO) {
        if (ky == INF)
            return invalid(env);
        note_denormal(env, y, y);
        return zero_of(sign_of(y) ^ log_negative);
    }
    wide wx = from_f80(x), one = from_int(1);
    if (log_negative && !magnitude_below(wx, one)) /* x <= -1: no logarithm */
        return invalid(env);
    note_denormal(env, x, y);
    if (ky == INF)
        return infinity_of(sign_of(y) ^ log_negative);
    if (ky == ZERO)
        return zero_of(sign_of(y) ^ log_negative);
    wide t = divide(wx, add(from_int(2), wx)); /* 1 + x = (1 + t) / (1 - t) */
    return rounded(mul(from_f80(y), mul(two_atanh(t), wide_log2e)), env);
}

xlate_f80 xlate_x87_fpatan(xlate_f80 x, xlate_f80 y, xlate_f80_env *env)
{
    enum kind kx = kind_of(x), ky = kind_of(y);
    env->sw &= (uint16_t)~XLATE_F80_C1;
    if (kx == NAN_OR_UNSUPPORTED || ky == NAN_OR_UNSUPPORTED)
        return nan_result(x, y, env);
    note_denormal(env, x, y);
    int sy = sign_of(y), sx = sign_of(x);
    wide angle;
    if (ky == ZERO) { /* 0 or pi */
        if (!sx)
            return y;
        angle = wide_pi;
    } else if (kx == ZERO || (ky == INF && kx != INF)) { /* pi/2 */
        angle = wide_pi;
        angle.exp--;
    } else if (kx == INF && ky == INF) { /* pi/4 or 3pi/4 */
        angle = wide_pi;
        angle.exp -= 2;
        if (sx)
            angle = mul(angle, from_int(3));
    } else if (kx == INF) { /* 0 or pi */
        if (!sx)
            return zero_of(sy);
        angle = wide_pi;
    } else {
        wide a = from_f80(y), b = from_f80(x);
        a.sign = b.sign = 0;
        int steep = magnitude_below(b, a);
        angle = steep ? atan_unit(divide(b, a)) : atan_unit(divide(a, b));
        if (steep) {
            wide half_pi = wide_pi;
            half_pi.exp--;
            angle = sub(half_pi, angle);
        }
        if (sx)
            angle = sub(wide_pi, angle);
    }
    angle.sign = sy;
    return rounded(angle, env);
}

int xlate_x87_trig(xlate_f80 x, xlate_f80 *sin, xlate_f80 *cos, xlate_f80 *tan,
                   xlate_f80_env *env)
{
    enum kind kx = kind_of(x);
    xlate_f80 r = x;
    env->sw &= (uint16_t)~XLATE_F80_C1;
    if (kx == FINITE && (x.sign_exp & EXP_MAX) >= BIAS + 63)
        return 1;
    if (kx != FINITE) {
        if (kx == NAN_OR_UNSUPPORTED)
            r = nan_result(x, x, env);
        else if (kx == INF)
            r = invalid(env);
        if (sin)
            *sin = r;
        if (tan)
            *tan = r;
        if (cos)
            *cos = kx == ZERO ? make(0, BIAS, INT_BIT) : r;
        return 0;
    }
    note_denormal(env, x, x);
    /* x = k (pi66 / 2) + reduced, with k the nearest integer and the remainder exact */
    wide reduced = from_f80(x);
    unsigned quadrant = 0;
    if ((x.sign_exp & EXP_MAX) >= BIAS - 1) { /* |x| >= 1/2: x * 2^65 is an integer < 2^128 */
        int32_t e = (x.sign_exp & EXP_MAX) - BIAS;
        u128 scaled = (u128)x.mant << (e + 2); /* x * 2^65 = mant * 2^(e - 63 + 65) */
        u128 k = scaled / half_pi66, rest = scaled % half_pi66;
        int negative = 0;
        if (rest > half_pi66 / 2) {
            k++;
            rest = half_pi66 - rest;
            negative = 1;
        }
        quadrant = (unsigned)(k & 3);
        if (sign_of(x))
            quadrant = (4 - quadrant) & 3;
        reduced = normalized(sign_of(x) ^ negative, 127 - 65, rest);
    }
    wide s = sin_small(reduced), c = cos_small(reduced);
    wide sin_x = quadrant & 1 ? c : s, cos_x = quadrant & 1 ? negated(s) : c;
    if (quadrant & 2) {
        sin_x = negated(sin_x);
        cos_x = negated(cos_x);
    }
    if (tan)
        *tan = rounded(divide(sin_x, cos_x), env);
    if (cos)
        *cos = rounded(cos_x, env);
    if (sin)
        *sin = rounded(sin_x, env);
    return 0;
}
