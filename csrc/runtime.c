/* Fault guards, guest memory access for uncompiled code, and the dispatch loop. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "runtime.h"

/* The fault guard of this host thread: set while compiled code or a helper runs, so that the
 * fault handler can turn a host fault in the guest region into a guest fault. */
static __thread sigjmp_buf *guard_jmp;
static __thread xlate_cpu *guard_cpu;

static int installed;
static struct sigaction previous_segv, previous_bus;

void xlate_fault(xlate_cpu *cpu, uint64_t guest_addr)
{
    cpu->fault_addr = guest_addr;
    cpu->fault_host_pc = 0;
    cpu->fault_signal = SIGSEGV;
    siglongjmp(*guard_jmp, 1);
}

/* A write fault on an armed code page (see xlate_cpu.code_pages): note it, unprotect the page
 * and return nonzero, so that the write is retried and succeeds. Armed pages are readable, so
 * a fault there is a write. */
static int disarm(xlate_cpu *cpu, uint64_t guest_addr)
{
    uint64_t page = guest_addr >> 12;
    if (guest_addr >= XLATE_GUEST_SPACE || !(cpu->code_pages[page] & XLATE_CODE_ARMED) ||
        mprotect(cpu->mem_base + (page << 12), 4096, PROT_READ | PROT_WRITE))
        return 0;
    cpu->code_pages[page] &= ~XLATE_CODE_ARMED;
    xlate_note_code_write(cpu, page << 12, 4096);
    xlate_request_stop(cpu, XLATE_STOP_CODE_WRITTEN);
    return 1;
}

/* The host address of the instruction that faulted: compiled code does not store the guest pc
 * before each access, and this says which access it was (see xlate/jit/lines.py). */
static uint64_t faulting_pc(const void *context)
{
    const ucontext_t *uc = context;
#if defined(__x86_64__)
    return (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

static void on_host_fault(int sig, siginfo_t *info, void *context)
{
    uint8_t *addr = info->si_addr;
    if (guard_jmp && addr >= guard_cpu->mem_base &&
        addr < guard_cpu->mem_base + XLATE_GUEST_SPACE + XLATE_GUEST_GUARD) {
        if (disarm(guard_cpu, (uint64_t)(addr - guard_cpu->mem_base)))
            return;
        guard_cpu->fault_addr = (uint64_t)(addr - guard_cpu->mem_base);
        guard_cpu->fault_host_pc = faulting_pc(context);
        guard_cpu->fault_signal = sig;
        siglongjmp(*guard_jmp, 1);
    }
    /* Not the guest's: put back whoever was there before and let the fault happen again. */
    sigaction(sig, sig == SIGBUS ? &previous_bus : &previous_segv, NULL);
}

int xlate_runtime_init(void)
{
    if (installed)
        return 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_host_fault;
    /* SA_NODEFER: we leave the handler by siglongjmp without restoring the signal mask. */
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSEGV, &action, &previous_segv) || sigaction(SIGBUS, &action, &previous_bus))
        return -1;
    installed = 1;
    return 0;
}

/* Run body under a fault guard; evaluates to nonzero if it faulted. */
#define GUARDED(cpu, body)                                        \
    ({                                                            \
        sigjmp_buf jb_;                                           \
        sigjmp_buf *saved_jmp_ = guard_jmp;                       \
        xlate_cpu *saved_cpu_ = guard_cpu;                        \
        int faulted_ = sigsetjmp(jb_, 0);                         \
        if (!faulted_) {                                          \
            guard_jmp = &jb_;                                     \
            guard_cpu = (cpu);                                    \
            body;                                                 \
        }                                                         \
        guard_jmp = saved_jmp_;                                   \
        guard_cpu = saved_cpu_;                                   \
        faulted_;                                                 \
    })

uint64_t xlate_load(xlate_cpu *cpu, uint64_t guest_addr, int size)
{
    volatile uint64_t value = 0;
    GUARDED(cpu, {
        uint8_t *p = xlate_host(cpu, guest_addr, size);
        switch (size) {
        case 1: value = *p; break;
        case 2: { uint16_t v; memcpy(&v, p, 2); value = v; break; }
        case 4: { uint32_t v; memcpy(&v, p, 4); value = v; break; }
        default: { uint64_t v; memcpy(&v, p, 8); value = v; break; }
        }
    });
    return value;
}

