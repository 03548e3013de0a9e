/* The x87 FPU: the register stack, its tags, the status and control words, and the memory
 * formats, around the portable extended-precision arithmetic of f80.c.
 *
 * ST(i) is physical register (TOP + i) & 7; cpu->fpu_tag has bit p set when physical register p
 * is empty.  Every exception takes the x87's masked response (the indefinite result and a status
 * flag) whatever the control word says: unmasking only shows in the ES and B summary bits.
 * Guest memory is read first and written before any register changes, so that a faulting
 * access leaves the FPU as it was. */
#include <string.h>

#include "f80.h"
#include "runtime.h"
#include "x87_math.h"

#define SW_SF 0x0040 /* stack fault, with IE */
#define SW_ES 0x0080
#define SW_B 0x8000
#define SW_TOP 0x3800
#define SW_CODES (XLATE_F80_C0 | XLATE_F80_C1 | XLATE_F80_C2 | XLATE_F80_C3)
#define SW_EXCEPTIONS 0x003F
#define CW_DEFAULT 0x037F

#define EXP_MAX 0x7FFF
#define INT_BIT ((uint64_t)1 << 63)

#define KIND_MASK 0xF0
#define OP_MASK 0x0F

static const xlate_f80 indefinite = {0xC000000000000000u, 0xFFFF};

/* ---- the register stack ------------------------------------------------------------------ */

static unsigned top_of(const xlate_cpu *cpu) { return (cpu->fpu_sw >> 11) & 7; }
static unsigned physical(const xlate_cpu *cpu, unsigned i) { return (top_of(cpu) + i) & 7; }

static int is_empty(const xlate_cpu *cpu, unsigned i)
{
    return (cpu->fpu_tag >> physical(cpu, i)) & 1;
}

static xlate_f80 st_get(const xlate_cpu *cpu, unsigned i)
{
    return xlate_f80_load(cpu->st[physical(cpu, i)]);
}

static void st_set(xlate_cpu *cpu, unsigned i, xlate_f80 value)
{
    unsigned p = physical(cpu, i);
    xlate_f80_store(value, cpu->st[p]);
    cpu->fpu_tag &= (uint8_t)~(1u << p);
}

static void set_top(xlate_cpu *cpu, unsigned top)
{
    cpu->fpu_sw = (uint16_t)((cpu->fpu_sw & ~SW_TOP) | ((top & 7) << 11));
}

static void pop(xlate_cpu *cpu)
{
    cpu->fpu_tag |= (uint8_t)(1u << physical(cpu, 0));
    set_top(cpu, top_of(cpu) + 1);
}

static void pops(xlate_cpu *cpu, uint64_t code)
{
    if (code & (XLATE_X87_POP | XLATE_X87_POP2))
        pop(cpu);
    if (code & XLATE_X87_POP2)
        pop(cpu);
}

static void push(xlate_cpu *cpu, xlate_f80 value)
{
    set_top(cpu, top_of(cpu) - 1);
    st_set(cpu, 0, value);
}

/* ---- status word ------------------------------------------------------------------------- */

static xlate_f80_env env_of(const xlate_cpu *cpu)
{
    xlate_f80_env env = {cpu->fpu_cw, cpu->fpu_sw};
    return env;
}

/* ES and B summarise the exceptions that are flagged and unmasked. */
static uint16_t summarised(uint16_t sw, uint16_t cw)
{
    sw &= (uint16_t)~(SW_ES | SW_B);
    if (sw & ~cw & SW_EXCEPTIONS)
        sw |= SW_ES | SW_B;
    return sw;
}

static void commit(xlate_cpu *cpu, const xlate_f80_env *env)
{
    cpu->fpu_sw = summarised(env->sw, cpu->fpu_cw);
}

/* Stack overflow (a push onto a full register) or underflow (an empty operand): IE and SF, and
 * C1 tells which. */
static void stack_fault(xlate_f80_env *env, int overflow)
{
    env->sw = (uint16_t)((env->sw & ~XLATE_F80_C1) | XLATE_F80_IE | SW_SF |
                         (overflow ? XLATE_F80_C1 : 0));
}

