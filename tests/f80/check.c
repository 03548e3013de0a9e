/* Differential test of csrc/f80.c against the host's x87 FPU.
 *
 * Every operation runs twice, on the host x87 (inline asm, the control word
 * loaded with fldcw, the status word read with fnstsw) and in software, and
 * the two must agree bit for bit: the full 80-bit result (NaN payloads too)
 * or the integer/float bits, the exception flags, C1 and the condition codes
 * the instruction defines. Operands come from a table of special values (all
 * pairs, every rounding mode and precision control value) and from a seeded
 * random generator. Only this driver may use the host FPU; f80.c never does.
 *
 * usage: check [random-count-per-op [seed]]; exits 1 on any mismatch.
 * Built as a shared library, f80_check_one() checks a single case (the
 * hypothesis test in tests/test_f80.py drives it).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "f80.h"

#if !defined(__x86_64__) && !defined(__i386__)
#error "the oracle is the host x87: build this driver on x86"
#endif

#define BIAS 16383
#define INT_BIT ((uint64_t)1 << 63)
#define MAX_REPORTED 12

enum op {
    OP_ADD, OP_SUB, OP_SUBR, OP_MUL, OP_DIV, OP_DIVR, OP_SCALE, OP_PREM, OP_PREM1,
    OP_COM, OP_UCOM, OP_COMI, OP_UCOMI,
    OP_SQRT, OP_RNDINT, OP_XAM, OP_XTRACT,
    OP_FIST16, OP_FIST32, OP_FIST64, OP_FISTT16, OP_FISTT32, OP_FISTT64,
    OP_FST32, OP_FST64,
    OP_FLD32, OP_FLD64, OP_FILD16, OP_FILD32, OP_FILD64,
    OP_CONST,
    N_OPS
};

static const char *const op_names[N_OPS] = {
    "fadd", "fsub", "fsubr", "fmul", "fdiv", "fdivr", "fscale", "fprem", "fprem1",
    "fcom", "fucom", "fcomi", "fucomi",
    "fsqrt", "frndint", "fxam", "fxtract",
    "fist16", "fist32", "fist64", "fisttp16", "fisttp32", "fisttp64",
    "fst32", "fst64",
    "fld32", "fld64", "fild16", "fild32", "fild64",
    "fldconst",
};

/* Status word bits each instruction defines: exceptions (and SF, which must
 * stay clear) plus C1, or all of C0-C3 for fprem and fxam. */
#define SW_ARITH 0x027F
#define SW_ALL_CC 0x477F

/* Everything an operation produces: lo/hi hold the 80-bit result or the
 * integer/float bits (lo2/hi2 a second result); sw the defined status bits. */
struct result {
    uint64_t lo;
    uint16_t hi;
    uint64_t lo2;
    uint16_t hi2;
    uint16_t sw;
};

typedef struct {
    unsigned char b[10];
} m80;

static m80 to_m80(xlate_f80 v)
{
    m80 m;
    xlate_f80_store(v, m.b);
    return m;
}

static struct result from_m80(m80 m, uint16_t sw)
{
    xlate_f80 v = xlate_f80_load(m.b);
    struct result r = {v.mant, v.sign_exp, 0, 0, sw};
    return r;
}

/* fxtract's two results: the significand, then the exponent in lo2/hi2. */
static struct result xtract_result(xlate_f80 significand, xlate_f80 exponent, uint16_t sw)
{
    struct result r = {significand.mant, significand.sign_exp, exponent.mant, exponent.sign_exp, sw};
    return r;
}

#define X87_CLOBBERS "memory", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)"

/* ST0 = a, ST1 = b, INSN, then the status word and ST0. */
#define HOST_BINARY(INSN)                                                                   \
    __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldt %[b]\n\tfldt %[a]\n\t" INSN "\n\t"     \
                     "fnstsw %[sw]\n\tfstpt %[out]\n\tfninit"                              \
                     : [out] "=m"(out), [sw] "=m"(sw)                                      \
                     : [a] "m"(ma), [b] "m"(mb), [cw] "m"(cw)                              \
                     : X87_CLOBBERS)

#define HOST_UNARY(INSN)                                                                    \
    __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldt %[a]\n\t" INSN "\n\t"                  \
                     "fnstsw %[sw]\n\tfstpt %[out]\n\tfninit"                              \
                     : [out] "=m"(out), [sw] "=m"(sw)                                      \
                     : [a] "m"(ma), [cw] "m"(cw)                                           \
                     : X87_CLOBBERS)

