/* Recursion: naive fib, ackermann, hanoi and a deep non-tail recursion that keeps a frame per level. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned fib(unsigned n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static unsigned long ack(unsigned long m, unsigned long n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ack(m - 1, 1);
    return ack(m - 1, ack(m, n - 1));
}

static unsigned long moves;
static unsigned long move_hash;

static void hanoi(int n, int from, int to, int via)
{
    if (n == 0)
        return;
    hanoi(n - 1, from, via, to);
    moves++;
    move_hash = move_hash * 31 + (unsigned long)(from * 3 + to);
    hanoi(n - 1, via, to, from);
}

/* The buffer and the work after the call keep gcc from turning this into a loop, so every level
   really occupies stack. */
static unsigned long deep(int depth, unsigned long acc)
{
    volatile unsigned char buf[48];
    memset((void *)buf, depth & 0xff, sizeof buf);
    if (depth == 0)
        return acc;
    unsigned long r = deep(depth - 1, acc * 6364136223846793005UL + 1442695040888963407UL);
    return r ^ (buf[depth % 48] + (unsigned long)depth);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 18;
    if (n < 0)
        n = 0;
    unsigned f = fib((unsigned)n);
    printf("fib(%d) = %u\n", n, f);
    unsigned long a2 = ack(2, (unsigned long)n * 3);
    unsigned long a3 = ack(3, 3);
    printf("ack(2,%d) = %lu\nack(3,3) = %lu\n", n * 3, a2, a3);
    int h = n < 20 ? n - 6 : 14;
    if (h < 1)
        h = 1;
    hanoi(h, 0, 2, 1);
    printf("hanoi(%d): %lu moves, hash %016lx\n", h, moves, move_hash);
    unsigned long d = deep(n * 200, 1);
    printf("deep(%d) = %016lx\n", n * 200, d);
    int ok = a2 == (unsigned long)n * 6 + 3 && a3 == 61 && moves == (1UL << h) - 1;
    return ok ? 0 : 1;
}
