/* 64-bit div and idiv: rdx:rax divided by the operand, quotient to rax and remainder to rdx.
 * (The narrower divisions are inline in generated code: their dividends fit in 64 bits.)
 * Returns nonzero, changing nothing, when the hardware raises #DE: a zero divisor or a quotient
 * that does not fit. */
#include "runtime.h"

/* high:low / divisor where high < divisor, so that the quotient fits in 64 bits. */
static uint64_t divide_128(uint64_t high, uint64_t low, uint64_t divisor, uint64_t *remainder)
{
#if defined(__x86_64__)
    /* The host's own 128-by-64 division, many times faster than __udivti3's general one. */
    uint64_t quotient;
    __asm__("divq %4" : "=a"(quotient), "=d"(*remainder) : "a"(low), "d"(high), "rm"(divisor));
    return quotient;
#else
    unsigned __int128 n = (unsigned __int128)high << 64 | low;
    *remainder = (uint64_t)(n % divisor);
    return (uint64_t)(n / divisor);
#endif
}

uint64_t xlate_helper_div(xlate_cpu *cpu, uint64_t unused, uint64_t divisor)
{
    (void)unused;
    if (divisor == 0 || cpu->gpr[RDX] >= divisor) /* zero, or a quotient that does not fit */
        return 1;
    uint64_t remainder;
    cpu->gpr[RAX] = divide_128(cpu->gpr[RDX], cpu->gpr[RAX], divisor, &remainder);
    cpu->gpr[RDX] = remainder;
    return 0;
}

uint64_t xlate_helper_idiv(xlate_cpu *cpu, uint64_t unused, uint64_t divisor)
{
    (void)unused;
    if (divisor == 0)
        return 1;
    /* On magnitudes, with the signs applied after. */
    uint64_t high = cpu->gpr[RDX], low = cpu->gpr[RAX];
    int negative = (int64_t)high < 0, negative_divisor = (int64_t)divisor < 0;
    if (negative) { /* high:low = -(high:low) */
        low = -low;
        high = ~high + (low == 0);
    }
    uint64_t d = negative_divisor ? -divisor : divisor, remainder;
    if (high >= d)
        return 1;
    uint64_t q = divide_128(high, low, d, &remainder);
    int negative_quotient = negative != negative_divisor;
    if (q > (1ull << 63) - !negative_quotient)
        return 1; /* beyond the signed range */
    cpu->gpr[RAX] = negative_quotient ? -q : q;
    cpu->gpr[RDX] = negative ? -remainder : remainder;
    return 0;
}
