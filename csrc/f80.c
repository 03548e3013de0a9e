/* Portable software x87 80-bit extended precision; see f80.h.
 *
 * Finite values are worked on unpacked: a significand with its top bit set
 * and a biased exponent that may fall below 1 (denormals are normalised), so
 * that one rounding routine serves every operation and destination format. */
#include "f80.h"

__extension__ typedef unsigned __int128 u128; /* gcc and clang on 64-bit hosts */

#define BIAS 16383
#define EXP_MAX 0x7FFF
#define INT_BIT ((uint64_t)1 << 63)
#define QUIET_BIT ((uint64_t)1 << 62)
#define TOP128 ((u128)1 << 127)

/* What the x87 sees in an operand. Pseudo-denormals (exponent 0, integer bit
 * set) are DENORMAL; unnormals, pseudo-infinities and pseudo-NaNs (exponent
 * not 0, integer bit clear) are UNSUPPORTED. */
enum kind { ZERO, DENORMAL, NORMAL, INF, QNAN, SNAN, UNSUPPORTED };

static const xlate_f80 default_nan = {0xC000000000000000u, 0xFFFF};

static int sign_of(xlate_f80 a) { return a.sign_exp >> 15; }
static int32_t exp_of(xlate_f80 a) { return a.sign_exp & EXP_MAX; }

static xlate_f80 pack(int sign, int32_t exp, uint64_t mant)
{
    xlate_f80 r;
    r.mant = mant;
    r.sign_exp = (uint16_t)(((unsigned)sign << 15) | (uint32_t)exp);
    return r;
}

static xlate_f80 infinity(int sign) { return pack(sign, EXP_MAX, INT_BIT); }
static xlate_f80 zero(int sign) { return pack(sign, 0, 0); }

static enum kind classify(xlate_f80 a)
{
    int32_t e = exp_of(a);
    if (e == 0)
        return a.mant ? DENORMAL : ZERO;
    if (!(a.mant & INT_BIT))
        return UNSUPPORTED;
    if (e != EXP_MAX)
        return NORMAL;
    if (!(a.mant << 1))
        return INF;
    return (a.mant & QUIET_BIT) ? QNAN : SNAN;
}

static int is_nan(enum kind k) { return k == QNAN || k == SNAN; }

static void raise_flags(xlate_f80_env *env, uint16_t flags) { env->sw |= flags; }

static void set_c1(xlate_f80_env *env, int on)
{
    env->sw = (uint16_t)((env->sw & ~XLATE_F80_C1) | (on ? XLATE_F80_C1 : 0));
}

static int rounding_mode(const xlate_f80_env *env) { return (env->cw >> 10) & 3; }

static int precision_bits(const xlate_f80_env *env)
{
    switch ((env->cw >> 8) & 3) {
    case 0:
        return 24;
    case 2:
        return 53;
    default: /* 3, and the reserved 1, which hardware treats as 64 */
        return 64;
    }
}

static int clz128(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)x);
}

/* Shift right, ORing every bit shifted out into bit 0 so that rounding still
 * sees that the value was inexact. */
static u128 shift_right_jam(u128 x, int32_t n)
{
    if (n <= 0)
        return x;
    if (n >= 128)
        return x != 0;
    return (x >> n) | ((x << (128 - n)) != 0);
}

/* Finite nonzero operand as sig * 2^(exp - BIAS - 63) with bit 63 of sig set. */
static void unpack(xlate_f80 a, int32_t *exp, uint64_t *sig)
{
    int32_t e = exp_of(a);
    uint64_t m = a.mant;
    if (e == 0) {
        /* denormals and pseudo-denormals both scale like exponent 1 */
        int n = __builtin_clzll(m);
        m <<= n;
        e = 1 - n;
    }
    *exp = e;
    *sig = m;
}

/* Whether discarding `rest` (nonzero) rounds the magnitude up. */
static int rounds_up(int rc, int sign, int odd, u128 rest, u128 half)
{
    if (!rest)
        return 0;
    switch (rc) {
    case XLATE_F80_RC_NEAREST:
        return rest > half || (rest == half && odd);
    case XLATE_F80_RC_DOWN:
        return sign;
    case XLATE_F80_RC_UP:
        return !sign;
    default:
        return 0;
    }
}