static void set_c1(xlate_f80_env *env, int on)
{
    env->sw = (uint16_t)((env->sw & ~XLATE_F80_C1) | (on ? XLATE_F80_C1 : 0));
}

/* ---- values ------------------------------------------------------------------------------ */

static int is_nan_or_unsupported(xlate_f80 a)
{
    unsigned e = a.sign_exp & EXP_MAX;
    if (e == EXP_MAX)
        return (a.mant << 1) != 0;
    return e != 0 && !(a.mant & INT_BIT);
}

/* 0 valid, 1 zero, 2 special (NaN, infinity, denormal, unsupported), 3 empty: the full tag. */
static unsigned tag_of(const xlate_cpu *cpu, unsigned p)
{
    if ((cpu->fpu_tag >> p) & 1)
        return 3;
    xlate_f80 a = xlate_f80_load(cpu->st[p]);
    unsigned e = a.sign_exp & EXP_MAX;
    if (e == 0)
        return a.mant ? 2 : 1;
    if (e == EXP_MAX || !(a.mant & INT_BIT))
        return 2;
    return 0;
}

static uint16_t full_tag_word(const xlate_cpu *cpu)
{
    uint16_t tags = 0;
    for (unsigned p = 0; p < 8; p++)
        tags |= (uint16_t)(tag_of(cpu, p) << (2 * p));
    return tags;
}

static uint8_t empty_tags_from_full(uint16_t full)
{
    uint8_t tags = 0;
    for (unsigned p = 0; p < 8; p++)
        if (((full >> (2 * p)) & 3) == 3)
            tags |= (uint8_t)(1u << p);
    return tags;
}

/* An IEEE float or double widened without exceptions, so that arithmetic sees a signaling NaN
 * as one and raises IE itself; *denormal reports a denormal source (a DE candidate). */
static xlate_f80 widen(uint64_t bits, int frac_bits, int exp_bits, int *denormal)
{
    uint64_t frac = bits & (((uint64_t)1 << frac_bits) - 1);
    unsigned e = (unsigned)(bits >> frac_bits) & ((1u << exp_bits) - 1);
    unsigned sign = (unsigned)(bits >> (frac_bits + exp_bits)) & 1;
    *denormal = e == 0 && frac != 0;
    if (e == (1u << exp_bits) - 1 && frac) {
        xlate_f80 nan = {INT_BIT | frac << (63 - frac_bits), (uint16_t)(sign << 15 | EXP_MAX)};
        return nan;
    }
    xlate_f80_env scratch = {CW_DEFAULT, 0};
    return frac_bits == 23 ? xlate_f80_from_float32((uint32_t)bits, &scratch)
                           : xlate_f80_from_float64(bits, &scratch);
}

static uint64_t le(const uint8_t *p, unsigned size)
{
    uint64_t value = 0;
    for (unsigned i = size; i-- > 0;)
        value = value << 8 | p[i];
    return value;
}

static uint64_t read_le(xlate_cpu *cpu, uint64_t guest_addr, unsigned size)
{
    return le(xlate_host(cpu, guest_addr, size), size);
}

static void write_le(uint8_t *p, uint64_t value, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(value >> (8 * i));
}

#define BCD_LIMIT 999999999999999999u /* 18 digits */

static xlate_f80 from_bcd(const uint8_t *p)
{
    uint64_t value = 0;
    for (unsigned i = 9; i-- > 0;) /* invalid digits give an undefined value: any will do */
        value = value * 100 + (unsigned)(p[i] >> 4) * 10 + (p[i] & 15);
    xlate_f80 r = xlate_f80_from_int64((int64_t)value);
    if (p[9] & 0x80)
        r.sign_exp |= 0x8000; /* -0 stays negative */
    return r;
}