/* ST0 = a stored to an integer or float: the store's status word. */
#define HOST_STORE(INSN, DEST)                                                              \
    __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldt %[a]\n\t" INSN " %[dest]\n\t"          \
                     "fnstsw %[sw]\n\tfninit"                                              \
                     : [dest] "=m"(DEST), [sw] "=m"(sw)                                    \
                     : [a] "m"(ma), [cw] "m"(cw)                                           \
                     : X87_CLOBBERS)

/* A load from memory (or of a constant, SRC unused): its status word and ST0. */
#define HOST_LOAD(INSN, SRC)                                                                \
    __asm__ volatile("fninit\n\tfldcw %[cw]\n\t" INSN "\n\t"                               \
                     "fnstsw %[sw]\n\tfstpt %[out]\n\tfninit"                              \
                     : [out] "=m"(out), [sw] "=m"(sw)                                      \
                     : [src] "m"(SRC), [cw] "m"(cw)                                        \
                     : X87_CLOBBERS)

static int compare_code(uint16_t sw)
{
    switch (sw & (XLATE_F80_C3 | XLATE_F80_C2 | XLATE_F80_C0)) {
    case 0:
        return XLATE_F80_GREATER;
    case XLATE_F80_C0:
        return XLATE_F80_LESS;
    case XLATE_F80_C3:
        return XLATE_F80_EQUAL;
    default:
        return XLATE_F80_UNORDERED;
    }
}

