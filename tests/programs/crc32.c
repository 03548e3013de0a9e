/* Checksums over a generated buffer: table CRC32, bitwise CRC32 (must agree), Adler-32, FNV-1a. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t table[256];

static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

static uint32_t crc32_table(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint32_t crc32_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & -(c & 1));
    }
    return ~c;
}

static uint32_t adler32(const unsigned char *p, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521;
        b = (b + a) % 65521;
    }
    return b << 16 | a;
}

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

int main(int argc, char **argv)
{
    long arg = argc > 1 ? atol(argv[1]) : 6000;
    size_t n = arg > 0 ? (size_t)arg : 0;
    make_table();
    const char *check = "123456789";
    uint32_t c1 = crc32_table((const unsigned char *)check, strlen(check));
    uint32_t c2 = crc32_bitwise((const unsigned char *)check, strlen(check));
    uint32_t a1 = adler32((const unsigned char *)check, strlen(check));
    printf("check: crc32 %08x %08x adler32 %08x\n", c1, c2, a1);

    unsigned char *buf = calloc(n ? n : 1, 1);
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)(x >> 32);
    }
    uint32_t crc = crc32_table(buf, n);
    /* the bitwise form is 8x slower, so it checks only a prefix */
    size_t prefix = n < 1024 ? n : 1024;
    int agree = crc32_table(buf, prefix) == crc32_bitwise(buf, prefix);
    printf("buffer %zu bytes: crc32 %08x adler32 %08x fnv1a64 %016llx prefix %s\n", n, crc,
           adler32(buf, n), (unsigned long long)fnv1a64(buf, n), agree ? "agrees" : "DISAGREES");
    uint32_t rolling = 0;
    for (size_t off = 0; off + 64 <= n; off += 64)
        rolling ^= crc32_table(buf + off, 64) + (uint32_t)off;
    printf("per-block xor %08x\n", rolling);
    free(buf);
    int ok = c1 == 0xCBF43926u && c2 == c1 && a1 == 0x091E01DEu && agree;
    return ok ? 0 : 1;
}