/* fbstp: rounded with RC; the packed BCD indefinite when it does not fit in 18 digits. */
static void to_bcd(xlate_f80 value, int empty, uint8_t out[10], xlate_f80_env *env)
{
    xlate_f80_env scratch = *env;
    int64_t whole = empty ? 0 : xlate_f80_to_int64(value, &scratch);
    uint64_t magnitude = whole < 0 ? 0 - (uint64_t)whole : (uint64_t)whole;
    if (empty || (scratch.sw & ~env->sw & XLATE_F80_IE) || magnitude > BCD_LIMIT) {
        if (!empty)
            env->sw |= XLATE_F80_IE;
        memset(out, 0, 10);
        out[7] = 0xC0;
        out[8] = out[9] = 0xFF;
        return;
    }
    *env = scratch;
    for (unsigned i = 0; i < 9; i++) {
        out[i] = (uint8_t)(magnitude % 10 | (magnitude / 10 % 10) << 4);
        magnitude /= 100;
    }
    out[9] = (value.sign_exp & 0x8000) ? 0x80 : 0;
}

/* An arithmetic operand from guest memory (every kind but M80FP, which arithmetic lacks). */
static xlate_f80 read_operand(xlate_cpu *cpu, unsigned kind, uint64_t guest_addr, int *denormal)
{
    *denormal = 0;
    switch (kind) {
    case XLATE_X87_M32FP:
        return widen(read_le(cpu, guest_addr, 4), 23, 8, denormal);
    case XLATE_X87_M64FP:
        return widen(read_le(cpu, guest_addr, 8), 52, 11, denormal);
    case XLATE_X87_M16INT:
        return xlate_f80_from_int16((int16_t)read_le(cpu, guest_addr, 2));
    case XLATE_X87_M32INT:
        return xlate_f80_from_int32((int32_t)read_le(cpu, guest_addr, 4));
    case XLATE_X87_M64INT:
        return xlate_f80_from_int64((int64_t)read_le(cpu, guest_addr, 8));
    case XLATE_X87_M80BCD:
        return from_bcd(xlate_host(cpu, guest_addr, 10));
    default:
        return xlate_f80_load(xlate_host(cpu, guest_addr, 10));
    }
}

/* ---- loads ------------------------------------------------------------------------------- */

uint64_t xlate_helper_x87_load(xlate_cpu *cpu, uint64_t code, uint64_t operand)
{
    unsigned kind = code & KIND_MASK;
    xlate_f80_env env = env_of(cpu);
    xlate_f80 value;
    int underflow = 0;
    switch (kind) {
    case XLATE_X87_STI:
        underflow = is_empty(cpu, operand & 7);
        value = st_get(cpu, operand & 7);
        break;
    case XLATE_X87_CONST:
        value = xlate_f80_constant((int)operand, &env);
        break;
    case XLATE_X87_M32FP:
        value = xlate_f80_from_float32((uint32_t)read_le(cpu, operand, 4), &env);
        break;
    case XLATE_X87_M64FP:
        value = xlate_f80_from_float64(read_le(cpu, operand, 8), &env);
        break;
    default: { /* integers and m80: exact, no exceptions */
        int denormal;
        value = read_operand(cpu, kind, operand, &denormal);
        break;
    }
    }
    set_c1(&env, 0);
    if (!is_empty(cpu, 7)) { /* the stack fault hides what the conversion reported */
        env = env_of(cpu);
        stack_fault(&env, 1);
        value = indefinite;
    } else if (underflow) {
        stack_fault(&env, 0);
        value = indefinite;
    }
    commit(cpu, &env);
    push(cpu, value);
    return 0;
}

/* ---- stores ------------------------------------------------------------------------------ */

static unsigned memory_size(unsigned kind)
{
    switch (kind) {
    case XLATE_X87_M16INT: return 2;
    case XLATE_X87_M32FP: case XLATE_X87_M32INT: return 4;
    case XLATE_X87_M64FP: case XLATE_X87_M64INT: return 8;
    default: return 10;
    }
}

