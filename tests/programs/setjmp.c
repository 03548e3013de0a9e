/* setjmp/longjmp: plain returns, longjmp(0) becoming 1, unwinding several frames, volatile locals
   surviving the jump, and a stack of handlers used like exceptions. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

static jmp_buf top;
static int depth_reached;

static void dive(int depth, int limit)
{
    volatile char pad[64]; /* makes each frame own some stack that the jump abandons */
    pad[depth % 64] = (char)depth;
    depth_reached = depth + pad[depth % 64] - depth;
    if (depth == limit)
        longjmp(top, 100 + depth);
    dive(depth + 1, limit);
    printf("unreachable after dive %d\n", depth);
}

/* a handler stack, the way C exception libraries use setjmp */
#define MAX_HANDLERS 16
static jmp_buf *handlers[MAX_HANDLERS];
static int nhandlers;

static void throw(int code)
{
    if (nhandlers == 0) {
        printf("uncaught %d\n", code);
        exit(3);
    }
    longjmp(*handlers[--nhandlers], code);
}

static int checked_div(int a, int b)
{
    if (b == 0)
        throw(7);
    return a / b;
}

static int nested(int level)
{
    jmp_buf env;
    volatile int caught = 0;
    handlers[nhandlers++] = &env;
    int code = setjmp(env);
    if (code == 0) {
        if (level > 0)
            caught = nested(level - 1);
        else
            checked_div(1, 0);
        nhandlers--;
        /* rethrow on odd levels so that the exception travels outwards a level at a time */
        if (level % 2)
            throw(caught + level);
        return caught + 1000;
    }
    return code * 10 + level;
}

/* the outermost handler, which catches what the odd levels rethrow */
static int try_nested(int level)
{
    jmp_buf env;
    handlers[nhandlers++] = &env;
    int code = setjmp(env);
    if (code == 0) {
        int r = nested(level);
        nhandlers--;
        return r;
    }
    return -code;
}

int main(int argc, char **argv)
{
    int arg = argc > 1 ? atoi(argv[1]) : 200;
    const int n = arg < 0 ? 0 : arg; /* never written after setjmp, so need not be volatile */
    jmp_buf env;
    volatile int counter = 0;
    volatile double dv = 1.5;
    int r = setjmp(env);
    printf("setjmp returned %d counter %d dv %.2f\n", r, counter, dv);
    if (counter < 3) {
        counter++;
        dv *= 2;
        /* longjmp(env, 0) must make setjmp return 1 */
        longjmp(env, counter == 1 ? 0 : counter * 11);
    }

    for (volatile int limit = 0; limit < 40; limit += 13) {
        int v = setjmp(top);
        if (v == 0)
            dive(0, limit);
        printf("dive to %d returned %d (depth %d)\n", limit, v, depth_reached);
    }

    for (int lv = 0; lv < 5; lv++) {
        int res = try_nested(lv);
        printf("nested(%d) = %d, handlers left %d\n", lv, res, nhandlers);
    }

    /* many round trips: the stress case for a translator that caches return addresses */
    volatile long sum = 0;
    volatile int i = 0;
    jmp_buf loop;
    int v = setjmp(loop);
    sum += v;
    if (i < n) {
        i++;
        longjmp(loop, i);
    }
    printf("loop of %d jumps: sum %ld\n", n, sum);
    return sum == (long)n * (n + 1) / 2 ? 0 : 1;
}