static struct result host_run(enum op op, xlate_f80 a, xlate_f80 b, uint16_t cw)
{
    m80 ma = to_m80(a), mb = to_m80(b), out;
    uint16_t sw = 0;
    struct result r = {0, 0, 0, 0, 0};
    int16_t i16 = 0;
    int32_t i32 = 0;
    int64_t i64 = 0;
    uint32_t f32 = (uint32_t)a.mant;
    uint64_t f64 = a.mant;
    unsigned char op_is_ucomi = op == OP_UCOMI;
    switch (op) {
    case OP_ADD: HOST_BINARY("fadd %%st(1), %%st"); return from_m80(out, sw & SW_ARITH);
    case OP_SUB: HOST_BINARY("fsub %%st(1), %%st"); return from_m80(out, sw & SW_ARITH);
    case OP_SUBR: HOST_BINARY("fsubr %%st(1), %%st"); return from_m80(out, sw & SW_ARITH);
    case OP_MUL: HOST_BINARY("fmul %%st(1), %%st"); return from_m80(out, sw & SW_ARITH);
    case OP_DIV: HOST_BINARY("fdiv %%st(1), %%st"); return from_m80(out, sw & SW_ARITH);
    case OP_DIVR: HOST_BINARY("fdivr %%st(1), %%st"); return from_m80(out, sw & SW_ARITH);
    case OP_SCALE: HOST_BINARY("fscale"); return from_m80(out, sw & SW_ARITH);
    case OP_PREM: HOST_BINARY("fprem"); return from_m80(out, sw & SW_ALL_CC);
    case OP_PREM1: HOST_BINARY("fprem1"); return from_m80(out, sw & SW_ALL_CC);
    case OP_COM:
    case OP_UCOM:
        if (op == OP_COM)
            HOST_BINARY("fcom %%st(1)");
        else
            HOST_BINARY("fucom %%st(1)");
        r.lo = (uint64_t)(int64_t)compare_code(sw);
        r.sw = sw & SW_ARITH;
        return r;
    case OP_COMI:
    case OP_UCOMI: {
        /* fcomi/fucomi report in ZF, PF, CF: 000 greater, 001 less, 100 equal, 111 unordered */
        unsigned char zf, pf, cf;
        __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldt %[b]\n\tfldt %[a]\n\t"
                         "cmpb $0, %[quiet]\n\tjne 1f\n\t"
                         "fcomi %%st(1), %%st\n\tjmp 2f\n"
                         "1:\tfucomi %%st(1), %%st\n"
                         "2:\tsetz %[zf]\n\tsetp %[pf]\n\tsetc %[cf]\n\tfnstsw %[sw]\n\tfninit"
                         : [zf] "=m"(zf), [pf] "=m"(pf), [cf] "=m"(cf), [sw] "=m"(sw)
                         : [a] "m"(ma), [b] "m"(mb), [cw] "m"(cw), [quiet] "m"(op_is_ucomi)
                         : X87_CLOBBERS, "cc");
        r.lo = (uint64_t)(int64_t)(pf ? XLATE_F80_UNORDERED : zf ? XLATE_F80_EQUAL
                                   : cf ? XLATE_F80_LESS : XLATE_F80_GREATER);
        r.sw = sw & SW_ARITH;
        return r;
    }
    case OP_SQRT: HOST_UNARY("fsqrt"); return from_m80(out, sw & SW_ARITH);
    case OP_RNDINT: HOST_UNARY("frndint"); return from_m80(out, sw & SW_ARITH);
    case OP_XAM:
        HOST_UNARY("fxam");
        r.lo = sw & (XLATE_F80_C0 | XLATE_F80_C1 | XLATE_F80_C2 | XLATE_F80_C3);
        r.sw = sw & 0x7F;
        return r;
    case OP_XTRACT: {
        /* both halves must match: the exponent's bits go in lo, the significand's in hi */
        m80 exponent;
        __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldt %[a]\n\tfxtract\n\t"
                         "fnstsw %[sw]\n\tfstpt %[out]\n\tfstpt %[exponent]\n\tfninit"
                         : [out] "=m"(out), [exponent] "=m"(exponent), [sw] "=m"(sw)
                         : [a] "m"(ma), [cw] "m"(cw)
                         : X87_CLOBBERS);
        return xtract_result(xlate_f80_load(out.b), xlate_f80_load(exponent.b), sw & SW_ARITH);
    }
    case OP_FIST16: HOST_STORE("fistps", i16); r.lo = (uint64_t)(int64_t)i16; break;
    case OP_FIST32: HOST_STORE("fistpl", i32); r.lo = (uint64_t)(int64_t)i32; break;
    case OP_FIST64: HOST_STORE("fistpll", i64); r.lo = (uint64_t)i64; break;
    case OP_FISTT16: HOST_STORE("fisttps", i16); r.lo = (uint64_t)(int64_t)i16; break;
    case OP_FISTT32: HOST_STORE("fisttpl", i32); r.lo = (uint64_t)(int64_t)i32; break;
    case OP_FISTT64: HOST_STORE("fisttpll", i64); r.lo = (uint64_t)i64; break;
    case OP_FST32: HOST_STORE("fstps", f32); r.lo = f32; break;
    case OP_FST64: HOST_STORE("fstpl", f64); r.lo = f64; break;
    case OP_FLD32: HOST_LOAD("flds %[src]", f32); return from_m80(out, sw & SW_ARITH);
    case OP_FLD64: HOST_LOAD("fldl %[src]", f64); return from_m80(out, sw & SW_ARITH);
    case OP_FILD16:
        i16 = (int16_t)a.mant;
        HOST_LOAD("filds %[src]", i16);
        return from_m80(out, sw & SW_ARITH);
    case OP_FILD32:
        i32 = (int32_t)a.mant;
        HOST_LOAD("fildl %[src]", i32);
        return from_m80(out, sw & SW_ARITH);
    case OP_FILD64:
        i64 = (int64_t)a.mant;
        HOST_LOAD("fildll %[src]", i64);
        return from_m80(out, sw & SW_ARITH);
    case OP_CONST:
        switch (a.mant) {
        case XLATE_F80_CONST_ONE: HOST_LOAD("fld1", cw); break;
        case XLATE_F80_CONST_ZERO: HOST_LOAD("fldz", cw); break;
        case XLATE_F80_CONST_PI: HOST_LOAD("fldpi", cw); break;
        case XLATE_F80_CONST_L2E: HOST_LOAD("fldl2e", cw); break;
        case XLATE_F80_CONST_L2T: HOST_LOAD("fldl2t", cw); break;
        case XLATE_F80_CONST_LG2: HOST_LOAD("fldlg2", cw); break;
        default: HOST_LOAD("fldln2", cw); break;
        }
        return from_m80(out, sw & SW_ARITH);
    default:
        abort();
    }
    r.sw = sw & SW_ARITH;
    return r;
}

