/* Sieve of Eratosthenes, once over a byte array and once over a 64-bit bitmap; both must agree. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 15000;
    if (n < 2)
        n = 2;
    unsigned char *comp = calloc((size_t)n + 1, 1);
    for (long i = 2; i * i <= n; i++)
        if (!comp[i])
            for (long j = i * i; j <= n; j += i)
                comp[j] = 1;
    long count = 0, twins = 0, last = 0, gap = 0;
    uint64_t sum = 0;
    for (long i = 2; i <= n; i++) {
        if (comp[i])
            continue;
        count++;
        sum += (uint64_t)i;
        if (last && i - last == 2)
            twins++;
        if (last && i - last > gap)
            gap = i - last;
        last = i;
    }
    printf("primes <= %ld: %ld\nsum %llu\nlargest %ld\ntwin pairs %ld\nmax gap %ld\n", n, count,
           (unsigned long long)sum, last, twins, gap);

    /* odd numbers only: bit k stands for 2k+1 */
    size_t words = (size_t)(n / 2) / 64 + 1;
    uint64_t *bits = malloc(words * 8);
    memset(bits, 0xff, words * 8);
    bits[0] &= ~1ULL; /* 1 is not prime */
    for (long i = 3; i * i <= n; i += 2)
        if (bits[(i / 2) / 64] >> ((i / 2) % 64) & 1)
            for (long j = i * i; j <= n; j += 2 * i)
                bits[(j / 2) / 64] &= ~(1ULL << ((j / 2) % 64));
    long count2 = 1; /* 2 */
    for (long k = 0; 2 * k + 1 <= n; k++)
        count2 += (long)(bits[k / 64] >> (k % 64) & 1);
    printf("bitmap sieve: %ld\n", count2);
    free(bits);
    free(comp);
    return count == count2 ? 0 : 1;
}
