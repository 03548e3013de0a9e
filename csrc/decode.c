/* x86-64 instructions decoded by Capstone into flat records (xlate_decoded) for the Python
 * decoder (xlate/decoder.py).  The library is the one Capstone's Python package carries, loaded
 * here by path: the package itself (tens of milliseconds of imports, and its instruction objects,
 * which copy each instruction's details field by field) is not used; the structures are read
 * with the declarations of the headers the package ships, which this file was built with. */
#include <capstone/capstone.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

struct xlate_decoder {
    void *library;
    csh handle;
    cs_insn *insn; /* cs_disasm_iter's one instruction, with its details */
    bool (*disasm_iter)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *);
    const char *(*insn_name)(csh, unsigned int);
    void (*free)(cs_insn *, size_t);
    cs_err (*close)(csh *);
    xlate_reg registers[X86_REG_ENDING]; /* file 0: none that a record can hold */
};

static void name_registers(xlate_reg *table)
{
    /* The general registers by number, at each width: 64, 32, 16 and 8 bits. */
    static const uint8_t bits[4] = {64, 32, 16, 8};
    static const x86_reg gprs[4][16] = {
        {X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RBX, X86_REG_RSP, X86_REG_RBP,
         X86_REG_RSI, X86_REG_RDI, X86_REG_R8, X86_REG_R9, X86_REG_R10, X86_REG_R11,
         X86_REG_R12, X86_REG_R13, X86_REG_R14, X86_REG_R15},
        {X86_REG_EAX, X86_REG_ECX, X86_REG_EDX, X86_REG_EBX, X86_REG_ESP, X86_REG_EBP,
         X86_REG_ESI, X86_REG_EDI, X86_REG_R8D, X86_REG_R9D, X86_REG_R10D, X86_REG_R11D,
         X86_REG_R12D, X86_REG_R13D, X86_REG_R14D, X86_REG_R15D},
        {X86_REG_AX, X86_REG_CX, X86_REG_DX, X86_REG_BX, X86_REG_SP, X86_REG_BP,
         X86_REG_SI, X86_REG_DI, X86_REG_R8W, X86_REG_R9W, X86_REG_R10W, X86_REG_R11W,
         X86_REG_R12W, X86_REG_R13W, X86_REG_R14W, X86_REG_R15W},
        {X86_REG_AL, X86_REG_CL, X86_REG_DL, X86_REG_BL, X86_REG_SPL, X86_REG_BPL,
         X86_REG_SIL, X86_REG_DIL, X86_REG_R8B, X86_REG_R9B, X86_REG_R10B, X86_REG_R11B,
         X86_REG_R12B, X86_REG_R13B, X86_REG_R14B, X86_REG_R15B}};
    static const x86_reg high[4] = {X86_REG_AH, X86_REG_CH, X86_REG_DH, X86_REG_BH};
    for (uint8_t i = 0; i < 16; i++) {
        for (int width = 0; width < 4; width++)
            table[gprs[width][i]] = (xlate_reg){XLATE_REG_GPR, i, bits[width], 0};
        table[X86_REG_XMM0 + i] = (xlate_reg){XLATE_REG_XMM, i, 128, 0};
    }
    for (uint8_t i = 0; i < 4; i++)
        table[high[i]] = (xlate_reg){XLATE_REG_GPR, i, 8, 8};
    for (uint8_t i = 0; i < 8; i++)
        table[X86_REG_ST0 + i] = (xlate_reg){XLATE_REG_ST, i, 80, 0};
}

xlate_decoder *xlate_decoder_new(const char *library_path, char *error, size_t error_size)
{
    xlate_decoder *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    d->library = dlopen(library_path, RTLD_NOW | RTLD_LOCAL);
    if (!d->library) {
        snprintf(error, error_size, "%s", dlerror());
        free(d);
        return NULL;
    }
    unsigned (*version)(int *, int *) = (unsigned (*)(int *, int *))dlsym(d->library, "cs_version");
    cs_err (*open)(cs_arch, cs_mode, csh *) =
        (cs_err (*)(cs_arch, cs_mode, csh *))dlsym(d->library, "cs_open");
    cs_err (*option)(csh, cs_opt_type, size_t) =
        (cs_err (*)(csh, cs_opt_type, size_t))dlsym(d->library, "cs_option");
    cs_insn *(*new_insn)(csh) = (cs_insn * (*)(csh)) dlsym(d->library, "cs_malloc");
    d->disasm_iter = (bool (*)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *))dlsym(
        d->library, "cs_disasm_iter");
    d->insn_name = (const char *(*)(csh, unsigned int))dlsym(d->library, "cs_insn_name");
    d->free = (void (*)(cs_insn *, size_t))dlsym(d->library, "cs_free");
    d->close = (cs_err (*)(csh *))dlsym(d->library, "cs_close");
    int major = 0, minor = 0;
    bool found = version && open && option && new_insn && d->disasm_iter && d->insn_name &&
                 d->free && d->close;
    if (found)
        version(&major, &minor);
    if (!found) {
        snprintf(error, error_size, "%s is not a Capstone library", library_path);
    } else if (major != CS_API_MAJOR || minor != CS_API_MINOR) {
        /* The structures are laid out as the headers built with say. */
        snprintf(error, error_size, "%s is Capstone %d.%d; xlate was built with %d.%d",
                 library_path, major, minor, CS_API_MAJOR, CS_API_MINOR);
    } else if (open(CS_ARCH_X86, CS_MODE_64, &d->handle) != CS_ERR_OK) {
        snprintf(error, error_size, "Capstone cannot decode x86-64");
    } else if (option(d->handle, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK ||
               !(d->insn = new_insn(d->handle))) {
        snprintf(error, error_size, "Capstone gives no instruction details");
        d->close(&d->handle);
    } else {
        name_registers(d->registers);
        return d;
    }
    dlclose(d->library);
    free(d);
    return NULL;
}

