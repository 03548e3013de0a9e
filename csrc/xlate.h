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
#define XLATE_EXIT_CODE_WRITTEN 8 /* the guest wrote to translated code, in
                                     [cpu->code_written_start, cpu->code_written_end); cpu->rip
                                     is where it goes on, and nothing has run since the write
                                     that might have run the code written */

#define XLATE_HOT_SLOTS 1024
#define XLATE_BLOCK_SLOTS 8192

/* Bits of xlate_cpu.stop_request. */
#define XLATE_STOP_REQUESTED 1    /* by the embedder: XLATE_EXIT_STOP */
#define XLATE_STOP_CODE_WRITTEN 2 /* by the fault handler: XLATE_EXIT_CODE_WRITTEN */
#define XLATE_STOP_CODE_READY 4   /* by the JIT's compiling thread: code to install, so that
                                     compiled code that is running gives way to its better
                                     version (xlate_dispatch returns XLATE_EXIT_MISS) */

/* Flag slots in xlate_cpu.flags: one byte each, 0 or 1, so generated code reads and writes a
 * flag without packing rflags. An arithmetic flag (any but DF) may instead be lazy: computed
 * where it is read, by the semantics (xlate/semantics/flags.py), from a description of the last
 * flag-setting operation, cc_op and the values beside it. */
#define XLATE_CF 0
#define XLATE_PF 1
#define XLATE_AF 2
#define XLATE_ZF 3
#define XLATE_SF 4
#define XLATE_OF 5
#define XLATE_DF 6
/* xlate_cpu.cc_op: in bits 0-7, the operation, (kind - 1) * 4 + log2(operand bytes) + 1 for
 * one of the kinds below (cc_dst = cc_src1 op cc_src2); in bits 8-13, which arithmetic flags
 * are lazy (bit i: the i-th of CF PF AF ZF SF OF), the others being in their slots. 0: all
 * explicit. */
#define XLATE_CC_LAZY_SHIFT 8
#define XLATE_CC_LAZY_ALL 0x3f
#define XLATE_CC_ADD 1
#define XLATE_CC_SUB 2
#define XLATE_CC_LOGIC 3
#define XLATE_CC_INC 4    /* CF is never lazy */
#define XLATE_CC_DEC 5
#define XLATE_CC_MUL 6    /* cc_src1: the 0/1 overflow (CF, OF); cc_dst: the low half */
#define XLATE_CC_ADC 7    /* add and subtract with a carry (borrow) in */
#define XLATE_CC_SBB 8
#define XLATE_CC_SHL 9    /* cc_src2: the (nonzero) count */
#define XLATE_CC_SHR 10
#define XLATE_CC_SAR 11

/* Guest addresses are below this; host base + address for the rest. Beyond the space lies a
 * guard region, inaccessible, so that an access at its very end or a clamped wild address
 * faults cleanly. */
#define XLATE_GUEST_SPACE 0x1000000000
#define XLATE_GUEST_GUARD 0x100000

