"""The JIT's builder: the semantics' primitives emitted as LLVM IR.

A region (a batch of guest blocks) becomes one function `i32 (ptr cpu, ptr mem_base)` that
starts at the block cpu->rip names and returns an exit code with cpu->rip set. Each guest block
is a basic block; direct branches between them are LLVM branches, so loops stay inside the
function, and a return to a call site in the region is a branch too. Registers and flags are
the function's local variables (see IRBuilder), so they stay in host registers across blocks;
stop requests are checked on backward branches, which every loop has."""

from __future__ import annotations

from contextlib import contextmanager

from xlate.builder import Builder, HelperState, Value, mask
from xlate.decoder import Block, Insn, successors
from xlate.jit import llir as ir
from xlate.jit.linker import SUPPORT_SYMBOL
from xlate.jit.vector_ir import VectorIR
from xlate.runtime import EXIT_CODE_WRITTEN, EXIT_SIGILL, FLAG_SLOT, GUEST_SPACE, ffi, lib
from xlate.semantics import SEMANTICS, flags

I1, I8, I32, I64, I128 = (ir.IntType(n) for n in (1, 8, 32, 64, 128))
XMM = ir.VectorType(ir.DoubleType(), 2)
PTR = ir.PointerType()
BLOCK_FN = ir.FunctionType(I32, [PTR, PTR])
HELPER_FN = ir.FunctionType(I64, [PTR, I64, I64])
PURE_FN = ir.FunctionType(I64, [I64, I64, I64, PTR])
# The support module's function that computes flags from a lazy description, and its type.
LAZY_FLAGS = SUPPORT_SYMBOL
LAZY_FLAGS_FN = ir.FunctionType(I8, [I32, I64, I64, I64])
# Where a block reads flags that blocks before it described, the operations those blocks ended
# with (at most this many) get the flags' formulas inline, which LLVM folds away on each path
# where the operation is known; other operations call LAZY_FLAGS.
GUESSED_OPS = 3
# Called where a region is entered and at its safe points (back edges), and at the start of each
# block with the block's slot (block_slot): a region module does not define them;
# hot_definition() gives the definitions that complete it, counting or not.
HOT = ir.Value(ir.PointerType(ir.FunctionType(ir.VoidType(), [PTR])), "@xlate_hot")
COUNT = ir.Value(ir.PointerType(ir.FunctionType(ir.VoidType(), [PTR, I64])), "@xlate_count")

OFFSET = {name: ffi.offsetof("xlate_cpu", name)
          for name in ("gpr", "rip", "fs_base", "gs_base", "flags", "xmm", "stop_request",
                       "jump_cache", "code_pages", "code_written_end", "cc_op", "cc_dst",
                       "cc_src1", "cc_src2", "hot_counts", "block_counts")}
# Displacements below this are added after the clamp (see host_pointer): half the guard beyond
# the guest space, so that the widest access (fxsave's 512 bytes) ends in the guard too.
NEAR = lib.XLATE_GUEST_GUARD // 2
JUMP_CACHE_BITS = lib.XLATE_JUMP_CACHE_BITS
JUMP_CACHE_SIZE = lib.XLATE_JUMP_CACHE_SIZE


def int_type(bits: int) -> ir.IntType:
    return ir.IntType(bits)


def region_function_name(guest_addr: int) -> str:
    return f"region_{guest_addr:x}"


def block_slot(guest_addr: int) -> int:
    """Where quickly compiled code counts the runs of the block at guest_addr, in
    cpu->block_counts."""
    return (guest_addr ^ guest_addr >> 13) % lib.XLATE_BLOCK_SLOTS


def hot_definition(slot: int | None) -> str:
    """The definitions of HOT and COUNT that complete a region module: HOT adds 1 to
    cpu->hot_counts[slot] (how often the code is entered or loops, which tells the engine
    what quickly compiled code to optimise) and COUNT to the block's cpu->block_counts (which
    of its blocks to); with None, both do nothing, and LLVM removes them. Either way they are
    inlined (quick code is not optimised, but its calls are: see Compiler.compile)."""
    if slot is None:
        return ("define internal void @xlate_hot(ptr %cpu) alwaysinline {\n  ret void\n}\n"
                "define internal void @xlate_count(ptr %cpu, i64 %slot) alwaysinline {\n"
                "  ret void\n}\n")
    offset = OFFSET["hot_counts"] + 8 * slot
    return (f"define internal void @xlate_hot(ptr %cpu) alwaysinline {{\n"
            f"  %p = getelementptr i8, ptr %cpu, i64 {offset}\n  %n = load i64, ptr %p\n"
            f"  %m = add i64 %n, 1\n  store i64 %m, ptr %p\n  ret void\n}}\n"
            f"define internal void @xlate_count(ptr %cpu, i64 %slot) alwaysinline {{\n"
            f"  %o = shl i64 %slot, 3\n  %a = add i64 %o, {OFFSET['block_counts']}\n"
            f"  %p = getelementptr i8, ptr %cpu, i64 %a\n  %n = load i64, ptr %p\n"
            f"  %m = add i64 %n, 1\n  store i64 %m, ptr %p\n  ret void\n}}\n")


