/* Integer and floating-point loops that cover many instruction forms: matrix multiplies, bit
   builtins (popcount, clz, ctz, rotates, bswap), unaligned loads and stores, division by constants
   and by variables at every width, signed and unsigned, shifts by variable counts, widening
   multiplies, overflow-checked arithmetic, conversions between integers and doubles. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t h = 0x9e3779b97f4a7c15ULL;

static void mix(uint64_t v)
{
    h = (h ^ v) * 0x100000001b3ULL;
    h ^= h >> 29;
}

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static inline uint32_t rotl32(uint32_t x, unsigned r) { return x << (r & 31) | x >> (-r & 31); }
static inline uint64_t rotr64(uint64_t x, unsigned r) { return x >> (r & 63) | x << (-r & 63); }
static inline uint16_t rotl16(uint16_t x, unsigned r) { r &= 15; return (uint16_t)(x << r | x >> ((16 - r) & 15)); }
static inline uint8_t rotr8(uint8_t x, unsigned r) { r &= 7; return (uint8_t)(x >> r | x << ((8 - r) & 7)); }

static void matmul_int(int n)
{
    int32_t *a = malloc(sizeof *a * (size_t)(n * n)), *b = malloc(sizeof *b * (size_t)(n * n));
    int64_t *c = calloc((size_t)(n * n), sizeof *c);
    for (int i = 0; i < n * n; i++) {
        a[i] = (int32_t)(next() % 2001) - 1000;
        b[i] = (int32_t)(next() % 2001) - 1000;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) {
            int64_t aik = a[i * n + k];
            for (int j = 0; j < n; j++)
                c[i * n + j] += aik * b[k * n + j];
        }
    int64_t trace = 0;
    uint64_t all = 0;
    for (int i = 0; i < n; i++)
        trace += c[i * n + i];
    for (int i = 0; i < n * n; i++)
        all = all * 31 + (uint64_t)c[i];
    printf("int matmul %dx%d: trace %lld hash %016llx\n", n, n, (long long)trace, (unsigned long long)all);
    mix(all);
    free(a);
    free(b);
    free(c);
}

static void matmul_double(int n)
{
    double *a = malloc(sizeof *a * (size_t)(n * n)), *b = malloc(sizeof *b * (size_t)(n * n));
    double *c = calloc((size_t)(n * n), sizeof *c);
    for (int i = 0; i < n * n; i++) {
        a[i] = (double)(int64_t)(next() % 20001 - 10000) / 1000.0;
        b[i] = 1.0 / (double)(i + 1);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++)
                s += a[i * n + k] * b[k * n + j];
            c[i * n + j] = s;
        }
    double trace = 0, mn = c[0], mx = c[0];
    for (int i = 0; i < n; i++)
        trace += c[i * n + i];
    for (int i = 0; i < n * n; i++) {
        mn = c[i] < mn ? c[i] : mn;
        mx = c[i] > mx ? c[i] : mx;
    }
    printf("double matmul %dx%d: trace %.17g min %.17g max %.17g\n", n, n, trace, mn, mx);
    int64_t t = (int64_t)(trace * 1e6);
    mix((uint64_t)t);
    free(a);
    free(b);
    free(c);
}

static void bits(int n)
{
    uint64_t acc = 0;
    for (int i = 0; i < n; i++) {
        uint64_t x = next();
        uint32_t y = (uint32_t)x;
        /* zero inputs are undefined for clz/ctz, so skip them rather than depend on the CPU */
        unsigned clz64 = x ? (unsigned)__builtin_clzll(x) : 64;
        unsigned ctz32 = y ? (unsigned)__builtin_ctz(y) : 32;
        acc += (uint64_t)__builtin_popcountll(x) + (uint64_t)__builtin_popcount(y) * 3 + clz64 * 5 +
               ctz32 * 7 + (uint64_t)__builtin_parityll(x);
        acc ^= rotl32(y, (unsigned)i) ^ rotr64(x, (unsigned)i * 3) ^ rotl16((uint16_t)x, (unsigned)i) ^
               rotr8((uint8_t)y, (unsigned)i);
        acc += __builtin_bswap64(x) ^ __builtin_bswap32(y) ^ __builtin_bswap16((uint16_t)(x >> 7));
        acc += (uint64_t)__builtin_ffsll((long long)(x & (x << 9)));
        /* shifts by a variable count, logical and arithmetic, at each width */
        unsigned s = (unsigned)(x >> 58);
        acc += (x << s) ^ (x >> s) ^ (uint64_t)((int64_t)x >> s);
        acc += (uint64_t)(y << (s & 31)) ^ (uint64_t)((int32_t)y >> (s & 31));
        acc += (uint64_t)(uint16_t)((int16_t)x >> (s & 15)) + (uint64_t)(uint8_t)((int8_t)x >> (s & 7));
        /* bit-field extraction and sign extension */
        acc += (uint64_t)(int64_t)(int8_t)(x >> 11) + (uint64_t)(int64_t)(int16_t)(x >> 21) +
               (uint64_t)(int64_t)(int32_t)(x >> 13) + ((x >> 17) & 0x7ff);
        acc = acc * 3 + (x > acc) + ((int64_t)x < (int64_t)acc) * 2 + (y == 0) * 4;
    }
    printf("bits: %016llx\n", (unsigned long long)acc);
    mix(acc);
}

