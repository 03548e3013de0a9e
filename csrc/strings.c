/* The string instructions (movs, stos, lods, cmps, scas) with their rep prefixes.  Registers are
 * updated after every element (or every run of elements on one page, which either all complete
 * or, faulting on their page, all do nothing), so a fault part-way leaves the state the hardware
 * would: the registers at the faulting element and every element before it done. */
#include <string.h>

#include "runtime.h"

enum { REP_NONE, REP_E, REP_NE }; /* `rep` of movs/stos/lods is REP_E */

static uint64_t load_n(const uint8_t *p, uint64_t size)
{
    uint64_t v = 0;
    memcpy(&v, p, size); /* little-endian host; a big-endian port swaps here */
    return v;
}

/* One host store per element: an element that straddles a page boundary and faults on its second
 * page must leave its first page untouched, as the faulting instruction would. */
static void store_n(uint8_t *p, uint64_t size, uint64_t v)
{
    switch (size) {
    case 1: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); break; }
    case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
    case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
}

enum { PAGE = 4096 };

/* How many whole elements from guest_addr on lie on its page. */
static uint64_t elements_on_page(uint64_t guest_addr, uint64_t size)
{
    return (PAGE - (guest_addr & (PAGE - 1))) / size;
}

static int64_t step(xlate_cpu *cpu, uint64_t size)
{
    return cpu->flags[XLATE_DF] ? -(int64_t)size : (int64_t)size;
}

static uint64_t mask_of(uint64_t size)
{
    return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* The flags of a - b at the given size, as cmp sets them: described lazily, as generated code
 * does, for the semantics' formulas to compute where they are read. */
static void set_sub_flags(xlate_cpu *cpu, uint64_t a, uint64_t b, uint64_t size)
{
    cpu->cc_op = xlate_cc_op(XLATE_CC_SUB, size);
    cpu->cc_dst = (a - b) & mask_of(size);
    cpu->cc_src1 = a;
    cpu->cc_src2 = b;
}

uint64_t xlate_helper_rep_movs(xlate_cpu *cpu, uint64_t size, uint64_t rep)
{
    int64_t d = step(cpu, size);
    uint64_t n = rep ? cpu->gpr[RCX] : 1;
    uint64_t src = cpu->gpr[RSI], dst = cpu->gpr[RDI];
    /* Forward copies between disjoint ranges, the common case of memcpy, are one memmove for
     * each run of elements that stays on one source page and one destination page. */
    if (rep && d > 0 && n <= XLATE_GUEST_SPACE / size &&
        (dst >= src + n * size || dst + n * size <= src)) {
        while (n) {
            uint64_t k = elements_on_page(src, size), on_dst = elements_on_page(dst, size);
            k = k < on_dst ? k : on_dst;
            k = k < n ? k : n;
            if (k == 0) { /* an element across a page boundary goes on its own */
                store_n(xlate_host_write(cpu, dst, size), size,
                        load_n(xlate_host(cpu, src, size), size));
                k = 1;
            } else {
                memmove(xlate_host_write(cpu, dst, k * size), xlate_host(cpu, src, k * size),
                        k * size);
            }
            n -= k;
            src += k * size;
            dst += k * size;
            cpu->gpr[RSI] = src;
            cpu->gpr[RDI] = dst;
            cpu->gpr[RCX] = n;
        }
        return 0;
    }
    for (; n; n--) {
        store_n(xlate_host_write(cpu, cpu->gpr[RDI], size), size,
                load_n(xlate_host(cpu, cpu->gpr[RSI], size), size));
        cpu->gpr[RSI] += d;
        cpu->gpr[RDI] += d;
        if (rep)
            cpu->gpr[RCX]--;
    }
    return 0;
}

uint64_t xlate_helper_rep_stos(xlate_cpu *cpu, uint64_t size, uint64_t rep)
{
    int64_t d = step(cpu, size);
    uint64_t n = rep ? cpu->gpr[RCX] : 1;
    uint64_t value = cpu->gpr[RAX];
    if (rep && d > 0 && size == 1 && n <= XLATE_GUEST_SPACE) {
        while (n) { /* one memset a page */
            uint64_t dst = cpu->gpr[RDI], k = elements_on_page(dst, 1);
            k = k < n ? k : n;
            memset(xlate_host_write(cpu, dst, k), (int)(value & 0xff), k);
            n -= k;
            cpu->gpr[RDI] = dst + k;
            cpu->gpr[RCX] = n;
        }
        return 0;
    }
    for (; n; n--) {
        store_n(xlate_host_write(cpu, cpu->gpr[RDI], size), size, value);
        cpu->gpr[RDI] += d;
        if (rep)
            cpu->gpr[RCX]--;
    }
    return 0;
}

uint64_t xlate_helper_rep_lods(xlate_cpu *cpu, uint64_t size, uint64_t rep)
{
    int64_t d = step(cpu, size);
    for (uint64_t n = rep ? cpu->gpr[RCX] : 1; n; n--) {
        uint64_t v = load_n(xlate_host(cpu, cpu->gpr[RSI], size), size);
        /* A 32-bit destination zero-extends; 8 and 16 bits merge into rax. */
        cpu->gpr[RAX] = size >= 4 ? v : (cpu->gpr[RAX] & ~mask_of(size)) | v;
        cpu->gpr[RSI] += d;
        if (rep)
            cpu->gpr[RCX]--;
    }
    return 0;
}

uint64_t xlate_helper_rep_cmps(xlate_cpu *cpu, uint64_t size, uint64_t rep)
{
    int64_t d = step(cpu, size);
    for (uint64_t n = rep ? cpu->gpr[RCX] : 1; n; n--) {
        uint64_t a = load_n(xlate_host(cpu, cpu->gpr[RSI], size), size);
        uint64_t b = load_n(xlate_host(cpu, cpu->gpr[RDI], size), size);
        set_sub_flags(cpu, a, b, size);
        cpu->gpr[RSI] += d;
        cpu->gpr[RDI] += d;
        if (!rep)
            break;
        cpu->gpr[RCX]--;
        if ((cpu->cc_dst == 0) != (rep == REP_E)) /* ZF */
            break;
    }
    return 0;
}

uint64_t xlate_helper_rep_scas(xlate_cpu *cpu, uint64_t size, uint64_t rep)
{
    int64_t d = step(cpu, size);
    uint64_t a = cpu->gpr[RAX] & mask_of(size);
    for (uint64_t n = rep ? cpu->gpr[RCX] : 1; n; n--) {
        set_sub_flags(cpu, a, load_n(xlate_host(cpu, cpu->gpr[RDI], size), size), size);
        cpu->gpr[RDI] += d;
        if (!rep)
            break;
        cpu->gpr[RCX]--;
        if ((cpu->cc_dst == 0) != (rep == REP_E)) /* ZF */
            break;
    }
    return 0;
}
