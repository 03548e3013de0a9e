"""The interpreter: runs the semantics on concrete values, one instruction at a time.

It is precise at every instruction, needs no compilation, and is the reference the JIT is
checked against."""

from __future__ import annotations

from xlate.builder import Builder, mask
from xlate.decoder import Block
from xlate.runtime import (
    EXIT_CODE_WRITTEN,
    EXIT_FAULT,
    EXIT_NEXT,
    EXIT_SIGILL,
    EXIT_STOP,
    FLAG_SLOT,
    ffi,
    lib,
)
from xlate.semantics import SEMANTICS, flags, system
from xlate.vector_interp import VectorInterp

_SEGMENT_FIELD = {"fs": "fs_base", "gs": "gs_base"}


class BlockExit(Exception):
    """Raised inside a block to stop at the current instruction (fault, #DE, SIGILL)."""

    def __init__(self, exit_code: int) -> None:
        self.exit_code = exit_code


class InterpBuilder(VectorInterp, Builder):
    """Primitives on Python ints (unsigned, masked to their width) and on the cpu struct."""

    def __init__(self, cpu) -> None:
        self.cpu = cpu
        self.gpr = cpu.gpr
        self.flags = cpu.flags
        self.next_rip = 0
        self.exit_code = EXIT_NEXT
        self.code_written = False  # the current instruction wrote to translated code
        self.helpers: dict[str, object] = {}
        self.pure_out = ffi.new("uint64_t[2]")

    # values
    def const(self, value: int, bits: int) -> int: return value & mask(bits)
    def add(self, a: int, b: int, bits: int) -> int: return (a + b) & mask(bits)
    def sub(self, a: int, b: int, bits: int) -> int: return (a - b) & mask(bits)
    def mul(self, a: int, b: int, bits: int) -> int: return (a * b) & mask(bits)
    def and_(self, a: int, b: int, bits: int) -> int: return a & b
    def or_(self, a: int, b: int, bits: int) -> int: return a | b
    def xor(self, a: int, b: int, bits: int) -> int: return a ^ b
    def not_(self, a: int, bits: int) -> int: return a ^ mask(bits)
    def neg(self, a: int, bits: int) -> int: return -a & mask(bits)
    def shl(self, a: int, n: int, bits: int) -> int: return (a << n) & mask(bits)
    def lshr(self, a: int, n: int, bits: int) -> int: return a >> n
    def ashr(self, a: int, n: int, bits: int) -> int: return (_signed(a, bits) >> n) & mask(bits)
    def udiv(self, a: int, b: int, bits: int) -> int: return a // b
    def urem(self, a: int, b: int, bits: int) -> int: return a % b

    def sdiv(self, a: int, b: int, bits: int) -> int:
        x, y = _signed(a, bits), _signed(b, bits)
        q = abs(x) // abs(y)
        return (q if (x < 0) == (y < 0) else -q) & mask(bits)

    def srem(self, a: int, b: int, bits: int) -> int:
        x, y = _signed(a, bits), _signed(b, bits)
        r = abs(x) % abs(y)
        return (r if x >= 0 else -r) & mask(bits)
    def zext(self, a: int, bits: int, to: int) -> int: return a
    def sext(self, a: int, bits: int, to: int) -> int: return _signed(a, bits) & mask(to)
    def trunc(self, a: int, bits: int, to: int) -> int: return a & mask(to)
    def eq(self, a: int, b: int, bits: int) -> int: return int(a == b)
    def ult(self, a: int, b: int, bits: int) -> int: return int(a < b)
    def slt(self, a: int, b: int, bits: int) -> int:
        return int(_signed(a, bits) < _signed(b, bits))
    def select(self, c: int, a: int, b: int, bits: int) -> int: return a if c else b
    def ctz(self, a: int, bits: int) -> int: return (a & -a).bit_length() - 1 if a else bits
    def clz(self, a: int, bits: int) -> int: return bits - a.bit_length()
    def popcount(self, a: int, bits: int) -> int: return a.bit_count()
    def bswap(self, a: int, bits: int) -> int:
        return int.from_bytes(a.to_bytes(bits // 8, "little"), "big")

    # guest state
    def get_gpr(self, index: int) -> int: return self.gpr[index]
    def set_gpr(self, index: int, value: int) -> None: self.gpr[index] = value
    def get_flag(self, name: str) -> int:
        cpu = self.cpu
        if name != "df" and cpu.cc_op >> flags.LAZY_SHIFT & flags.BIT[name]:
            kind, bits = flags.CC_KIND[cpu.cc_op & 0xFF]
            return flags.formula(self, kind, bits, name, cpu.cc_dst, cpu.cc_src1, cpu.cc_src2)
        return self.flags[FLAG_SLOT[name]]

    def set_flag(self, name: str, value: int) -> None:
        self.set_flags({name: value})

    def set_flags(self, values: dict[str, int]) -> None:
        explicit = 0
        for name, value in values.items():
            self.flags[FLAG_SLOT[name]] = value
            explicit |= flags.BIT.get(name, 0)
        self.cpu.cc_op &= ~(explicit << flags.LAZY_SHIFT)

    def set_flags_lazy(self, kind: int, bits: int, r: int, x: int, y: int,
                       unless: int | None = None) -> None:
        if unless:
            return
        cpu = self.cpu
        lazy = flags.lazy_bits(kind)
        if not lazy & flags.BIT["cf"]:  # it keeps CF: in its slot
            self.flags[FLAG_SLOT["cf"]] = self.get_flag("cf")
        cpu.cc_op = flags.CC_OP[kind, bits] | lazy << flags.LAZY_SHIFT
        cpu.cc_dst, cpu.cc_src1, cpu.cc_src2 = r, x, y

    def lazy_flags(self) -> tuple[int, int, int, int, int] | None:
        cpu = self.cpu
        op = cpu.cc_op
        if op >> flags.LAZY_SHIFT != flags.ALL:
            return None
        return (*flags.CC_KIND[op & 0xFF], cpu.cc_dst, cpu.cc_src1, cpu.cc_src2)

    def get_xmm(self, index: int) -> int:
        return int.from_bytes(ffi.buffer(self.cpu.xmm[index]), "little")

    def set_xmm(self, index: int, value: int) -> None:
        ffi.buffer(self.cpu.xmm[index])[:] = value.to_bytes(16, "little")

    def get_segment_base(self, segment: str) -> int:
        return getattr(self.cpu, _SEGMENT_FIELD[segment])

    def load(self, guest_addr: int, bits: int, volatile: bool = False) -> int:
        if bits > 64:
            return self.load(guest_addr, 64) | self.load(guest_addr + 8, bits - 64) << 64
        value = lib.xlate_load(self.cpu, guest_addr, bits // 8)
        if self.cpu.fault_signal:
            raise BlockExit(EXIT_FAULT)
        return value

    def store(self, guest_addr: int, value: int, bits: int) -> None:
        if bits > 64:
            # Check the whole range first, so that a fault leaves memory untouched.
            self.load(guest_addr + bits // 8 - 1, 8)
            self.store(guest_addr, value & mask(64), 64)
            self.store(guest_addr + 8, value >> 64, bits - 64)
            return
        lib.xlate_store(self.cpu, guest_addr, bits // 8, value)
        if self.cpu.fault_signal:
            raise BlockExit(EXIT_FAULT)
        if self.cpu.code_written_end:
            self.code_written = True

    def call_helper(self, name: str, a: int, b: int, state=None) -> int:
        fn = self.helpers.get(name)
        if fn is None:
            fn = self.helpers[name] = getattr(lib, "xlate_helper_" + name)
        result = lib.xlate_call_helper(fn, self.cpu, a, b)
        if self.cpu.fault_signal:
            raise BlockExit(EXIT_FAULT)
        if self.cpu.code_written_end:
            self.code_written = True
        return result

    def call_pure(self, name: str, a: int, b: int, c: int) -> tuple[int, int, int]:
        out = self.pure_out
        result = getattr(lib, "xlate_pure_" + name)(a, b, c, out)
        return result, out[0], out[1]

    # control
    def end_block(self, next_rip: int, exit_code: int = 0) -> None:
        self.next_rip = next_rip
        self.exit_code = exit_code

    def exit_if(self, cond: int, exit_code: int) -> None:
        if cond:
            raise BlockExit(exit_code)


def read_rflags(cpu) -> int:
    """The rflags register of a cpu, with its lazily described flags computed."""
    return system.rflags(InterpBuilder(cpu))


def write_rflags(cpu, value: int) -> None:
    """Set the flags that rflags holds (status flags and DF) of a cpu."""
    system.set_rflags(InterpBuilder(cpu), value, system.RFLAGS_BITS)


def _signed(a: int, bits: int) -> int:
    return a - (1 << bits) if a >> (bits - 1) else a


class Interpreter:
    """Executes decoded blocks on a cpu struct."""

    def __init__(self, cpu) -> None:
        self.builder = InterpBuilder(cpu)
        self.cpu = cpu
        self.insns_executed = 0

    def run_block(self, block: Block) -> int:
        """Run one block from its start; returns an exit code with cpu.rip set accordingly.

        On an exit inside the block, cpu.rip is the address of the instruction that stopped."""
        b = self.builder
        b.next_rip = block.end
        b.exit_code = EXIT_NEXT
        for insn in block.insns:
            b.insn = insn
            semantics = SEMANTICS.get(insn.name)
            try:
                if semantics is None:
                    raise BlockExit(EXIT_SIGILL)
                semantics(b, insn)
            except BlockExit as stop:
                self.cpu.rip = insn.address
                return stop.exit_code
            except Exception:  # a form the semantics do not cover: as if undefined
                self.cpu.rip = insn.address
                return EXIT_SIGILL
            self.insns_executed += 1
            if b.code_written:  # stop after it: what follows may be what it wrote
                b.code_written = False
                self.cpu.rip = b.next_rip if insn is block.insns[-1] else insn.next
                return EXIT_CODE_WRITTEN
        if block.undefined_at is not None and not block.insns:
            self.cpu.rip = block.undefined_at
            return EXIT_SIGILL
        self.cpu.rip = b.next_rip
        return b.exit_code


class InterpEngine:
    """The interpreter as an engine: block after block until something needs the machine."""

    def __init__(self, cpu, decoder, stats) -> None:
        self.cpu = cpu
        self.decoder = decoder
        self.stats = stats
        self.interpreter = Interpreter(cpu)
        self.blocks_interpreted = 0

    def run(self) -> int:
        cpu, block_at, run_block = self.cpu, self.decoder.block, self.interpreter.run_block
        stops = self.decoder.stops
        while not cpu.stop_request & lib.XLATE_STOP_REQUESTED and cpu.rip not in stops:
            self.blocks_interpreted += 1
            exit_code = run_block(block_at(cpu.rip))
            if exit_code != EXIT_NEXT:
                return exit_code
        return EXIT_STOP

    def invalidate(self, start: int, end: int) -> None:
        """Nothing to drop: the interpreter keeps no translations beyond the decoder's."""

    def finish(self, program_digest: str) -> None:
        """At the end of a run: count."""
        self.stats.instructions_interpreted = self.interpreter.insns_executed
        self.stats.blocks_interpreted = self.blocks_interpreted
        self.stats.blocks_translated = len(self.decoder.blocks)
