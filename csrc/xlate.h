/* The interface between xlate's C runtime, its Python side (which reads this file as the cffi
 * cdef) and the code the JIT generates (which calls these functions and addresses the CPU state
 * through offsets taken from this struct).  Keep it free of preprocessor logic other than simple
 * integer #defines: cffi parses it. */

/* Why a dispatch or a block stopped.  Generated code returns XLATE_EXIT_NEXT to keep going. */
#define XLATE_EXIT_NEXT 0
#define XLATE_EXIT_MISS 1     /* no translation for cpu->rip */
#define XLATE_EXIT_SYSCALL 2  /* cpu->rip is after the syscall instruction */
#define XLATE_EXIT_FAULT 3    /* guest memory fault: cpu->fault_addr, cpu->rip at the instruction */
#define XLATE_EXIT_SIGILL 4   /* undefined or unimplemented instruction at cpu->rip */
#define XLATE_EXIT_DIVIDE 5   /* #DE at cpu->rip */
#define XLATE_EXIT_STOP 6     /* cpu->stop_request was set: a safe point */
#define XLATE_EXIT_HLT 7      /* privileged instruction in user mode (hlt) */

/* Flag slots in xlate_cpu.flags: one byte each, 0 or 1, so generated code reads and writes a
 * flag without packing rflags. */
#define XLATE_CF 0
#define XLATE_PF 1
#define XLATE_AF 2
#define XLATE_ZF 3
#define XLATE_SF 4
#define XLATE_OF 5
#define XLATE_DF 6

/* Guest addresses are below this; host base + address for the rest. Beyond the space lies a
 * guard region, inaccessible, so that an access at its very end or a clamped wild address
 * faults cleanly. */
#define XLATE_GUEST_SPACE 0x1000000000
#define XLATE_GUEST_GUARD 0x100000

/* A direct-mapped cache in front of the code map, probed inline by generated code at indirect
 * branches and at exits to other batches; the dispatch loop fills it. Slot of a guest address:
 * (guest_addr ^ guest_addr >> XLATE_JUMP_CACHE_BITS) & (XLATE_JUMP_CACHE_SIZE - 1). */
#define XLATE_JUMP_CACHE_BITS 12
#define XLATE_JUMP_CACHE_SIZE 4096
typedef struct xlate_jump_entry {
    uint64_t guest_addr;
    void *code;
} xlate_jump_entry;

/* The state of one guest thread. */
typedef struct xlate_cpu {
    uint64_t gpr[16];          /* rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */
    uint64_t rip;
    uint64_t fs_base;
    uint64_t gs_base;
    uint8_t flags[8];
    uint8_t xmm[16][16];
    uint32_t mxcsr;
    uint16_t fpu_cw;
    uint16_t fpu_sw;           /* TOP lives in bits 11-13, as on hardware */
    uint8_t fpu_tag;           /* bit i set: physical register i is empty */
    uint8_t pad0[7];
    uint8_t st[8][16];         /* physical x87 registers, 10 bytes used */
    uint8_t *mem_base;         /* host address of guest address 0 */
    uint64_t fault_addr;       /* guest address of the last fault */
    int32_t fault_signal;      /* host signal that reported it */
    int32_t stop_request;      /* set from anywhere to stop at the next safe point */
    uint64_t insn_count;       /* guest instructions retired by compiled code */
    uint64_t block_count;      /* blocks entered by compiled code */
    xlate_jump_entry *jump_cache; /* the code map's, set by xlate_dispatch */
} xlate_cpu;

/* Compiled block: returns an XLATE_EXIT_* code, with cpu->rip set to where the guest goes next. */
typedef int (*xlate_block_fn)(xlate_cpu *cpu, uint8_t *mem_base);

typedef struct xlate_code_map xlate_code_map;

/* Process set-up, idempotent: installs the handlers that turn host faults in the guest region of
 * the running cpu into guest faults. */
int xlate_runtime_init(void);

/* Guest guest -> compiled code. */
xlate_code_map *xlate_code_map_new(void);
void xlate_code_map_free(xlate_code_map *map);
int xlate_code_map_insert(xlate_code_map *map, uint64_t guest_addr, void *code);
void *xlate_code_map_lookup(xlate_code_map *map, uint64_t guest_addr);
void xlate_code_map_remove_range(xlate_code_map *map, uint64_t start, uint64_t end);
uint64_t xlate_code_map_count(xlate_code_map *map);
xlate_jump_entry *xlate_code_map_jump_cache(xlate_code_map *map);

/* Run compiled code from cpu->rip until something needs the Python side. */
int xlate_dispatch(xlate_cpu *cpu, xlate_code_map *map);

/* Guest memory access for code that is not compiled (the interpreter, the OS layer).  A fault
 * sets cpu->fault_signal and cpu->fault_addr and makes the call return 0 / -1. */
uint64_t xlate_load(xlate_cpu *cpu, uint64_t guest_addr, int size);
void xlate_store(xlate_cpu *cpu, uint64_t guest_addr, int size, uint64_t value);
int xlate_copy_from_guest(xlate_cpu *cpu, void *dst, uint64_t guest_addr, uint64_t size);
int xlate_copy_to_guest(xlate_cpu *cpu, uint64_t guest_addr, const void *src, uint64_t size);
int64_t xlate_guest_strnlen(xlate_cpu *cpu, uint64_t guest_addr, uint64_t max);

/* Helpers: one signature, called by generated code directly and by the interpreter through
 * xlate_call_helper (which catches faults as xlate_load does).  They read and write the guest
 * registers in *cpu, so the JIT writes its cached registers back before calling one. */
typedef uint64_t (*xlate_helper_fn)(xlate_cpu *cpu, uint64_t a, uint64_t b);
uint64_t xlate_call_helper(xlate_helper_fn fn, xlate_cpu *cpu, uint64_t a, uint64_t b);

uint64_t xlate_helper_rep_movs(xlate_cpu *cpu, uint64_t size, uint64_t rep);
uint64_t xlate_helper_rep_stos(xlate_cpu *cpu, uint64_t size, uint64_t rep);
uint64_t xlate_helper_rep_lods(xlate_cpu *cpu, uint64_t size, uint64_t rep);
uint64_t xlate_helper_rep_cmps(xlate_cpu *cpu, uint64_t size, uint64_t rep);
uint64_t xlate_helper_rep_scas(xlate_cpu *cpu, uint64_t size, uint64_t rep);
uint64_t xlate_helper_div(xlate_cpu *cpu, uint64_t size, uint64_t divisor);
uint64_t xlate_helper_idiv(xlate_cpu *cpu, uint64_t size, uint64_t divisor);
uint64_t xlate_helper_cpuid(xlate_cpu *cpu, uint64_t unused_a, uint64_t unused_b);
uint64_t xlate_helper_rdtsc(xlate_cpu *cpu, uint64_t unused_a, uint64_t unused_b);

/* libc, for guest memory management from Python. */
void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset);
int munmap(void *addr, size_t length);
int mprotect(void *addr, size_t len, int prot);
void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...);
