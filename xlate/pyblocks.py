"""The JIT's cheap tier: guest blocks as threaded code (xlate.threaded) where that can express
them, else compiled to Python functions.

Interpreting an instruction costs microseconds, mostly in the semantics' generality (operand
kinds, widths, flag descriptions) decided anew each time; LLVM costs milliseconds a block. In
between, a block that has run a few times is compiled to Python source, from the same
semantics, with all of that decided once: guest registers become local variables for the
block's length, arithmetic is written out, flags are described statically where the block sets
them, and only memory accesses and rarer primitives call out (to the C runtime, or to the
interpreter's own primitives). Python compiles the source in about a millisecond; the function
then runs the block many times faster than the interpreter, and its code object can be kept in
the code cache for later runs.

A block function is `block(cpu, g, f)`, g and f being the cpu's gprs and flag slots as
memoryviews; it returns an exit code with cpu.rip set, as compiled code does. A block's
threaded code also goes into a map of its own (PyBlocks.threaded_map), through which the
dispatch loop runs it without coming back to Python, as often as the engine lets it (see
XLATE_THREADED_LIMIT)."""

from __future__ import annotations

import functools
import marshal
import types

from xlate import threaded
from xlate.builder import Builder, mask
from xlate.decoder import Block, Insn, ends_indirect
from xlate.interp import InterpBuilder
from xlate.memory import AddressSpace
from xlate.runtime import EXIT_CODE_WRITTEN, EXIT_FAULT, EXIT_NEXT, FLAG_SLOT, ffi, lib
from xlate.semantics import SEMANTICS, flags
from xlate.vector import VectorPrimitives

_SEGMENT_FIELD = {"fs": "fs_base", "gs": "gs_base"}
_CC_FIELDS = ("cc_op", "cc_dst", "cc_src1", "cc_src2")


class Expr(str):
    """A value: a Python expression (a local's name or a literal) that the block computes."""