static struct result soft_run(enum op op, xlate_f80 a, xlate_f80 b, uint16_t cw)
{
    xlate_f80_env env = {cw, 0};
    xlate_f80 v;
    struct result r = {0, 0, 0, 0, 0};
    switch (op) {
    case OP_ADD: v = xlate_f80_add(a, b, &env); break;
    case OP_SUB: v = xlate_f80_sub(a, b, &env); break;
    case OP_SUBR: v = xlate_f80_sub(b, a, &env); break;
    case OP_MUL: v = xlate_f80_mul(a, b, &env); break;
    case OP_DIV: v = xlate_f80_div(a, b, &env); break;
    case OP_DIVR: v = xlate_f80_div(b, a, &env); break;
    case OP_SCALE: v = xlate_f80_scale(a, b, &env); break;
    case OP_PREM: v = xlate_f80_prem(a, b, &env); break;
    case OP_PREM1: v = xlate_f80_prem1(a, b, &env); break;
    case OP_COM:
    case OP_UCOM:
    case OP_COMI:
    case OP_UCOMI:
        r.lo = (uint64_t)(int64_t)xlate_f80_compare(a, b, op == OP_UCOM || op == OP_UCOMI, &env);
        r.sw = env.sw;
        return r;
    case OP_SQRT: v = xlate_f80_sqrt(a, &env); break;
    case OP_RNDINT: v = xlate_f80_round_to_int(a, &env); break;
    case OP_XAM:
        r.lo = xlate_f80_examine(a);
        return r;
    case OP_XTRACT: {
        xlate_f80 exponent;
        v = xlate_f80_extract(a, &exponent, &env);
        return xtract_result(v, exponent, env.sw);
    }
    case OP_FIST16: r.lo = (uint64_t)(int64_t)xlate_f80_to_int16(a, &env); break;
    case OP_FIST32: r.lo = (uint64_t)(int64_t)xlate_f80_to_int32(a, &env); break;
    case OP_FIST64: r.lo = (uint64_t)xlate_f80_to_int64(a, &env); break;
    case OP_FISTT16: r.lo = (uint64_t)(int64_t)xlate_f80_to_int16_trunc(a, &env); break;
    case OP_FISTT32: r.lo = (uint64_t)(int64_t)xlate_f80_to_int32_trunc(a, &env); break;
    case OP_FISTT64: r.lo = (uint64_t)xlate_f80_to_int64_trunc(a, &env); break;
    case OP_FST32: r.lo = xlate_f80_to_float32(a, &env); break;
    case OP_FST64: r.lo = xlate_f80_to_float64(a, &env); break;
    case OP_FLD32: v = xlate_f80_from_float32((uint32_t)a.mant, &env); goto value;
    case OP_FLD64: v = xlate_f80_from_float64(a.mant, &env); goto value;
    case OP_FILD16: v = xlate_f80_from_int16((int16_t)a.mant); goto value;
    case OP_FILD32: v = xlate_f80_from_int32((int32_t)a.mant); goto value;
    case OP_FILD64: v = xlate_f80_from_int64((int64_t)a.mant); goto value;
    case OP_CONST: v = xlate_f80_constant((int)a.mant, &env); goto value;
    default:
        abort();
    }
    if (op >= OP_FIST16) { /* integer or float result */
        r.sw = env.sw;
        return r;
    }
value:
    r.lo = v.mant;
    r.hi = v.sign_exp;
    r.sw = env.sw;
    return r;
}

/* How often the host raised each status bit, so that a run shows which
 * corners it reached: IE DE ZE OE UE PE C1 C2. */
static const uint16_t seen_bits[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x200, 0x400};
#define N_SEEN (sizeof seen_bits / sizeof seen_bits[0])
static long counts[N_OPS], mismatches[N_OPS], seen[N_OPS][N_SEEN];

/* Returns 1 (and reports the first few) when the two disagree. */
int f80_check_one(int op_number, unsigned cw, unsigned a_sign_exp, uint64_t a_mant,
                  unsigned b_sign_exp, uint64_t b_mant);

static int check(enum op op, xlate_f80 a, xlate_f80 b, uint16_t cw)
{
    struct result want = host_run(op, a, b, cw);
    struct result got = soft_run(op, a, b, cw);
    counts[op]++;
    for (size_t i = 0; i < N_SEEN; i++)
        seen[op][i] += (want.sw & seen_bits[i]) != 0;
    if (want.lo == got.lo && want.hi == got.hi && want.lo2 == got.lo2 && want.hi2 == got.hi2 &&
        want.sw == got.sw)
        return 0;
    if (mismatches[op]++ < MAX_REPORTED) {
        printf("MISMATCH %-8s cw=%04x a=%04x:%016" PRIx64 " b=%04x:%016" PRIx64
               " host=%04x:%016" PRIx64 " sw=%04x soft=%04x:%016" PRIx64 " sw=%04x",
               op_names[op], cw, a.sign_exp, a.mant, b.sign_exp, b.mant, want.hi, want.lo,
               want.sw, got.hi, got.lo, got.sw);
        if (op == OP_XTRACT)
            printf(" exponent host=%04x:%016" PRIx64 " soft=%04x:%016" PRIx64, want.hi2,
                   want.lo2, got.hi2, got.lo2);
        printf("\n");
    }
    return 1;
}

