/* The string.h, ctype.h and formatted string functions, including overlapping memmove and the
   unaligned lengths that libc fast paths branch on. */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long h = 5381;

static void mix(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = h * 33 ^ c[i];
}

static void mixl(long v)
{
    mix(&v, sizeof v);
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 1;
    char buf[256], buf2[256];
    int ok = 1;
    for (int r = 0; r < reps; r++) {
        h = 5381;
        const char *s = "The quick brown fox jumps over the lazy dog";
        printf("strlen %zu\n", strlen(s));
        strcpy(buf, s);
        strcat(buf, ", twice: ");
        strncat(buf, s, 9);
        printf("strcat: [%s] %zu\n", buf, strlen(buf));
        printf("strcmp %d %d %d strncmp %d %d\n", sign(strcmp("abc", "abd")), sign(strcmp("abc", "abc")),
               sign(strcmp("b", "abc")), sign(strncmp("abcdef", "abcxyz", 3)),
               sign(strncmp("abcdef", "abcxyz", 4)));
        /* the sign of a comparison of bytes >= 0x80 tells whether they are compared unsigned */
        printf("high bytes: strcmp %d memcmp %d\n", sign(strcmp("\x80", "\x7f")),
               sign(memcmp("a\xff", "a\x01", 2)));
        printf("strchr [%s] strrchr [%s] strchr-nul %d\n", strchr(s, 'o'), strrchr(s, 'o'),
               strchr(s, 0) == s + strlen(s));
        printf("strstr [%s] [%s] miss %d\n", strstr(s, "fox"), strstr(s, "the"), strstr(s, "cat") == NULL);
        printf("strspn %zu strcspn %zu strpbrk [%s]\n", strspn("aaabbbccc", "ab"),
               strcspn(s, "xyz"), strpbrk(s, "jz"));
        printf("memchr [%s]\n", (char *)memchr(s, 'j', strlen(s)));

        /* every length and alignment around the word sizes libc copies with */
        for (int len = 0; len < 40; len++)
            for (int off = 0; off < 9; off++) {
                memset(buf, 'x', sizeof buf);
                memset(buf2, 0, sizeof buf2);
                for (int i = 0; i < len; i++)
                    buf2[off + i] = (char)('A' + (i * 7 + off) % 26);
                memcpy(buf + off + 3, buf2 + off, (size_t)len);
                mix(buf + off + len, 8);
                ok &= memcmp(buf + off + 3, buf2 + off, (size_t)len) == 0;
                buf2[off + len] = 0;
                mixl((long)strlen(buf2 + off));
            }
        strcpy(buf, "0123456789abcdefghijklmnopqrstuvwxyz");
        memmove(buf + 5, buf, 20); /* overlap, copying forwards into itself */
        printf("memmove up: %s\n", buf);
        strcpy(buf, "0123456789abcdefghijklmnopqrstuvwxyz");
        memmove(buf, buf + 7, 25);
        printf("memmove down: %s\n", buf);
        for (int len = 0; len < 40; len++) {
            for (int i = 0; i < 100; i++)
                buf[i] = (char)i;
            memmove(buf + 1 + len % 5, buf + 2, (size_t)len);
            memmove(buf + 50, buf + 48 + len % 3, (size_t)len);
            mix(buf, 100);
        }
        memset(buf, 0x5a, 77);
        memset(buf + 3, 0, 33);
        mix(buf, 80);
        printf("memset/memmove hash %016lx\n", h);
        printf("memcmp %d %d %d\n", sign(memcmp("abcd", "abce", 4)), sign(memcmp("abcd", "abce", 3)),
               sign(memcmp("b", "a", 1)));

        char *end;
        printf("strtol %ld %ld %ld %ld", strtol("  -12345xyz", &end, 10), strtol("0x7fff", NULL, 16),
               strtol("0755", NULL, 0), strtol("zz", NULL, 36));
        printf(" rest [%s]\n", end);
        printf("strtoul %lu strtoll %lld strtoull %llu overflow %ld\n", strtoul("4294967295", NULL, 10),
               strtoll("-9223372036854775808", NULL, 10), strtoull("18446744073709551615", NULL, 10),
               strtol("99999999999999999999", NULL, 10));
        printf("atoi %d atol %ld strtod %.17g %.17g %g\n", atoi("  42abc"), atol("-77"),
               strtod("3.14159e2", NULL), strtod("0.1", NULL), strtod("-1e-5", NULL));

        int w = snprintf(buf, sizeof buf, "%d-%s-%05.1f-%x", 7, "seven", 7.25, 255u);
        printf("snprintf %d [%s]\n", w, buf);
        w = snprintf(buf, 8, "truncated %s", "output");
        printf("snprintf short %d [%s]\n", w, buf);
        w = sprintf(buf2, "%s|%c|%lu|%5.2f", "abc", 'Z', ULONG_MAX, -0.125);
        printf("sprintf %d [%s]\n", w, buf2);

        int i1 = 0, i2 = 0;
        unsigned x = 0;
        char word[32] = "";
        double d = 0;
        int got = sscanf("  17 -4 ff hello 2.5e3 rest", "%d %d %x %31s %lf", &i1, &i2, &x, word, &d);
        printf("sscanf %d: %d %d %u [%s] %.1f\n", got, i1, i2, x, word, d);
        got = sscanf("12:34:56", "%d:%d:%d", &i1, &i2, (int *)&x);
        printf("sscanf time %d: %d %d %u\n", got, i1, i2, x);
        got = sscanf("abc", "%d", &i1);
        printf("sscanf fail %d\n", got);

        strcpy(buf, "Mixed Case 123 with_Symbols!?");
        for (char *p = buf; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        printf("upper [%s]\n", buf);
        for (char *p = buf; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        printf("lower [%s]\n", buf);
        int classes[6] = {0};
        for (int c = 0; c < 256; c++) {
            classes[0] += isalpha(c) != 0;
            classes[1] += isdigit(c) != 0;
            classes[2] += isspace(c) != 0;
            classes[3] += ispunct(c) != 0;
            classes[4] += isxdigit(c) != 0;
            classes[5] += isprint(c) != 0;
        }
        printf("ctype alpha %d digit %d space %d punct %d xdigit %d print %d\n", classes[0], classes[1],
               classes[2], classes[3], classes[4], classes[5]);

        char tok[] = "a,b,,c;d";
        int ntok = 0;
        for (char *t = strtok(tok, ",;"); t; t = strtok(NULL, ",;")) {
            printf("%stoken %d [%s]", ntok ? ", " : "", ntok + 1, t);
            ntok++;
        }
        printf("\n");
        char *dup = strdup(s);
        dup[3] = 0;
        printf("strdup [%s] strnlen %zu\n", dup, strnlen(s, 10));
        free(dup);
        printf("hash %016lx\n", h);
    }
    printf("%s\n", ok ? "ok" : "MISMATCH");
    return ok ? 0 : 1;
}
