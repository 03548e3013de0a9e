/*
 * Native oracle for xlate's differential tests.
 *
 * A persistent helper started by native.py: for each case it takes the
 * registers, an FXSAVE image, the code and the data region from a memfd
 * shared with Python, runs the code and leaves the final state there.  Each
 * case runs in a forked child so that whatever the code does (writes
 * anywhere, syscalls, faults, hangs) cannot damage the helper or leak into the
 * next case; the parent prepares the code page and the data region before
 * forking, and the child reports through the shared memfd.
 *
 * Layout constants come from native.py (-D...), which gets them from
 * state.py, so there is one source of truth.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef DATA_ADDR
#error "DATA_ADDR must be defined"
#endif
#ifndef DATA_SIZE
#error "DATA_SIZE must be defined"
#endif
#ifndef CODE_ADDR
#error "CODE_ADDR must be defined"
#endif
#ifndef CODE_SIZE
#error "CODE_SIZE must be defined"
#endif

/* The stub appended to the code: jmp [rip+0]; .quad xl_exit.  It uses no
 * register and no flag, so the state it sees is the code's final state. */
#define STUB_SIZE 14
#define MAX_CODE (CODE_SIZE - STUB_SIZE)

enum { ST_OK = 0, ST_DIED = 1, ST_BAD_REQUEST = 2, ST_HARNESS_FAULT = 3, ST_HUNG = 4 };

/*
 * Cases travel through a memfd shared with the Python side (fd given as
 * argv[1]); the pipes carry one byte each way to say "go" and "done".  That
 * avoids pushing the 64 KiB data region through pipes twice per case.
 * native.py mirrors these offsets; the asserts below pin them.
 */
struct req {
    uint32_t code_len;
    uint32_t timeout_ms;
    uint64_t gpr[16];
    uint64_t rflags;
    uint8_t fx[512]; /* FXSAVE image: x87, MXCSR, xmm0-15 */
};

struct resp {
    uint32_t status;
    int32_t signal;
    int32_t si_code;
    int32_t wait_status;
    uint64_t fault_addr;
    uint64_t rip;
    uint64_t gpr[16];
    uint64_t rflags;
    uint8_t fx[512];
    uint8_t mem[DATA_SIZE]; /* in: the initial data region; out: the final one */
};

struct shm {
    struct req rq;
    uint8_t code[CODE_SIZE] __attribute__((aligned(1024)));
    struct resp rs;
};

_Static_assert(offsetof(struct shm, code) == 1024, "layout shared with native.py");
_Static_assert(offsetof(struct shm, rs) == 1024 + CODE_SIZE, "layout shared with native.py");
_Static_assert(offsetof(struct resp, gpr) == 32, "layout shared with native.py");
_Static_assert(offsetof(struct resp, mem) == 680, "layout shared with native.py");

/* Guest-visible flag bits the harness loads; TF/AC/NT/ID would change how
 * the code runs (single-step, alignment checks), so they are never set. */
#define RFLAGS_IN_MASK 0xcd5ull

/* Shared with the asm below; fx areas must be 16-byte aligned for FXRSTOR. */
uint64_t xl_in_gpr[16];
uint64_t xl_in_rflags;
uint64_t xl_out_gpr[16];
uint64_t xl_out_rflags;
uint64_t xl_host_rsp;
uint64_t xl_code_entry;
uint32_t xl_default_mxcsr = 0x1f80;
uint8_t xl_have_avx;
volatile uint8_t xl_phase; /* 0 harness, 1 guest code, 2 back in harness */
__attribute__((aligned(16))) uint8_t xl_in_fx[512];
__attribute__((aligned(16))) uint8_t xl_out_fx[512];

void xl_enter(void);
void xl_exit(void);

/* GPR slots are in x86 encoding order: rax rcx rdx rbx rsp rbp rsi rdi
 * r8..r15, each 8 bytes. */