/* Marks in xlate_cpu.code_pages. */
#define XLATE_CODE_HERE 1
#define XLATE_CODE_NEXT 2
#define XLATE_CODE_ARMED 4  /* a guest-writable page with code, write-protected on the host */

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
    uint32_t cc_op;            /* which flags are lazy, and how cc_dst, cc_src1, cc_src2 give them */
    uint32_t pad1;
    uint64_t cc_dst;           /* the result */
    uint64_t cc_src1;          /* its operands */
    uint64_t cc_src2;
    uint8_t xmm[16][16];
    uint32_t mxcsr;
    uint16_t fpu_cw;
    uint16_t fpu_sw;           /* TOP lives in bits 11-13, as on hardware */
    uint8_t fpu_tag;           /* bit i set: physical register i is empty */
    uint8_t pad0[7];
    uint8_t st[8][16];         /* physical x87 registers, 10 bytes used */
    uint8_t *mem_base;         /* host address of guest address 0 */
    uint64_t fault_addr;       /* guest address of the last fault */
    uint64_t fault_host_pc;    /* host address of the instruction that faulted; 0: a check */
    int32_t fault_signal;      /* host signal that reported it */
    int32_t stop_request;      /* XLATE_STOP_* bits: stop at the next safe point */
    uint64_t compiled_entries; /* times the dispatch loop called compiled code */
    xlate_jump_entry *jump_cache; /* the code map's, set by xlate_dispatch */
    /* XLATE_GUEST_SPACE, set by xlate_dispatch: the bound of compiled code's address checks
     * (xlate/jit/checks.py), read from here so that LLVM keeps it in a register and compares
     * with it, where it would test a constant that large with a shift, a copy and a branch. */
    uint64_t space_end;
    /* Nonzero: the dispatch loop makes compiled code's common syscalls itself (xlate_syscall),
     * set by the OS layer when nothing needs to see each syscall (--strace), and counts them. */
    int32_t c_syscalls;
    int32_t pad2;
    uint64_t c_syscall_count;
    /* One byte a guest page: XLATE_CODE_HERE where code has been decoded or compiled from the
     * page (writes there must drop those translations: self-modifying code), XLATE_CODE_NEXT
     * where the next page has such code (so that checking the first page of a store that is
     * at most a page long is enough to send it to xlate_note_code_write), XLATE_CODE_ARMED
     * where such a page is guest-writable: its host page is then read-only, and the fault of
     * a write to it (wherever the write comes from) notes the write, gives the page its
     * write permission back, sets XLATE_STOP_CODE_WRITTEN and lets the write happen. Code
     * compiled from pages that are not guest-writable needs no check of its own stores: the
     * next safe point stops it. */
    uint8_t *code_pages;
    uint64_t code_written_start;  /* guest range written to such pages; end 0: none */
    uint64_t code_written_end;
    /* Counts that quickly compiled code keeps of how often it is entered and loops, one slot a
     * region (shared where slots collide): which of it to optimise (xlate/jit/engine.py). */
    uint64_t hot_counts[XLATE_HOT_SLOTS];
    /* How often quickly compiled code runs each block, one slot a block (shared where slots
     * collide): which of a region's blocks to optimise. */
    uint64_t block_counts[XLATE_BLOCK_SLOTS];
    uint64_t threaded_entries; /* times the dispatch loop ran threaded code */
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
xlate_jump_entry *xlate_code_map_jump_cache(xlate_code_map *map);

/* Run compiled code from cpu->rip until something needs the Python side; where map has no
 * code, the threaded code that `threaded` maps to (see XLATE_THREADED_HEADER), if any. */
int xlate_dispatch(xlate_cpu *cpu, xlate_code_map *map, xlate_code_map *threaded);
/* Set or clear XLATE_STOP_* bits, atomically: other threads and the fault handler set them. */
void xlate_request_stop(xlate_cpu *cpu, int32_t bits);
void xlate_clear_stop(xlate_cpu *cpu, int32_t bits);

/* Guest memory access for code that is not compiled (the interpreter, the OS layer).  A fault
 * sets cpu->fault_signal and cpu->fault_addr and makes the call return 0 / -1. */
uint64_t xlate_load(xlate_cpu *cpu, uint64_t guest_addr, int size);
void xlate_store(xlate_cpu *cpu, uint64_t guest_addr, int size, uint64_t value);

/* Helpers: one signature, called by generated code directly and by the interpreter through
 * xlate_call_helper (which catches faults as xlate_load does).  They read and write the guest
 * registers in *cpu, so the JIT writes its cached registers back before calling one. */
typedef uint64_t (*xlate_helper_fn)(xlate_cpu *cpu, uint64_t a, uint64_t b);
uint64_t xlate_call_helper(xlate_helper_fn fn, xlate_cpu *cpu, uint64_t a, uint64_t b);
/* Called for a store (at most a page long) whose first page is marked in code_pages; returns
 * whether it wrote to translated code (and so was noted in code_written_start/end). */
int xlate_note_code_write(xlate_cpu *cpu, uint64_t guest_addr, uint64_t size);

/* A syscall that compiled code made (cpu->rip after it), carried out here if it is one the C
 * runtime makes (csrc/syscalls.c): returns 1 with rax set, or 0 for Python to make it. */
int xlate_syscall(xlate_cpu *cpu);

