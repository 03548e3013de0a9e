"""The JIT's builder: the semantics' primitives emitted as LLVM IR.

A region (a batch of guest blocks) becomes one function `i32 (ptr cpu, ptr mem_base)` that
starts at the block cpu->rip names and returns an exit code with cpu->rip set. Each guest block
is a basic block; direct branches between them are LLVM branches, so loops stay inside the
function. Within a guest block, registers and flags live in SSA values, loaded from the cpu
struct on first use and stored back where the block ends; across blocks LLVM forwards those
stores to the loads and removes what is overwritten before it is read (most flags)."""

from __future__ import annotations

from contextlib import contextmanager

from llvmlite import ir

from xlate.builder import Builder, Value, mask
from xlate.decoder import Block, Insn
from xlate.jit.vector_ir import VectorIR
from xlate.runtime import EXIT_CODE_WRITTEN, EXIT_SIGILL, FLAG_SLOT, GUEST_SPACE, ffi, lib

I1, I8, I32, I64, I128 = (ir.IntType(n) for n in (1, 8, 32, 64, 128))
PTR = ir.PointerType()
BLOCK_FN = ir.FunctionType(I32, [PTR, PTR])
HELPER_FN = ir.FunctionType(I64, [PTR, I64, I64])

OFFSET = {name: ffi.offsetof("xlate_cpu", name)
          for name in ("gpr", "rip", "fs_base", "gs_base", "flags", "xmm", "insn_count",
                       "block_count", "stop_request", "jump_cache", "code_pages",
                       "code_written_end")}
JUMP_CACHE_BITS = lib.XLATE_JUMP_CACHE_BITS
JUMP_CACHE_SIZE = lib.XLATE_JUMP_CACHE_SIZE


def int_type(bits: int) -> ir.IntType:
    return ir.IntType(bits)


def region_function_name(guest_addr: int) -> str:
    return f"region_{guest_addr:x}"