/* Rounds sign * sig * 2^(exp - bias - 127) (bit 127 of sig set) to `prec`
 * significant bits for a format whose largest normal biased exponent is
 * emax, with the x87's masked overflow and underflow responses. Returns the
 * significand left-aligned in 64 bits (integer bit at 63) and the exponent
 * field in *exp: 0 for denormals and zero, emax + 1 for infinity. Denormals
 * are rounded at the same bit position as normals (so with PC they keep even
 * fewer bits), and tininess is detected after rounding, as on the x87. */
static uint64_t round_sig(xlate_f80_env *env, int sign, int32_t *exp, u128 sig,
                          int prec, int32_t emax)
{
    int rc = rounding_mode(env);
    u128 lsb = (u128)1 << (128 - prec), mask = lsb - 1, half = lsb >> 1;
    int32_t e = *exp;
    int tiny = 0;
    if (e < 1) {
        /* tiny unless rounding with an unbounded exponent reaches 2^emin */
        tiny = e < 0 || (sig | mask) != ~(u128)0 ||
               !rounds_up(rc, sign, 1, sig & mask, half);
        sig = shift_right_jam(sig, 1 - e);
        e = 0;
    }
    u128 rest = sig & mask;
    int up = rounds_up(rc, sign, (sig & lsb) != 0, rest, half);
    sig -= rest;
    if (up) {
        sig += lsb;
        if (sig == 0) { /* 1.11...1 rounded to 10.0 */
            sig = TOP128;
            e++;
        } else if (e == 0 && (sig & TOP128)) { /* a denormal rounded up to the smallest normal */
            e = 1;
        }
    }
    if (e > emax) {
        raise_flags(env, XLATE_F80_OE | XLATE_F80_PE);
        if (rc == XLATE_F80_RC_ZERO || (rc == XLATE_F80_RC_DOWN && !sign) ||
            (rc == XLATE_F80_RC_UP && sign)) {
            set_c1(env, 0);
            *exp = emax;
            return (uint64_t)(~mask >> 64);
        }
        set_c1(env, 1);
        *exp = emax + 1;
        return INT_BIT;
    }
    if (rest) {
        raise_flags(env, XLATE_F80_PE | (tiny ? XLATE_F80_UE : 0));
        set_c1(env, up);
    }
    *exp = e;
    return (uint64_t)(sig >> 64);
}

static xlate_f80 round_pack(xlate_f80_env *env, int sign, int32_t exp, u128 sig, int prec)
{
    uint64_t mant = round_sig(env, sign, &exp, sig, prec, EXP_MAX - 1);
    return pack(sign, exp, mant);
}

/* A finite nonzero operand passed through rounding (PC, pseudo-denormals). */
static xlate_f80 round_operand(xlate_f80_env *env, int sign, xlate_f80 a, int prec)
{
    int32_t e;
    uint64_t m;
    unpack(a, &e, &m);
    return round_pack(env, sign, e, (u128)m << 64, prec);
}

static xlate_f80 quieten(xlate_f80 a) { a.mant |= QUIET_BIT; return a; }

/* Unsupported encodings and NaNs decide the result before anything else:
 * returns 1 with *r set if a or b (b may be absent, kb == ZERO) is one. */
static int nan_operands(xlate_f80 a, enum kind ka, xlate_f80 b, enum kind kb,
                        xlate_f80_env *env, xlate_f80 *r)
{
    if (ka == UNSUPPORTED || kb == UNSUPPORTED) {
        raise_flags(env, XLATE_F80_IE);
        *r = default_nan;
        return 1;
    }
    if (!is_nan(ka) && !is_nan(kb))
        return 0;
    if (ka == SNAN || kb == SNAN)
        raise_flags(env, XLATE_F80_IE);
    if (is_nan(ka) && is_nan(kb)) {
        if (ka != kb) /* a quiet NaN beats a signaling one */
            *r = ka == QNAN ? a : b;
        else if (a.mant != b.mant) /* then the larger significand */
            *r = a.mant > b.mant ? a : b;
        else /* then the positive one */
            *r = a.sign_exp < b.sign_exp ? a : b;
    } else {
        *r = is_nan(ka) ? a : b;
    }
    *r = quieten(*r);
    return 1;
}

