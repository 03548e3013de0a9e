/* Self-modifying code: writes machine code into an executable mapping, runs it until it is hot,
   rewrites it and runs it again; patches the instruction after the patching one; and swaps code
   by mprotect and by mapping over it, as JITs and loaders do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef unsigned (*fn_t)(unsigned);

/* lea eax, [rdi + imm32]; ret */
static void emit_add(volatile unsigned char *code, unsigned imm)
{
    code[0] = 0x8d;
    code[1] = 0x87;
    for (int i = 0; i < 4; i++)
        code[2 + i] = (unsigned char)(imm >> (8 * i));
    code[6] = 0xc3;
}

/* mov eax, edi; mov [rip + 1], al (the low byte of the next instruction's immediate);
   mov eax, imm32; ret: returns imm32 with its low byte replaced by the argument's. */
static const unsigned char patch_next[] = {0x89, 0xf8, 0x88, 0x05, 0x01, 0x00, 0x00, 0x00,
                                           0xb8, 0x00, 0x34, 0x12, 0x00, 0xc3};

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 500;
    if (n < 1)
        n = 1;
    if (n > 10000000)
        n = 10000000;
    unsigned char *code = mmap(NULL, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED)
        return 1;
    fn_t f = (fn_t)(void *)code;
    unsigned long sum = 0;
    for (unsigned round = 0; round < 6; round++) {
        emit_add(code, round * 1000 + 7);
        for (int i = 0; i < n; i++)
            sum = sum * 31 + f((unsigned)i);
        printf("round %u: %lu\n", round, sum);
    }

    memcpy(code + 64, patch_next, sizeof patch_next);
    fn_t g = (fn_t)(void *)(code + 64);
    unsigned long patched = 0;
    for (int i = 0; i < n; i++)
        patched = patched * 31 + g((unsigned)i);
    printf("patched: %lu (last %#x)\n", patched, g(0xab));

    /* W^X: write while not executable, then flip back. */
    mprotect(code, 8192, PROT_READ | PROT_WRITE);
    emit_add(code, 424242);
    mprotect(code, 8192, PROT_READ | PROT_EXEC);
    printf("after mprotect: %u\n", f(1));

    /* A new mapping over the old code. */
    unsigned char *again = mmap(code, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (again != code)
        return 2;
    emit_add(again, 99);
    printf("after remap: %u\n", f(1));
    return 0;
}