class IRBuilder(VectorIR, Builder):
    """Emits guest blocks into the function of their region."""

    def __init__(self, module: ir.Module, function: ir.Function,
                 targets: dict[int, ir.Block]) -> None:
        self.module = module
        self.function = function
        self.targets = targets  # guest address -> basic block, for the region's blocks
        self.cpu, self.mem = function.args
        self.ir = ir.IRBuilder()
        self.gprs: dict[int, ir.Value] = {}
        self.flags: dict[str, ir.Value] = {}
        self.xmms: dict[int, ir.Value] = {}
        self.dirty: set[tuple[str, int | str]] = set()
        self.terminated = False
        self.rip_stored_for: int | None = None

    # -- the cpu struct ----------------------------------------------------------------------

    def field(self, offset: int) -> ir.Value:
        return self.ir.gep(self.cpu, [ir.Constant(I64, offset)], source_etype=I8)

    def load_field(self, offset: int, ty: ir.Type) -> ir.Value:
        return self.ir.load(self.field(offset), typ=ty, align=1)

    def store_field(self, offset: int, value: ir.Value) -> None:
        self.ir.store(value, self.field(offset), align=1)

    def flush(self) -> None:
        """Store every register and flag changed so far back into the cpu struct."""
        for kind, key in sorted(self.dirty, key=str):
            if kind == "gpr":
                self.store_field(OFFSET["gpr"] + 8 * key, self.gprs[key])
            elif kind == "flag":
                self.store_field(OFFSET["flags"] + FLAG_SLOT[key],
                                 self.ir.zext(self.flags[key], I8))
            else:
                self.store_field(OFFSET["xmm"] + 16 * key, self.xmms[key])

    def forget(self) -> None:
        """After a helper call: everything must be reloaded from the cpu struct."""
        self.gprs.clear()
        self.flags.clear()
        self.xmms.clear()
        self.dirty.clear()

    def store_rip(self, guest_addr: int) -> None:
        # Volatile: a fault is a read of rip that LLVM cannot see, so the store must stay.
        rip = self.field(OFFSET["rip"])
        self.ir._insert(_VolatileStore(self.ir.block, ir.Constant(I64, guest_addr), rip))

    def note_may_fault(self) -> None:
        if self.rip_stored_for != self.insn.address:
            self.store_rip(self.insn.address)
            self.rip_stored_for = self.insn.address

    # -- block structure ---------------------------------------------------------------------

    @contextmanager
    def unlikely(self, cond: ir.Value):
        """Emit the body on a cold path taken when cond holds; unless the body ends the path
        (ret), it rejoins the hot path, where code after the with-statement continues."""
        n = len(self.function.basic_blocks)
        cold = self.function.append_basic_block(f"cold{n}")
        hot = self.function.append_basic_block(f"hot{n}")
        self.ir.cbranch(cond, cold, hot).set_weights([1, 1000])
        self.ir.position_at_end(cold)
        yield
        if not self.ir.block.is_terminated:
            self.ir.branch(hot)
        self.ir.position_at_end(hot)

    def begin_block(self, block: Block) -> None:
        """Start emitting the guest block, at its basic block, with nothing cached."""
        self.ir.position_at_end(self.targets[block.start])
        self.forget()
        self.terminated = False
        self.rip_stored_for = None
        self.check_code_written = False
        for name, count in (("insn_count", len(block.insns)), ("block_count", 1)):
            old = self.load_field(OFFSET[name], I64)
            self.store_field(OFFSET[name], self.ir.add(old, ir.Constant(I64, count)))

    def begin_insn(self, insn: Insn) -> None:
        self.insn = insn

    def checkpoint(self) -> tuple:
        """What rollback() needs to undo the emission of one instruction."""
        return (self.ir.block, len(self.ir.block.instructions), len(self.function.blocks),
                dict(self.gprs), dict(self.flags), dict(self.xmms), set(self.dirty),
                self.rip_stored_for, self.check_code_written)

    def rollback(self, state: tuple) -> None:
        block, count, blocks, gprs, flags, xmms, dirty, rip_stored_for, check = state
        del self.function.blocks[blocks:]
        del block.instructions[count:]
        self.ir.position_at_end(block)
        self.gprs, self.flags, self.xmms, self.dirty = gprs, flags, xmms, dirty
        self.rip_stored_for = rip_stored_for
        self.check_code_written = check

    def exit_now(self, guest_addr: int, exit_code: int) -> None:
        self.flush()
        self.store_rip(guest_addr)
        self.ir.ret(ir.Constant(I32, exit_code))
        self.terminated = True

    # -- primitives: values ------------------------------------------------------------------

    def const(self, value: int, bits: int) -> Value:
        return ir.Constant(int_type(bits), value & mask(bits))

    def add(self, a, b, bits): return self.ir.add(a, b)
    def sub(self, a, b, bits): return self.ir.sub(a, b)
    def mul(self, a, b, bits): return self.ir.mul(a, b)
    def and_(self, a, b, bits): return self.ir.and_(a, b)
    def or_(self, a, b, bits): return self.ir.or_(a, b)
    def xor(self, a, b, bits): return self.ir.xor(a, b)
    def not_(self, a, bits): return self.ir.not_(a)
    def neg(self, a, bits): return self.ir.neg(a)
    def shl(self, a, n, bits): return self.ir.shl(a, n)
    def lshr(self, a, n, bits): return self.ir.lshr(a, n)
    def ashr(self, a, n, bits): return self.ir.ashr(a, n)
    def udiv(self, a, b, bits): return self.ir.udiv(a, b)
    def urem(self, a, b, bits): return self.ir.urem(a, b)
    def zext(self, a, bits, to): return a if bits == to else self.ir.zext(a, int_type(to))
    def sext(self, a, bits, to): return a if bits == to else self.ir.sext(a, int_type(to))
    def trunc(self, a, bits, to): return a if bits == to else self.ir.trunc(a, int_type(to))
    def eq(self, a, b, bits): return self.ir.icmp_unsigned("==", a, b)
    def ult(self, a, b, bits): return self.ir.icmp_unsigned("<", a, b)
    def slt(self, a, b, bits): return self.ir.icmp_signed("<", a, b)
    def select(self, c, a, b, bits): return self.ir.select(c, a, b)

    def _intrinsic(self, name: str, a, *extra):
        # Declared by hand: llvmlite's declare_intrinsic omits cttz/ctlz's i1 argument.
        fnty = ir.FunctionType(a.type, [a.type, *(e.type for e in extra)])
        return self.ir.call(self.external(f"{name}.i{a.type.width}", fnty), [a, *extra])

    def ctz(self, a, bits): return self._intrinsic("llvm.cttz", a, ir.Constant(I1, 0))
    def clz(self, a, bits): return self._intrinsic("llvm.ctlz", a, ir.Constant(I1, 0))
    def popcount(self, a, bits): return self._intrinsic("llvm.ctpop", a)
    def bswap(self, a, bits): return self._intrinsic("llvm.bswap", a)

    # -- primitives: guest state -------------------------------------------------------------

    def get_gpr(self, index: int) -> Value:
        value = self.gprs.get(index)
        if value is None:
            value = self.gprs[index] = self.load_field(OFFSET["gpr"] + 8 * index, I64)
        return value

    def set_gpr(self, index: int, value: Value) -> None:
        self.gprs[index] = value
        self.dirty.add(("gpr", index))

    def get_flag(self, name: str) -> Value:
        value = self.flags.get(name)
        if value is None:
            raw = self.load_field(OFFSET["flags"] + FLAG_SLOT[name], I8)
            value = self.flags[name] = self.ir.trunc(raw, I1)
        return value

    def set_flag(self, name: str, value: Value) -> None:
        self.flags[name] = value
        self.dirty.add(("flag", name))

    def get_xmm(self, index: int) -> Value:
        value = self.xmms.get(index)
        if value is None:
            value = self.xmms[index] = self.load_field(OFFSET["xmm"] + 16 * index, I128)
        return value

    def set_xmm(self, index: int, value: Value) -> None:
        self.xmms[index] = value
        self.dirty.add(("xmm", index))

    def get_segment_base(self, segment: str) -> Value:
        return self.load_field(OFFSET[segment + "_base"], I64)

    def host_pointer(self, guest_addr: Value) -> Value:
        """base + guest_addr, with addresses beyond the guest space clamped to its end: the
        guard region there faults, so no branch is needed (the fault then reports the end of
        the space rather than the wild address)."""
        self.note_may_fault()
        umin = self.external("llvm.umin.i64", ir.FunctionType(I64, [I64, I64]))
        clamped = self.ir.call(umin, [guest_addr, ir.Constant(I64, GUEST_SPACE)])
        return self.ir.gep(self.mem, [clamped], source_etype=I8)

    def load(self, guest_addr: Value, bits: int, volatile: bool = False) -> Value:
        pointer = self.host_pointer(guest_addr)
        if volatile:
            # Probes of the first and last byte that nothing uses: LLVM may sink a volatile
            # load whose value only a select uses into the select's branch, but never drops
            # one that has no use at all.
            last = self.ir.gep(pointer, [ir.Constant(I64, bits // 8 - 1)], source_etype=I8)
            for probe in (pointer, last):
                self.ir._insert(_VolatileLoad(self.ir.block, probe, I8))
        return self.ir.load(pointer, typ=int_type(bits), align=1)

    def store(self, guest_addr: Value, value: Value, bits: int) -> None:
        self.ir.store(value, self.host_pointer(guest_addr), align=1)
        # Self-modifying code: a store to a page that code was translated from is noted, and
        # the instruction's end leaves the block (finish_insn).
        code_pages = self.load_field(OFFSET["code_pages"], PTR)
        last = self.ir.add(guest_addr, ir.Constant(I64, bits // 8 - 1))
        marks = []
        for addr in (guest_addr, last):
            clamped = self.ir.call(self.external("llvm.umin.i64", ir.FunctionType(I64, [I64, I64])),
                                   [addr, ir.Constant(I64, GUEST_SPACE - 1)])
            page = self.ir.lshr(clamped, ir.Constant(I64, 12))
            marks.append(self.ir.load(self.ir.gep(code_pages, [page], source_etype=I8), typ=I8))
        hit = self.ir.icmp_unsigned("!=", self.ir.or_(*marks), ir.Constant(I8, 0))
        with self.unlikely(hit):
            note = self.external("xlate_note_code_write", _NOTE_CODE_WRITE_FN)
            self.ir.call(note, [self.cpu, guest_addr, ir.Constant(I64, bits // 8)])
        self.check_code_written = True

    def external(self, name: str, fnty: ir.FunctionType) -> ir.Function:
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, fnty, name)
        return fn

    def call_helper(self, name: str, a: Value, b: Value) -> Value:
        self.flush()
        self.note_may_fault()
        result = self.ir.call(self.external("xlate_helper_" + name, HELPER_FN), [self.cpu, a, b])
        self.forget()
        self.check_code_written = True  # helpers store through xlate_host_write
        return result

    # -- primitives: control -----------------------------------------------------------------

    def finish_insn(self, next_rip: Value) -> None:
        """After an instruction that stored: leave for next_rip if it wrote translated code."""
        if not self.check_code_written:
            return
        self.check_code_written = False
        pending = self.load_field(OFFSET["code_written_end"], I64)
        with self.unlikely(self.ir.icmp_unsigned("!=", pending, ir.Constant(I64, 0))):
            self.flush()
            self.ir.store(next_rip, self.field(OFFSET["rip"]), align=1)
            self.ir.ret(ir.Constant(I32, EXIT_CODE_WRITTEN))

    def end_block(self, next_rip: Value, exit_code: int = 0) -> None:
        self.finish_insn(next_rip)
        self.flush()
        # A conditional branch between two known addresses becomes a real branch, so that each
        # side can branch to its target.
        if (exit_code == 0 and isinstance(next_rip, ir.instructions.SelectInstr)
                and all(isinstance(v, ir.Constant) for v in next_rip.operands[1:])):
            cond, taken, not_taken = next_rip.operands
            with self.ir.if_else(cond) as (then, otherwise):
                with then:
                    self._leave(taken.constant)
                with otherwise:
                    self._leave(not_taken.constant)
            self.ir.unreachable()
        elif exit_code == 0 and isinstance(next_rip, ir.Constant):
            self._leave(next_rip.constant)
        elif exit_code == 0:
            self._jump_via_cache(next_rip)
        else:
            self.ir.store(next_rip, self.field(OFFSET["rip"]), align=1)
            self.ir.ret(ir.Constant(I32, exit_code))
        self.terminated = True

    def _jump_via_cache(self, next_rip: Value) -> None:
        """Go on to a computed address: a tail call to what the code map's jump cache holds for
        it, or back to the dispatcher (which fills the cache) when it holds something else."""
        self.ir.store(next_rip, self.field(OFFSET["rip"]), align=1)
        self._return_if_stop_requested()
        cache = self.load_field(OFFSET["jump_cache"], PTR)
        shifted = self.ir.lshr(next_rip, ir.Constant(I64, JUMP_CACHE_BITS))
        slot = self.ir.and_(self.ir.xor(next_rip, shifted), ir.Constant(I64, JUMP_CACHE_SIZE - 1))
        entry = self.ir.gep(cache, [self.ir.shl(slot, ir.Constant(I64, 4))], source_etype=I8)
        cached_addr = self.ir.load(entry, typ=I64, align=8)
        with self.unlikely(self.ir.icmp_unsigned("!=", cached_addr, next_rip)):
            self.ir.ret(ir.Constant(I32, 0))
        code_field = self.ir.gep(entry, [ir.Constant(I64, 8)], source_etype=I8)
        code = self.ir.load(code_field, typ=BLOCK_FN.as_pointer(), align=8)
        self.ir.ret(self.ir.call(code, [self.cpu, self.mem], tail="musttail"))

    def _return_if_stop_requested(self) -> None:
        """A safe point: a stop request returns to the dispatcher, which honours it (cpu->rip
        must be set). Volatile, so that LLVM does not hoist the check out of loops."""
        stop = self._volatile_load_field("stop_request", I32)
        with self.unlikely(self.ir.icmp_unsigned("!=", stop, ir.Constant(I32, 0))):
            self.ir.ret(ir.Constant(I32, 0))

    def _leave(self, guest_addr: int) -> None:
        """Go on to guest_addr: a branch when it is in this region, else through the jump
        cache. State must be flushed already."""
        target = self.targets.get(guest_addr)
        if target is None:
            self._jump_via_cache(ir.Constant(I64, guest_addr))
            return
        with self.unlikely(self.ir.icmp_unsigned(
                "!=", self._volatile_load_field("stop_request", I32), ir.Constant(I32, 0))):
            self.store_field(OFFSET["rip"], ir.Constant(I64, guest_addr))
            self.ir.ret(ir.Constant(I32, 0))
        self.ir.branch(target)

    def _volatile_load_field(self, name: str, ty: ir.Type) -> ir.Value:
        load = _VolatileLoad(self.ir.block, self.field(OFFSET[name]), ty)
        self.ir._insert(load)
        return load

    def exit_if(self, cond: Value, exit_code: int) -> None:
        if isinstance(cond, ir.Constant) and cond.constant:
            self.exit_now(self.insn.address, exit_code)
            return
        with self.unlikely(cond):
            self.flush()
            self.store_rip(self.insn.address)
            self.ir.ret(ir.Constant(I32, exit_code))


_NOTE_CODE_WRITE_FN = ir.FunctionType(ir.VoidType(), [PTR, I64, I64])


class _VolatileLoad(ir.instructions.LoadInstr):
    """llvmlite's load cannot be volatile; this one always is."""

    def __init__(self, parent: ir.Block, ptr: ir.Value, typ: ir.Type) -> None:
        super().__init__(parent, ptr, typ=typ)

    def descr(self, buf: list[str]) -> None:
        (ptr,) = self.operands
        buf.append(f"load volatile {self.type}, {ptr.type} {ptr.get_reference()}, align 1\n")


class _VolatileStore(ir.instructions.StoreInstr):
    """llvmlite's store cannot be volatile; this one always is."""

    def descr(self, buf: list[str]) -> None:
        value, ptr = self.operands
        buf.append(f"store volatile {value.type} {value.get_reference()}, "
                   f"{ptr.type} {ptr.get_reference()}, align 1\n")


def translate_region(module: ir.Module, blocks: list[Block], semantics: dict) -> str:
    """Emit the blocks as one function in module, entered at the block that cpu->rip names;
    returns the function's name.

    An instruction without semantics, or whose semantics cannot handle its operands, becomes a
    SIGILL exit at its address."""
    name = region_function_name(blocks[0].start)
    function = ir.Function(module, BLOCK_FN, name)
    function.args[0].add_attribute("noalias")
    entry = ir.IRBuilder(function.append_basic_block("entry"))
    targets = {block.start: function.append_basic_block(f"g{block.start:x}") for block in blocks}
    nowhere = function.append_basic_block("nowhere")  # the dispatcher only enters at blocks
    ir.IRBuilder(nowhere).unreachable()
    rip = entry.load(entry.gep(function.args[0], [ir.Constant(I64, OFFSET["rip"])],
                               source_etype=I8), typ=I64, align=1)
    switch = entry.switch(rip, nowhere)
    for addr, target in targets.items():
        switch.add_case(ir.Constant(I64, addr), target)
    b = IRBuilder(module, function, targets)
    for block in blocks:
        _emit_block(b, block, semantics)
    return name


def _emit_block(b: IRBuilder, block: Block, semantics: dict) -> None:
    b.begin_block(block)
    for insn in block.insns:
        b.begin_insn(insn)
        checkpoint = b.checkpoint()
        fn = semantics.get(insn.name)
        try:
            if fn is None:
                raise NotImplementedError(insn.name)
            fn(b, insn)
        except Exception:  # a form the semantics do not cover: as if undefined
            b.rollback(checkpoint)
            b.exit_now(insn.address, EXIT_SIGILL)
        if b.terminated:
            return
        b.finish_insn(b.const(insn.next, 64))
    if not block.insns:  # nothing decodable here
        b.exit_now(block.start, EXIT_SIGILL)
    else:
        b.end_block(b.const(block.end, 64))