uint64_t xlate_helper_rep_movs(xlate_cpu *cpu, uint64_t size, uint64_t rep);
uint64_t xlate_helper_rep_stos(xlate_cpu *cpu, uint64_t size, uint64_t rep);
uint64_t xlate_helper_rep_lods(xlate_cpu *cpu, uint64_t size, uint64_t rep);
uint64_t xlate_helper_rep_cmps(xlate_cpu *cpu, uint64_t size, uint64_t rep);
uint64_t xlate_helper_rep_scas(xlate_cpu *cpu, uint64_t size, uint64_t rep);
/* Pure functions: results from the arguments alone, no guest state. 64-bit div and idiv of
 * high:low by divisor: nonzero for #DE, else out[0] = quotient, out[1] = remainder. */
uint64_t xlate_pure_div(uint64_t high, uint64_t low, uint64_t divisor, uint64_t *out);
uint64_t xlate_pure_idiv(uint64_t high, uint64_t low, uint64_t divisor, uint64_t *out);
uint64_t xlate_helper_cpuid(xlate_cpu *cpu, uint64_t unused_a, uint64_t unused_b);
uint64_t xlate_helper_rdtsc(xlate_cpu *cpu, uint64_t unused_a, uint64_t unused_b);

/* The x87 FPU (csrc/x87.c): the register stack, tags and status word live in xlate_cpu, the
 * arithmetic is f80.c's.  Every exception takes the masked response.  A helper's first argument
 * is a code: an operand kind in bits 4-7, an operation in bits 0-3 and modifiers; the second is
 * what the kind names: a register index i for ST(i), a guest address for memory, a selector for
 * a constant. */
#define XLATE_X87_STI 0x00
#define XLATE_X87_M32FP 0x10
#define XLATE_X87_M64FP 0x20
#define XLATE_X87_M80FP 0x30
#define XLATE_X87_M16INT 0x40
#define XLATE_X87_M32INT 0x50
#define XLATE_X87_M64INT 0x60
#define XLATE_X87_CONST 0x70    /* 0 one, 1 zero, 2 pi, 3 log2(e), 4 log2(10), 5 log10(2), 6 ln(2) */
#define XLATE_X87_M80BCD 0x80   /* 18 packed decimal digits and a sign byte (fbld, fbstp) */
#define XLATE_X87_POP 0x100     /* pop once afterwards */
#define XLATE_X87_POP2 0x200    /* pop twice afterwards (fcompp, fucompp) */
#define XLATE_X87_TO_STI 0x400  /* arith: ST(i) = ST(i) op ST(0), not ST(0) = ST(0) op ST(i) */
#define XLATE_X87_TRUNC 0x800   /* store to an integer truncating (fisttp) */
/* x87_arith operations: dest = dest op source. */
#define XLATE_X87_ADD 0
#define XLATE_X87_MUL 1
#define XLATE_X87_COM 2         /* fcom: C3 C2 C0 */
#define XLATE_X87_UCOM 3        /* fucom */
#define XLATE_X87_SUB 4
#define XLATE_X87_SUBR 5        /* source - dest */
#define XLATE_X87_DIV 6
#define XLATE_X87_DIVR 7        /* source / dest */
#define XLATE_X87_COMI 8        /* fcomi: returns ZF PF CF at their rflags bit positions */
#define XLATE_X87_UCOMI 9
/* x87_unary operations, on ST(0) (and ST(1)). */
#define XLATE_X87_FCHS 0
#define XLATE_X87_FABS 1
#define XLATE_X87_FSQRT 2
#define XLATE_X87_FRNDINT 3
#define XLATE_X87_FSCALE 4
#define XLATE_X87_FPREM 5
#define XLATE_X87_FPREM1 6
#define XLATE_X87_FXTRACT 7
#define XLATE_X87_FXAM 8
#define XLATE_X87_FTST 9
#define XLATE_X87_F2XM1 10      /* the transcendental ones agree with the hardware to an ulp */
#define XLATE_X87_FYL2X 11
#define XLATE_X87_FYL2XP1 12
#define XLATE_X87_FPATAN 13
#define XLATE_X87_FSIN 14
#define XLATE_X87_FCOS 15
#define XLATE_X87_FSINCOS 16
#define XLATE_X87_FPTAN 17
/* x87_stack operations; b is the register index where there is one. */
#define XLATE_X87_FXCH 0
#define XLATE_X87_FFREE 1
#define XLATE_X87_FFREEP 2
#define XLATE_X87_FINCSTP 3
#define XLATE_X87_FDECSTP 4
#define XLATE_X87_FNINIT 5
#define XLATE_X87_FNCLEX 6
/* x87_control operations: fnstcw and fnstsw return the word, fldcw takes it as b, the others
 * take a guest address. */
