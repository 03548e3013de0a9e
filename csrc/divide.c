/* div and idiv: rdx:rax (ax for bytes) divided by the operand.  Returns nonzero, changing
 * nothing, when the hardware raises #DE: a zero divisor or a quotient that does not fit. */
#include "runtime.h"

static uint64_t mask_of(uint64_t size)
{
    return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static unsigned __int128 dividend(xlate_cpu *cpu, uint64_t size)
{
    uint64_t bits = 8 * size;
    if (size == 1)
        return cpu->gpr[RAX] & 0xffff;
    return (unsigned __int128)(cpu->gpr[RDX] & mask_of(size)) << bits | (cpu->gpr[RAX] & mask_of(size));
}

static void set_result(xlate_cpu *cpu, uint64_t size, uint64_t quotient, uint64_t remainder)
{
    uint64_t m = mask_of(size);
    if (size == 1) {
        cpu->gpr[RAX] = (cpu->gpr[RAX] & ~0xffffull) | (quotient & 0xff) | (remainder & 0xff) << 8;
    } else if (size == 2) {
        cpu->gpr[RAX] = (cpu->gpr[RAX] & ~m) | (quotient & m);
        cpu->gpr[RDX] = (cpu->gpr[RDX] & ~m) | (remainder & m);
    } else { /* 32-bit results zero-extend */
        cpu->gpr[RAX] = quotient & m;
        cpu->gpr[RDX] = remainder & m;
    }
}

uint64_t xlate_helper_div(xlate_cpu *cpu, uint64_t size, uint64_t divisor)
{
    if (divisor == 0)
        return 1;
    unsigned __int128 n = dividend(cpu, size);
    unsigned __int128 q = n / divisor;
    if (q > mask_of(size))
        return 1;
    set_result(cpu, size, (uint64_t)q, (uint64_t)(n % divisor));
    return 0;
}

uint64_t xlate_helper_idiv(xlate_cpu *cpu, uint64_t size, uint64_t divisor)
{
    if (divisor == 0)
        return 1;
    unsigned bits = 8 * (unsigned)size;
    /* Sign-extend the 2*bits dividend and the bits divisor to 128 bits. */
    unsigned __int128 raw = dividend(cpu, size);
    __int128 n = (__int128)(raw << (128 - 2 * bits)) >> (128 - 2 * bits);
    __int128 d = (__int128)((unsigned __int128)divisor << (128 - bits)) >> (128 - bits);
    if (d == -1 && n == (__int128)((unsigned __int128)1 << 127))
        return 1; /* the one quotient that 128-bit C division cannot represent */
    __int128 q = n / d, r = n % d;
    __int128 limit = (__int128)1 << (bits - 1);
    if (q >= limit || q < -limit)
        return 1;
    set_result(cpu, size, (uint64_t)q, (uint64_t)r);
    return 0;
}