/* ST(0) in a memory format; the indefinite of that format when ST(0) is empty. */
static uint64_t convert_for_store(xlate_f80 value, int empty, unsigned kind, int truncate,
                                  xlate_f80_env *env)
{
    switch (kind) {
    case XLATE_X87_M32FP:
        return empty ? 0xFFC00000u : xlate_f80_to_float32(value, env);
    case XLATE_X87_M64FP:
        return empty ? 0xFFF8000000000000u : xlate_f80_to_float64(value, env);
    case XLATE_X87_M16INT:
        if (empty)
            return 0x8000u;
        return (uint16_t)(truncate ? xlate_f80_to_int16_trunc(value, env)
                                   : xlate_f80_to_int16(value, env));
    case XLATE_X87_M32INT:
        if (empty)
            return 0x80000000u;
        return (uint32_t)(truncate ? xlate_f80_to_int32_trunc(value, env)
                                   : xlate_f80_to_int32(value, env));
    default: /* XLATE_X87_M64INT */
        if (empty)
            return INT_BIT;
        return (uint64_t)(truncate ? xlate_f80_to_int64_trunc(value, env)
                                   : xlate_f80_to_int64(value, env));
    }
}

uint64_t xlate_helper_x87_store(xlate_cpu *cpu, uint64_t code, uint64_t operand)
{
    unsigned kind = code & KIND_MASK;
    xlate_f80_env env = env_of(cpu);
    int empty = is_empty(cpu, 0);
    xlate_f80 value = empty ? indefinite : st_get(cpu, 0);
    set_c1(&env, 0);
    if (empty)
        stack_fault(&env, 0);
    if (kind == XLATE_X87_STI) { /* a copy: no exceptions, even for signaling NaNs */
        commit(cpu, &env);
        st_set(cpu, operand & 7, value);
    } else if (kind == XLATE_X87_M80FP) {
        uint8_t *p = xlate_host_write(cpu, operand, 10);
        xlate_f80_store(value, p);
        commit(cpu, &env);
    } else if (kind == XLATE_X87_M80BCD) {
        uint8_t bcd[10];
        to_bcd(value, empty, bcd, &env);
        memcpy(xlate_host_write(cpu, operand, 10), bcd, 10);
        commit(cpu, &env);
    } else {
        unsigned size = memory_size(kind);
        uint64_t bits = convert_for_store(value, empty, kind, (code & XLATE_X87_TRUNC) != 0, &env);
        write_le(xlate_host_write(cpu, operand, size), bits, size);
        commit(cpu, &env);
    }
    pops(cpu, code);
    return 0;
}

/* ---- arithmetic and comparisons ---------------------------------------------------------- */

static xlate_f80 calculate(unsigned op, xlate_f80 a, xlate_f80 b, xlate_f80_env *env)
{
    switch (op) {
    case XLATE_X87_ADD: return xlate_f80_add(a, b, env);
    case XLATE_X87_MUL: return xlate_f80_mul(a, b, env);
    case XLATE_X87_SUB: return xlate_f80_sub(a, b, env);
    case XLATE_X87_SUBR: return xlate_f80_sub(b, a, env);
    case XLATE_X87_DIV: return xlate_f80_div(a, b, env);
    default: return xlate_f80_div(b, a, env); /* XLATE_X87_DIVR */
    }
}

/* Each relation as fcomi's ZF, PF, CF (at their rflags bits) and as fcom's C3, C2, C0. */
static uint64_t relation_rflags(int relation)
{
    switch (relation) {
    case XLATE_F80_LESS: return 1;           /* CF */
    case XLATE_F80_EQUAL: return 1u << 6;    /* ZF */
    case XLATE_F80_GREATER: return 0;
    default: return 1u << 6 | 1u << 2 | 1; /* unordered: ZF PF CF */
    }
}

static uint16_t relation_codes(int relation)
{
    switch (relation) {
    case XLATE_F80_LESS: return XLATE_F80_C0;
    case XLATE_F80_EQUAL: return XLATE_F80_C3;
    case XLATE_F80_GREATER: return 0;
    default: return XLATE_F80_C3 | XLATE_F80_C2 | XLATE_F80_C0;
    }
}

/* A float or double denormal is a normal number once widened, but the x87 reports DE for it
 * when it would for a denormal register: f80 decides that from the operands' kinds, so an
 * extended denormal of the same sign stands in for it (COM: a comparison). */
static uint16_t denormal_flag(unsigned op, xlate_f80 a, xlate_f80 b)
{
    xlate_f80 stand_in = {1, (uint16_t)(b.sign_exp & 0x8000)};
    xlate_f80_env scratch = {CW_DEFAULT, 0};
    if (op == XLATE_X87_COM)
        xlate_f80_compare(a, stand_in, 1, &scratch);
    else
        calculate(op, a, stand_in, &scratch);
    return scratch.sw & XLATE_F80_DE;
}