static void note_denormals(xlate_f80_env *env, enum kind ka, enum kind kb)
{
    if (ka == DENORMAL || kb == DENORMAL)
        raise_flags(env, XLATE_F80_DE);
}

xlate_f80 xlate_f80_load(const uint8_t bytes[10])
{
    xlate_f80 r;
    r.mant = 0;
    for (int i = 7; i >= 0; i--)
        r.mant = (r.mant << 8) | bytes[i];
    r.sign_exp = (uint16_t)(bytes[8] | (bytes[9] << 8));
    return r;
}

void xlate_f80_store(xlate_f80 value, uint8_t bytes[10])
{
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)(value.mant >> (8 * i));
    bytes[8] = (uint8_t)value.sign_exp;
    bytes[9] = (uint8_t)(value.sign_exp >> 8);
}

static xlate_f80 add_signed(xlate_f80 a, xlate_f80 b, int negate_b, xlate_f80_env *env)
{
    enum kind ka = classify(a), kb = classify(b);
    xlate_f80 r;
    set_c1(env, 0);
    if (nan_operands(a, ka, b, kb, env, &r))
        return r;
    note_denormals(env, ka, kb);
    int sa = sign_of(a), sb = sign_of(b) ^ negate_b;
    int prec = precision_bits(env);
    if (ka == INF) {
        if (kb == INF && sa != sb) {
            raise_flags(env, XLATE_F80_IE);
            return default_nan;
        }
        return infinity(sa);
    }
    if (kb == INF)
        return infinity(sb);
    if (ka == ZERO && kb == ZERO) /* x + -x is +0 except when rounding down */
        return zero(sa == sb ? sa : rounding_mode(env) == XLATE_F80_RC_DOWN);
    if (kb == ZERO)
        return round_operand(env, sa, a, prec);
    if (ka == ZERO)
        return round_operand(env, sb, b, prec);

    int32_t ea, eb;
    uint64_t ma, mb;
    unpack(a, &ea, &ma);
    unpack(b, &eb, &mb);
    if (ea < eb || (ea == eb && ma < mb)) { /* make a the larger magnitude */
        int32_t te = ea; ea = eb; eb = te;
        uint64_t tm = ma; ma = mb; mb = tm;
        int ts = sa; sa = sb; sb = ts;
    }
    /* top bit at 126 leaves room for the carry; far-off bits of b only matter as sticky */
    u128 x = (u128)ma << 63;
    u128 y = shift_right_jam((u128)mb << 63, ea - eb);
    u128 s = sa == sb ? x + y : x - y;
    if (s == 0)
        return zero(rounding_mode(env) == XLATE_F80_RC_DOWN);
    int n = clz128(s);
    return round_pack(env, sa, ea + 1 - n, s << n, prec);
}

xlate_f80 xlate_f80_add(xlate_f80 a, xlate_f80 b, xlate_f80_env *env)
{
    return add_signed(a, b, 0, env);
}

xlate_f80 xlate_f80_sub(xlate_f80 a, xlate_f80 b, xlate_f80_env *env)
{
    return add_signed(a, b, 1, env);
}

xlate_f80 xlate_f80_mul(xlate_f80 a, xlate_f80 b, xlate_f80_env *env)
{
    enum kind ka = classify(a), kb = classify(b);
    xlate_f80 r;
    set_c1(env, 0);
    if (nan_operands(a, ka, b, kb, env, &r))
        return r;
    int sign = sign_of(a) ^ sign_of(b);
    if (ka == INF || kb == INF) {
        if (ka == ZERO || kb == ZERO) {
            raise_flags(env, XLATE_F80_IE);
            return default_nan;
        }
        note_denormals(env, ka, kb);
        return infinity(sign);
    }
    note_denormals(env, ka, kb);
    if (ka == ZERO || kb == ZERO)
        return zero(sign);
    int32_t ea, eb;
    uint64_t ma, mb;
    unpack(a, &ea, &ma);
    unpack(b, &eb, &mb);
    u128 p = (u128)ma * mb;
    int n = clz128(p);
    return round_pack(env, sign, ea + eb - BIAS + 1 - n, p << n, precision_bits(env));
}