/* Entry points for tests/test_f80.py, which loads this file as a library. */
int f80_check_one(int op_number, unsigned cw, unsigned a_sign_exp, uint64_t a_mant,
                  unsigned b_sign_exp, uint64_t b_mant)
{
    xlate_f80 a = {a_mant, (uint16_t)a_sign_exp}, b = {b_mant, (uint16_t)b_sign_exp};
    if (op_number < 0 || op_number >= N_OPS)
        abort();
    return check((enum op)op_number, a, b, (uint16_t)cw);
}

const char *f80_op_name(int op_number)
{
    return op_number >= 0 && op_number < N_OPS ? op_names[op_number] : NULL;
}

static xlate_f80 f80(uint16_t sign_exp, uint64_t mant)
{
    xlate_f80 v = {mant, sign_exp};
    return v;
}

/* ---- operands ---------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t next(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n) { return next() % n; }

/* Positive magnitudes worth testing exactly; each is also tried negated. */
static const struct { uint16_t e; uint64_t m; } special_table[] = {
    {0x0000, 0}, /* zero */
    {0x0000, 1}, {0x0000, 0x7FFFFFFFFFFFFFFFu}, {0x0000, 0x4000000000000000u},
    {0x0000, 0x0000000000000400u}, {0x0000, 0x0000010000000000u}, /* denormals */
    {0x0000, 0x8000000000000000u}, {0x0000, 0xC000000000000001u}, /* pseudo-denormals */
    {0x0001, 0x8000000000000000u}, {0x0001, 0xFFFFFFFFFFFFFFFFu}, /* smallest normals */
    {0x7FFE, 0xFFFFFFFFFFFFFFFFu}, {0x7FFE, 0x8000000000000000u}, /* largest */
    {0x7FFF, 0x8000000000000000u}, /* infinity */
    {0x7FFF, 0xC000000000000000u}, {0x7FFF, 0xC000000000000001u}, {0x7FFF, 0xFFFFFFFFFFFFFFFFu},
    {0x7FFF, 0x8000000000000001u}, {0x7FFF, 0xBFFFFFFFFFFFFFFFu}, /* signaling NaNs */
    {0x7FFF, 0x4000000000000000u}, {0x7FFF, 0x0000000000000001u}, {0x7FFF, 0}, /* pseudo-NaN/inf */
    {0x3FFF, 0x4000000000000000u}, {0x0001, 0x0000000000000001u}, /* unnormals */
    {0x3FFF, 0x8000000000000000u}, {0x3FFE, 0x8000000000000000u}, {0x3FFF, 0xC000000000000000u},
    {0x4000, 0xA000000000000000u}, {0x4000, 0xC000000000000000u}, {0x4000, 0x8000000000000000u},
    {0x3FFB, 0xCCCCCCCCCCCCCCCDu}, /* 0.1 */
    {0x3FFF, 0x8000000000000001u}, {0x3FFF, 0xFFFFFFFFFFFFFFFFu}, {0x3FFE, 0xFFFFFFFFFFFFFFFFu},
    {0x3FFF, 0x8000008000000000u}, {0x3FFF, 0x8000000000000400u}, /* PC half-ulp ties */
    {0x3FFF, 0x8000018000000000u}, {0x3FFF, 0x8000000000000C00u},
    {0x3FFF, 0xFFFFFF8000000000u}, {0x3FFF, 0xFFFFFFFFFFFFFC00u},
    {0x400D, 0xFFFE000000000000u}, {0x400D, 0xFFFF000000000000u}, {0x400E, 0x8000000000000000u},
    {0x400E, 0x8001000000000000u}, {0x400D, 0xFFFF800000000000u}, /* 32767, 32767.5, 32768.5 */
    {0x401D, 0xFFFFFFFF00000000u}, {0x401D, 0xFFFFFFFF80000000u}, {0x401E, 0x8000000000000000u},
    {0x401E, 0x8000000080000000u}, {0x401D, 0xFFFFFFFFC0000000u},
    {0x403D, 0xFFFFFFFFFFFFFFFFu}, {0x403E, 0x8000000000000000u}, {0x403E, 0xFFFFFFFFFFFFFFFFu},
    {0x403F, 0x8000000000000000u}, {0x403C, 0xFFFFFFFFFFFFFFFFu}, /* around 2^63 and 2^64 */
    {0x407E, 0xFFFFFF0000000000u}, {0x407E, 0xFFFFFF8000000000u}, {0x407F, 0x8000000000000000u},
    {0x43FE, 0xFFFFFFFFFFFFF800u}, {0x43FE, 0xFFFFFFFFFFFFFC00u}, {0x43FF, 0x8000000000000000u},
    {0x3F81, 0x8000000000000000u}, {0x3F80, 0xFFFFFF0000000000u}, {0x3F6A, 0x8000000000000000u},
    {0x3F69, 0x8000000000000000u}, {0x3F69, 0x8000000000000001u}, /* float32 smallest */
    {0x3C01, 0x8000000000000000u}, {0x3C00, 0xFFFFFFFFFFFFF800u}, {0x3BCD, 0x8000000000000000u},
    {0x3BCC, 0x8000000000000000u}, {0x3BCC, 0x8000000000000001u}, /* float64 smallest */
    {0x4000, 0xC90FDAA22168C235u}, {0x3FFF, 0xB8AA3B295C17F0BCu}, {0x400F, 0x8000000000000000u},
    {0x400F, 0x8880000000000000u}, {0x4040, 0x8000000000000000u}, {0x4020, 0xABCDEF0123456789u},
};