/* The relation of a to b for fcom (quiet = 0) and fucom, after the stack check. */
static int compare(xlate_f80 a, xlate_f80 b, int underflow, int quiet, int b_denormal,
                   xlate_f80_env *env)
{
    if (underflow) {
        stack_fault(env, 0);
        return XLATE_F80_UNORDERED;
    }
    if (b_denormal)
        env->sw |= denormal_flag(XLATE_X87_COM, a, b);
    return xlate_f80_compare(a, b, quiet, env);
}

uint64_t xlate_helper_x87_arith(xlate_cpu *cpu, uint64_t code, uint64_t operand)
{
    unsigned op = code & OP_MASK, kind = code & KIND_MASK, dest = 0;
    xlate_f80_env env = env_of(cpu);
    xlate_f80 a, b;
    int underflow, b_denormal = 0;
    if (kind == XLATE_X87_STI) {
        unsigned i = operand & 7;
        underflow = is_empty(cpu, 0) || is_empty(cpu, i);
        a = st_get(cpu, 0);
        b = st_get(cpu, i);
        if (code & XLATE_X87_TO_STI) {
            xlate_f80 t = a;
            a = b;
            b = t;
            dest = i;
        }
    } else {
        b = read_operand(cpu, kind, operand, &b_denormal);
        a = st_get(cpu, 0);
        underflow = is_empty(cpu, 0);
    }
    uint64_t rflags = 0;
    if (op >= XLATE_X87_COMI) {
        int relation = compare(a, b, underflow, op == XLATE_X87_UCOMI, b_denormal, &env);
        rflags = relation_rflags(relation); /* C1 is left alone, unless the stack faulted */
        commit(cpu, &env);
    } else if (op == XLATE_X87_COM || op == XLATE_X87_UCOM) {
        int relation = compare(a, b, underflow, op == XLATE_X87_UCOM, b_denormal, &env);
        env.sw = (uint16_t)((env.sw & ~SW_CODES) | relation_codes(relation));
        commit(cpu, &env);
    } else {
        xlate_f80 result;
        if (underflow) {
            stack_fault(&env, 0);
            result = indefinite;
        } else {
            if (b_denormal)
                env.sw |= denormal_flag(op, a, b);
            result = calculate(op, a, b, &env);
        }
        commit(cpu, &env);
        st_set(cpu, dest, result);
    }
    pops(cpu, code);
    return rflags;
}

/* ---- operations on ST(0) (and ST(1)) ----------------------------------------------------- */

/* fyl2x, fyl2xp1, fpatan: ST(1) = f(ST(0), ST(1)), then pop. */
static void into_st1_and_pop(xlate_cpu *cpu, uint64_t op, xlate_f80_env *env)
{
    xlate_f80 x = st_get(cpu, 0), y = st_get(cpu, 1), r;
    if (is_empty(cpu, 0) || is_empty(cpu, 1)) {
        stack_fault(env, 0);
        r = indefinite;
    } else if (op == XLATE_X87_FYL2X) {
        r = xlate_x87_fyl2x(x, y, env);
    } else if (op == XLATE_X87_FYL2XP1) {
        r = xlate_x87_fyl2xp1(x, y, env);
    } else {
        r = xlate_x87_fpatan(x, y, env);
    }
    commit(cpu, env);
    st_set(cpu, 1, r);
    pop(cpu);
}

/* fsin, fcos, fsincos (ST(0) = sin, then push cos), fptan (ST(0) = tan, then push 1). C2 tells
 * that |ST(0)| >= 2^63, which is then left alone. */