class ValueIR(Builder):
    """The value primitives, emitted as LLVM IR at self.ir's position in self.module: what
    the semantics' pure computations (such as the flag formulas) need, and no guest state."""

    def __init__(self, module: ir.Module) -> None:
        self.module = module
        self.ir = ir.IRBuilder()

    def external(self, name: str, fnty: ir.FunctionType) -> ir.Function:
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, fnty, name)
        return fn

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
    def sdiv(self, a, b, bits): return self.ir.sdiv(a, b)
    def srem(self, a, b, bits): return self.ir.srem(a, b)
    def zext(self, a, bits, to): return a if bits == to else self.ir.zext(a, int_type(to))
    def sext(self, a, bits, to): return a if bits == to else self.ir.sext(a, int_type(to))
    def trunc(self, a, bits, to): return a if bits == to else self.ir.trunc(a, int_type(to))
    def eq(self, a, b, bits): return self.ir.icmp_unsigned("==", a, b)
    def ult(self, a, b, bits): return self.ir.icmp_unsigned("<", a, b)
    def slt(self, a, b, bits): return self.ir.icmp_signed("<", a, b)
    def select(self, c, a, b, bits): return self.ir.select(c, a, b)

    def _intrinsic(self, name: str, a, *extra):
        fnty = ir.FunctionType(a.type, [a.type, *(e.type for e in extra)])
        return self.ir.call(self.external(f"{name}.i{a.type.width}", fnty), [a, *extra])

    def ctz(self, a, bits): return self._intrinsic("llvm.cttz", a, ir.Constant(I1, 0))
    def clz(self, a, bits): return self._intrinsic("llvm.ctlz", a, ir.Constant(I1, 0))
    def popcount(self, a, bits): return self._intrinsic("llvm.ctpop", a)
    def bswap(self, a, bits): return self._intrinsic("llvm.bswap", a)

    def packed_flags(self, op: int, described: list[Value]) -> Value:
        """The arithmetic flags (bit i is flags.ARITH[i]) of the lazy description of operation
        op (a cc_op's low byte) whose r, x and y are the i64 values described, by the
        semantics' formulas (0 for a flag that is never lazy)."""
        kind, bits = flags.CC_KIND[op]
        r, x, y = (self.trunc(v, 64, bits) for v in described)
        packed = ir.Constant(I8, 0)
        for i, name in enumerate(flags.ARITH):
            bit = flags.formula(self, kind, bits, name, r, x, y)
            if bit is not None:
                packed = self.ir.or_(packed, self.ir.shl(self.ir.zext(bit, I8), ir.Constant(I8, i)))
        return packed