xlate_f80 xlate_f80_div(xlate_f80 a, xlate_f80 b, xlate_f80_env *env)
{
    enum kind ka = classify(a), kb = classify(b);
    xlate_f80 r;
    set_c1(env, 0);
    if (nan_operands(a, ka, b, kb, env, &r))
        return r;
    int sign = sign_of(a) ^ sign_of(b);
    if ((ka == INF && kb == INF) || (ka == ZERO && kb == ZERO)) {
        raise_flags(env, XLATE_F80_IE);
        return default_nan;
    }
    if (kb == ZERO && ka != INF) { /* takes precedence over DE */
        raise_flags(env, XLATE_F80_ZE);
        return infinity(sign);
    }
    note_denormals(env, ka, kb);
    if (ka == INF)
        return infinity(sign);
    if (kb == INF)
        return zero(sign);
    if (ka == ZERO)
        return zero(sign);
    int32_t ea, eb;
    uint64_t ma, mb;
    unpack(a, &ea, &ma);
    unpack(b, &eb, &mb);
    /* ma * 2^128 / mb = q1 * 2^64 + q2 + r2 / mb, with q1 < 2^65 */
    u128 num = (u128)ma << 64;
    u128 q1 = num / mb, r1 = num % mb;
    u128 num2 = r1 << 64;
    uint64_t q2 = (uint64_t)(num2 / mb);
    u128 sticky = (num2 % mb) != 0;
    u128 q;
    int32_t e;
    if (q1 >> 64) {
        q = (q1 << 63) | (q2 >> 1) | (q2 & 1) | sticky;
        e = ea - eb + BIAS;
    } else {
        q = (q1 << 64) | q2 | sticky;
        e = ea - eb + BIAS - 1;
    }
    return round_pack(env, sign, e, q, precision_bits(env));
}

/* Integer square root of n: returns floor(sqrt(n)) and sets *rem = n - root^2. */
static uint64_t isqrt128(u128 n, u128 *rem)
{
    u128 r = 0, root = 0;
    for (int i = 0; i < 64; i++) {
        r = (r << 2) | (n >> 126);
        n <<= 2;
        root <<= 1;
        u128 trial = (root << 1) | 1;
        if (r >= trial) {
            r -= trial;
            root |= 1;
        }
    }
    *rem = r;
    return (uint64_t)root;
}

xlate_f80 xlate_f80_sqrt(xlate_f80 a, xlate_f80_env *env)
{
    enum kind ka = classify(a);
    xlate_f80 r;
    set_c1(env, 0);
    if (nan_operands(a, ka, a, ZERO, env, &r))
        return r;
    if (ka == ZERO)
        return a;
    if (sign_of(a)) {
        raise_flags(env, XLATE_F80_IE);
        return default_nan;
    }
    note_denormals(env, ka, ZERO);
    if (ka == INF)
        return a;
    int32_t ea;
    uint64_t ma;
    unpack(a, &ea, &ma);
    /* a = ma * 2^(ea - BIAS - 63); widen ma by 63 or 64 bits so the exponent left is even */
    int32_t e2 = ea - BIAS - 63;
    int k = (e2 & 1) ? 63 : 64;
    u128 rem;
    uint64_t root = isqrt128((u128)ma << k, &rem);
    /* the half bit is set when (root + 1/2)^2 <= n, i.e. rem > root; ties cannot happen */
    u128 s = ((u128)root << 64) | (rem > root ? (u128)1 << 63 : 0) | (rem != 0);
    return round_pack(env, 0, BIAS + 63 + (e2 - k) / 2, s, precision_bits(env));
}

/* Rounds the magnitude sig * 2^-shift (shift >= 1) to an integer with rc;
 * *inexact and *up report what was discarded. */
static uint64_t round_integer(int rc, int sign, uint64_t sig, int32_t shift, int *inexact, int *up)
{
    u128 x = (u128)sig << 64;
    u128 v = shift_right_jam(x, shift);
    u128 rest = v & (((u128)1 << 64) - 1);
    uint64_t whole = (uint64_t)(v >> 64);
    *inexact = rest != 0;
    *up = rounds_up(rc, sign, (int)(whole & 1), rest, (u128)1 << 63);
    return whole + (uint64_t)*up;
}