static void trigonometric(xlate_cpu *cpu, uint64_t op, xlate_f80_env *env)
{
    int pushes = op == XLATE_X87_FSINCOS || op == XLATE_X87_FPTAN;
    xlate_f80 x = st_get(cpu, 0), first = indefinite, second = indefinite;
    env->sw &= (uint16_t)~XLATE_F80_C2;
    if (is_empty(cpu, 0) || (pushes && !is_empty(cpu, 7))) {
        stack_fault(env, !is_empty(cpu, 0));
    } else {
        xlate_f80 *sin = op == XLATE_X87_FSIN || op == XLATE_X87_FSINCOS ? &first : NULL;
        xlate_f80 *cos = op == XLATE_X87_FCOS ? &first : op == XLATE_X87_FSINCOS ? &second : NULL;
        xlate_f80 *tan = op == XLATE_X87_FPTAN ? &first : NULL;
        if (xlate_x87_trig(x, sin, cos, tan, env)) {
            env->sw |= XLATE_F80_C2;
            commit(cpu, env);
            return;
        }
        if (op == XLATE_X87_FPTAN) /* 1, or the NaN again */
            second = is_nan_or_unsupported(first) ? first
                                                  : xlate_f80_constant(XLATE_F80_CONST_ONE, env);
    }
    commit(cpu, env);
    st_set(cpu, 0, first);
    if (pushes)
        push(cpu, second);
}

uint64_t xlate_helper_x87_unary(xlate_cpu *cpu, uint64_t op, uint64_t unused)
{
    (void)unused;
    xlate_f80_env env = env_of(cpu);
    if (op == XLATE_X87_FYL2X || op == XLATE_X87_FYL2XP1 || op == XLATE_X87_FPATAN) {
        into_st1_and_pop(cpu, op, &env);
        return 0;
    }
    if (op >= XLATE_X87_FSIN && op <= XLATE_X87_FPTAN) {
        trigonometric(cpu, op, &env);
        return 0;
    }
    int uses_st1 = op == XLATE_X87_FSCALE || op == XLATE_X87_FPREM || op == XLATE_X87_FPREM1;
    int underflow = is_empty(cpu, 0) || (uses_st1 && is_empty(cpu, 1));
    xlate_f80 a = st_get(cpu, 0), b = st_get(cpu, 1), r = a;

    if (op == XLATE_X87_FXAM) { /* C1 is the sign even of an empty register */
        uint16_t codes = is_empty(cpu, 0)
            ? (uint16_t)(XLATE_F80_C3 | XLATE_F80_C0 | ((a.sign_exp >> 15) ? XLATE_F80_C1 : 0))
            : xlate_f80_examine(a);
        cpu->fpu_sw = (uint16_t)((cpu->fpu_sw & ~SW_CODES) | codes);
        return 0;
    }
    if (op == XLATE_X87_FTST) {
        xlate_f80 zero = {0, 0};
        int relation = compare(a, zero, underflow, 0, 0, &env);
        env.sw = (uint16_t)((env.sw & ~SW_CODES) | relation_codes(relation));
        commit(cpu, &env);
        return 0;
    }
    if (op == XLATE_X87_FXTRACT) {
        xlate_f80 exponent;
        set_c1(&env, 0);
        if (underflow) {
            stack_fault(&env, 0);
            r = exponent = indefinite;
        } else if (!is_empty(cpu, 7)) {
            stack_fault(&env, 1);
            r = exponent = indefinite;
        } else {
            r = xlate_f80_extract(a, &exponent, &env);
        }
        commit(cpu, &env);
        st_set(cpu, 0, exponent);
        push(cpu, r);
        return 0;
    }
    if (underflow) {
        stack_fault(&env, 0);
        if (op == XLATE_X87_FPREM || op == XLATE_X87_FPREM1) /* no reduction left to do */
            env.sw &= (uint16_t)~XLATE_F80_C2;
        commit(cpu, &env);
        st_set(cpu, 0, indefinite);
        return 0;
    }
    switch (op) {
    case XLATE_X87_FCHS:
        r.sign_exp ^= 0x8000;
        set_c1(&env, 0);
        break;
    case XLATE_X87_FABS:
        r.sign_exp &= 0x7FFF;
        set_c1(&env, 0);
        break;
    case XLATE_X87_FSQRT:
        r = xlate_f80_sqrt(a, &env);
        break;
    case XLATE_X87_FRNDINT:
        r = xlate_f80_round_to_int(a, &env);
        break;
    case XLATE_X87_FSCALE:
        r = xlate_f80_scale(a, b, &env);
        break;
    case XLATE_X87_F2XM1:
        r = xlate_x87_f2xm1(a, &env);
        break;
    case XLATE_X87_FPREM:
    case XLATE_X87_FPREM1:
        r = op == XLATE_X87_FPREM ? xlate_f80_prem(a, b, &env) : xlate_f80_prem1(a, b, &env);
        if (is_nan_or_unsupported(r)) /* no quotient: C0 and C3 keep their values */
            env.sw = (uint16_t)((env.sw & ~(XLATE_F80_C0 | XLATE_F80_C3)) |
                                (cpu->fpu_sw & (XLATE_F80_C0 | XLATE_F80_C3)));
        break;
    default:
        break;
    }
    commit(cpu, &env);
    st_set(cpu, 0, r);
    return 0;
}