int xlate_note_code_write(xlate_cpu *cpu, uint64_t guest_addr, uint64_t size)
{
    uint64_t end = guest_addr + size;
    if (!((cpu->code_pages[guest_addr >> 12] | cpu->code_pages[(end - 1) >> 12]) & XLATE_CODE_HERE))
        return 0;
    if (!cpu->code_written_end || guest_addr < cpu->code_written_start)
        cpu->code_written_start = guest_addr;
    if (end > cpu->code_written_end)
        cpu->code_written_end = end;
    return 1;
}

void xlate_store(xlate_cpu *cpu, uint64_t guest_addr, int size, uint64_t value)
{
    GUARDED(cpu, {
        uint8_t *p = xlate_host_write(cpu, guest_addr, size);
        switch (size) {
        case 1: *p = (uint8_t)value; break;
        case 2: { uint16_t v = (uint16_t)value; memcpy(p, &v, 2); break; }
        case 4: { uint32_t v = (uint32_t)value; memcpy(p, &v, 4); break; }
        default: memcpy(p, &value, 8); break;
        }
    });
}

uint64_t xlate_call_helper(xlate_helper_fn fn, xlate_cpu *cpu, uint64_t a, uint64_t b)
{
    volatile uint64_t result = 0;
    GUARDED(cpu, result = fn(cpu, a, b));
    return result;
}

void xlate_request_stop(xlate_cpu *cpu, int32_t bits)
{
    __atomic_fetch_or(&cpu->stop_request, bits, __ATOMIC_SEQ_CST);
}

void xlate_clear_stop(xlate_cpu *cpu, int32_t bits)
{
    __atomic_fetch_and(&cpu->stop_request, ~bits, __ATOMIC_SEQ_CST);
}

/* A block's threaded code, with its header (see XLATE_THREADED_HEADER): counted, and where
 * its computed jump went noted. */
static int run_threaded(xlate_cpu *cpu, uint64_t *program)
{
    program[XLATE_THREADED_RUNS]++;
    cpu->threaded_entries++;
    int rc = xlate_threaded_exec(cpu, program + XLATE_THREADED_HEADER);
    if (program[XLATE_THREADED_INDIRECT] && rc == XLATE_EXIT_NEXT) {
        uint64_t *targets = program + XLATE_THREADED_TARGETS;
        for (int i = 0; i < 2 * XLATE_THREADED_TARGET_SLOTS; i += 2)
            if (targets[i] == cpu->rip || !targets[i + 1]) {
                targets[i] = cpu->rip;
                targets[i + 1]++;
                break;
            }
    }
    return rc;
}

int xlate_dispatch(xlate_cpu *cpu, xlate_code_map *map, xlate_code_map *threaded)
{
    volatile int rc = XLATE_EXIT_NEXT;
    cpu->jump_cache = xlate_code_map_jump_cache(map);
    cpu->space_end = XLATE_GUEST_SPACE;
    if (GUARDED(cpu, {
            while (rc == XLATE_EXIT_NEXT) {
                int32_t stop = cpu->stop_request;
                if (stop) {
                    if (stop & XLATE_STOP_CODE_WRITTEN)
                        rc = XLATE_EXIT_CODE_WRITTEN;
                    else if (stop & XLATE_STOP_REQUESTED)
                        rc = XLATE_EXIT_STOP;
                    else {
                        xlate_clear_stop(cpu, XLATE_STOP_CODE_READY);
                        rc = XLATE_EXIT_MISS;
                    }
                    break;
                }
                xlate_block_fn fn = (xlate_block_fn)xlate_code_map_lookup(map, cpu->rip);
                if (fn) {
                    cpu->compiled_entries++;
                    rc = fn(cpu, cpu->mem_base);
                } else {
                    uint64_t *program = xlate_code_map_lookup(threaded, cpu->rip);
                    if (!program || program[XLATE_THREADED_RUNS] >= program[XLATE_THREADED_LIMIT]) {
                        rc = XLATE_EXIT_MISS;
                        break;
                    }
                    rc = run_threaded(cpu, program);
                }
                if (rc == XLATE_EXIT_SYSCALL && cpu->c_syscalls && xlate_syscall(cpu))
                    rc = XLATE_EXIT_NEXT;
            }
        }))
        return XLATE_EXIT_FAULT;
    return rc;
}

int xlate_threaded_run(xlate_cpu *cpu, const uint64_t *program)
{
    volatile int rc = XLATE_EXIT_NEXT;
    if (GUARDED(cpu, rc = xlate_threaded_exec(cpu, program)))
        return XLATE_EXIT_FAULT;
    return rc;
}