#define XLATE_X87_FNSTCW 0
#define XLATE_X87_FNSTSW 1
#define XLATE_X87_FLDCW 2
#define XLATE_X87_FNSTENV 3
#define XLATE_X87_FLDENV 4
#define XLATE_X87_FNSAVE 5
#define XLATE_X87_FRSTOR 6
#define XLATE_X87_FXSAVE 7
#define XLATE_X87_FXRSTOR 8
#define XLATE_X87_MXCSR_MASK 0xFFFF /* the MXCSR bits fxsave reports as writable */
uint64_t xlate_helper_x87_load(xlate_cpu *cpu, uint64_t code, uint64_t operand);
uint64_t xlate_helper_x87_store(xlate_cpu *cpu, uint64_t code, uint64_t operand);
uint64_t xlate_helper_x87_arith(xlate_cpu *cpu, uint64_t code, uint64_t operand);
uint64_t xlate_helper_x87_unary(xlate_cpu *cpu, uint64_t op, uint64_t unused);
uint64_t xlate_helper_x87_stack(xlate_cpu *cpu, uint64_t op, uint64_t index);
uint64_t xlate_helper_x87_fcmov(xlate_cpu *cpu, uint64_t condition, uint64_t index);
uint64_t xlate_helper_x87_control(xlate_cpu *cpu, uint64_t op, uint64_t operand);

/* libc, for guest memory management from Python. */
void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset);
int munmap(void *addr, size_t length);
int mprotect(void *addr, size_t len, int prot);
void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...);

/* Compiled code in host memory (csrc/objload.c): a relocatable ELF object, as LLVM emits one
 * for a region, mapped (code executable, not writable) and relocated, its undefined symbols
 * resolved by name against `symbols`.  Returns the object, whose `entry` is the host address of
 * the function entry_name, or NULL with a one-line reason in error (error_size bytes).  The
 * object is untrusted (it comes from the code cache): anything malformed is an error, never a
 * crash.  The code stays until xlate_object_free. */
typedef struct xlate_symbol {
    const char *name;
    void *address;
} xlate_symbol;
typedef struct xlate_object {
    void *entry;
    uint8_t *host_base;         /* one mapping holds every allocated section */
    uint64_t host_size;
} xlate_object;
xlate_object *xlate_object_load(const void *image, uint64_t image_size, const char *entry_name,
                                const xlate_symbol *symbols, uint64_t symbol_count, char *error,
                                uint64_t error_size);
void xlate_object_free(xlate_object *object);
/* The host address of the runtime's function called name, for generated code to call: the
 * function itself, where cffi's ffi.addressof gives a wrapper that calls it (an extra call and
 * return a helper call, 3% of a run that divides 128-bit numbers).  NULL if it has none. */
void *xlate_runtime_symbol(const char *name);
/* Threaded code (csrc/threaded.c, built by xlate/threaded.py): a block as an array of 64-bit
 * words that the C runtime runs, without compiling anything for the block. Words 0 and 1: the
 * number of temporaries and of constants; then each constant as its temporary and its value;
 * then the operations. An operation is one word, op | bits << 8 | d << 16 | a << 32 |
 * b << 48 (d a result temporary, a and b operand temporaries, bits the operation's width;
 * values are kept masked to their width), and for some an extra word, as noted. */