/* ---- the stack itself -------------------------------------------------------------------- */

uint64_t xlate_helper_x87_stack(xlate_cpu *cpu, uint64_t op, uint64_t index)
{
    unsigned i = index & 7;
    switch (op) {
    case XLATE_X87_FXCH: {
        xlate_f80_env env = env_of(cpu);
        xlate_f80 a = st_get(cpu, 0), b = st_get(cpu, i);
        set_c1(&env, 0);
        if (is_empty(cpu, 0) || is_empty(cpu, i)) { /* empty ones become the indefinite */
            stack_fault(&env, 0);
            if (is_empty(cpu, 0))
                a = indefinite;
            if (is_empty(cpu, i))
                b = indefinite;
        }
        commit(cpu, &env);
        st_set(cpu, 0, b);
        st_set(cpu, i, a);
        break;
    }
    case XLATE_X87_FFREE:
    case XLATE_X87_FFREEP:
        cpu->fpu_tag |= (uint8_t)(1u << physical(cpu, i));
        cpu->fpu_sw &= (uint16_t)~XLATE_F80_C1;
        if (op == XLATE_X87_FFREEP)
            pop(cpu);
        break;
    case XLATE_X87_FINCSTP:
        set_top(cpu, top_of(cpu) + 1);
        cpu->fpu_sw &= (uint16_t)~XLATE_F80_C1;
        break;
    case XLATE_X87_FDECSTP:
        set_top(cpu, top_of(cpu) - 1);
        cpu->fpu_sw &= (uint16_t)~XLATE_F80_C1;
        break;
    case XLATE_X87_FNINIT:
        cpu->fpu_cw = CW_DEFAULT;
        cpu->fpu_sw = 0;
        cpu->fpu_tag = 0xFF;
        break;
    case XLATE_X87_FNCLEX:
        cpu->fpu_sw &= (uint16_t)~(SW_EXCEPTIONS | SW_SF | SW_ES | SW_B);
        break;
    default:
        break;
    }
    return 0;
}

uint64_t xlate_helper_x87_fcmov(xlate_cpu *cpu, uint64_t condition, uint64_t index)
{
    unsigned i = index & 7;
    if (is_empty(cpu, 0) || is_empty(cpu, i)) { /* the indefinite, whatever the condition */
        xlate_f80_env env = env_of(cpu);
        stack_fault(&env, 0);
        commit(cpu, &env);
        st_set(cpu, 0, indefinite);
        return 0;
    }
    if (condition) /* the condition codes are left alone */
        st_set(cpu, 0, st_get(cpu, i));
    return 0;
}

/* ---- control, status and environment ----------------------------------------------------- */

/* The 28-byte environment of 32-bit protected mode (fnstenv in 64-bit mode without REX.W).
 * The instruction and data pointers are not tracked: they read as zero. */
static void store_environment(xlate_cpu *cpu, uint8_t *p)
{
    memset(p, 0, 28);
    write_le(p, 0xFFFF0000u | cpu->fpu_cw, 4);
    write_le(p + 4, 0xFFFF0000u | cpu->fpu_sw, 4);
    write_le(p + 8, 0xFFFF0000u | full_tag_word(cpu), 4);
    write_le(p + 24, 0xFFFF0000u, 4);
}

