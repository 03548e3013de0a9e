/* 128-bit integers: multiply, divide and modulo (libgcc's __udivti3/__divti3 and friends), shifts by
   variable counts, comparisons, all printed in decimal by hand since printf has no 128-bit format. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef unsigned __int128 u128;
typedef __int128 i128;

static char *u128_str(u128 v, char *end)
{
    *--end = 0;
    do {
        *--end = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    return end;
}

static void put_u(const char *label, u128 v)
{
    char buf[48];
    printf("%s%s\n", label, u128_str(v, buf + sizeof buf));
}

static void put_i(const char *label, i128 v)
{
    char buf[48];
    /* negate as unsigned so that the most negative value works too */
    u128 mag = v < 0 ? -(u128)v : (u128)v;
    char *s = u128_str(mag, buf + sizeof buf);
    if (v < 0)
        *--s = '-';
    printf("%s%s\n", label, s);
}

static void put_hex(const char *label, u128 v)
{
    printf("%s%016llx%016llx\n", label, (unsigned long long)(v >> 64), (unsigned long long)v);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    u128 max = ~(u128)0;
    i128 imax = (i128)(max >> 1), imin = -imax - 1;
    put_u("u128 max  ", max);
    put_i("i128 max  ", imax);
    put_i("i128 min  ", imin);

    u128 f = 1;
    for (int i = 1; i <= 34; i++)
        f *= (u128)i;
    put_u("34!       ", f);
    u128 g = f;
    for (int i = 34; i >= 20; i--)
        g /= (u128)i;
    put_u("19! back  ", g);

    u128 a = 0, b = 1;
    for (int i = 0; i < 185; i++) {
        u128 t = a + b;
        a = b;
        b = t;
    }
    put_u("fib(186)  ", b);
    put_u("f186 % 1e19 ", b % (u128)10000000000000000000ULL);
    put_u("f186 / f185 ", b / a);
    put_u("f186 % f185 ", b % a);

    u128 p3 = 1;
    for (int i = 0; i < 80; i++)
        p3 *= 3;
    put_u("3^80      ", p3);
    put_hex("3^80 hex  ", p3);

    volatile int sh = 0;
    for (int s = 0; s < 128; s += 9) {
        sh = s;
        u128 l = p3 << sh, r = p3 >> sh;
        i128 ar = (i128)(~p3) >> sh; /* arithmetic shift of a negative value */
        if (s % 27 == 0) {
            printf("shift %3d: ", s);
            put_hex("", l ^ r ^ (u128)ar);
        }
    }

    /* 34! does not fit in i128; 33! + 12345 does and is not a multiple of the divisors */
    i128 sf = (i128)(f / 34) + 12345;
    i128 x = -sf / 7;
    put_i("-sf/7     ", x);
    put_i("-sf%7     ", -sf % 7);
    put_i("-sf/-13   ", -sf / -13);
    put_i("sf%-13    ", sf % -13);
    put_i("min/-1+1  ", (imin + 1) / -1);
    printf("cmp: %d %d %d %d\n", imin < imax, (u128)imin > (u128)imax, x < 0, sf > x);

    /* the high half of 64x64 multiplies and a 128-bit LCG, the forms compilers emit for hashing */
    uint64_t hi_sum = 0;
    u128 state = 0x2360ed051fc65da4ULL;
    state = (state << 64) | 0x4385df649fccf645ULL;
    const u128 mult = ((u128)0x2360ed051fc65da4ULL << 64) | 0x4385df649fccf645ULL;
    volatile uint64_t divisor = 0;
    u128 acc = 0;
    for (int i = 0; i < n; i++) {
        state = state * mult + 0x5851f42d4c957f2dULL;
        uint64_t r = (uint64_t)(state >> 64);
        hi_sum += (uint64_t)(((u128)r * 0x9e3779b97f4a7c15ULL) >> 64);
        divisor = (r >> 3) | 1;
        acc += state / divisor + state % (u128)divisor;
        if (i % 16 == 0)
            acc ^= state / ((u128)r << 40 | 1); /* a divisor wider than 64 bits */
    }
    put_hex("lcg state ", state);
    printf("hi sum    %016llx\n", (unsigned long long)hi_sum);
    put_u("acc       ", acc);
    int ok = f / g == (u128)((u128)20 * 21 * 22 * 23 * 24 * 25 * 26 * 27 * 28 * 29 * 30 * 31 * 32 * 33 * 34) &&
             x * 7 + -sf % 7 == -sf;
    return ok ? 0 : 1;
}