#define XLATE_OP_ADD 1
#define XLATE_OP_SUB 2
#define XLATE_OP_MUL 3
#define XLATE_OP_AND 4
#define XLATE_OP_OR 5
#define XLATE_OP_XOR 6
#define XLATE_OP_NOT 7
#define XLATE_OP_NEG 8
#define XLATE_OP_SHL 9
#define XLATE_OP_LSHR 10
#define XLATE_OP_ASHR 11
#define XLATE_OP_UDIV 12
#define XLATE_OP_UREM 13
#define XLATE_OP_SDIV 14
#define XLATE_OP_SREM 15
#define XLATE_OP_SEXT 16       /* from bits to b bits */
#define XLATE_OP_EQ 17
#define XLATE_OP_ULT 18
#define XLATE_OP_SLT 19
#define XLATE_OP_SELECT 20     /* d = a ? b : extra */
#define XLATE_OP_CTZ 21
#define XLATE_OP_CLZ 22
#define XLATE_OP_POPCOUNT 23
#define XLATE_OP_BSWAP 24
#define XLATE_OP_GET_GPR 25    /* d = gpr[a] */
#define XLATE_OP_SET_GPR 26    /* gpr[a] = b */
#define XLATE_OP_GET_SLOT 27   /* d = flags[a] */
#define XLATE_OP_SET_FLAG 28   /* flags[a] = b, and the lazy bits in `bits` cleared */
#define XLATE_OP_GET_FLAG 29   /* d = arithmetic flag a, computed if lazy */
#define XLATE_OP_SET_CC 30     /* cc_dst, cc_src1, cc_src2 = a, b, d; extra: cc_op | unless << 32
                                  (unless: a temporary that, when nonzero, skips this; 0xffff
                                  none) */
#define XLATE_OP_GET_CC 31     /* d = cc_dst, cc_src1 or cc_src2 for a = 0, 1, 2 */
#define XLATE_OP_GET_SEGMENT 32 /* d = fs_base (a = 0) or gs_base (1) */
#define XLATE_OP_LOAD 33       /* d = bits at guest address a */
#define XLATE_OP_STORE 34      /* bits of b to guest address a */
#define XLATE_OP_HELPER 35     /* d = the helper numbered extra (a, b) */
#define XLATE_OP_PURE 36       /* d = pure function, extra: c | function << 16 | out0 << 32 |
                                  out1 << 48, (a, b, c, out) */
#define XLATE_OP_INSN 37       /* an instruction starts at guest address extra: rip = extra */
#define XLATE_OP_EXIT_IF 38    /* if a: stop at the instruction, with exit code b */
#define XLATE_OP_WRITTEN 39    /* if the instruction wrote to translated code: rip = a, exit
                                  code XLATE_EXIT_CODE_WRITTEN */
#define XLATE_OP_END 40        /* rip = a, exit code b */
#define XLATE_OP_RESULT 41     /* a flag program's value: a */
#define XLATE_OP_GET_XMM 42    /* d = 64-bit half b (0 low, 1 high) of xmm register a */
#define XLATE_OP_SET_XMM 43    /* 64-bit half d of xmm register a = b */
/* XLATE_OP_LOAD and XLATE_OP_STORE of 128 bits: the low half in d (or from b), the high half
 * in (or from) the temporary that the extra word names; checked as one access. */
#define XLATE_THREADED_FUNCTIONS 64
/* The words before a block's threaded code in the dispatch loop's map: how often the loop ran
 * it, and how often it may before it returns to Python instead (XLATE_EXIT_MISS), which
 * compiles it then; whether it ends in a computed jump, and then where that went, as pairs of
 * an address and a count (count 0: a free pair). */
#define XLATE_THREADED_RUNS 0
#define XLATE_THREADED_LIMIT 1
#define XLATE_THREADED_INDIRECT 2
#define XLATE_THREADED_TARGETS 3
#define XLATE_THREADED_TARGET_SLOTS 4
#define XLATE_THREADED_HEADER 11
/* Run a block's threaded code under a fault guard: an exit code, with cpu->rip set. */
int xlate_threaded_run(xlate_cpu *cpu, const uint64_t *program);
/* Set up, once a process: the helpers and pure functions that XLATE_OP_HELPER and
 * XLATE_OP_PURE number, and the program that computes arithmetic flag `flag` (0-5) from a lazy
 * description whose operation (cc_op's low byte) is op. The arrays must stay. */
void xlate_threaded_functions(void *const *functions, int count);
void xlate_threaded_flag_program(int op, int flag, const uint64_t *program);

