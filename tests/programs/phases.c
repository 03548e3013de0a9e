/* Phases: a loop whose later iterations take a branch that the earlier ones never do, into a
 * function that has not run either, so that a JIT compiles the loop before that code has run,
 * and (xlate) compiles the loop again with it once it is hot. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static unsigned long later(unsigned long x, long i)
{
    for (int k = 0; k < 3; k++)
        x = (x ^ (x >> 7)) * 0x9E3779B97F4A7C15ul + (unsigned long)(i + k);
    return x;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    long turn = n / 4;
    unsigned long x = 1;
    for (long i = 0; i < n; i++) {
        if (i < turn)
            x = x * 31 + (unsigned long)i;
        else
            x = later(x, i);
    }
    printf("phases %ld: %lu\n", n, x);
    return 0;
}
