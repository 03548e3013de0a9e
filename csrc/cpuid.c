/* The emulated CPU's identity: the one place that says which features xlate implements.  Guests
 * (glibc's ifunc resolvers above all) pick code paths from these bits, so a bit is set only once
 * every instruction it announces is implemented in every engine. */
#include <time.h>

#include "runtime.h"

/* Leaf 1 edx: FPU, TSC, CX8, CMOV, FXSR, SSE, SSE2 (the x86-64 baseline less MMX). */
#define LEAF1_EDX ((1u << 0) | (1u << 4) | (1u << 8) | (1u << 15) | (1u << 24) | (1u << 25) | (1u << 26))
/* Leaf 0x80000001 edx: SYSCALL, LM; ecx: LAHF/SAHF in 64-bit mode. */
#define EXT1_EDX ((1u << 11) | (1u << 29))
#define EXT1_ECX (1u << 0)

static void set_result(xlate_cpu *cpu, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    cpu->gpr[RAX] = a;
    cpu->gpr[RBX] = b;
    cpu->gpr[RCX] = c;
    cpu->gpr[RDX] = d;
}

static uint32_t chars(const char *s)
{
    return (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
}

uint64_t xlate_helper_cpuid(xlate_cpu *cpu, uint64_t unused_a, uint64_t unused_b)
{
    (void)unused_a;
    (void)unused_b;
    uint32_t leaf = (uint32_t)cpu->gpr[RAX];
    static const char brand[48] = "xlate x86-64 translator";
    switch (leaf) {
    case 0: /* the vendor string is ebx, edx, ecx */
        set_result(cpu, 1, chars("Xlat"), chars("latr"), chars("eEmu")); /* "XlateEmulatr" */
        break;
    case 1: /* family 6, model 0; one logical processor; CLFLUSH line size 8 * 8 */
        set_result(cpu, 0x600, 0x00010800, 0, LEAF1_EDX);
        break;
    case 0x80000000:
        set_result(cpu, 0x80000004, 0, 0, 0);
        break;
    case 0x80000001:
        set_result(cpu, 0, 0, EXT1_ECX, EXT1_EDX);
        break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
        const char *p = brand + 16 * (leaf - 0x80000002);
        set_result(cpu, chars(p), chars(p + 4), chars(p + 8), chars(p + 12));
        break;
    }
    default: /* leaves we do not have read as zero, as on hardware below the maximum leaf */
        set_result(cpu, 0, 0, 0, 0);
        break;
    }
    return 0;
}

uint64_t xlate_helper_rdtsc(xlate_cpu *cpu, uint64_t unused_a, uint64_t unused_b)
{
    (void)unused_a;
    (void)unused_b;
    /* A monotonic nanosecond count: an invariant TSC at 1 GHz. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    cpu->gpr[RAX] = t & 0xffffffffu;
    cpu->gpr[RDX] = t >> 32;
    return 0;
}
