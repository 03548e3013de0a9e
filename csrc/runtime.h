/* Internal header of the C runtime: the public interface plus what its files share. */
#ifndef XLATE_RUNTIME_H
#define XLATE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "xlate.h"

/* Guest register numbers in xlate_cpu.gpr. */
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };

/* Raise a guest fault from C code running under a fault guard (dispatch or xlate_call_helper). */
__attribute__((noreturn)) void xlate_fault(xlate_cpu *cpu, uint64_t guest_addr);

/* Host pointer for a guest range, or a fault if any of it lies outside the guest space. */
static inline uint8_t *xlate_host(xlate_cpu *cpu, uint64_t guest_addr, uint64_t size)
{
    if (guest_addr >= XLATE_GUEST_SPACE || size > XLATE_GUEST_SPACE - guest_addr)
        xlate_fault(cpu, guest_addr);
    return cpu->mem_base + guest_addr;
}

/* The cc_op of an operation of kind XLATE_CC_* on operands of 1, 2, 4 or 8 bytes that sets all
 * six arithmetic flags. */
static inline uint32_t xlate_cc_op(uint32_t kind, uint64_t size)
{
    return ((kind - 1) * 4 + (uint32_t)__builtin_ctzll(size) + 1) |
           XLATE_CC_LAZY_ALL << XLATE_CC_LAZY_SHIFT;
}

int xlate_note_code_write(xlate_cpu *cpu, uint64_t guest_addr, uint64_t size);

/* Run a block's threaded code (csrc/threaded.c) under the caller's fault guard. */
int xlate_threaded_exec(xlate_cpu *cpu, const uint64_t *program);

/* xlate_host for an access that writes, at most a page long: notes a write to translated code.
 * As in generated code, the mark of the first page is the probe (it covers the next page too),
 * and xlate_note_code_write decides. */
static inline uint8_t *xlate_host_write(xlate_cpu *cpu, uint64_t guest_addr, uint64_t size)
{
    uint8_t *p = xlate_host(cpu, guest_addr, size);
    if (size && cpu->code_pages[guest_addr >> 12])
        xlate_note_code_write(cpu, guest_addr, size);
    return p;
}

#endif
