/* Prints what the kernel's execve leaves for a new process (argc, argv, envp, the auxiliary vector,
 * the stack alignment) in a form that is the same natively and under xlate: facts, not addresses.
 * Built with -nostdlib so that nothing runs before _start_c. */
#include <elf.h>
#include <stdint.h>

static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static char out[8192];
static int used;

static void put(const char *s)
{
    while (*s && used < (int)sizeof out)
        out[used++] = *s++;
}

static void put_num(unsigned long v)
{
    char buf[24];
    int n = 0;
    do
        buf[n++] = '0' + v % 10;
    while (v /= 10);
    while (n)
        out[used++] = buf[--n];
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

extern char _start[];

void _start_c(long *sp, long misalignment)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    put("stack aligned: "), put_num(misalignment == 0), put("\n");
    put("argc "), put_num(argc), put("\n");
    for (long i = 1; i < argc; i++)
        put("arg: "), put(argv[i]), put("\n");
    char **e = envp;
    while (*e) {
        if ((*e)[0] == 'X' && (*e)[1] == 'L' && (*e)[2] == 'T')
            put("env: "), put(*e), put("\n");
        e++;
    }
    Elf64_auxv_t *aux = (Elf64_auxv_t *)(e + 1);
    unsigned long seen = 0;
    for (; aux->a_type != AT_NULL; aux++) {
        unsigned long v = aux->a_un.a_val;
        if (aux->a_type < 64)
            seen |= 1ul << aux->a_type;
        switch (aux->a_type) {
        case AT_PAGESZ: put("pagesz "), put_num(v), put("\n"); break;
        case AT_CLKTCK: put("clktck "), put_num(v), put("\n"); break;
        case AT_ENTRY: put("entry is _start: "), put_num(v == (unsigned long)_start), put("\n"); break;
        case AT_PHENT: put("phent "), put_num(v), put("\n"); break;
        case AT_PHDR: {
            Elf64_Phdr *ph = (Elf64_Phdr *)v;
            put("first phdr type "), put_num(ph->p_type), put("\n");
            break;
        }
        case AT_SECURE: put("secure "), put_num(v), put("\n"); break;
        case AT_UID: case AT_EUID: case AT_GID: case AT_EGID:
            put("id "), put_num(aux->a_type), put(" "), put_num(v), put("\n");
            break;
        case AT_EXECFN: put("execfn is argv[0]: "), put_num(streq((char *)v, argv[0])), put("\n"); break;
        case AT_PLATFORM: put("platform "), put((char *)v), put("\n"); break;
        case AT_RANDOM: {
            unsigned char *r = (unsigned char *)v, any = 0;
            for (int i = 0; i < 16; i++)
                any |= r[i];
            put("random readable\n");
            (void)any;
            break;
        }
        case AT_HWCAP: put("hwcap has sse2: "), put_num((v >> 26) & 1), put("\n"); break;
        }
    }
    static const int required[] = {AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_ENTRY,
                                   AT_RANDOM, AT_HWCAP, AT_CLKTCK, AT_UID, AT_EUID, AT_GID,
                                   AT_EGID, AT_SECURE, AT_EXECFN, AT_PLATFORM};
    for (unsigned i = 0; i < sizeof required / sizeof *required; i++)
        if (!(seen >> required[i] & 1))
            put("missing auxv entry "), put_num(required[i]), put("\n");
    sys3(1, 1, (long)out, used);
    sys3(60, 0, 0, 0);
}

/* Entry: rsp points at argc and must be 16-byte aligned. */
__asm__(".globl _start\n_start:\n mov %rsp, %rdi\n mov %rsp, %rsi\n and $15, %rsi\n"
        " and $-16, %rsp\n call _start_c\n");