void xlate_decoder_free(xlate_decoder *d)
{
    d->free(d->insn, 1);
    d->close(&d->handle);
    dlclose(d->library);
    free(d);
}

const char *xlate_insn_name(xlate_decoder *d, uint32_t id)
{
    return d->insn_name(d->handle, id);
}

/* The register as a record's, false if it has none (a segment or control register, say). */
static bool record_register(const xlate_decoder *d, x86_reg reg, xlate_reg *out)
{
    if (reg <= X86_REG_INVALID || reg >= X86_REG_ENDING || !d->registers[reg].file)
        return false;
    *out = d->registers[reg];
    return true;
}

/* The operand as a record, false if it names a register that no record has. */
static bool record_operand(const xlate_decoder *d, const cs_insn *insn, const cs_x86_op *op,
                           xlate_operand *out)
{
    out->size = op->size;
    switch (op->type) {
    case X86_OP_REG:
        out->kind = XLATE_OP_KIND_REG;
        return record_register(d, op->reg, &out->reg);
    case X86_OP_IMM:
        out->kind = XLATE_OP_KIND_IMM;
        out->value = op->imm;
        return true;
    case X86_OP_MEM:
        out->kind = XLATE_OP_KIND_MEM;
        out->scale = (uint8_t)op->mem.scale;
        out->segment = op->mem.segment == X86_REG_FS   ? XLATE_SEGMENT_FS
                       : op->mem.segment == X86_REG_GS ? XLATE_SEGMENT_GS
                                                       : 0;
        out->value = op->mem.disp;
        out->rip_relative = op->mem.base == X86_REG_RIP;
        if (out->rip_relative)
            out->value = (int64_t)(insn->address + insn->size + (uint64_t)op->mem.disp);
        else if (op->mem.base != X86_REG_INVALID &&
                 (!record_register(d, op->mem.base, &out->base) ||
                  out->base.file != XLATE_REG_GPR))
            return false;
        return op->mem.index == X86_REG_INVALID ||
               (record_register(d, op->mem.index, &out->index) &&
                out->index.file == XLATE_REG_GPR);
    default:
        return false;
    }
}

/* Whether a block ends after the instruction: Capstone's groups of jumps, calls, returns and
 * interrupts, and what else leaves the block's straight line or needs the engine's hand. */
static bool ends_block(const cs_insn *insn)
{
    const cs_detail *detail = insn->detail;
    for (uint8_t i = 0; i < detail->groups_count; i++) {
        switch (detail->groups[i]) {
        case CS_GRP_JUMP: case CS_GRP_CALL: case CS_GRP_RET: case CS_GRP_INT: case CS_GRP_IRET:
            return true;
        }
    }
    switch (insn->id) {
    case X86_INS_SYSCALL: case X86_INS_HLT: case X86_INS_UD2: case X86_INS_UD1:
    case X86_INS_UD0: case X86_INS_INT3: case X86_INS_CPUID: case X86_INS_LOOP:
    case X86_INS_LOOPE: case X86_INS_LOOPNE: case X86_INS_JRCXZ: case X86_INS_JECXZ:
        return true;
    default:
        return false;
    }
}

int xlate_decode(xlate_decoder *d, const uint8_t *code, size_t size, uint64_t address,
                 xlate_decoded *out, int max)
{
    int n = 0;
    cs_insn *insn = d->insn;
    while (n < max && d->disasm_iter(d->handle, &code, &size, &address, insn)) {
        xlate_decoded *r = &out[n++];
        const cs_x86 *x86 = &insn->detail->x86;
        memset(r, 0, sizeof *r); /* (the Python side keys its operands by their bytes) */
        r->address = insn->address;
        r->id = insn->id;
        r->size = (uint8_t)insn->size;
        memcpy(r->bytes, insn->bytes, insn->size < sizeof r->bytes ? insn->size : sizeof r->bytes);
        memcpy(r->opcode, x86->opcode, sizeof r->opcode);
        r->rep = x86->prefix[0] == X86_PREFIX_REP ? 1 : x86->prefix[0] == X86_PREFIX_REPNE ? 2 : 0;
        r->lock = x86->prefix[0] == X86_PREFIX_LOCK;
        r->addr32 = x86->prefix[3] == X86_PREFIX_ADDRSIZE;
        snprintf(r->text, sizeof r->text, "%s%s%s", insn->mnemonic, insn->op_str[0] ? " " : "",
                 insn->op_str);
        r->op_count = x86->op_count;
        for (uint8_t i = 0; i < x86->op_count; i++) {
            if (!record_operand(d, insn, &x86->operands[i], &r->ops[i])) {
                r->unsupported = 1;
                return n;
            }
        }
        r->ends_block = ends_block(insn);
        if (r->ends_block)
            break;
    }
    return n;
}