static void load_environment(xlate_cpu *cpu, const uint8_t *p)
{
    cpu->fpu_cw = (uint16_t)(p[0] | p[1] << 8);
    cpu->fpu_sw = summarised((uint16_t)(p[4] | p[5] << 8), cpu->fpu_cw);
    cpu->fpu_tag = empty_tags_from_full((uint16_t)(p[8] | p[9] << 8));
}

static void fxsave(xlate_cpu *cpu, uint8_t *p)
{
    memset(p, 0, 416);
    write_le(p, cpu->fpu_cw, 2);
    write_le(p + 2, cpu->fpu_sw, 2);
    p[4] = (uint8_t)~cpu->fpu_tag;
    write_le(p + 24, cpu->mxcsr, 4);
    write_le(p + 28, XLATE_X87_MXCSR_MASK, 4);
    for (unsigned i = 0; i < 8; i++)
        memcpy(p + 32 + 16 * i, cpu->st[physical(cpu, i)], 10);
    memcpy(p + 160, cpu->xmm, sizeof cpu->xmm);
}

static void fxrstor(xlate_cpu *cpu, const uint8_t *p)
{
    uint8_t st[8][10];
    for (unsigned i = 0; i < 8; i++)
        memcpy(st[i], p + 32 + 16 * i, 10);
    cpu->fpu_cw = (uint16_t)(p[0] | p[1] << 8);
    cpu->fpu_sw = summarised((uint16_t)(p[2] | p[3] << 8), cpu->fpu_cw);
    cpu->fpu_tag = (uint8_t)~p[4];
    cpu->mxcsr = (uint32_t)le(p + 24, 4) & XLATE_X87_MXCSR_MASK;
    for (unsigned i = 0; i < 8; i++)
        memcpy(cpu->st[physical(cpu, i)], st[i], 10);
    memcpy(cpu->xmm, p + 160, sizeof cpu->xmm);
}

uint64_t xlate_helper_x87_control(xlate_cpu *cpu, uint64_t op, uint64_t operand)
{
    switch (op) {
    case XLATE_X87_FNSTCW:
        return cpu->fpu_cw;
    case XLATE_X87_FNSTSW:
        return cpu->fpu_sw;
    case XLATE_X87_FLDCW:
        cpu->fpu_cw = (uint16_t)operand;
        cpu->fpu_sw = summarised(cpu->fpu_sw, cpu->fpu_cw);
        return 0;
    case XLATE_X87_FNSTENV:
        store_environment(cpu, xlate_host_write(cpu, operand, 28));
        cpu->fpu_cw |= SW_EXCEPTIONS; /* then every exception is masked */
        cpu->fpu_sw = summarised(cpu->fpu_sw, cpu->fpu_cw);
        return 0;
    case XLATE_X87_FLDENV: {
        uint8_t image[28];
        memcpy(image, xlate_host(cpu, operand, 28), sizeof image);
        load_environment(cpu, image);
        return 0;
    }
    case XLATE_X87_FNSAVE: {
        uint8_t *p = xlate_host_write(cpu, operand, 108);
        uint8_t image[108];
        store_environment(cpu, image);
        for (unsigned i = 0; i < 8; i++)
            memcpy(image + 28 + 10 * i, cpu->st[physical(cpu, i)], 10);
        memcpy(p, image, sizeof image);
        xlate_helper_x87_stack(cpu, XLATE_X87_FNINIT, 0);
        return 0;
    }
    case XLATE_X87_FRSTOR: {
        uint8_t image[108];
        memcpy(image, xlate_host(cpu, operand, 108), sizeof image);
        load_environment(cpu, image);
        for (unsigned i = 0; i < 8; i++)
            memcpy(cpu->st[physical(cpu, i)], image + 28 + 10 * i, 10);
        return 0;
    }
    case XLATE_X87_FXSAVE: {
        uint8_t image[416];
        fxsave(cpu, image);
        memcpy(xlate_host_write(cpu, operand, 512), image, sizeof image);
        return 0;
    }
    case XLATE_X87_FXRSTOR: {
        uint8_t image[416];
        memcpy(image, xlate_host(cpu, operand, 512), sizeof image);
        fxrstor(cpu, image);
        return 0;
    }
    default:
        return 0;
    }
}