#define N_SPECIAL (2 * (int)(sizeof special_table / sizeof special_table[0]))

static xlate_f80 special(int i)
{
    return f80((uint16_t)(special_table[i / 2].e | (i & 1) << 15), special_table[i / 2].m);
}

static uint64_t rand_mant(void)
{
    switch (below(8)) {
    case 0: { /* a run of ones */
        int start = (int)below(64), len = 1 + (int)below(64);
        uint64_t run = len >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << len) - 1);
        return run << start;
    }
    case 1: /* just past a power of two */
        return INT_BIT | below(1024);
    case 2: /* just below the next one */
        return ~below(1024);
    case 3: /* sparse */
        return ((uint64_t)1 << below(64)) | ((uint64_t)1 << below(64)) | ((uint64_t)1 << below(64));
    case 4: /* float64-like and float32-like */
        return next() & (below(2) ? ~(uint64_t)0x7FF : ~(((uint64_t)1 << 40) - 1));
    case 5: /* a tie at some bit: ...x1000... */
        return (next() & ~(((uint64_t)2 << below(63)) - 1)) | ((uint64_t)1 << below(63));
    default:
        return next();
    }
}

static const int32_t boundary_exponents[] = {
    0, 14, 15, 16, 30, 31, 32, 62, 63, 64, -1, -2, 126, 127, 128, -125, -126, -127, -149,
    -150, -151, 1022, 1023, 1024, -1021, -1022, -1023, -1074, -1075, -1076, -16382, -16383,
    16383,
};

static xlate_f80 rand_value(void)
{
    uint16_t sign = (uint16_t)(below(2) << 15);
    uint64_t m = rand_mant();
    int32_t e;
    switch (below(20)) {
    case 0: case 1: case 2: case 3: case 4: case 5: /* near 1 */
        e = BIAS - 70 + (int32_t)below(141);
        m |= INT_BIT;
        break;
    case 6: /* any bits at all */
        return f80((uint16_t)next(), next());
    case 7: case 8: /* bottom of the range, denormals and pseudo-denormals */
        e = (int32_t)below(70) - (int32_t)below(2) * 40;
        if (e < 0)
            e = 0;
        if (e || below(2))
            m |= INT_BIT;
        else
            m &= ~INT_BIT;
        break;
    case 9: /* top of the range */
        e = 0x7FFE - (int32_t)below(70);
        m |= INT_BIT;
        break;
    case 10: case 11:
        return special((int)below(N_SPECIAL));
    case 12: { /* quarters of small integers */
        int64_t k = (int64_t)below((uint64_t)1 << 22) - ((int64_t)1 << 21);
        xlate_f80 v = xlate_f80_from_int64(k);
        if (k)
            v.sign_exp -= 2;
        return v;
    }
    case 13: case 14: case 15: /* integer and float format boundaries */
        e = BIAS + boundary_exponents[below(sizeof boundary_exponents / sizeof boundary_exponents[0])] +
            (int32_t)below(5) - 2;
        if (e < 0 || e > 0x7FFE)
            e = BIAS;
        m |= INT_BIT;
        if (e == 0)
            m &= ~INT_BIT;
        break;
    case 16: /* NaNs with any payload */
        e = 0x7FFF;
        m |= INT_BIT;
        if (!(m << 1))
            m |= 1;
        break;
    case 17: /* unsupported encodings */
        e = (int32_t)below(0x8000);
        if (!e)
            e = 1;
        m &= ~INT_BIT;
        break;
    default: /* anywhere */
        e = 1 + (int32_t)below(0x7FFE);
        m |= INT_BIT;
        break;
    }
    return f80((uint16_t)(sign | e), m);
}

/* A second operand: often close to the first so that sums cancel, quotients
 * land near 1 and remainders need many steps. */