class IRBuilder(VectorIR, ValueIR):
    """Emits guest blocks into the function of their region.

    Guest registers and flags live in local variables of the function (allocas, which LLVM
    turns into SSA values): loaded from the cpu struct where the function starts, and stored
    back only where it returns or calls a C helper. Between those points nothing guest-visible
    happens, so a flag that the next block overwrites costs nothing, and a loop keeps its
    registers in host registers. Within a guest block a cache of values (gprs, flags, xmms)
    spares even the variables' loads and stores, which keeps the IR small."""

    def __init__(self, module: ir.Module, function: ir.Function, entry: ir.IRBuilder,
                 targets: dict[int, ir.Block], return_sites: list[int],
                 check_stores: bool, likely: dict[int, list[int]],
                 predecessors: dict[int, list[int]]) -> None:
        super().__init__(module)
        # Whether stores check for translated code on their page (see store()).
        self.check_stores = check_stores
        self.function = function
        self.entry = entry  # positioned in the entry block, before its switch
        self.targets = targets  # guest address -> basic block, for the region's blocks
        # The region's blocks that follow a call: where its returns most likely go.
        self.return_sites = return_sites
        self.likely = likely  # block -> where its computed jump went most, when interpreted
        self.cpu, self.mem = function.args
        self.slots: dict[tuple[str, int | str], ir.AllocaInstr] = {}  # guest state -> variable
        self.written: set[tuple[str, int | str]] = set()  # what the region may change
        self.exits: list[ir.Instruction] = []  # returns (and musttail calls): state goes back
        self.fields: dict[int, ir.Value] = {}  # cpu struct offset -> pointer, in the entry block
        # Helper calls: the state they use goes back before, what they write comes in after.
        self.helper_calls: list[tuple[ir.Instruction, HelperState | None]] = []
        self.invariants: dict[str, ir.Value] = {}
        self.leave: ir.PhiInstr | None = None  # the exit code, in the block that returns
        self.chain: ir.PhiInstr | None = None  # the guest address, in the block that chains
        self.gprs: dict[int, ir.Value] = {}
        self.flags: dict[str, ir.Value] = {}
        self.ccs: dict[str, ir.Value] = {}  # cc_op, cc_dst, cc_src1, cc_src2 (i32, i64s)
        # The flags' lazy description as this block set it: (operation, lazy bits, r, x, y),
        # the values at the operation's width; None before the block has set any, or where it
        # depends on what ran before, when only the variables know.
        self.cc: tuple | None = None
        self.cc_packed: ir.Value | None = None  # the flags computed from the variables
        self.predecessors = predecessors  # block -> the region's blocks that branch to it
        # The operations that the flags' description may hold now (a guess, see GUESSED_OPS),
        # and where each emitted block ended.
        self.cc_ops: set[int] = set()
        self.cc_ops_out: dict[int, set[int]] = {}
        # _packed_flags's switches, for _guess_flags: (switch, its phi, the description's
        # values, the guest block, the operations guessed as it was emitted)
        self.flag_switches: list[tuple] = []
        self.xmms: dict[int, ir.Value] = {}
        self.dirty: set[tuple[str, int | str]] = set()
        self.terminated = False
        self.rip_stored_for: int | None = None
        self.block_start = 0
        # Since the instruction began: whether its inline stores hit translated code (i1
        # values), and whether it called a helper (which may have stored to it).
        self.code_hits: list[ir.Value] = []
        self.helper_called = False
        # The guest instructions that access guest memory, by line (see location), and their
        # locations.
        self.lines: list[int] = []
        self._locations: dict[int, str] = {}

    # -- the cpu struct ----------------------------------------------------------------------

    def field(self, offset: int) -> ir.Value:
        """A pointer to the cpu struct's field at offset, made once where the function starts."""
        pointer = self.fields.get(offset)
        if pointer is None:
            pointer = self.fields[offset] = self.entry.gep(self.cpu, [ir.Constant(I64, offset)],
                                                           source_etype=I8)
        return pointer

    def load_field(self, offset: int, ty: ir.Type) -> ir.Value:
        return self.ir.load(self.field(offset), typ=ty, align=1)

    def store_field(self, offset: int, value: ir.Value) -> None:
        self.ir.store(value, self.field(offset), align=1)

    # -- guest state in local variables ------------------------------------------------------

    @staticmethod
    def _layout(key: tuple[str, int | str]) -> tuple[int, ir.Type]:
        """Where a piece of guest state is in the cpu struct, and its type in the IR."""
        kind, which = key
        if kind == "gpr":
            return OFFSET["gpr"] + 8 * which, I64
        if kind == "flag":
            return OFFSET["flags"] + FLAG_SLOT[which], I1  # a byte in the struct
        if kind == "cc":
            return OFFSET["cc_" + which], I32 if which == "op" else I64
        # A vector, so that LLVM keeps it in a vector register across blocks (an i128 lives in
        # two general registers, and each scalar SSE operation would move it between them); of
        # doubles, as scalar double arithmetic, the commonest use, then needs no conversions.
        return OFFSET["xmm"] + 16 * which, XMM

    def _state_in(self, builder: ir.IRBuilder, key: tuple[str, int | str]) -> ir.Value:
        offset, ty = self._layout(key)
        value = builder.load(self.field(offset), typ=I8 if ty is I1 else ty, align=1)
        return builder.trunc(value, I1) if ty is I1 else value

    def _state_out(self, builder: ir.IRBuilder, key: tuple[str, int | str]) -> None:
        offset, ty = self._layout(key)
        value = builder.load(self.slots[key], typ=ty)
        builder.store(builder.zext(value, I8) if ty is I1 else value, self.field(offset),
                      align=1)

    def _invariant(self, name: str) -> ir.Value:
        """A pointer field that never changes while guest code runs, loaded once at entry."""
        value = self.invariants.get(name)
        if value is None:
            value = self.invariants[name] = self.entry.load(self.field(OFFSET[name]), typ=PTR,
                                                            align=8)
        return value

    def _slot(self, key: tuple[str, int | str]) -> ir.AllocaInstr:
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = self.entry.alloca(self._layout(key)[1])
            self.entry.store(self._state_in(self.entry, key), slot)
        return slot

    def _get(self, cache: dict, which: int | str, kind: str) -> ir.Value:
        value = cache.get(which)
        if value is None:
            key = (kind, which)
            value = self.ir.load(self._slot(key), typ=self._layout(key)[1])
            if kind == "xmm":  # the semantics work on i128 (see _layout for the variable's type)
                value = self.ir.bitcast(value, I128)
            cache[which] = value
        return value

    def _set(self, cache: dict, which: int | str, kind: str, value: ir.Value) -> None:
        cache[which] = value
        self._slot((kind, which))
        self.dirty.add((kind, which))
        self.written.add((kind, which))

    def flush(self) -> None:
        """Store every register and flag changed in this block into its variable."""
        caches = {"gpr": self.gprs, "flag": self.flags, "xmm": self.xmms, "cc": self.ccs}
        for kind, which in self.dirty:
            value = caches[kind][which]
            if kind == "xmm":
                value = self.ir.bitcast(value, XMM)
            self.ir.store(value, self.slots[kind, which])

    def forget(self) -> None:
        """Drop the block's cached values: they are reloaded from the variables."""
        self.gprs.clear()
        self.flags.clear()
        self.xmms.clear()
        self.ccs.clear()
        self.cc = self.cc_packed = None
        self.dirty.clear()

    def _return(self, value: ir.Value) -> None:
        """Return from the region function (cpu->rip set already): through the one block that
        writes the guest state back and returns, which keeps the function small."""
        self.flush()
        self._branch_to_leave(value)

    def _branch_to_leave(self, value: ir.Value) -> None:
        if self.leave is None:
            block = self.function.append_basic_block("leave")
            leave = ir.IRBuilder(block)
            self.leave = leave.phi(I32)
            self.exits.append(leave.ret(self.leave))
        self.leave.add_incoming(value, self.ir.block)
        self.ir.branch(self.leave.parent)

    def finish(self) -> None:
        """Once all blocks are emitted, and so all the state the region uses is known: write
        the changed state back to the cpu struct at every exit and around helper calls, and
        read it all in again after them."""
        self._guess_flags()
        written = sorted(self.written, key=str)
        used = sorted(self.slots, key=str)
        for point in self.exits:
            out = ir.IRBuilder(point.parent)
            out.position_before(point)
            for key in written:
                self._state_out(out, key)
        for call, state in self.helper_calls:
            around = ir.IRBuilder(call.parent)
            around.position_before(call)
            # What it may write goes back too: what it leaves alone comes in again after.
            for key in written:
                if state is None or key in state.reads or key in state.writes:
                    self._state_out(around, key)
            around.position_after(call)
            for key in used:
                if state is None or key in state.writes:
                    around.store(self._state_in(around, key), self.slots[key])

    def store_rip(self, guest_addr: int) -> None:
        # Volatile: a fault is a read of rip that LLVM cannot see, so the store must stay.
        self.ir.store(ir.Constant(I64, guest_addr), self.field(OFFSET["rip"]), align=1,
                      volatile=True)

    def note_may_fault(self) -> None:
        """Before a call that may fault (a helper): the faulting instruction is cpu->rip."""
        if self.rip_stored_for != self.insn.address:
            self.store_rip(self.insn.address)
            self.rip_stored_for = self.insn.address

    def location(self) -> str:
        """The debug location of the current instruction's guest memory accesses: its line is
        the instruction's (1 + its index in self.lines), which xlate.jit.lines reads back from
        the line table LLVM emits, to say which guest instruction a faulting access was."""
        address = self.insn.address
        location = self._locations.get(address)
        if location is None:
            self.lines.append(address)
            location = self._locations[address] = self.module.line_location(self.function,
                                                                              len(self.lines))
        return location

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
        self.ir.call(COUNT, [self.cpu, ir.Constant(I64, block_slot(block.start))])
        self.block_start = block.start
        self.forget()
        self.cc_ops = self._ops_before(block.start)  # so far: _guess_flags adds the others
        self.terminated = False
        self.rip_stored_for = None

    def begin_insn(self, insn: Insn) -> None:
        self.insn = insn
        self.code_hits = []
        self.helper_called = False

    def checkpoint(self) -> tuple:
        """What rollback() needs to undo the emission of one instruction (begun just now)."""
        return (self.ir.block, len(self.ir.block.instructions), len(self.function.blocks),
                dict(self.gprs), dict(self.flags), dict(self.xmms), dict(self.ccs), self.cc,
                self.cc_packed, self.cc_ops, set(self.dirty), self.rip_stored_for, len(self.exits),
                len(self.helper_calls), len(self.flag_switches),
                len(self.leave.incomings) if self.leave else -1,
                len(self.chain.incomings) if self.chain else -1)

    def rollback(self, state: tuple) -> None:
        (block, count, blocks, gprs, flag_values, xmms, ccs, cc, cc_packed, cc_ops, dirty,
         rip_stored_for, exits, calls, switches, leaving, chaining) = state
        del self.function.blocks[blocks:]
        del block.instructions[count:]
        self.ir.position_at_end(block)
        self.gprs, self.flags, self.xmms, self.dirty = gprs, flag_values, xmms, dirty
        self.ccs, self.cc, self.cc_packed, self.cc_ops = ccs, cc, cc_packed, cc_ops
        self.rip_stored_for = rip_stored_for
        del self.exits[exits:]
        del self.helper_calls[calls:]
        del self.flag_switches[switches:]
        if leaving < 0:
            self.leave = None  # made since: its block is gone with the others
        else:
            del self.leave.incomings[leaving:]
        if chaining < 0:
            self.chain = None
        else:
            del self.chain.incomings[chaining:]
        self.code_hits = []
        self.helper_called = False

    def exit_now(self, guest_addr: int, exit_code: int) -> None:
        self.store_rip(guest_addr)
        self._return(ir.Constant(I32, exit_code))
        self.terminated = True

    # -- primitives: guest state -------------------------------------------------------------

    def get_gpr(self, index: int) -> Value:
        return self._get(self.gprs, index, "gpr")

    def set_gpr(self, index: int, value: Value) -> None:
        self._set(self.gprs, index, "gpr", value)

    def get_flag(self, name: str) -> Value:
        cc = self.cc
        if name == "df" or (cc is not None and not cc[1] & flags.BIT[name]):
            return self._get(self.flags, name, "flag")
        if cc is not None:
            op, _, *described = cc
            return flags.formula(self, *flags.CC_KIND[op], name, *described)
        # Described by whatever ran before this block: computed from the variables.
        word = self._get(self.ccs, "op", "cc")
        if self.cc_packed is None:
            self.cc_packed = self._packed_flags(word)
        i = flags.ARITH.index(name)
        lazy = self.ir.trunc(self.ir.lshr(word, ir.Constant(I32, flags.LAZY_SHIFT + i)), I1)
        computed = self.ir.trunc(self.ir.lshr(self.cc_packed, ir.Constant(I8, i)), I1)
        return self.ir.select(lazy, computed, self._get(self.flags, name, "flag"))

    def _packed_flags(self, word: ir.Value) -> ir.Value:
        """The six flags (bits in ARITH's order) of the description in the variables: inline
        for the operations guessed (see _guess_flags), else from LAZY_FLAGS."""
        described = [self._get(self.ccs, which, "cc") for which in ("dst", "src1", "src2")]
        n = len(self.function.basic_blocks)
        done = self.function.append_basic_block(f"flags{n}")
        other = self.function.append_basic_block(f"flagsx{n}")
        switch = self.ir.switch(self.ir.and_(word, ir.Constant(I32, 0xFF)), other)
        self.ir.position_at_end(other)
        computed = self.ir.call(self.external(LAZY_FLAGS, LAZY_FLAGS_FN), [word, *described])
        self.ir.branch(done)
        self.ir.position_at_end(done)
        packed = self.ir.phi(I8)
        packed.add_incoming(computed, other)
        self.flag_switches.append((switch, packed, described, self.block_start, self.cc_ops))
        return packed

    def _ops_before(self, start: int) -> set[int]:
        """The operations that the region's emitted blocks which branch to start end with."""
        return set().union(*(self.cc_ops_out.get(p, ()) for p in
                             self.predecessors.get(start, ())))

    def _guess_flags(self) -> None:
        """Give each switch of _packed_flags its cases, once every block's operations are
        known: the operations the flags' description held there as its block was emitted,
        and those its block's predecessors end with (a loop's first block is emitted before
        the blocks that branch back to it)."""
        for switch, packed, described, start, ops in self.flag_switches:
            for op in sorted(ops | self._ops_before(start))[:GUESSED_OPS]:
                case = self.function.append_basic_block(f"{packed.parent.name}_{op}")
                switch.add_case(ir.Constant(I32, op), case)
                self.ir.position_at_end(case)
                value = self.packed_flags(op, described)
                self.ir.branch(packed.parent)
                packed.add_incoming(value, case)

    def set_flag(self, name: str, value: Value) -> None:
        self.set_flags({name: value})

    def set_flags(self, values: dict[str, Value]) -> None:
        explicit = 0
        for name, value in values.items():
            self._set(self.flags, name, "flag", value)
            explicit |= flags.BIT.get(name, 0)
        if not explicit:
            return
        cc = self.cc
        if cc is not None:
            op, lazy, *described = cc
            self.cc = (op, lazy & ~explicit, *described)
            word = ir.Constant(I32, op | (lazy & ~explicit) << flags.LAZY_SHIFT)
        else:
            word = self.ir.and_(self._get(self.ccs, "op", "cc"),
                                ir.Constant(I32, ~(explicit << flags.LAZY_SHIFT) & 0xFFFFFFFF))
        self._set(self.ccs, "op", "cc", word)

    def set_flags_lazy(self, kind: int, bits: int, r: Value, x: Value, y: Value,
                       unless: Value | None = None) -> None:
        lazy = flags.lazy_bits(kind)
        if not lazy & flags.BIT["cf"]:  # it keeps CF: in its slot
            self._set(self.flags, "cf", "flag", self.get_flag("cf"))
        op = flags.CC_OP[kind, bits]
        self.cc_ops = self.cc_ops | {op} if unless is not None else {op}
        new = {"op": ir.Constant(I32, op | lazy << flags.LAZY_SHIFT), "dst": r, "src1": x,
               "src2": y}
        for which, value in new.items():
            if which != "op":
                value = self.zext(value, bits, 64)
            if unless is not None:
                value = self.ir.select(unless, self._get(self.ccs, which, "cc"), value)
            self._set(self.ccs, which, "cc", value)
        self.cc = None if unless is not None else (op, lazy, r, x, y)
        self.cc_packed = None

    def lazy_flags(self) -> tuple | None:
        cc = self.cc
        if cc is None or cc[1] != flags.ALL:
            return None
        return (*flags.CC_KIND[cc[0]], *cc[2:])

    def get_xmm(self, index: int) -> Value:
        return self._get(self.xmms, index, "xmm")

    def set_xmm(self, index: int, value: Value) -> None:
        self._set(self.xmms, index, "xmm", value)

    def get_segment_base(self, segment: str) -> Value:
        return self.load_field(OFFSET[segment + "_base"], I64)

    def host_pointer(self, guest_addr: Value) -> Value:
        """base + guest_addr, with addresses beyond the guest space clamped to its end: the
        guard region there faults, so no branch is needed (the fault then reports the end of
        the space rather than the wild address). Of x + d, d small (a constant, or a value
        known to be small, such as a byte index scaled), only x is clamped, as x + d stays
        within the guard if x is in the space: the accesses of a block around one register (a
        stack frame's) then share one clamp, a constant becomes part of the host instruction's
        address, and a table's base, loop-invariant, is clamped outside the loop."""
        offsets = []
        room = NEAR
        while isinstance(guest_addr, ir.Sum):
            x, d = guest_addr.operands
            bound = ir.upper_bound(d)
            if bound is None or bound >= room:
                break
            offsets.append(d)
            room -= bound
            guest_addr = x
        pointer = self.ir.gep(self.mem, [self._clamped(guest_addr)], source_etype=I8)
        for d in reversed(offsets):
            if not (isinstance(d, ir.Constant) and d.constant == 0):
                pointer = self.ir.gep(pointer, [d], source_etype=I8)
        return pointer

    def _clamped(self, guest_addr: Value) -> Value:
        umin = self.external("llvm.umin.i64", ir.FunctionType(I64, [I64, I64]))
        return self.ir.call(umin, [guest_addr, ir.Constant(I64, GUEST_SPACE)])

    def load(self, guest_addr: Value, bits: int, volatile: bool = False) -> Value:
        pointer = self.host_pointer(guest_addr)
        if volatile:
            # Probes of the first and last byte that nothing uses: LLVM may sink a volatile
            # load whose value only a select uses into the select's branch, but never drops
            # one that has no use at all.
            last = self.ir.gep(pointer, [ir.Constant(I64, bits // 8 - 1)], source_etype=I8)
            for probe in (pointer, last):
                self.ir.load(probe, I8, align=1, volatile=True, dbg=self.location())
        return self.ir.load(pointer, typ=int_type(bits), align=1, dbg=self.location())

    def store(self, guest_addr: Value, value: Value, bits: int) -> None:
        self.ir.store(value, self.host_pointer(guest_addr), align=1, dbg=self.location())
        if not self.check_stores:
            # Code on guest-writable pages is write-protected on the host: a store to it
            # faults, and the handler notes it and stops this code at its next safe point,
            # which is soon enough when none of this code is on such a page.
            return
        # Self-modifying code: a store to a page that code was translated from is noted, and
        # the instruction's end leaves the block (finish_insn). The mark of the store's first
        # page covers a store that runs on into code on the next page (XLATE_CODE_NEXT).
        code_pages = self._invariant("code_pages")
        page = self.ir.lshr(self._clamped(guest_addr), ir.Constant(I64, 12))
        mark = self.ir.load(self.ir.gep(code_pages, [page], source_etype=I8), typ=I8)
        before = self.ir.block
        with self.unlikely(self.ir.icmp_unsigned("!=", mark, ir.Constant(I8, 0))):
            note = self.external("xlate_note_code_write", _NOTE_CODE_WRITE_FN)
            noted = self.ir.call(note, [self.cpu, guest_addr, ir.Constant(I64, bits // 8)])
            hit = self.ir.icmp_unsigned("!=", noted, ir.Constant(I32, 0))
            noting = self.ir.block
        merged = self.ir.phi(I1)
        merged.add_incoming(ir.Constant(I1, 0), before)
        merged.add_incoming(hit, noting)
        self.code_hits.append(merged)

    def call_helper(self, name: str, a: Value, b: Value,
                    state: HelperState | None = None) -> Value:
        self.flush()
        self.note_may_fault()
        result = self.ir.call(self.external("xlate_helper_" + name, HELPER_FN), [self.cpu, a, b])
        self.helper_calls.append((result, state))
        self.forget()
        self.helper_called = True  # helpers store through xlate_host_write
        return result

    def call_pure(self, name: str, a: Value, b: Value, c: Value) -> tuple[Value, Value, Value]:
        if name == "div":
            return self._divide(a, b, c)
        return self._call_pure(name, a, b, c)

    def _divide(self, high: Value, low: Value, divisor: Value) -> tuple[Value, Value, Value]:
        """64-bit div: inline when the dividend fits in 64 bits (then LLVM's own division,
        one host instruction), else the pure function's 128-bit one."""
        zero = ir.Constant(I64, 0)
        narrow = self.ir.and_(self.ir.icmp_unsigned("==", high, zero),
                              self.ir.icmp_unsigned("!=", divisor, zero))
        with self.ir.if_else(narrow) as (then, otherwise):
            with then:
                inline = (zero, self.ir.udiv(low, divisor), self.ir.urem(low, divisor))
                inline_block = self.ir.block
            with otherwise:
                called = self._call_pure("div", high, low, divisor)
                called_block = self.ir.block
        results = []
        for fast, slow in zip(inline, called, strict=True):
            phi = self.ir.phi(I64)
            phi.add_incoming(fast, inline_block)
            phi.add_incoming(slow, called_block)
            results.append(phi)
        return tuple(results)

    def _call_pure(self, name: str, a: Value, b: Value, c: Value) -> tuple[Value, Value, Value]:
        out = self.invariants.get("pure_out")
        if out is None:
            out = self.invariants["pure_out"] = self.entry.alloca(ir.VectorType(I64, 2))
        result = self.ir.call(self.external("xlate_pure_" + name, PURE_FN), [a, b, c, out])
        second = self.ir.gep(out, [ir.Constant(I64, 8)], source_etype=I8)
        return (result, self.ir.load(out, typ=I64, align=8),
                self.ir.load(second, typ=I64, align=8))

    # -- primitives: control -----------------------------------------------------------------

    def finish_insn(self, next_rip: Value) -> None:
        """After an instruction that stored: leave for next_rip if it wrote translated code."""
        written = self.code_hits
        if self.helper_called:
            pending = self.load_field(OFFSET["code_written_end"], I64)
            written = [*written, self.ir.icmp_unsigned("!=", pending, ir.Constant(I64, 0))]
        self.code_hits = []
        self.helper_called = False
        if not written:
            return
        cond = written[0]
        for more in written[1:]:
            cond = self.ir.or_(cond, more)
        with self.unlikely(cond):
            self.store_field(OFFSET["rip"], next_rip)
            self._return(ir.Constant(I32, EXIT_CODE_WRITTEN))

    def end_block(self, next_rip: Value, exit_code: int = 0) -> None:
        self.finish_insn(next_rip)
        self.flush()
        self.cc_ops_out[self.block_start] = self.cc_ops
        # A conditional branch between two known addresses becomes a real branch, so that each
        # side can branch to its target.
        if (exit_code == 0 and isinstance(next_rip, ir.Select)
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
            # A computed jump: a branch where it goes into this region (a return to a call
            # site of it, or where the jump went most while it was interpreted).
            likely = {a for a in self.likely.get(self.block_start, ()) if a in self.targets}
            if self.insn.name == "ret":
                likely.update(self.return_sites)
            self._branch_among(next_rip, sorted(likely))
        else:
            self.store_field(OFFSET["rip"], next_rip)
            self._return(ir.Constant(I32, exit_code))
        self.terminated = True

    def _branch_among(self, next_rip: Value, candidates: list[int]) -> None:
        """Go on to a computed address: a branch if it is one of the candidates (blocks of
        this region), else through the jump cache. Calls, returns and calls through pointers
        that stay in the region so stay in its function."""
        if not candidates:
            self._jump_via_cache(next_rip)
            return
        self._return_if_stop_requested(next_rip)
        elsewhere = self.function.append_basic_block(f"jmp{len(self.function.basic_blocks)}")
        switch = self.ir.switch(next_rip, elsewhere)
        for addr in candidates:
            switch.add_case(ir.Constant(I64, addr), self.targets[addr])
        self.ir.position_at_end(elsewhere)
        self._jump_via_cache(next_rip)

    def _jump_via_cache(self, next_rip: Value) -> None:
        """Go on to a computed address (or one outside the region) through the region's one
        block that chains to other code (see _chain)."""
        self.flush()
        if self.chain is None:
            self._chain()
        self.chain.add_incoming(next_rip, self.ir.block)
        self.ir.branch(self.chain.parent)

    def _chain(self) -> None:
        """Make the block that goes on to the guest address its phi (self.chain) receives: a
        safe point, then a tail call to what the code map's jump cache holds for the address,
        or back to the dispatcher (which fills the cache) when it holds something else. One
        block for all such exits, so that the state is written back in one place."""
        emitting = self.ir
        self.ir = ir.IRBuilder(self.function.append_basic_block("chain"))
        self.chain = next_rip = self.ir.phi(I64)
        self.ir.store(next_rip, self.field(OFFSET["rip"]), align=1)
        stop = self._volatile_load_field("stop_request", I32)
        cache = self._invariant("jump_cache")
        shifted = self.ir.lshr(next_rip, ir.Constant(I64, JUMP_CACHE_BITS))
        slot = self.ir.and_(self.ir.xor(next_rip, shifted), ir.Constant(I64, JUMP_CACHE_SIZE - 1))
        entry = self.ir.gep(cache, [self.ir.shl(slot, ir.Constant(I64, 4))], source_etype=I8)
        cached_addr = self.ir.load(entry, typ=I64, align=8)
        miss = self.ir.icmp_unsigned("!=", cached_addr, next_rip)
        stopping = self.ir.icmp_unsigned("!=", stop, ir.Constant(I32, 0))
        with self.unlikely(self.ir.or_(miss, stopping)):
            self._branch_to_leave(ir.Constant(I32, 0))
        code_field = self.ir.gep(entry, [ir.Constant(I64, 8)], source_etype=I8)
        code = self.ir.load(code_field, typ=BLOCK_FN.as_pointer(), align=8)
        call = self.ir.call(code, [self.cpu, self.mem], tail="musttail")
        self.exits.append(call)  # the state goes back before the call: nothing may follow it
        self.ir.ret(call)
        self.ir = emitting

    def _return_if_stop_requested(self, next_rip: Value) -> None:
        """A safe point before going on to next_rip: a stop request returns to the dispatcher,
        which honours it. Volatile, so that LLVM does not hoist the check out of loops."""
        self.ir.call(HOT, [self.cpu])
        stop = self._volatile_load_field("stop_request", I32)
        with self.unlikely(self.ir.icmp_unsigned("!=", stop, ir.Constant(I32, 0))):
            self.store_field(OFFSET["rip"], next_rip)
            self._return(ir.Constant(I32, 0))

    def _leave(self, guest_addr: int) -> None:
        """Go on to guest_addr: a branch when it is in this region, else through the jump
        cache. State must be flushed already."""
        target = self.targets.get(guest_addr)
        if target is None:  # the chain block is a safe point
            self._jump_via_cache(ir.Constant(I64, guest_addr))
            return
        # Every loop has a backward branch: checking there keeps stops prompt.
        if guest_addr <= self.block_start:
            self._return_if_stop_requested(ir.Constant(I64, guest_addr))
        self.ir.branch(target)

    def _volatile_load_field(self, name: str, ty: ir.Type) -> ir.Value:
        return self.ir.load(self.field(OFFSET[name]), ty, align=1, volatile=True)

    def exit_if(self, cond: Value, exit_code: int) -> None:
        if isinstance(cond, ir.Constant) and cond.constant:
            self.exit_now(self.insn.address, exit_code)
            return
        with self.unlikely(cond):
            self.store_rip(self.insn.address)
            self._return(ir.Constant(I32, exit_code))


_NOTE_CODE_WRITE_FN = ir.FunctionType(I32, [PTR, I64, I64])


def region_module(guest_addr: int, blocks: list[Block], check_stores: bool,
                  likely: dict[int, list[int]],
                  entries: list[int]) -> tuple[str, str, list[int]]:
    """The LLVM IR (text) of a region made of these blocks, the name of its function, and the
    guest instructions of its debug locations' lines (see translate_region)."""
    module = ir.Module(name=f"region_{guest_addr:x}")
    name, lines = translate_region(module, blocks, SEMANTICS, check_stores, likely, entries)
    return str(module), name, lines


def translate_region(module: ir.Module, blocks: list[Block], semantics: dict,
                     check_stores: bool, likely: dict[int, list[int]] | None = None,
                     entries: list[int] | None = None) -> tuple[str, list[int]]:
    """Emit the blocks as one function in module, entered at the block that cpu->rip names,
    one of the entries (default: every block); returns the function's name and the guest
    instruction of each line of its debug locations (xlate.jit.lines). check_stores:
    whether the guest might rewrite some of this code (it is on guest-writable pages), so that
    each store must check for it. likely: for blocks that end in a computed jump, where it
    went most (worth a branch if in the region).

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
    entry.call(HOT, [function.args[0]])
    switch = entry.switch(rip, nowhere)
    for addr in targets if entries is None else entries:
        switch.add_case(ir.Constant(I64, addr), targets[addr])
    entry.position_before(switch)
    return_sites = [block.insns[-1].next for block in blocks
                    if block.insns and block.insns[-1].name == "call"
                    and block.insns[-1].next in targets]
    predecessors: dict[int, list[int]] = {}
    for block in blocks:
        for successor in successors(block):
            predecessors.setdefault(successor, []).append(block.start)
    b = IRBuilder(module, function, entry, targets, sorted(set(return_sites)), check_stores,
                  likely or {}, predecessors)
    for block in blocks:
        _emit_block(b, block, semantics)
    b.finish()
    return name, b.lines


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
