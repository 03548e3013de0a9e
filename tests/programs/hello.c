/* printf, puts and putchar over strings, every integer width and doubles at the edges of the range. */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 1;
    /* volatile so that the arithmetic runs in the guest instead of being folded by gcc */
    volatile double zero = 0.0, one = 1.0, tenth = 0.1, fifth = 0.2, big = 1e308;
    const double vals[] = {
        0.0, -0.0, 1.0, -1.5, 3.141592653589793, 2.718281828459045, 0.1, 1.0 / 3.0, 2.5, 0.5,
        -0.125, 123456789.125, 1e15, 1e16, 1e21, -9.87654321e22, 1e-5, 1e-300, 2.2250738585072014e-308,
        5e-324, 1.7976931348623157e308, -2.5e-10, 4503599627370497.0, 0.30000000000000004,
    };
    for (int r = 0; r < reps; r++) {
        puts("Hello, world!");
        puts("");
        printf("%s|%10s|%-10s|%.3s|%c%c|%%\n", "str", "right", "left", "truncate", 'o', 'k');
        printf("%d %d %i %u %x %X %o\n", 0, -1, 2147483647, 4294967295u, 0xdeadbeefu, 0xcafeu, 0755);
        printf("%d %u\n", (int)-2147483647 - 1, 2147483648u);
        printf("%ld %lld %llu %llx %#llx %#o %#x\n", (long)INT64_MIN, 123456789012345LL,
               18446744073709551615ULL, 0x0123456789abcdefULL, 0xffULL, 8, 0);
        printf("%5d|%-5d|%05d|%+d|% d|%+d|%.0d|%.4d\n", 42, 42, 42, 42, 42, -42, 0, 7);
        printf("%hhd %hhu %hd %hu %zu %jd %td\n", (signed char)-128, (unsigned char)255,
               (short)-32768, (unsigned short)65535, sizeof(long), (intmax_t)-5, (ptrdiff_t)-7);
        printf("%" PRId64 " %" PRIu64 " %" PRIx32 " %" PRIi8 "\n", INT64_MAX, UINT64_MAX,
               UINT32_MAX, INT8_MIN);
        for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
            double v = vals[i];
            printf("%f|%g|%e|%.17g|%a\n", v, v, v, v, v);
            /* %f of the largest doubles costs over 100k instructions each, so only once */
            if (v < 1e30 && v > -1e30)
                printf("%+.10f|%12.4e|%-10.2g|\n", v, v, v);
        }
        double sum = tenth + fifth;
        printf("0.1+0.2 = %.17g %s 0.3\n", sum, sum == 0.3 ? "==" : "!=");
        printf("1/3 = %.20f\n", one / 3.0);
        printf("overflow: %f %e %g\n", big * 10.0, -big * 10.0, big * big);
        /* 0/0 on x86 gives the default NaN, whose sign bit is set: glibc prints -nan */
        printf("0/0: %f, negated: %f\n", zero / zero, -(zero / zero));
        printf("%.0f %.0f %.0f %.0f %.1f %.2f\n", 0.5, 1.5, 2.5, -0.5, 0.05, 1.005);
        printf("%10.3f|%-10.3f|%+.2e|%010.2f\n", -3.14159, 2.71828, 6.02214076e23, -1.5);
        for (int c = 'a'; c <= 'z'; c++)
            putchar(c);
        putchar('\n');
        fputs("fputs line\n", stdout);
    }
    return 0;
}