static void unaligned(int n)
{
    unsigned char buf[256];
    for (int i = 0; i < 256; i++)
        buf[i] = (unsigned char)(next() >> 24);
    uint64_t acc = 0;
    for (int i = 0; i < n; i++) {
        size_t off = (size_t)(i * 7) % 240;
        uint64_t q;
        uint32_t d;
        uint16_t w;
        memcpy(&q, buf + off, 8);
        memcpy(&d, buf + off + 3, 4);
        memcpy(&w, buf + off + 5, 2);
        acc += q ^ ((uint64_t)d << 16) ^ w;
        q += acc;
        memcpy(buf + ((off * 3 + 1) % 240), &q, 8);
        d ^= (uint32_t)acc;
        memcpy(buf + ((off + 13) % 250), &d, 4);
    }
    uint64_t sum = 0;
    for (int i = 0; i < 256; i++)
        sum = sum * 257 + buf[i];
    printf("unaligned: %016llx %016llx\n", (unsigned long long)acc, (unsigned long long)sum);
    mix(acc ^ sum);
}

/* one function per width and signedness so each gets its own divide instructions; noinline keeps
   the divisors variables instead of constants */
#define DIVMOD(T, name)                                                                            \
    static __attribute__((noinline)) uint64_t name(T a, T b)                                       \
    {                                                                                              \
        return (uint64_t)(T)(a / b) * 1000003u + (uint64_t)(T)(a % b);                             \
    }
DIVMOD(int8_t, div_s8)
DIVMOD(uint8_t, div_u8)
DIVMOD(int16_t, div_s16)
DIVMOD(uint16_t, div_u16)
DIVMOD(int32_t, div_s32)
DIVMOD(uint32_t, div_u32)
DIVMOD(int64_t, div_s64)
DIVMOD(uint64_t, div_u64)