__asm__(
    ".intel_syntax noprefix\n"
    ".text\n"
    ".globl xl_enter\n"
    ".type xl_enter, @function\n"
    "xl_enter:\n"
    "  push rbx\n push rbp\n push r12\n push r13\n push r14\n push r15\n"
    "  mov [rip + xl_host_rsp], rsp\n"
    /* Upper ymm halves are not part of the state: make them zero rather than
     * whatever libc left, so VEX-256 code starts from a defined state. */
    "  cmp byte ptr [rip + xl_have_avx], 0\n"
    "  je 1f\n"
    "  vzeroupper\n"
    "1:\n"
    "  fxrstor [rip + xl_in_fx]\n"
    "  push qword ptr [rip + xl_in_rflags]\n"
    "  popfq\n"
    /* From here on only MOVs (no flag changes) until the jump. */
    "  mov byte ptr [rip + xl_phase], 1\n"
    "  mov rax, [rip + xl_in_gpr + 0]\n"
    "  mov rcx, [rip + xl_in_gpr + 8]\n"
    "  mov rdx, [rip + xl_in_gpr + 16]\n"
    "  mov rbx, [rip + xl_in_gpr + 24]\n"
    "  mov rsp, [rip + xl_in_gpr + 32]\n"
    "  mov rbp, [rip + xl_in_gpr + 40]\n"
    "  mov rsi, [rip + xl_in_gpr + 48]\n"
    "  mov rdi, [rip + xl_in_gpr + 56]\n"
    "  mov r8, [rip + xl_in_gpr + 64]\n"
    "  mov r9, [rip + xl_in_gpr + 72]\n"
    "  mov r10, [rip + xl_in_gpr + 80]\n"
    "  mov r11, [rip + xl_in_gpr + 88]\n"
    "  mov r12, [rip + xl_in_gpr + 96]\n"
    "  mov r13, [rip + xl_in_gpr + 104]\n"
    "  mov r14, [rip + xl_in_gpr + 112]\n"
    "  mov r15, [rip + xl_in_gpr + 120]\n"
    "  jmp qword ptr [rip + xl_code_entry]\n"
    ".size xl_enter, . - xl_enter\n"
    "\n"
    ".globl xl_exit\n"
    ".type xl_exit, @function\n"
    "xl_exit:\n"
    /* The guest rsp may point anywhere, so save through rip-relative
     * stores and only touch a stack once ours is back. */
    "  mov [rip + xl_out_gpr + 0], rax\n"
    "  mov [rip + xl_out_gpr + 8], rcx\n"
    "  mov [rip + xl_out_gpr + 16], rdx\n"
    "  mov [rip + xl_out_gpr + 24], rbx\n"
    "  mov [rip + xl_out_gpr + 32], rsp\n"
    "  mov [rip + xl_out_gpr + 40], rbp\n"
    "  mov [rip + xl_out_gpr + 48], rsi\n"
    "  mov [rip + xl_out_gpr + 56], rdi\n"
    "  mov [rip + xl_out_gpr + 64], r8\n"
    "  mov [rip + xl_out_gpr + 72], r9\n"
    "  mov [rip + xl_out_gpr + 80], r10\n"
    "  mov [rip + xl_out_gpr + 88], r11\n"
    "  mov [rip + xl_out_gpr + 96], r12\n"
    "  mov [rip + xl_out_gpr + 104], r13\n"
    "  mov [rip + xl_out_gpr + 112], r14\n"
    "  mov [rip + xl_out_gpr + 120], r15\n"
    "  mov byte ptr [rip + xl_phase], 2\n"
    "  mov rsp, [rip + xl_host_rsp]\n"
    "  pushfq\n"
    "  pop qword ptr [rip + xl_out_rflags]\n"
    "  fxsave [rip + xl_out_fx]\n"
    /* Give C a clean FPU/SSE environment and DF=0, as the ABI requires. */
    "  fninit\n"
    "  ldmxcsr [rip + xl_default_mxcsr]\n"
    "  cld\n"
    "  pop r15\n pop r14\n pop r13\n pop r12\n pop rbp\n pop rbx\n"
    "  ret\n"
    ".size xl_exit, . - xl_exit\n"
    ".att_syntax prefix\n");

#define ST_PENDING 0xffffffffu

static struct shm *shm;       /* shared with Python, and with the forked child */
static uint8_t *code_page;
static uint8_t *data_region;
static uint32_t mxcsr_mask = 0xffff;
static uint32_t prev_code_len;
static char altstack[1 << 16];

static void die(const char *what)
{
    fprintf(stderr, "xlate oracle harness: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* Runs in the child, on the alternate stack (the guest rsp may be bad). */
static void on_signal(int sig, siginfo_t *si, void *ctx)
{
    static const int greg_of[16] = {
        REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
        REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
    };
    ucontext_t *uc = ctx;
    greg_t *g = uc->uc_mcontext.gregs;
    struct resp *rs = &shm->rs;

    rs->signal = sig;
    rs->si_code = si->si_code;
    rs->fault_addr = (uint64_t)(uintptr_t)si->si_addr;
    rs->rip = (uint64_t)g[REG_RIP];
    for (int i = 0; i < 16; i++)
        rs->gpr[i] = (uint64_t)g[greg_of[i]];
    rs->rflags = (uint64_t)g[REG_EFL];
    /* The kernel's signal frame starts with the FXSAVE legacy area. */
    if (uc->uc_mcontext.fpregs)
        memcpy(rs->fx, uc->uc_mcontext.fpregs, sizeof rs->fx);
    memcpy(rs->mem, data_region, DATA_SIZE);
    /* Phase 1 is the guest's; a signal elsewhere is the harness's own bug. */
    rs->status = xl_phase == 1 ? ST_OK : ST_HARNESS_FAULT;
    _exit(0);
}

static void run_child(uint32_t timeout_ms)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGALRM};
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    struct sigaction sa;
    struct resp *rs = &shm->rs;

    /* The alternate stack keeps signal frames off the guest stack, which may
     * be unmapped and is part of the compared data region. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* the parent blocks SIGCHLD */
    if (sigaltstack(&ss, NULL))
        _exit(3);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL))
            _exit(3);
    if (timeout_ms) {
        struct itimerval it = {
            .it_value = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000},
        };
        setitimer(ITIMER_REAL, &it, NULL);
    }

    xl_enter();

    struct itimerval off = {0};
    setitimer(ITIMER_REAL, &off, NULL);
    rs->signal = 0;
    rs->si_code = 0;
    rs->fault_addr = 0;
    rs->rip = xl_code_entry + prev_code_len;
    memcpy(rs->gpr, xl_out_gpr, sizeof rs->gpr);
    rs->rflags = xl_out_rflags;
    memcpy(rs->fx, xl_out_fx, sizeof rs->fx);
    memcpy(rs->mem, data_region, DATA_SIZE);
    rs->status = ST_OK;
    _exit(0);
}