xlate_f80 xlate_f80_round_to_int(xlate_f80 a, xlate_f80_env *env)
{
    enum kind ka = classify(a);
    xlate_f80 r;
    set_c1(env, 0);
    if (nan_operands(a, ka, a, ZERO, env, &r))
        return r;
    note_denormals(env, ka, ZERO);
    if (ka == ZERO || ka == INF)
        return a;
    int32_t e;
    uint64_t m;
    unpack(a, &e, &m);
    if (e >= BIAS + 63) /* no fraction bits */
        return a;
    int sign = sign_of(a), inexact, up;
    uint64_t whole = round_integer(rounding_mode(env), sign, m, BIAS + 63 - e, &inexact, &up);
    if (inexact) {
        raise_flags(env, XLATE_F80_PE);
        set_c1(env, up);
    }
    if (!whole)
        return zero(sign);
    int n = __builtin_clzll(whole);
    return pack(sign, BIAS + 63 - n, whole << n);
}

/* fist/fisttp into a signed integer of `bits` bits; returns the two's
 * complement value in 64 bits (the indefinite when invalid). */
static int64_t to_int(xlate_f80 a, int bits, int rc, xlate_f80_env *env)
{
    enum kind ka = classify(a);
    uint64_t limit = (uint64_t)1 << (bits - 1); /* magnitude of the minimum */
    int64_t indefinite = -(int64_t)(limit - 1) - 1;
    set_c1(env, 0);
    if (ka == ZERO)
        return 0;
    if (ka != NORMAL && ka != DENORMAL) {
        raise_flags(env, XLATE_F80_IE);
        return indefinite;
    }
    int32_t e;
    uint64_t m;
    unpack(a, &e, &m);
    int sign = sign_of(a), inexact = 0, up = 0;
    uint64_t whole;
    if (e > BIAS + 63) {
        raise_flags(env, XLATE_F80_IE);
        return indefinite;
    }
    if (e == BIAS + 63)
        whole = m;
    else
        whole = round_integer(rc, sign, m, BIAS + 63 - e, &inexact, &up);
    if (whole > limit || (whole == limit && !sign)) {
        raise_flags(env, XLATE_F80_IE);
        return indefinite;
    }
    if (inexact) {
        raise_flags(env, XLATE_F80_PE);
        set_c1(env, up);
    }
    return sign ? (int64_t)(0 - whole) : (int64_t)whole;
}

int16_t xlate_f80_to_int16(xlate_f80 a, xlate_f80_env *env)
{
    return (int16_t)to_int(a, 16, rounding_mode(env), env);
}

int32_t xlate_f80_to_int32(xlate_f80 a, xlate_f80_env *env)
{
    return (int32_t)to_int(a, 32, rounding_mode(env), env);
}

int64_t xlate_f80_to_int64(xlate_f80 a, xlate_f80_env *env)
{
    return to_int(a, 64, rounding_mode(env), env);
}

int16_t xlate_f80_to_int16_trunc(xlate_f80 a, xlate_f80_env *env)
{
    return (int16_t)to_int(a, 16, XLATE_F80_RC_ZERO, env);
}

int32_t xlate_f80_to_int32_trunc(xlate_f80 a, xlate_f80_env *env)
{
    return (int32_t)to_int(a, 32, XLATE_F80_RC_ZERO, env);
}

int64_t xlate_f80_to_int64_trunc(xlate_f80 a, xlate_f80_env *env)
{
    return to_int(a, 64, XLATE_F80_RC_ZERO, env);
}

xlate_f80 xlate_f80_from_int64(int64_t value)
{
    if (!value)
        return zero(0);
    int sign = value < 0;
    uint64_t mag = sign ? 0 - (uint64_t)value : (uint64_t)value;
    int n = __builtin_clzll(mag);
    return pack(sign, BIAS + 63 - n, mag << n);
}

xlate_f80 xlate_f80_from_int32(int32_t value) { return xlate_f80_from_int64(value); }
xlate_f80 xlate_f80_from_int16(int16_t value) { return xlate_f80_from_int64(value); }

/* IEEE binary format: frac_bits stored fraction bits, exp_bits exponent bits. */
struct ieee_format {
    int frac_bits;
    int exp_bits;
};