class PyBuilder(Builder):
    """Emits the semantics of one block as the lines of a Python function."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.indent = "    "
        self.temps = 0
        self.gprs: dict[int, Expr] = {}  # register -> its value now
        self.dirty_gprs: set[int] = set()
        self.xmms: dict[int, Expr] = {}
        self.dirty_xmms: set[int] = set()
        # Flags: until the block describes them itself, every flag operation works on the cpu
        # struct at once (through the interpreter's builder, I); from then on the block knows
        # their description, (operation, lazy bits, r, x, y), and the explicit flags it set.
        self.cc: tuple | None = None
        self.flag_values: dict[str, Expr] = {}
        self.insn: Insn | None = None
        self.stored = False  # the current instruction stored (or called a helper)
        self.terminated = False
        self.names: set[str] = set()  # helpers and pure functions the block calls

    # -- emission ----------------------------------------------------------------------------

    def emit(self, line: str) -> None:
        self.lines.append(self.indent + line)

    def value(self, expression: str) -> Expr:
        """A new local holding expression."""
        self.temps += 1
        name = Expr(f"t{self.temps}")
        self.emit(f"{name} = {expression}")
        return name

    def _described_flags(self) -> tuple[list[tuple[int, Expr]], list[int | Expr]]:
        """The flags the block described, to be stored: (slot, value) of those set explicitly,
        and the description's fields (cc_op, then cc_dst, cc_src1 and cc_src2 if lazy); none
        if the block has not described them."""
        if self.cc is None:
            return [], []
        op, lazy, *described = self.cc
        values = [(FLAG_SLOT[name], value) for name, value in self.flag_values.items()]
        return values, [op | lazy << flags.LAZY_SHIFT, *(described if lazy else ())]

    def _writeback_flags(self) -> None:
        values, fields = self._described_flags()
        for slot, value in values:
            self.emit(f"f[{slot}] = {value}")
        for field, value in zip(_CC_FIELDS, fields, strict=False):  # (fewer if not lazy)
            self.emit(f"cpu.{field} = {value}")

    def _changed_registers(self) -> tuple[list[tuple[int, Expr]], list[tuple[int, Expr]]]:
        """(index, value) of the gprs and of the xmm registers the block changed and holds in
        locals."""
        return ([(i, self.gprs[i]) for i in sorted(self.dirty_gprs)],
                [(i, self.xmms[i]) for i in sorted(self.dirty_xmms)])

    def _writeback(self) -> None:
        """Store what the block changed and holds in locals into the cpu struct."""
        gprs, xmms = self._changed_registers()
        for i, value in gprs:
            self.emit(f"g[{i}] = {value}")
        for i, value in xmms:
            self.emit(f"I.set_xmm({i}, {value})")
        self._writeback_flags()

    def _leave(self, rip: str, code: int) -> None:
        self._writeback()
        self.emit(f"cpu.rip = {rip}")
        self.emit(f"return {code}")

    def _leave_if(self, cond: str, rip: str, code: int) -> None:
        """Leave if cond holds: one line, a call of _leave_now (X), as such exits (a fault, a store
        to translated code) are many and seldom taken, and Python's compile() takes the longer
        the more the source says (their writebacks written out were most of it)."""
        flag_values, fields = self._described_flags()
        pairs = (*self._changed_registers(), flag_values)
        listed = ["(" + "".join(f"{i}, {value}, " for i, value in p) + ")" for p in pairs]
        arguments = ", ".join([rip, str(code), *listed, *map(str, fields)])
        self.emit(f"if {cond}: return X(cpu, g, f, {arguments})")

    def _to_struct(self) -> None:
        """Everything into the cpu struct, and nothing held in locals: before code that works
        on the struct (a helper, the interpreter's flag operations)."""
        self._writeback()
        self.gprs.clear()
        self.dirty_gprs.clear()
        self.xmms.clear()
        self.dirty_xmms.clear()
        self.cc = None
        self.flag_values.clear()

    # -- primitives: values ------------------------------------------------------------------

    def const(self, value: int, bits: int) -> Expr:
        return Expr(str(value & mask(bits)))

    def add(self, a, b, bits): return self.value(f"({a} + {b}) & {mask(bits)}")
    def sub(self, a, b, bits): return self.value(f"({a} - {b}) & {mask(bits)}")
    def mul(self, a, b, bits): return self.value(f"({a} * {b}) & {mask(bits)}")
    def and_(self, a, b, bits): return self.value(f"{a} & {b}")
    def or_(self, a, b, bits): return self.value(f"{a} | {b}")
    def xor(self, a, b, bits): return self.value(f"{a} ^ {b}")
    def not_(self, a, bits): return self.value(f"{a} ^ {mask(bits)}")
    def neg(self, a, bits): return self.value(f"-{a} & {mask(bits)}")
    def shl(self, a, n, bits): return self.value(f"({a} << {n}) & {mask(bits)}")
    def lshr(self, a, n, bits): return self.value(f"{a} >> {n}")
    def udiv(self, a, b, bits): return self.value(f"{a} // {b}")
    def urem(self, a, b, bits): return self.value(f"{a} % {b}")
    def zext(self, a, bits, to): return a
    def trunc(self, a, bits, to): return a if bits == to else self.value(f"{a} & {mask(to)}")
    def eq(self, a, b, bits): return self.value(f"int({a} == {b})")
    def ult(self, a, b, bits): return self.value(f"int({a} < {b})")
    def select(self, c, a, b, bits): return self.value(f"{a} if {c} else {b}")
    def popcount(self, a, bits): return self.value(f"{a}.bit_count()")

    def sext(self, a, bits, to):
        if bits == to:
            return a
        sign = 1 << (bits - 1)
        return self.value(f"(({a} ^ {sign}) - {sign}) & {mask(to)}")

    def _delegate(self, name: str, *args) -> Expr:
        """The interpreter's primitive, called when the block runs."""
        return self.value(f"I.{name}({', '.join(map(_literal, args))})")

    def ashr(self, a, n, bits): return self._delegate("ashr", a, n, bits)
    def sdiv(self, a, b, bits): return self._delegate("sdiv", a, b, bits)
    def srem(self, a, b, bits): return self._delegate("srem", a, b, bits)
    def slt(self, a, b, bits): return self._delegate("slt", a, b, bits)
    def ctz(self, a, bits): return self._delegate("ctz", a, bits)
    def clz(self, a, bits): return self._delegate("clz", a, bits)
    def bswap(self, a, bits): return self._delegate("bswap", a, bits)

    # -- primitives: guest state -------------------------------------------------------------

    def get_gpr(self, index: int) -> Expr:
        value = self.gprs.get(index)
        if value is None:
            value = self.gprs[index] = self.value(f"g[{index}]")
        return value

    def set_gpr(self, index: int, value: Expr) -> None:
        self.gprs[index] = value
        self.dirty_gprs.add(index)

    def get_xmm(self, index: int) -> Expr:
        value = self.xmms.get(index)
        if value is None:
            value = self.xmms[index] = self.value(f"I.get_xmm({index})")
        return value

    def set_xmm(self, index: int, value: Expr) -> None:
        self.xmms[index] = value
        self.dirty_xmms.add(index)

    def get_segment_base(self, segment: str) -> Expr:
        return self.value(f"cpu.{_SEGMENT_FIELD[segment]}")

    def get_mxcsr(self) -> Expr:
        return self.value("cpu.mxcsr")

    def set_mxcsr(self, value: Expr) -> None:
        self.emit(f"I.set_mxcsr({value})")

    def get_flag(self, name: str) -> Expr:
        cc = self.cc
        if cc is None:
            return self.value(f"I.get_flag({name!r})")
        op, lazy, *described = cc
        if name != "df" and lazy & flags.BIT[name]:
            return flags.formula(self, *flags.CC_KIND[op], name, *described)
        value = self.flag_values.get(name)
        if value is None:
            value = self.flag_values[name] = self.value(f"f[{FLAG_SLOT[name]}]")
        return value

    def set_flag(self, name: str, value: Expr) -> None:
        self.set_flags({name: value})

    def set_flags(self, values: dict[str, Expr]) -> None:
        if self.cc is None:
            pairs = ", ".join(f"{name!r}: {value}" for name, value in values.items())
            self.emit(f"I.set_flags({{{pairs}}})")
            return
        op, lazy, *described = self.cc
        for name, value in values.items():
            self.flag_values[name] = value
            lazy &= ~flags.BIT.get(name, 0)
        self.cc = (op, lazy, *described)

    def set_flags_lazy(self, kind, bits, r, x, y, unless=None) -> None:
        if unless is not None:  # whether to leave them as they are is known when it runs
            self._writeback_flags()
            self.emit(f"I.set_flags_lazy({kind}, {bits}, {r}, {x}, {y}, {unless})")
            self.cc = None
            self.flag_values.clear()
            return
        lazy = flags.lazy_bits(kind)
        kept = {} if lazy & flags.BIT["cf"] else {"cf": self.get_flag("cf")}  # in its slot
        if self.cc is None:
            self.flag_values.clear()
        self.flag_values.update(kept)
        self.cc = (flags.CC_OP[kind, bits], lazy, r, x, y)

    def lazy_flags(self):
        cc = self.cc
        if cc is None or cc[1] != flags.ALL:
            return None
        return (*flags.CC_KIND[cc[0]], *cc[2:])

    def load(self, guest_addr: Expr, bits: int, volatile: bool = False) -> Expr:
        if bits > 64:  # two loads, as the interpreter does
            low = self.load(guest_addr, 64)
            high = self.load(self.add(guest_addr, self.const(8, 64), 64), bits - 64)
            return self.value(f"{low} | {high} << 64")
        value = self.value(f"LD(cpu, {guest_addr}, {bits // 8})")
        self._leave_if("cpu.fault_signal", str(self.insn.address), EXIT_FAULT)
        return value

    def store(self, guest_addr: Expr, value: Expr, bits: int) -> None:
        if bits > 64:  # the whole range checked first, so that a fault stores nothing
            self.load(self.add(guest_addr, self.const(bits // 8 - 1, 64), 64), 8)
            self.store(guest_addr, self.value(f"{value} & {mask(64)}"), 64)
            self.store(self.add(guest_addr, self.const(8, 64), 64),
                       self.value(f"{value} >> 64"), bits - 64)
            return
        self.emit(f"ST(cpu, {guest_addr}, {bits // 8}, {value})")
        self._leave_if("cpu.fault_signal", str(self.insn.address), EXIT_FAULT)
        self.stored = True

    def call_helper(self, name: str, a: Expr, b: Expr, state=None) -> Expr:
        self._to_struct()
        self.names.add("xlate_helper_" + name)
        result = self.value(f"CALL(xlate_helper_{name}, cpu, {a}, {b})")
        self._leave_if("cpu.fault_signal", str(self.insn.address), EXIT_FAULT)
        self.stored = True  # helpers may store to translated code
        return result

    def call_pure(self, name, a, b, c):
        self.names.add("xlate_pure_" + name)
        result = self.value(f"xlate_pure_{name}({a}, {b}, {c}, OUT)")
        return result, self.value("OUT[0]"), self.value("OUT[1]")

    # -- primitives: control -----------------------------------------------------------------

    def end_block(self, next_rip: Expr, exit_code: int = 0) -> None:
        self.finish_insn(next_rip)
        self._leave(next_rip, exit_code)
        self.terminated = True

    def exit_if(self, cond: Expr, exit_code: int) -> None:
        self._leave_if(cond, str(self.insn.address), exit_code)

    def finish_insn(self, next_rip: str) -> None:
        """After an instruction that stored: stop after it if it wrote translated code."""
        if self.stored:
            self._leave_if("cpu.code_written_end", next_rip, EXIT_CODE_WRITTEN)
            self.stored = False


def _literal(arg) -> str:
    return arg if isinstance(arg, Expr) else repr(arg)


def _vector_primitive(name: str):
    def emit(self, *args):
        return self._delegate(name, *args)
    emit.__name__ = name
    return emit


for _name in vars(VectorPrimitives):
    if not _name.startswith("_") and _name not in ("get_mxcsr", "set_mxcsr"):
        setattr(PyBuilder, _name, _vector_primitive(_name))


def _leave_now(interp: InterpBuilder, cpu, g, f, rip: int, code: int, gprs: tuple,
               xmms: tuple, flag_values: tuple, *fields: int) -> int:
    """What PyBuilder._leave_if's exit does (as X, with interp bound): the writeback its
    arguments list (gprs, xmm registers and flag slots as pairs of an index and a value, and
    the flag description's fields: see PyBuilder._described_flags), then the exit."""
    for i in range(0, len(gprs), 2):
        g[gprs[i]] = gprs[i + 1]
    for i in range(0, len(xmms), 2):
        interp.set_xmm(xmms[i], xmms[i + 1])
    for i in range(0, len(flag_values), 2):
        f[flag_values[i]] = flag_values[i + 1]
    for field, value in zip(_CC_FIELDS, fields, strict=False):
        setattr(cpu, field, value)
    cpu.rip = rip
    return code


def block_source(block: Block) -> tuple[str, set[str]] | None:
    """The Python source of a function that runs the block (and the C functions it calls by
    name), or None if the semantics cannot handle one of its instructions."""
    if not block.insns or block.undefined_at is not None:
        return None
    b = PyBuilder()
    for insn in block.insns:
        b.insn = insn
        semantics = SEMANTICS.get(insn.name)
        if semantics is None:
            return None
        try:
            semantics(b, insn)
        except Exception:  # a form the semantics do not cover: the interpreter's to report
            return None
        if b.terminated:
            break
        b.finish_insn(str(insn.next))
    if not b.terminated:
        b._leave(str(block.end), EXIT_NEXT)
    return "def block(cpu, g, f):\n" + "\n".join(b.lines) + "\n", b.names


def _adopted_code(known, raw: bytes) -> bytes | tuple[types.CodeType, tuple[str, ...]] | None:
    """What an exported block was made into (see PyBlocks.export): its threaded code, or its
    function's code object and the C functions that calls; if made from these code bytes and
    sound."""
    try:
        known_raw, data, indirect = known
        if known_raw != raw:
            return None
        if indirect is not None:
            return data if isinstance(data, bytes) and len(data) % 8 == 0 and data else None
        code, names = marshal.loads(data)
        if isinstance(code, types.CodeType) and all(isinstance(n, str) for n in names):
            return code, tuple(names)
    except (ValueError, EOFError, TypeError):
        pass
    return None


def _threaded_function(code):
    """A block function (see the module's docstring) that runs threaded code."""
    run = lib.xlate_threaded_run

    def block(cpu, g, f):
        return run(cpu, code)
    return block


class PyBlocks:
    """The Python functions of one cpu's blocks."""

    def __init__(self, cpu) -> None:
        self.cpu = cpu
        self.gprs = memoryview(ffi.buffer(cpu.gpr)).cast("Q")
        self.flags = memoryview(ffi.buffer(cpu.flags)).cast("B")
        interp = InterpBuilder(cpu)
        self.globals = {"I": interp, "X": functools.partial(_leave_now, interp),
                        "LD": lib.xlate_load, "ST": lib.xlate_store,
                        "CALL": lib.xlate_call_helper, "OUT": ffi.new("uint64_t[2]")}
        self.functions: dict[int, object] = {}  # block address -> function, or None: cannot
        self.unthreaded: dict[int, int] = {}  # blocks that threaded code cannot express: ends
        self.ends: dict[int, int] = {}  # block address -> end
        # Block address -> (its code bytes, what it was made into: threaded code, or a code
        # object and the C functions it calls, and for threaded code whether the block ends in a
        # computed jump, else None): what this run made, and what an earlier run did (adopted,
        # until first used).
        self.code: dict[int, tuple[bytes, object, bool | None]] = {}
        self.adopted: dict[int, tuple] = {}  # in export's form
        # The blocks made into threaded code, and the map through which the dispatch loop
        # runs them (each entered at most XLATE_THREADED_LIMIT times, 0 until the engine says).
        self.programs: dict[int, object] = {}
        self.threaded_map = ffi.gc(lib.xlate_code_map_new(), lib.xlate_code_map_free)
        self.compiled = 0

    def function(self, block: Block, python: bool = True):
        """The block's function: threaded code where the threaded tier covers the block,
        else (if python) compiled to Python; adopted from an earlier run if that made it from
        these very bytes, else made now; None if the block cannot be compiled, or needs Python
        and python is false."""
        raw = block.raw
        known = self.adopted.pop(block.start, None)
        made = None if known is None or block.undefined_at is not None else \
            _adopted_code(known, raw)
        if made is None:
            made = self._threaded(block)
            if made is None:
                if not python:
                    return None
                source = block_source(block)
                if source is None:
                    self.functions[block.start] = None
                    self.ends[block.start] = block.end
                    return None
                text, names = source[0], tuple(sorted(source[1]))
                made = compile(text, f"<block {block.start:#x}>", "exec"), names
            self.compiled += 1
        if isinstance(made, bytes):
            return self._install_threaded(block.start, raw, made, ends_indirect(block))
        code, names = made
        for name in names:
            self.globals.setdefault(name, getattr(lib, name))
        namespace: dict = {}
        exec(code, self.globals, namespace)
        function = self.functions[block.start] = namespace["block"]
        self.ends[block.start] = block.end
        self.code[block.start] = (raw, made, None)
        return function

    def _threaded(self, block: Block) -> bytes | None:
        """The block's threaded code, or None if threaded code cannot express it (which is
        remembered, as each of its first runs asks)."""
        if block.start in self.unthreaded:
            return None
        made = threaded.program(block)
        if made is None:
            self.unthreaded[block.start] = block.end
        return made

    def _install_threaded(self, start: int, raw: bytes, made: bytes, indirect: bool):
        """Put the block's threaded code in the dispatch loop's map, and note it for export;
        its function."""
        threaded.ThreadedRuntime.setup()
        program = self.programs[start] = threaded.with_header(made, indirect)
        lib.xlate_code_map_insert(self.threaded_map, start, program)
        function = self.functions[start] = _threaded_function(program + lib.XLATE_THREADED_HEADER)
        self.ends[start] = start + len(raw)
        self.code[start] = (raw, made, indirect)
        return function

    def install_adopted(self, memory: AddressSpace, limit: int) -> None:
        """Install the adopted threaded code of blocks whose code bytes in memory are still
        those it was made from, without decoding them, for the dispatch loop to run from their
        first entry, up to limit times (see XLATE_THREADED_LIMIT). The pages they are on are
        marked as holding translated code, as decoding them would."""
        code = memory.executable_views()
        for start, known in list(self.adopted.items()):
            try:
                raw, _, indirect = known
                if indirect is None:  # a Python function's code
                    continue
                now = next(view[start - base:start - base + len(raw)] for base, end, view in code
                           if base <= start and start + len(raw) <= end)
            except (ValueError, TypeError, StopIteration):
                continue
            made = _adopted_code(known, now)
            if not isinstance(made, bytes):
                continue
            del self.adopted[start]
            self._install_threaded(start, raw, made, bool(indirect))
            self.programs[start][lib.XLATE_THREADED_LIMIT] = limit
            memory.mark_code(start, start + len(raw))

    def export(self) -> bytes:
        """What the blocks were made into so far (and those adopted and not
        used), for adopt() in a later run of the same program: each Python function's code
        marshalled apart, so that the later run unmarshals only those it uses (threaded code is
        bytes already)."""
        made = {start: (raw, made if indirect is not None else marshal.dumps(made), indirect)
                for start, (raw, made, indirect) in self.code.items()}
        return marshal.dumps({**self.adopted, **made})

    def adopt(self, data: bytes) -> None:
        """Take the functions an earlier run exported; each is used only for a block whose
        code bytes are the ones it was compiled from."""
        try:
            adopted = marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            adopted = None
        self.adopted = adopted if isinstance(adopted, dict) else {}

    def invalidate(self, start: int, end: int) -> None:
        """Drop the functions of blocks that overlap [start, end)."""
        for addr in [a for a, a_end in self.unthreaded.items() if a < end and start < a_end]:
            del self.unthreaded[addr]
        for addr in [a for a, a_end in self.ends.items() if a < end and start < a_end]:
            del self.functions[addr], self.ends[addr]
            self.code.pop(addr, None)
            if self.programs.pop(addr, None) is not None:
                lib.xlate_code_map_remove_range(self.threaded_map, addr, addr + 1)