/* Decoding x86-64 (csrc/decode.c, on Capstone): each instruction as a flat record. */
#define XLATE_REG_GPR 1 /* a register's file: 0 for none */
#define XLATE_REG_XMM 2
#define XLATE_REG_ST 3
typedef struct xlate_reg {
    uint8_t file, index, bits, shift; /* shift: 8 for ah, ch, dh, bh */
} xlate_reg;
#define XLATE_OP_KIND_REG 1
#define XLATE_OP_KIND_IMM 2
#define XLATE_OP_KIND_MEM 3
#define XLATE_SEGMENT_FS 1
#define XLATE_SEGMENT_GS 2
/* A register, an immediate (value), or memory at segment:[base + index * scale + value] (a
 * rip-relative address resolved into value, with no base). */
typedef struct xlate_operand {
    int64_t value;
    uint8_t kind, size, segment, scale; /* size in bytes */
    uint8_t rip_relative;               /* value: an address, unsigned */
    xlate_reg reg, base, index;
} xlate_operand;
typedef struct xlate_decoded {
    uint64_t address;
    uint32_t id;          /* Capstone's instruction id: see xlate_insn_name */
    uint8_t size;
    uint8_t rep;          /* 0, 1 for rep/repe, 2 for repne */
    uint8_t lock;
    uint8_t addr32;       /* the 0x67 prefix: addresses modulo 2**32 */
    uint8_t ends_block;   /* a jump, call, return, interrupt, or what else a block ends with */
    uint8_t op_count;
    uint8_t unsupported;  /* an operand names a register that no operand record holds */
    uint8_t opcode[4];
    uint8_t bytes[16];
    xlate_operand ops[8];
    char text[200];       /* as Capstone prints it */
} xlate_decoded;
typedef struct xlate_decoder xlate_decoder;
/* A decoder on the Capstone library at library_path, or NULL with a message in error. */
xlate_decoder *xlate_decoder_new(const char *library_path, char *error, size_t error_size);
void xlate_decoder_free(xlate_decoder *decoder);
/* Decode up to max instructions from code (size bytes at the guest address) into out, stopping
 * after one that ends a block or has an unsupported operand, or before bytes that are none;
 * returns how many. */
int xlate_decode(xlate_decoder *decoder, const uint8_t *code, size_t size, uint64_t address,
                 xlate_decoded *out, int max);

/* LLVM for the JIT (csrc/llvm.c, on llvmlite's library, loaded by path): a compilation is one
 * call, which gives up Python's GIL once (see there). */
#define XLATE_LLVM_PREPARE 1 /* verify, give the machine's data layout and triple, optimise */
#define XLATE_LLVM_EMIT 2    /* make an object file; without it, print the module's text */
#define XLATE_LLVM_OK 0
#define XLATE_LLVM_PARSE_ERROR 1
#define XLATE_LLVM_INVALID 2
#define XLATE_LLVM_EMIT_ERROR 3
/* A target machine for the host's CPU (its name and features), at an optimisation level. */
typedef struct xlate_llvm_machine {
    void *ref;
    int opt_level;
    char triple[128];
    char data_layout[512];
} xlate_llvm_machine;
typedef struct xlate_llvm_output {
    const char *data; /* the object file, or the module's text */
    size_t size;
    void *buffer;     /* LLVM's (the object's, or the text's): xlate_llvm_output_free */
    const char *text;
} xlate_llvm_output;
/* 0, or -1 with a message in error. */
int xlate_llvm_open(const char *library_path, char *error, size_t error_size);
/* A machine, or NULL with a message in error. */
xlate_llvm_machine *xlate_llvm_machine_new(int opt_level, const char *reloc,
                                           const char *code_model, char *error,
                                           size_t error_size);
void xlate_llvm_machine_free(xlate_llvm_machine *machine);
void *xlate_llvm_context_new(void);
void xlate_llvm_context_free(void *context);
/* Parse ir in context, then as flags say (XLATE_LLVM_*): XLATE_LLVM_OK with the result in out,
 * or a status with LLVM's message in error. */
int xlate_llvm_compile(void *context, xlate_llvm_machine *machine, const char *ir, int flags,
                       xlate_llvm_output *out, char *error, size_t error_size);
void xlate_llvm_output_free(xlate_llvm_output *out);
const char *xlate_insn_name(xlate_decoder *decoder, uint32_t id);