static const struct ieee_format float32_format = {23, 8};
static const struct ieee_format float64_format = {52, 11};

static xlate_f80 from_ieee(uint64_t bits, struct ieee_format f, xlate_f80_env *env)
{
    int32_t emax = (1 << f.exp_bits) - 1, bias = emax >> 1;
    int sign = (int)(bits >> (f.frac_bits + f.exp_bits)) & 1;
    int32_t e = (int32_t)(bits >> f.frac_bits) & emax;
    uint64_t frac = bits & (((uint64_t)1 << f.frac_bits) - 1);
    uint64_t mant = frac << (63 - f.frac_bits);
    if (e == emax) {
        if (!frac)
            return infinity(sign);
        if (!(mant & QUIET_BIT))
            raise_flags(env, XLATE_F80_IE);
        return pack(sign, EXP_MAX, INT_BIT | QUIET_BIT | mant);
    }
    if (e == 0) {
        if (!frac)
            return zero(sign);
        raise_flags(env, XLATE_F80_DE);
        int n = __builtin_clzll(mant);
        return pack(sign, BIAS - bias + 1 - n, mant << n);
    }
    return pack(sign, e - bias + BIAS, INT_BIT | mant);
}

xlate_f80 xlate_f80_from_float32(uint32_t bits, xlate_f80_env *env)
{
    return from_ieee(bits, float32_format, env);
}

xlate_f80 xlate_f80_from_float64(uint64_t bits, xlate_f80_env *env)
{
    return from_ieee(bits, float64_format, env);
}

static uint64_t to_ieee(xlate_f80 a, struct ieee_format f, xlate_f80_env *env)
{
    int32_t emax = (1 << f.exp_bits) - 1, bias = emax >> 1;
    enum kind ka = classify(a);
    uint64_t sign = (uint64_t)sign_of(a) << (f.frac_bits + f.exp_bits);
    uint64_t exp_inf = (uint64_t)emax << f.frac_bits;
    int drop = 63 - f.frac_bits;
    uint64_t frac_mask = ((uint64_t)1 << f.frac_bits) - 1;
    set_c1(env, 0);
    switch (ka) {
    case ZERO:
        return sign;
    case INF:
        return sign | exp_inf;
    case UNSUPPORTED:
        raise_flags(env, XLATE_F80_IE);
        return ((uint64_t)1 << (f.frac_bits + f.exp_bits)) | exp_inf | ((uint64_t)1 << (f.frac_bits - 1));
    case SNAN:
        raise_flags(env, XLATE_F80_IE);
        /* fall through */
    case QNAN:
        /* the payload keeps its top bits; quietening keeps it a NaN */
        return sign | exp_inf | (((a.mant | QUIET_BIT) >> drop) & frac_mask);
    default:
        break;
    }
    /* no DE here: the x87 only reports denormal operands of arithmetic */
    int32_t e;
    uint64_t m;
    unpack(a, &e, &m);
    e = e - BIAS + bias;
    uint64_t mant = round_sig(env, (int)(sign != 0), &e, (u128)m << 64, f.frac_bits + 1, emax - 1);
    return sign | ((uint64_t)e << f.frac_bits) | ((mant >> drop) & frac_mask);
}

uint32_t xlate_f80_to_float32(xlate_f80 a, xlate_f80_env *env)
{
    return (uint32_t)to_ieee(a, float32_format, env);
}

uint64_t xlate_f80_to_float64(xlate_f80 a, xlate_f80_env *env)
{
    return to_ieee(a, float64_format, env);
}

