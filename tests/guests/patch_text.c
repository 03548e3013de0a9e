/* Patches a hot function in place: lea eax, [rdi + 7] becomes lea eax, [rdi + 9].  The function
   is in a writable and executable section of the program, on a page of its own (no other code
   there to be decoded), so that nothing but the write itself can tell the translator. */
#include <stdio.h>

unsigned add_k(unsigned x);
__asm__(".section .wtext, \"awx\", @progbits\n"
        ".balign 4096\n"
        "add_k:\n"
        "    lea 7(%rdi), %eax\n" /* 8d 47 07: the immediate is the third byte */
        "    ret\n"
        ".balign 4096\n"
        ".text\n");

static unsigned long run(int n)
{
    unsigned long sum = 0;
    for (int i = 0; i < n; i++)
        sum = sum * 31 + add_k((unsigned)i);
    return sum;
}

int main(void)
{
    printf("before: %lu\n", run(5000));
    ((volatile unsigned char *)add_k)[2] = 9;
    printf("after: %lu\n", run(5000));
    return 0;
}
