"""System interface, flag-register and no-op instructions."""

from __future__ import annotations

from xlate.builder import Builder
from xlate.decoder import GPR, REG, Insn, Operand, Reg
from xlate.runtime import EXIT_HLT, EXIT_SIGILL, EXIT_SYSCALL
from xlate.semantics import flags
from xlate.semantics.registry import semantics

# rflags bit of each flag slot.
RFLAGS_BITS = {"cf": 0, "pf": 2, "af": 4, "zf": 6, "sf": 7, "df": 10, "of": 11}
AH = Operand(REG, 1, reg=Reg(GPR, 0, 8, 8))


@semantics("syscall")
def syscall(b: Builder, insn: Insn) -> None:
    # The kernel's entry saves rip in rcx and rflags in r11.
    b.set_gpr(1, b.const(insn.next, 64))
    b.set_gpr(11, rflags(b))
    b.end_block(b.const(insn.next, 64), EXIT_SYSCALL)


@semantics("cpuid")
def cpuid(b: Builder, insn: Insn) -> None:
    b.call_helper("cpuid", b.const(0, 64), b.const(0, 64),
                  flags.helper_state("rax rcx", "rax rbx rcx rdx"))


@semantics("rdtsc")
def rdtsc(b: Builder, insn: Insn) -> None:
    b.call_helper("rdtsc", b.const(0, 64), b.const(0, 64), flags.helper_state("", "rax rdx"))


@semantics("nop", "endbr64", "pause", "lfence", "mfence", "sfence",
           "prefetch", "prefetcht0", "prefetcht1", "prefetcht2", "prefetchnta", "prefetchw")
def nop(b: Builder, insn: Insn) -> None:
    """No architectural effect in a single-threaded user-mode model."""


@semantics("ud2", "ud1", "ud0")
def undefined(b: Builder, insn: Insn) -> None:
    b.exit_if(b.const(1, 1), EXIT_SIGILL)


@semantics("hlt")
def hlt(b: Builder, insn: Insn) -> None:
    b.exit_if(b.const(1, 1), EXIT_HLT)


@semantics("clc", "stc", "cmc", "cld", "std")
def flag_instruction(b: Builder, insn: Insn) -> None:
    name = "df" if insn.name in ("cld", "std") else "cf"
    if insn.name == "cmc":
        b.set_flag("cf", b.not_(b.get_flag("cf"), 1))
    else:
        b.set_flag(name, b.const(int(insn.name in ("stc", "std")), 1))


def rflags(b: Builder):
    """The flags as the rflags register holds them (bit 1 and IF always set)."""
    value = b.const(0x202, 64)
    for name, bit in RFLAGS_BITS.items():
        flag = b.zext(b.get_flag(name), 1, 64)
        value = b.or_(value, b.shl(flag, b.const(bit, 64), 64) if bit else flag, 64)
    return value


def set_rflags(b: Builder, value, names) -> None:
    b.set_flags({name: b.bit(value, RFLAGS_BITS[name], 64) for name in names})


# Capstone names the 64-bit forms pushfq/popfq, and the 16-bit ones (0x66) pushf/popf.
@semantics("pushfq", "pushf")
def pushf(b: Builder, insn: Insn) -> None:
    bits = 64 if insn.name == "pushfq" else 16
    b.push(b.trunc(rflags(b), 64, bits) if bits < 64 else rflags(b), bits)


@semantics("popfq", "popf")
def popf(b: Builder, insn: Insn) -> None:
    bits = 64 if insn.name == "popfq" else 16
    set_rflags(b, b.zext(b.pop(bits), bits, 64) if bits < 64 else b.pop(), RFLAGS_BITS)


@semantics("lahf")
def lahf(b: Builder, insn: Insn) -> None:
    b.write(AH, b.trunc(rflags(b), 64, 8))


@semantics("sahf")
def sahf(b: Builder, insn: Insn) -> None:
    ah = b.lshr(b.get_gpr(0), b.const(8, 64), 64)
    set_rflags(b, ah, ("cf", "pf", "af", "zf", "sf"))