int xlate_f80_compare(xlate_f80 a, xlate_f80 b, int quiet, xlate_f80_env *env)
{
    enum kind ka = classify(a), kb = classify(b);
    if (ka == UNSUPPORTED || kb == UNSUPPORTED) {
        raise_flags(env, XLATE_F80_IE);
        return XLATE_F80_UNORDERED;
    }
    if (is_nan(ka) || is_nan(kb)) {
        if (ka == SNAN || kb == SNAN || !quiet)
            raise_flags(env, XLATE_F80_IE);
        return XLATE_F80_UNORDERED;
    }
    note_denormals(env, ka, kb);
    if (ka == ZERO && kb == ZERO)
        return XLATE_F80_EQUAL;
    int sa = sign_of(a), sb = sign_of(b);
    if (ka == ZERO || kb == ZERO || sa != sb) /* signs decide; zero counts as neither */
        return (ka == ZERO ? !sb : sa) ? XLATE_F80_LESS : XLATE_F80_GREATER;
    int32_t ea = EXP_MAX + 1, eb = EXP_MAX + 1;
    uint64_t ma = 0, mb = 0;
    if (ka != INF)
        unpack(a, &ea, &ma);
    if (kb != INF)
        unpack(b, &eb, &mb);
    if (ea == eb && ma == mb)
        return XLATE_F80_EQUAL;
    int a_larger = ea > eb || (ea == eb && ma > mb);
    return a_larger != sa ? XLATE_F80_GREATER : XLATE_F80_LESS;
}

uint16_t xlate_f80_examine(xlate_f80 a)
{
    uint16_t c1 = sign_of(a) ? XLATE_F80_C1 : 0;
    switch (classify(a)) {
    case UNSUPPORTED:
        return c1;
    case QNAN:
    case SNAN:
        return c1 | XLATE_F80_C0;
    case NORMAL:
        return c1 | XLATE_F80_C2;
    case INF:
        return c1 | XLATE_F80_C2 | XLATE_F80_C0;
    case ZERO:
        return c1 | XLATE_F80_C3;
    default: /* DENORMAL */
        return c1 | XLATE_F80_C3 | XLATE_F80_C2;
    }
}

xlate_f80 xlate_f80_scale(xlate_f80 a, xlate_f80 b, xlate_f80_env *env)
{
    enum kind ka = classify(a), kb = classify(b);
    xlate_f80 r;
    set_c1(env, 0);
    if (nan_operands(a, ka, b, kb, env, &r))
        return r;
    int sa = sign_of(a), sb = sign_of(b);
    if (kb == INF) {
        /* 0 * 2^inf and inf * 2^-inf have no value */
        if ((ka == ZERO && !sb) || (ka == INF && sb)) {
            raise_flags(env, XLATE_F80_IE);
            return default_nan;
        }
        note_denormals(env, ka, kb);
        if (ka == ZERO || ka == INF)
            return a;
        return sb ? zero(sa) : infinity(sa);
    }
    note_denormals(env, ka, kb);
    if (ka == ZERO || ka == INF)
        return a;
    int32_t scale = 0;
    if (kb != ZERO) {
        int32_t eb;
        uint64_t mb;
        unpack(b, &eb, &mb);
        if (eb >= BIAS + 20) /* beyond any exponent range: the result saturates */
            scale = 1 << 20;
        else if (eb >= BIAS)
            scale = (int32_t)(mb >> (BIAS + 63 - eb));
        if (sb)
            scale = -scale;
    }
    int32_t ea;
    uint64_t ma;
    unpack(a, &ea, &ma);
    return round_pack(env, sa, ea + scale, (u128)ma << 64, 64);
}

xlate_f80 xlate_f80_extract(xlate_f80 a, xlate_f80 *exponent, xlate_f80_env *env)
{
    enum kind ka = classify(a);
    xlate_f80 r;
    if (nan_operands(a, ka, a, ZERO, env, &r)) {
        *exponent = r;
        return r;
    }
    int sign = sign_of(a);
    if (ka == ZERO) { /* log2(0): the exponent is -inf */
        raise_flags(env, XLATE_F80_ZE);
        *exponent = infinity(1);
        return a;
    }
    if (ka == INF) {
        *exponent = infinity(0);
        return a;
    }
    note_denormals(env, ka, ZERO);
    int32_t e;
    uint64_t m;
    unpack(a, &e, &m);
    *exponent = xlate_f80_from_int32(e - BIAS);
    return pack(sign, BIAS, m);
}

/* fprem/fprem1. The exact remainder for exponent differences below 64; above,
 * a partial step that removes between 32 and 63 bits of exponent. */