static xlate_f80 rand_partner(xlate_f80 a)
{
    xlate_f80 b;
    switch (below(6)) {
    case 0: case 1:
        b = a;
        b.sign_exp = (uint16_t)((a.sign_exp & 0x8000) ^ (below(2) << 15));
        {
            int32_t e = (a.sign_exp & 0x7FFF) + (int32_t)below(9) - 4;
            if (e < 0)
                e = 0;
            if (e > 0x7FFF)
                e = 0x7FFF;
            b.sign_exp |= (uint16_t)e;
        }
        if (below(2))
            b.mant += below(2048) - 1024;
        else
            b.mant = (a.mant & INT_BIT) | (rand_mant() & ~INT_BIT);
        return b;
    case 2: { /* 64-bit exponent distance, either way */
        int32_t e = (a.sign_exp & 0x7FFF) + (int32_t)below(141) - 70;
        b = rand_value();
        if (e > 0 && e < 0x7FFF)
            b.sign_exp = (uint16_t)((b.sign_exp & 0x8000) | e);
        b.mant |= INT_BIT;
        return b;
    }
    default:
        return rand_value();
    }
}

static xlate_f80 rand_scale_factor(void)
{
    switch (below(4)) {
    case 0:
        return xlate_f80_from_int64((int64_t)below(140000) - 70000);
    case 1:
        return xlate_f80_from_int64((int64_t)below(260) - 130);
    default:
        return rand_value();
    }
}

static xlate_f80 rand_prem_pair(xlate_f80 *b)
{
    xlate_f80 a = rand_value();
    *b = rand_value();
    if (below(4)) { /* finite normals whose exponents differ by up to a few hundred */
        int32_t ea = 1 + (int32_t)below(0x7FFE), eb = ea - (int32_t)below(300) + 10;
        if (eb < 1)
            eb = 1;
        if (eb > 0x7FFE)
            eb = 0x7FFE;
        a = f80((uint16_t)((a.sign_exp & 0x8000) | ea), a.mant | INT_BIT);
        *b = f80((uint16_t)((b->sign_exp & 0x8000) | eb), b->mant | INT_BIT);
        if (below(8) == 0) /* a denormal divisor: the distance counts from its true exponent */
            *b = f80((uint16_t)(b->sign_exp & 0x8000), b->mant >> below(64));
        if (below(8) == 0 && ea > 300)
            a.sign_exp = (uint16_t)(a.sign_exp - 300);
    }
    return a;
}

static uint16_t rand_cw(void)
{
    return (uint16_t)(0x007F | below(4) << 10 | below(4) << 8);
}

static uint64_t rand_float_bits(int bits)
{
    int exp_bits = bits == 32 ? 8 : 11, frac_bits = bits - 1 - exp_bits;
    uint64_t e = next() & ((1u << exp_bits) - 1);
    switch (below(4)) {
    case 0: e = 0; break;
    case 1: e = (1u << exp_bits) - 1; break;
    default: break;
    }
    uint64_t frac = rand_mant() & (((uint64_t)1 << frac_bits) - 1);
    if (below(8) == 0)
        frac = 0;
    return (below(2) << (bits - 1)) | e << frac_bits | frac;
}

static int64_t rand_int(void)
{
    int64_t v = (int64_t)(next() >> below(64));
    return below(2) ? -v : v;
}

/* ---- drivers ----------------------------------------------------------- */

static const enum op binary_ops[] = {OP_ADD, OP_SUB, OP_SUBR, OP_MUL, OP_DIV, OP_DIVR,
                                     OP_SCALE, OP_PREM, OP_PREM1, OP_COM, OP_UCOM,
                                     OP_COMI, OP_UCOMI};
static const enum op unary_ops[] = {OP_SQRT, OP_RNDINT, OP_XAM, OP_XTRACT, OP_FIST16, OP_FIST32,
                                    OP_FIST64, OP_FISTT16, OP_FISTT32, OP_FISTT64,
                                    OP_FST32, OP_FST64};
#define COUNT(x) (sizeof(x) / sizeof((x)[0]))

