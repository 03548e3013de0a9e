/* Threaded code: runs a block's operations (see XLATE_OP_* in xlate.h) on an array of
 * temporaries. A block is built from the semantics by xlate/threaded.py in a fraction of what
 * compiling it would cost, and this loop runs it without returning to Python. */
#include <string.h>

#include "runtime.h"

static void *functions[XLATE_THREADED_FUNCTIONS];
static const uint64_t *flag_programs[256][6];

void xlate_threaded_functions(void *const *fns, int count)
{
    for (int i = 0; i < count && i < XLATE_THREADED_FUNCTIONS; i++)
        functions[i] = fns[i];
}

void xlate_threaded_flag_program(int op, int flag, const uint64_t *program)
{
    flag_programs[op & 0xff][flag] = program;
}

static inline uint64_t width_mask(unsigned bits)
{
    return bits >= 64 ? ~0ull : (1ull << bits) - 1;
}

static inline int64_t sext(uint64_t v, unsigned bits)
{
    if (bits >= 64)
        return (int64_t)v;
    uint64_t sign = 1ull << (bits - 1);
    return (int64_t)((v & width_mask(bits)) ^ sign) - (int64_t)sign;
}

typedef uint64_t (*pure_fn)(uint64_t, uint64_t, uint64_t, uint64_t *);

