/* Guests that end badly on purpose, chosen by argv[1]: each must be reported with the same exit
 * status as natively. Built with -nostdlib so that only these few instructions run. */
static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

void _start_c(long *sp)
{
    char **argv = (char **)(sp + 1);
    char mode = sp[0] > 1 ? argv[1][0] : 'x';
    sys3(1, 1, (long)"start\n", 6);
    if (mode == 's') /* store to an unmapped address */
        *(volatile int *)0x1234 = 1;
    if (mode == 'w') /* store to read-only code */
        *(volatile char *)&_start_c = 0;
    if (mode == 'd') { /* integer divide by zero */
        volatile long zero = 0;
        sys3(60, 100 / zero, 0, 0);
    }
    if (mode == 'u') /* an undefined opcode */
        __asm__ volatile(".byte 0x0f, 0xff");
    if (mode == 'k') /* a wild address far outside any guest space */
        *(volatile long *)0xdead000000000000ul = 1;
    if (mode == 'l') { /* a loop that reads on up the stack until it runs off its top: the read
                          faults in the middle of its block, once the loop is hot */
        volatile long *p = sp;
        static volatile long sink;
        for (long i = 0;; i++)
            sink = (sink * 7 + i) ^ p[i];
    }
    if (mode == 'm') { /* a read in the middle of its block from an address beyond any guest
                          space, made at run time, so that compiled code checks it */
        static volatile long sink;
        sink = sink * 7 ^ *(volatile long *)((long)sp << 24);
    }
    sys3(60, 7, 0, 0);
}

__asm__(".globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call _start_c\n");