static void run_special(void)
{
    static const uint32_t f32_table[] = {
        0, 1, 0x007FFFFF, 0x00400000, 0x00800000, 0x3F800000, 0x7F7FFFFF, 0x7F800000,
        0x7FC00000, 0x7FC00001, 0x7FFFFFFF, 0x7F800001, 0x7FBFFFFF, 0x3DCCCCCD,
    };
    static const uint64_t f64_table[] = {
        0, 1, 0x000FFFFFFFFFFFFFu, 0x0008000000000000u, 0x0010000000000000u,
        0x3FF0000000000000u, 0x7FEFFFFFFFFFFFFFu, 0x7FF0000000000000u, 0x7FF8000000000000u,
        0x7FF8000000000001u, 0x7FFFFFFFFFFFFFFFu, 0x7FF0000000000001u, 0x7FF7FFFFFFFFFFFFu,
        0x3FB999999999999Au,
    };
    static const int64_t int_table[] = {
        0, 1, -1, 32767, -32768, 2147483647, -2147483647 - 1, INT64_MAX, INT64_MIN, 12345,
    };
    xlate_f80 none = f80(0, 0);
    for (int rc = 0; rc < 4; rc++) {
        for (int pc = 0; pc < 4; pc++) {
            uint16_t cw = (uint16_t)(0x007F | rc << 10 | pc << 8);
            for (int i = 0; i < N_SPECIAL; i++) {
                for (size_t k = 0; k < COUNT(unary_ops); k++)
                    check(unary_ops[k], special(i), none, cw);
                for (int j = 0; j < N_SPECIAL; j++)
                    for (size_t k = 0; k < COUNT(binary_ops); k++)
                        check(binary_ops[k], special(i), special(j), cw);
            }
            for (size_t i = 0; i < COUNT(f32_table); i++)
                for (uint64_t s = 0; s < 2; s++)
                    check(OP_FLD32, f80(0, f32_table[i] | s << 31), none, cw);
            for (size_t i = 0; i < COUNT(f64_table); i++)
                for (uint64_t s = 0; s < 2; s++)
                    check(OP_FLD64, f80(0, f64_table[i] | s << 63), none, cw);
            for (size_t i = 0; i < COUNT(int_table); i++) {
                check(OP_FILD16, f80(0, (uint64_t)int_table[i]), none, cw);
                check(OP_FILD32, f80(0, (uint64_t)int_table[i]), none, cw);
                check(OP_FILD64, f80(0, (uint64_t)int_table[i]), none, cw);
            }
            for (uint64_t c = XLATE_F80_CONST_ONE; c <= XLATE_F80_CONST_LN2; c++)
                check(OP_CONST, f80(0, c), none, cw);
        }
    }
}

static void run_random(long n)
{
    xlate_f80 none = f80(0, 0);
    for (long i = 0; i < n; i++) {
        xlate_f80 a = rand_value(), b = rand_partner(a);
        check(OP_ADD, a, b, rand_cw());
        check(OP_SUB, a, b, rand_cw());
        check(OP_SUBR, a, b, rand_cw());
        check(OP_MUL, a, b, rand_cw());
        check(OP_DIV, a, b, rand_cw());
        check(OP_DIVR, a, b, rand_cw());
        check(OP_COM, a, b, rand_cw());
        check(OP_UCOM, a, b, rand_cw());
        check(OP_COMI, a, b, rand_cw());
        check(OP_UCOMI, a, b, rand_cw());
        check(OP_SCALE, a, rand_scale_factor(), rand_cw());
        a = rand_prem_pair(&b);
        check(OP_PREM, a, b, rand_cw());
        check(OP_PREM1, a, b, rand_cw());
        for (size_t k = 0; k < COUNT(unary_ops); k++) {
            a = rand_value();
            if (unary_ops[k] == OP_SQRT && below(4)) /* mostly operands with a root */
                a.sign_exp &= 0x7FFF;
            check(unary_ops[k], a, none, rand_cw());
        }
        check(OP_FLD32, f80(0, rand_float_bits(32)), none, rand_cw());
        check(OP_FLD64, f80(0, rand_float_bits(64)), none, rand_cw());
        check(OP_FILD16, f80(0, (uint64_t)rand_int()), none, rand_cw());
        check(OP_FILD32, f80(0, (uint64_t)rand_int()), none, rand_cw());
        check(OP_FILD64, f80(0, (uint64_t)rand_int()), none, rand_cw());
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    run_special();
    run_random(n);
    static const char *const seen_names[N_SEEN] = {"IE", "DE", "ZE", "OE", "UE", "PE", "C1", "C2"};
    long total_bad = 0;
    for (int op = 0; op < N_OPS; op++) {
        printf("%-8s %9ld checked %6ld mismatched; host raised", op_names[op], counts[op],
               mismatches[op]);
        for (size_t i = 0; i < N_SEEN; i++)
            printf(" %s=%ld", seen_names[i], seen[op][i]);
        printf("\n");
        total_bad += mismatches[op];
    }
    printf("%s\n", total_bad ? "FAIL" : "OK");
    return total_bad != 0;
}
