/* 64-bit div and idiv: high:low (rdx:rax) divided by the divisor. (The narrower divisions are
 * inline in generated code: their dividends fit in 64 bits.) Pure functions: nonzero when the
 * hardware raises #DE, a zero divisor or a quotient that does not fit; else out[0] is the
 * quotient and out[1] the remainder. */
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

uint64_t xlate_pure_div(uint64_t high, uint64_t low, uint64_t divisor, uint64_t *out)
{
    if (divisor == 0 || high >= divisor) /* zero, or a quotient that does not fit */
        return 1;
    out[0] = divide_128(high, low, divisor, &out[1]);
    return 0;
}

uint64_t xlate_pure_idiv(uint64_t high, uint64_t low, uint64_t divisor, uint64_t *out)
{
    if (divisor == 0)
        return 1;
    /* On magnitudes, with the signs applied after. */
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
    out[0] = negative_quotient ? -q : q;
    out[1] = negative ? -remainder : remainder;
    return 0;
}