static void *map_fixed(uintptr_t addr, size_t size, int prot)
{
    void *p = mmap((void *)addr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        die("mmap fixed region");
    if (p != (void *)addr) {
        /* Kernels before 4.17 treat MAP_FIXED_NOREPLACE as a hint. */
        errno = EEXIST;
        die("mmap fixed region (address taken)");
    }
    return p;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reap the child, killing it after limit_ms: its own SIGALRM can be blocked
 * or ignored by the code under test.  Returns 0 if it had to be killed. */
static int wait_child(pid_t pid, uint32_t limit_ms, int *ws)
{
    sigset_t chld;
    uint64_t deadline = now_ms() + limit_ms;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (;;) {
        pid_t w = waitpid(pid, ws, WNOHANG);
        if (w == pid)
            return 1;
        if (w < 0 && errno != EINTR)
            die("waitpid");
        uint64_t t = now_ms();
        if (t >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, ws, 0) < 0)
                if (errno != EINTR)
                    die("waitpid");
            return 0;
        }
        uint64_t left = deadline - t;
        struct timespec ts = {.tv_sec = (time_t)(left / 1000), .tv_nsec = (long)(left % 1000) * 1000000};
        sigtimedwait(&chld, NULL, &ts); /* SIGCHLD is blocked: this just sleeps */
    }
}

/* One case: the request is in shm; the result goes to shm->rs. */
static void run_case(void)
{
    struct req *rq = &shm->rq;
    struct resp *rs = &shm->rs;
    uint32_t mxcsr;

    memcpy(&mxcsr, rq->fx + 24, 4);
    if (rq->code_len > MAX_CODE || (mxcsr & ~mxcsr_mask)) {
        /* FXRSTOR would fault on reserved MXCSR bits. */
        rs->status = ST_BAD_REQUEST;
        return;
    }
    /* Clear the previous case's bytes so stray jumps see zeros. */
    memset(code_page, 0, prev_code_len + STUB_SIZE);
    memcpy(code_page, shm->code, rq->code_len);
    prev_code_len = rq->code_len;
    uint8_t *stub = code_page + rq->code_len;
    uint64_t target = (uint64_t)(uintptr_t)xl_exit;
    stub[0] = 0xff;
    stub[1] = 0x25;
    memset(stub + 2, 0, 4);
    memcpy(stub + 6, &target, 8);

    memcpy(data_region, rs->mem, DATA_SIZE);
    memcpy(xl_in_gpr, rq->gpr, sizeof xl_in_gpr);
    /* Bit 1 is reserved and always 1. */
    xl_in_rflags = (rq->rflags & RFLAGS_IN_MASK) | 2;
    memcpy(xl_in_fx, rq->fx, sizeof xl_in_fx);

    rs->status = ST_PENDING;
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0)
        run_child(rq->timeout_ms);
    int ws = 0;
    int hung = !wait_child(pid, rq->timeout_ms + 250, &ws);
    rs->wait_status = ws;
    if (hung)
        rs->status = ST_HUNG;
    else if (rs->status == ST_PENDING || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
        rs->status = ST_DIED;
}

int main(int argc, char **argv)
{
    __attribute__((aligned(16))) uint8_t probe[512];

    if (argc != 2) {
        fprintf(stderr, "usage: %s SHM_FD  (started by tests/oracle/native.py)\n", argv[0]);
        return 2;
    }
    /* Reserved MXCSR bits make FXRSTOR fault; learn which bits are legal. */
    memset(probe, 0, sizeof probe);
    __asm__ volatile("fxsave %0" : "=m"(probe));
    memcpy(&mxcsr_mask, probe + 28, 4);
    if (!mxcsr_mask)
        mxcsr_mask = 0xffbf;
    __builtin_cpu_init();
    xl_have_avx = __builtin_cpu_supports("avx") ? 1 : 0;

    /* Blocked so that wait_child can sleep on it with sigtimedwait. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);

    shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED, atoi(argv[1]), 0);
    if (shm == MAP_FAILED)
        die("mmap shm");
    code_page = map_fixed(CODE_ADDR, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC);
    data_region = map_fixed(DATA_ADDR, DATA_SIZE, PROT_READ | PROT_WRITE);
    xl_code_entry = CODE_ADDR;

    for (;;) {
        char go;
        ssize_t r = read(0, &go, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0; /* EOF: the test session is over */
        run_case();
        char done = 'd';
        while (write(1, &done, 1) != 1)
            if (errno != EINTR)
                die("write");
    }
}
