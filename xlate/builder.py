"""The interface that instruction semantics are written against.

A semantics function (xlate.semantics) describes one instruction family in terms of the
primitives below. Each engine implements the primitives once: the interpreter on Python ints
(it executes), the JIT on LLVM IR values (it emits code). Values are opaque to the semantics;
where a primitive needs an operand width it is passed in bits.

Operand access (registers of every width, memory, immediates), effective addresses and the
arithmetic flags are built here from the primitives, so that they too exist once.
"""

from __future__ import annotations

from xlate.decoder import GPR, IMM, MEM, REG, XMM, Insn, Operand
from xlate.records import named_tuple
from xlate.vector import Value, VectorPrimitives


def mask(bits: int) -> int:
    return (1 << bits) - 1


@named_tuple
class HelperState:
    """The guest registers and flags that a C helper reads and writes in the cpu struct, as
    ("gpr", index), ("flag", name) and ("cc", part) keys (see flags.helper_state). What it does to
    memory and to the x87 and SSE control state is not described: engines assume anything."""

    reads: frozenset[tuple[str, int | str]]
    writes: frozenset[tuple[str, int | str]]


class Builder(VectorPrimitives):
    """Primitives (implemented by each engine) and what is derived from them (shared)."""

    insn: Insn  # the instruction being executed or translated

    # -- primitives: values ---------------------------------------------------------------

    def const(self, value: int, bits: int) -> Value: raise NotImplementedError
    def add(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def sub(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def mul(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def and_(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def or_(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def xor(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def not_(self, a: Value, bits: int) -> Value: raise NotImplementedError
    def neg(self, a: Value, bits: int) -> Value: raise NotImplementedError
    # Shift counts are values of the same width and must be below `bits`.
    def shl(self, a: Value, n: Value, bits: int) -> Value: raise NotImplementedError
    def lshr(self, a: Value, n: Value, bits: int) -> Value: raise NotImplementedError
    def ashr(self, a: Value, n: Value, bits: int) -> Value: raise NotImplementedError
    # Division by zero, and the signed division of the most negative value by -1, are the
    # caller's to avoid. Signed division rounds towards zero.
    def udiv(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def urem(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def sdiv(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def srem(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def zext(self, a: Value, bits: int, to: int) -> Value: raise NotImplementedError
    def sext(self, a: Value, bits: int, to: int) -> Value: raise NotImplementedError
    def trunc(self, a: Value, bits: int, to: int) -> Value: raise NotImplementedError
    # Comparisons give 1-bit values.
    def eq(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def ult(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def slt(self, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    def select(self, c: Value, a: Value, b: Value, bits: int) -> Value: raise NotImplementedError
    # Bit counting: ctz and clz of zero give `bits`.
    def ctz(self, a: Value, bits: int) -> Value: raise NotImplementedError
    def clz(self, a: Value, bits: int) -> Value: raise NotImplementedError
    def popcount(self, a: Value, bits: int) -> Value: raise NotImplementedError
    def bswap(self, a: Value, bits: int) -> Value: raise NotImplementedError

    # -- primitives: guest state ----------------------------------------------------------

    def get_gpr(self, index: int) -> Value: raise NotImplementedError
    def set_gpr(self, index: int, value: Value) -> None: raise NotImplementedError
    # Flags (see xlate.semantics.flags): get_flag computes a lazily described flag; set_flag
    # and set_flags set flags explicitly, keeping the others; set_flags_lazy describes the
    # arithmetic flags by the kind, width, result and operands of an operation (or, when
    # `unless` holds, leaves them as they are).
    def get_flag(self, name: str) -> Value: raise NotImplementedError
    def set_flag(self, name: str, value: Value) -> None: raise NotImplementedError
    def set_flags(self, values: dict[str, Value]) -> None: raise NotImplementedError

    def set_flags_lazy(self, kind: int, bits: int, r: Value, x: Value, y: Value,
                       unless: Value | None = None) -> None:
        raise NotImplementedError

    def lazy_flags(self) -> tuple[int, int, Value, Value, Value] | None:
        """(kind, bits, r, x, y) of the lazy description that all six arithmetic flags follow
        now, where the engine knows it; None otherwise."""
        raise NotImplementedError

    def get_xmm(self, index: int) -> Value: raise NotImplementedError
    def set_xmm(self, index: int, value: Value) -> None: raise NotImplementedError
    def get_segment_base(self, segment: str) -> Value: raise NotImplementedError
    # A volatile load happens (and may fault) even when its value goes unused.
    def load(self, guest_addr: Value, bits: int, volatile: bool = False) -> Value:
        raise NotImplementedError

    def store(self, guest_addr: Value, value: Value, bits: int) -> None: raise NotImplementedError

    def call_helper(self, name: str, a: Value, b: Value,
                    state: HelperState | None = None) -> Value:
        """Call the C helper xlate_helper_<name>(cpu, a, b): it sees and may change all state,
        or, with state, the registers and flags that names (and any memory)."""
        raise NotImplementedError

    def call_pure(self, name: str, a: Value, b: Value, c: Value) -> tuple[Value, Value, Value]:
        """Call the C function xlate_pure_<name>(a, b, c, out), which computes from its
        arguments alone (no guest state, no memory): (its 64-bit result, out[0], out[1])."""
        raise NotImplementedError

    # -- primitives: control --------------------------------------------------------------

    def end_block(self, next_rip: Value, exit_code: int = 0) -> None:
        """Leave the block for next_rip; a nonzero exit code stops at the dispatcher."""
        raise NotImplementedError

    def exit_if(self, cond: Value, exit_code: int) -> None:
        """Stop at the current instruction, before its effects, with exit_code if cond holds."""
        raise NotImplementedError

    # -- derived: small conveniences ------------------------------------------------------

    def ne(self, a: Value, b: Value, bits: int) -> Value:
        return self.not_(self.eq(a, b, bits), 1)

    def is_zero(self, a: Value, bits: int) -> Value:
        return self.eq(a, self.const(0, bits), bits)

    def sign(self, a: Value, bits: int) -> Value:
        """The top bit of a, as a 1-bit value."""
        return self.trunc(self.lshr(a, self.const(bits - 1, bits), bits), bits, 1)

    def bit(self, a: Value, n: int, bits: int) -> Value:
        """Bit n of a, as a 1-bit value."""
        if n:
            a = self.lshr(a, self.const(n, bits), bits)
        return self.trunc(a, bits, 1)

    def resize(self, a: Value, bits: int, to: int) -> Value:
        """Zero-extend or truncate."""
        if to > bits:
            return self.zext(a, bits, to)
        if to < bits:
            return self.trunc(a, bits, to)
        return a

    # -- derived: operands ----------------------------------------------------------------

    def address(self, op: Operand) -> Value:
        """The guest address that a memory operand names."""
        parts = [] if op.base is None else [self.get_gpr(op.base.index)]
        if op.index is not None:
            index = self.get_gpr(op.index.index)
            if op.scale > 1:
                index = self.shl(index, self.const(op.scale.bit_length() - 1, 64), 64)
            parts.append(index)
        # The displacement last: registers + displacement is the form the JIT recognises.
        if op.disp or not parts:
            parts.append(self.const(op.disp & mask(64), 64))
        addr = parts[0]
        for part in parts[1:]:
            addr = self.add(addr, part, 64)
        if self.insn.addr32:  # the 0x67 prefix: the sum wraps at 32 bits, before the segment
            addr = self.zext(self.trunc(addr, 64, 32), 32, 64)
        if op.segment:
            addr = self.add(addr, self.get_segment_base(op.segment), 64)
        return addr

    def read(self, op: Operand, bits: int | None = None, volatile: bool = False) -> Value:
        """An operand's value at its own width (or `bits`, for an xmm register or memory)."""
        bits = bits or op.size * 8
        if op.kind == IMM:
            return self.const(op.imm & mask(bits), bits)
        if op.kind == MEM:
            return self.load(self.address(op), bits, volatile)
        reg = op.reg
        if reg.file == GPR:
            value = self.get_gpr(reg.index)
            if reg.shift:
                value = self.lshr(value, self.const(reg.shift, 64), 64)
            return self.resize(value, 64, bits)
        if reg.file == XMM:
            return self.resize(self.get_xmm(reg.index), 128, bits)
        raise NotImplementedError(f"read of {reg}")

    def write(self, op: Operand, value: Value, bits: int | None = None) -> None:
        """Write an operand. 32-bit register writes zero-extend; 8- and 16-bit ones merge."""
        bits = bits or op.size * 8
        if op.kind == MEM:
            self.store(self.address(op), value, bits)
            return
        assert op.kind == REG
        reg = op.reg
        if reg.file == XMM:
            self.set_xmm(reg.index, self.resize(value, bits, 128))
            return
        if reg.file != GPR:
            raise NotImplementedError(f"write of {reg}")
        if bits >= 32:
            self.set_gpr(reg.index, self.resize(value, bits, 64))
            return
        keep = ~(mask(bits) << reg.shift) & mask(64)
        old = self.and_(self.get_gpr(reg.index), self.const(keep, 64), 64)
        new = self.zext(value, bits, 64)
        if reg.shift:
            new = self.shl(new, self.const(reg.shift, 64), 64)
        self.set_gpr(reg.index, self.or_(old, new, 64))

    def set_reg(self, index: int, value: Value, bits: int) -> None:
        """Write the low `bits` of general register `index` (rax=0), with write()'s rules."""
        self.write(_GPR_OPERANDS[bits][index], value, bits)

    def get_reg(self, index: int, bits: int) -> Value:
        return self.resize(self.get_gpr(index), 64, bits)

    # -- derived: stack -------------------------------------------------------------------

    def push(self, value: Value, bits: int = 64) -> None:
        rsp = self.sub(self.get_gpr(4), self.const(bits // 8, 64), 64)
        self.store(rsp, value, bits)
        self.set_gpr(4, rsp)

    def pop(self, bits: int = 64) -> Value:
        rsp = self.get_gpr(4)
        value = self.load(rsp, bits)
        self.set_gpr(4, self.add(rsp, self.const(bits // 8, 64), 64))
        return value


def _gpr_operands() -> dict[int, list[Operand]]:
    from xlate.decoder import Reg
    return {bits: [Operand(REG, bits // 8, reg=Reg(GPR, i, bits)) for i in range(16)]
            for bits in (8, 16, 32, 64)}


_GPR_OPERANDS = _gpr_operands()