static void division(int n)
{
    uint64_t acc = 0;
    for (int i = 0; i < n; i++) {
        uint64_t x = next(), y = next();
        int64_t sx = (int64_t)x;
        uint32_t ux = (uint32_t)x;
        int32_t sx32 = (int32_t)x;
        /* constant divisors: gcc turns these into multiplies by magic numbers and shifts */
        acc += x / 3 + x % 7 + x / 10 + x % 1000 + x / 641 + x / 0x8000;
        acc += (uint64_t)(sx / 3) + (uint64_t)(sx % 7) + (uint64_t)(sx / -10) + (uint64_t)(sx / 16) +
               (uint64_t)(sx % 16);
        acc += ux / 3 + ux % 7 + ux / 25 + ux / 4096;
        acc += (uint64_t)(sx32 / 3) + (uint64_t)(sx32 % 7) + (uint64_t)(sx32 / 100) + (uint64_t)(sx32 / 8);
        acc += (uint64_t)((uint16_t)x / 13) + (uint64_t)((int16_t)x / 13) + (uint64_t)((uint8_t)x / 5) +
               (uint64_t)((int8_t)x % 5);
        /* variable divisors of every width; avoid zero and INT_MIN / -1 */
        int8_t d8 = (int8_t)(y | 1);
        int16_t d16 = (int16_t)(y >> 8 | 1);
        int32_t d32 = (int32_t)((y >> 16) % 100000 + 1);
        int64_t d64 = (int64_t)(y >> (y & 31)) | 1;
        int8_t n8 = (int8_t)x == INT8_MIN ? 0 : (int8_t)x;
        int16_t n16 = (int16_t)x == INT16_MIN ? 0 : (int16_t)x;
        int32_t n32 = (int32_t)x == INT32_MIN ? 0 : (int32_t)x;
        int64_t n64 = (int64_t)x == INT64_MIN ? 0 : (int64_t)x;
        acc += div_s8(n8, d8) + div_u8((uint8_t)x, (uint8_t)d8) + div_s16(n16, d16) +
               div_u16((uint16_t)x, (uint16_t)d16) + div_s32(n32, d32) + div_u32((uint32_t)x, (uint32_t)d32) +
               div_s64(n64, d64) + div_u64(x, (uint64_t)d64);
        acc = acc * 0x9e3779b97f4a7c15ULL + (acc >> 31);
    }
    printf("division: %016llx\n", (unsigned long long)acc);
    mix(acc);
}

static void arith(int n)
{
    uint64_t acc = 0, carry_count = 0, ovf_count = 0;
    double dsum = 0;
    float fsum = 0;
    for (int i = 0; i < n; i++) {
        uint64_t x = next(), y = next();
        unsigned __int128 wide = (unsigned __int128)x * y;
        __int128 swide = (__int128)(int64_t)x * (int64_t)y;
        acc += (uint64_t)(wide >> 64) ^ (uint64_t)wide ^ (uint64_t)(swide >> 64);
        uint64_t sum;
        carry_count += __builtin_add_overflow(x, y, &sum);
        int64_t ssum;
        ovf_count += __builtin_add_overflow((int64_t)x, (int64_t)y, &ssum);
        int32_t prod32;
        ovf_count += __builtin_mul_overflow((int32_t)x, (int32_t)y, &prod32);
        uint32_t diff32;
        carry_count += __builtin_sub_overflow((uint32_t)x, (uint32_t)y, &diff32);
        acc += sum + (uint64_t)ssum + (uint32_t)prod32 + diff32;
        acc += x * 5 + y * 9 - (x * 0x7fff) + (uint64_t)(int32_t)((uint32_t)x * 12345u) +
               (uint64_t)(uint16_t)((uint32_t)(uint16_t)x * (uint16_t)y);
        /* conditional moves and selects */
        uint64_t mn = x < y ? x : y;
        int64_t smx = (int64_t)x > (int64_t)y ? (int64_t)x : (int64_t)y;
        acc ^= mn + (uint64_t)smx;
        acc += (uint64_t)(x > y) + (uint64_t)((int32_t)x < 0) + (uint64_t)((int16_t)y >= 100);
        /* conversions between integers and floating point, both directions and both signs */
        double dx = (double)(int64_t)x / 9.2233720368547758e18;
        double dy = (double)(y >> 11) * 0x1p-53;
        dsum += dx * dy - dx / (dy + 1.0);
        fsum += (float)dx * 0.5f + (float)(uint32_t)y * 1e-10f;
        acc += (uint64_t)(int64_t)(dx * 1e15) + (uint64_t)(dy * 1e18) + (uint64_t)(int32_t)(dsum * 1000.0) +
               (uint64_t)(uint32_t)(float)(uint16_t)x;
    }
    printf("arith: %016llx carries %llu overflows %llu dsum %.17g fsum %.9g\n", (unsigned long long)acc,
           (unsigned long long)carry_count, (unsigned long long)ovf_count, dsum, (double)fsum);
    mix(acc ^ carry_count ^ ovf_count);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1;
    if (n < 1)
        n = 1;
    matmul_int(12 * n);
    matmul_double(12 * n);
    bits(600 * n);
    unaligned(1000 * n);
    division(300 * n);
    arith(500 * n);
    printf("total: %016llx\n", (unsigned long long)h);
    return 0;
}
