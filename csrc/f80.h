/* Portable software x87 80-bit extended precision floating point.
 *
 * Integer arithmetic only (uint64_t and unsigned __int128): no long double,
 * no host FPU state, so the results are the same on any 64-bit host.
 * Every operation behaves as the x87 instruction named next to it with all
 * exceptions masked: it returns the masked default result and records the
 * exception in env->sw.
 */
#ifndef XLATE_F80_H
#define XLATE_F80_H

#include <stdint.h>

/* x87 register layout: explicit integer bit (bit 63) in mant; sign in bit 15
 * and biased exponent (bias 16383) in bits 0-14 of sign_exp. */
typedef struct {
    uint64_t mant;
    uint16_t sign_exp;
} xlate_f80;

/* cw: the x87 control word; only RC (bits 10-11) and PC (bits 8-9) are read.
 * PC 0 = 24-bit, 2 = 53-bit, 3 (and the reserved 1, as hardware does) =
 * 64-bit significand; PC applies to add, sub, mul, div and sqrt only.
 * sw: the x87 status word. Exception bits are ORed in (sticky). The functions
 * that round (add, sub, mul, div, sqrt, round_to_int, scale, to_int*,
 * to_float*) also write C1 as the x87 does: 1 when the result was rounded
 * away from zero, else 0. prem and prem1 write C0-C3. No other bit is
 * touched, so the guest's FSW (TOP included) can live here. */
typedef struct {
    uint16_t cw;
    uint16_t sw;
} xlate_f80_env;

#define XLATE_F80_IE 0x0001 /* invalid operation */
#define XLATE_F80_DE 0x0002 /* denormal operand */
#define XLATE_F80_ZE 0x0004 /* divide by zero */
#define XLATE_F80_OE 0x0008 /* overflow */
#define XLATE_F80_UE 0x0010 /* underflow */
#define XLATE_F80_PE 0x0020 /* precision (inexact) */
#define XLATE_F80_C0 0x0100
#define XLATE_F80_C1 0x0200
#define XLATE_F80_C2 0x0400
#define XLATE_F80_C3 0x4000

#define XLATE_F80_RC_NEAREST 0
#define XLATE_F80_RC_DOWN 1
#define XLATE_F80_RC_UP 2
#define XLATE_F80_RC_ZERO 3

/* xlate_f80_compare results (fcom/fucom: C3,C2,C0 = 001, 100, 000, 111). */
#define XLATE_F80_LESS (-1)
#define XLATE_F80_EQUAL 0
#define XLATE_F80_GREATER 1
#define XLATE_F80_UNORDERED 2

/* xlate_f80_constant selectors (fld1, fldz, fldpi, fldl2e, fldl2t, fldlg2, fldln2). */
enum {
    XLATE_F80_CONST_ONE,
    XLATE_F80_CONST_ZERO,
    XLATE_F80_CONST_PI,
    XLATE_F80_CONST_L2E,
    XLATE_F80_CONST_L2T,
    XLATE_F80_CONST_LG2,
    XLATE_F80_CONST_LN2
};

/* Memory form: 10 bytes, little-endian (fld/fstp m80). */
xlate_f80 xlate_f80_load(const uint8_t bytes[10]);
void xlate_f80_store(xlate_f80 value, uint8_t bytes[10]);

/* fadd, fsub (a - b), fmul, fdiv (a / b), fsqrt. */
xlate_f80 xlate_f80_add(xlate_f80 a, xlate_f80 b, xlate_f80_env *env);
xlate_f80 xlate_f80_sub(xlate_f80 a, xlate_f80 b, xlate_f80_env *env);
xlate_f80 xlate_f80_mul(xlate_f80 a, xlate_f80 b, xlate_f80_env *env);
xlate_f80 xlate_f80_div(xlate_f80 a, xlate_f80 b, xlate_f80_env *env);
xlate_f80 xlate_f80_sqrt(xlate_f80 a, xlate_f80_env *env);

/* frndint: round to an integer with RC. */
xlate_f80 xlate_f80_round_to_int(xlate_f80 a, xlate_f80_env *env);
/* fscale: a * 2^trunc(b) (a = ST0, b = ST1). */
xlate_f80 xlate_f80_scale(xlate_f80 a, xlate_f80 b, xlate_f80_env *env);
/* fxtract: returns the significand (a scaled into [1, 2), sign kept) and
 * stores the unbiased exponent, as a value, in *exponent (-inf and ZE for 0). */
xlate_f80 xlate_f80_extract(xlate_f80 a, xlate_f80 *exponent, xlate_f80_env *env);
/* fprem (truncated quotient) and fprem1 (IEEE remainder) of a by b (a = ST0,
 * b = ST1): the partial remainder; C2 = 1 when the reduction is incomplete,
 * otherwise C0, C3, C1 = quotient bits 2, 1, 0. */
xlate_f80 xlate_f80_prem(xlate_f80 a, xlate_f80 b, xlate_f80_env *env);
xlate_f80 xlate_f80_prem1(xlate_f80 a, xlate_f80 b, xlate_f80_env *env);

/* fucom (quiet != 0: IE only for signaling NaNs) or fcom (IE for any NaN).
 * Returns XLATE_F80_LESS, _EQUAL, _GREATER or _UNORDERED (a compared to b).
 * Sets no condition codes: the caller maps the result to C3,C2,C0 or ZF,PF,CF. */
int xlate_f80_compare(xlate_f80 a, xlate_f80 b, int quiet, xlate_f80_env *env);

/* fxam for a non-empty register: C3, C2, C1 (the sign) and C0 in their status
 * word positions. */
uint16_t xlate_f80_examine(xlate_f80 a);

/* fild (exact, no exceptions). */
xlate_f80 xlate_f80_from_int16(int16_t value);
xlate_f80 xlate_f80_from_int32(int32_t value);
xlate_f80 xlate_f80_from_int64(int64_t value);

/* fist/fistp (rounding with RC). NaN, infinity, unsupported encodings and
 * out-of-range values give the integer indefinite (minimum value) and IE. */
int16_t xlate_f80_to_int16(xlate_f80 a, xlate_f80_env *env);
int32_t xlate_f80_to_int32(xlate_f80 a, xlate_f80_env *env);
int64_t xlate_f80_to_int64(xlate_f80 a, xlate_f80_env *env);
/* fisttp (truncation whatever RC says). */
int16_t xlate_f80_to_int16_trunc(xlate_f80 a, xlate_f80_env *env);
int32_t xlate_f80_to_int32_trunc(xlate_f80 a, xlate_f80_env *env);
int64_t xlate_f80_to_int64_trunc(xlate_f80 a, xlate_f80_env *env);

/* fld m32/m64 from IEEE bit patterns (exact; DE for denormals, IE and a quiet
 * NaN for signaling NaNs). */
xlate_f80 xlate_f80_from_float32(uint32_t bits, xlate_f80_env *env);
xlate_f80 xlate_f80_from_float64(uint64_t bits, xlate_f80_env *env);
/* fst m32/m64: rounding with RC (PC is ignored, as the x87 does). */
uint32_t xlate_f80_to_float32(xlate_f80 a, xlate_f80_env *env);
uint64_t xlate_f80_to_float64(xlate_f80 a, xlate_f80_env *env);

/* fld1 ... fldln2, rounded with RC as the x87 does; raise no exceptions. */
xlate_f80 xlate_f80_constant(int which, const xlate_f80_env *env);

#endif