/* Runs program; returns its exit code (a flag program's value in *value). */
static int run(xlate_cpu *cpu, const uint64_t *program, uint64_t *value)
{
    uint64_t t[program[0]];
    const uint64_t *ip = program + 2;
    for (uint64_t i = 0; i < program[1]; i++, ip += 2)
        t[ip[0]] = ip[1];
    for (;;) {
        uint64_t w = *ip++;
        unsigned bits = w >> 8 & 0xff, d = w >> 16 & 0xffff, a = w >> 32 & 0xffff, b = w >> 48;
        uint64_t m = width_mask(bits);
        switch (w & 0xff) {
        case XLATE_OP_ADD: t[d] = (t[a] + t[b]) & m; break;
        case XLATE_OP_SUB: t[d] = (t[a] - t[b]) & m; break;
        case XLATE_OP_MUL: t[d] = (t[a] * t[b]) & m; break;
        case XLATE_OP_AND: t[d] = t[a] & t[b]; break;
        case XLATE_OP_OR: t[d] = t[a] | t[b]; break;
        case XLATE_OP_XOR: t[d] = t[a] ^ t[b]; break;
        case XLATE_OP_NOT: t[d] = t[a] ^ m; break;
        case XLATE_OP_NEG: t[d] = -t[a] & m; break;
        case XLATE_OP_SHL: t[d] = (t[a] << t[b]) & m; break;
        case XLATE_OP_LSHR: t[d] = t[a] >> t[b]; break;
        case XLATE_OP_ASHR: t[d] = (uint64_t)(sext(t[a], bits) >> t[b]) & m; break;
        case XLATE_OP_UDIV: t[d] = t[a] / t[b]; break;
        case XLATE_OP_UREM: t[d] = t[a] % t[b]; break;
        case XLATE_OP_SDIV: t[d] = (uint64_t)(sext(t[a], bits) / sext(t[b], bits)) & m; break;
        case XLATE_OP_SREM: t[d] = (uint64_t)(sext(t[a], bits) % sext(t[b], bits)) & m; break;
        case XLATE_OP_SEXT: t[d] = (uint64_t)sext(t[a], bits) & width_mask(b); break;
        case XLATE_OP_EQ: t[d] = t[a] == t[b]; break;
        case XLATE_OP_ULT: t[d] = t[a] < t[b]; break;
        case XLATE_OP_SLT: t[d] = sext(t[a], bits) < sext(t[b], bits); break;
        case XLATE_OP_SELECT: t[d] = t[a] ? t[b] : t[*ip]; ip++; break;
        case XLATE_OP_CTZ: t[d] = t[a] ? (uint64_t)__builtin_ctzll(t[a]) : bits; break;
        case XLATE_OP_CLZ: t[d] = t[a] ? (uint64_t)__builtin_clzll(t[a]) - (64 - bits) : bits;
            break;
        case XLATE_OP_POPCOUNT: t[d] = (uint64_t)__builtin_popcountll(t[a]); break;
        case XLATE_OP_BSWAP: t[d] = __builtin_bswap64(t[a]) >> (64 - bits); break;
        case XLATE_OP_GET_GPR: t[d] = cpu->gpr[a]; break;
        case XLATE_OP_SET_GPR: cpu->gpr[a] = t[b]; break;
        case XLATE_OP_GET_SLOT: t[d] = cpu->flags[a]; break;
        case XLATE_OP_SET_FLAG:
            cpu->flags[a] = (uint8_t)t[b];
            cpu->cc_op &= ~((uint32_t)bits << XLATE_CC_LAZY_SHIFT);
            break;
        case XLATE_OP_GET_FLAG:
            if (cpu->cc_op >> XLATE_CC_LAZY_SHIFT & 1u << a)
                run(cpu, flag_programs[cpu->cc_op & 0xff][a], &t[d]);
            else
                t[d] = cpu->flags[a];
            break;
        case XLATE_OP_SET_CC: {
            uint64_t extra = *ip++;
            unsigned unless = extra >> 32 & 0xffff;
            if (unless != 0xffff && t[unless])
                break;
            cpu->cc_op = (uint32_t)extra;
            cpu->cc_dst = t[a];
            cpu->cc_src1 = t[b];
            cpu->cc_src2 = t[d];
            break;
        }
        case XLATE_OP_GET_CC:
            t[d] = a == 0 ? cpu->cc_dst : a == 1 ? cpu->cc_src1 : cpu->cc_src2;
            break;
        case XLATE_OP_GET_SEGMENT: t[d] = a ? cpu->gs_base : cpu->fs_base; break;
        case XLATE_OP_LOAD: {
            const uint8_t *p = xlate_host(cpu, t[a], bits / 8);
            switch (bits) {
            case 8: t[d] = *p; break;
            case 16: { uint16_t v; memcpy(&v, p, 2); t[d] = v; break; }
            case 32: { uint32_t v; memcpy(&v, p, 4); t[d] = v; break; }
            case 128: memcpy(&t[d], p, 8); memcpy(&t[*ip++], p + 8, 8); break;
            default: memcpy(&t[d], p, 8); break;
            }
            break;
        }
        case XLATE_OP_STORE: {
            uint8_t *p = xlate_host_write(cpu, t[a], bits / 8);
            uint64_t v = t[b];
            switch (bits) {
            case 8: *p = (uint8_t)v; break;
            case 16: { uint16_t h = (uint16_t)v; memcpy(p, &h, 2); break; }
            case 32: { uint32_t h = (uint32_t)v; memcpy(p, &h, 4); break; }
            case 128: memcpy(p, &v, 8); memcpy(p + 8, &t[*ip++], 8); break;
            default: memcpy(p, &v, 8); break;
            }
            break;
        }
        case XLATE_OP_GET_XMM: memcpy(&t[d], cpu->xmm[a] + 8 * b, 8); break;
        case XLATE_OP_SET_XMM: memcpy(cpu->xmm[a] + 8 * d, &t[b], 8); break;
        case XLATE_OP_HELPER:
            t[d] = ((xlate_helper_fn)functions[*ip++])(cpu, t[a], t[b]);
            break;
        case XLATE_OP_PURE: {
            uint64_t extra = *ip++, out[2];
            t[d] = ((pure_fn)functions[extra >> 16 & 0xffff])(t[a], t[b], t[extra & 0xffff], out);
            t[extra >> 32 & 0xffff] = out[0];
            t[extra >> 48] = out[1];
            break;
        }
        case XLATE_OP_INSN: cpu->rip = *ip++; break;
        case XLATE_OP_EXIT_IF:
            if (t[a])
                return (int)b;
            break;
        case XLATE_OP_WRITTEN:
            if (cpu->code_written_end) {
                cpu->rip = t[a];
                return XLATE_EXIT_CODE_WRITTEN;
            }
            break;
        case XLATE_OP_END:
            cpu->rip = t[a];
            return (int)b;
        case XLATE_OP_RESULT:
            *value = t[a];
            return XLATE_EXIT_NEXT;
        default:
            return XLATE_EXIT_SIGILL;  /* a malformed program: never built */
        }
    }
}

int xlate_threaded_exec(xlate_cpu *cpu, const uint64_t *program)
{
    return run(cpu, program, NULL);
}