static xlate_f80 prem(xlate_f80 a, xlate_f80 b, int nearest, xlate_f80_env *env)
{
    enum kind ka = classify(a), kb = classify(b);
    xlate_f80 r;
    env->sw &= (uint16_t)~(XLATE_F80_C0 | XLATE_F80_C1 | XLATE_F80_C2 | XLATE_F80_C3);
    if (nan_operands(a, ka, b, kb, env, &r))
        return r;
    if (ka == INF || kb == ZERO) {
        raise_flags(env, XLATE_F80_IE);
        return default_nan;
    }
    note_denormals(env, ka, kb);
    int sa = sign_of(a);
    if (ka == ZERO)
        return a;
    if (kb == INF) /* a, normalised if it is a pseudo-denormal */
        return round_operand(env, sa, a, 64);
    int32_t ea, eb;
    uint64_t ma, mb;
    unpack(a, &ea, &ma);
    unpack(b, &eb, &mb);
    int32_t d = ea - eb;
    if (d >= 64) {
        int32_t n = 32 + (d & 31);
        /* remainder of a by b * 2^(d - n), truncated quotient */
        u128 rem = ((u128)ma << n) % mb;
        env->sw |= XLATE_F80_C2;
        if (!rem)
            return zero(sa);
        int z = clz128(rem);
        return round_pack(env, sa, ea - n + 64 - z, rem << z, 64);
    }
    if (d < -1 || (d == -1 && !nearest))
        return round_operand(env, sa, a, 64);
    /* a = (ma << d) * 2^(eb - BIAS - 63) when d >= 0; b likewise with mb */
    u128 num = d >= 0 ? (u128)ma << d : (u128)ma;
    u128 den = d >= 0 ? (u128)mb : (u128)mb << 1;
    u128 q = num / den, rem = num % den;
    int32_t e_units = d >= 0 ? eb : eb - 1; /* exponent of the remainder's units */
    int sign = sa;
    if (nearest && (rem << 1 > den || (rem << 1 == den && (q & 1)))) {
        rem = den - rem;
        q++;
        sign = !sign;
    }
    if (q & 4)
        env->sw |= XLATE_F80_C0;
    if (q & 2)
        env->sw |= XLATE_F80_C3;
    if (q & 1)
        env->sw |= XLATE_F80_C1;
    if (!rem)
        return zero(sa);
    int z = clz128(rem);
    return round_pack(env, sign, e_units + 64 - z, rem << z, 64);
}

xlate_f80 xlate_f80_prem(xlate_f80 a, xlate_f80 b, xlate_f80_env *env)
{
    return prem(a, b, 0, env);
}

xlate_f80 xlate_f80_prem1(xlate_f80 a, xlate_f80 b, xlate_f80_env *env)
{
    return prem(a, b, 1, env);
}

/* The constants to 64 bits, truncated, and the next bit; every one but 1 is
 * irrational, so the bits below are never all zero. */
static const struct {
    uint16_t sign_exp;
    uint64_t mant;
    int round_bit;
} constants[] = {
    [XLATE_F80_CONST_ONE] = {0x3FFF, 0x8000000000000000u, 0},
    [XLATE_F80_CONST_ZERO] = {0x0000, 0, 0},
    [XLATE_F80_CONST_PI] = {0x4000, 0xC90FDAA22168C234u, 1},
    [XLATE_F80_CONST_L2E] = {0x3FFF, 0xB8AA3B295C17F0BBu, 1},
    [XLATE_F80_CONST_L2T] = {0x4000, 0xD49A784BCD1B8AFEu, 0},
    [XLATE_F80_CONST_LG2] = {0x3FFD, 0x9A209A84FBCFF798u, 1},
    [XLATE_F80_CONST_LN2] = {0x3FFE, 0xB17217F7D1CF79ABu, 1},
};

xlate_f80 xlate_f80_constant(int which, const xlate_f80_env *env)
{
    if (which < 0 || which > XLATE_F80_CONST_LN2)
        return default_nan;
    xlate_f80 r = pack(0, constants[which].sign_exp, constants[which].mant);
    if (which <= XLATE_F80_CONST_ZERO)
        return r;
    int rc = rounding_mode(env);
    /* all positive: up rounds away, down and zero truncate */
    if (rc == XLATE_F80_RC_UP || (rc == XLATE_F80_RC_NEAREST && constants[which].round_bit))
        r.mant++; /* no carry: none of the mantissas is all ones */
    return r;
}
