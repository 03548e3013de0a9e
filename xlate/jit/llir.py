"""LLVM IR built as text: the part of llvmlite.ir's interface that the JIT uses.

llvmlite.ir keeps an object graph that it prints when asked, which costs milliseconds a guest
block, more than LLVM's own work at low optimisation levels. Here an instruction is one line of
text the moment it is emitted; only the few instructions that are revisited (phis and switches
that gain operands, calls and returns that state is spilled around, branches given weights)
are objects, printed with their block. Names follow llvmlite's (IRBuilder, Constant, Function,
IntType...), so that code reads as it would with llvmlite."""

from __future__ import annotations

import struct
from contextlib import contextmanager

# -- types ----------------------------------------------------------------------------------


class Type:
    __slots__ = ("text",)

    def __str__(self) -> str:
        return self.text

    def as_pointer(self) -> PointerType:
        return PointerType(self)


class IntType(Type):
    __slots__ = ("width",)
    _interned: dict[int, IntType] = {}

    def __new__(cls, width: int) -> IntType:
        ty = cls._interned.get(width)
        if ty is None:
            ty = cls._interned[width] = super().__new__(cls)
            ty.width, ty.text = width, f"i{width}"
        return ty

    def format(self, value: int) -> str:
        if self.width == 1:
            return "true" if value else "false"
        return str(value)


class _FloatingType(Type):
    __slots__ = ()

    def format(self, value: float) -> str:
        # LLVM's exact form: the double's bits in hex (for float, a double that a float holds).
        (bits,) = struct.unpack("<Q", struct.pack("<d", value))
        return f"0x{bits:016X}"


class FloatType(_FloatingType):
    __slots__ = ()
    _instance: FloatType | None = None

    def __new__(cls) -> FloatType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
            cls._instance.text = "float"
        return cls._instance


class DoubleType(_FloatingType):
    __slots__ = ()
    _instance: DoubleType | None = None

    def __new__(cls) -> DoubleType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
            cls._instance.text = "double"
        return cls._instance


class VectorType(Type):
    __slots__ = ("element", "count")
    _interned: dict[tuple[Type, int], VectorType] = {}

    def __new__(cls, element: Type, count: int) -> VectorType:
        ty = cls._interned.get((element, count))
        if ty is None:
            ty = cls._interned[element, count] = super().__new__(cls)
            ty.element, ty.count, ty.text = element, count, f"<{count} x {element}>"
        return ty

    def format(self, value) -> str:
        element = self.element
        return "<" + ", ".join(f"{element} {_operand(element, v)}" for v in value) + ">"


class PointerType(Type):
    """`ptr` (opaque); the pointee, when given, is what a call through it calls."""
    __slots__ = ("pointee",)

    def __init__(self, pointee: Type | None = None) -> None:
        self.pointee, self.text = pointee, "ptr"


class FunctionType(Type):
    __slots__ = ("return_type", "args")

    def __init__(self, return_type: Type, args: list[Type]) -> None:
        self.return_type, self.args = return_type, list(args)
        self.text = f"{return_type} ({', '.join(map(str, self.args))})"


class VoidType(Type):
    __slots__ = ()

    def __init__(self) -> None:
        self.text = "void"


class MetaDataType(Type):
    __slots__ = ()

    def __init__(self) -> None:
        self.text = "metadata"


# -- values ---------------------------------------------------------------------------------


class Value:
    """A value: its type and how an operand refers to it."""
    __slots__ = ("type", "ref")

    def __init__(self, ty: Type, ref: str) -> None:
        self.type, self.ref = ty, ref

    def __str__(self) -> str:
        return f"{self.type} {self.ref}"


class _UndefinedType:
    pass


Undefined = _UndefinedType()


class Constant(Value):
    __slots__ = ("constant",)

    def __init__(self, ty: Type, value) -> None:
        self.type, self.constant, self.ref = ty, value, _operand(ty, value)


def _operand(ty: Type, value) -> str:
    return "undef" if value is Undefined else ty.format(value)


class MetaDataString(Value):
    __slots__ = ()

    def __init__(self, module: Module, text: str) -> None:
        self.type, self.ref = MetaDataType(), f'!"{text}"'


class Argument(Value):
    __slots__ = ("attributes",)

    def __init__(self, ty: Type, ref: str) -> None:
        super().__init__(ty, ref)
        self.attributes: list[str] = []

    def add_attribute(self, attribute: str) -> None:
        self.attributes.append(attribute)


class Select(Value):
    """A select's result, which remembers its operands (the JIT turns a select of two constant
    addresses into a branch)."""
    __slots__ = ("operands",)


class Sum(Value):
    """An add's result, which remembers its operands (so that the JIT can tell a register
    plus a displacement)."""
    __slots__ = ("operands",)


class Bounded(Value):
    """An integer known to be at most `bound` (unsigned), from how it was made: a zero
    extension, a mask, a shift (so that the JIT can tell an address part too small to need a
    clamp of its own, such as a byte index scaled)."""
    __slots__ = ("bound",)


def upper_bound(value: Value) -> int | None:
    """The largest (unsigned) value that value can have, if known."""
    if isinstance(value, Constant):
        return value.constant if isinstance(value.constant, int) and value.constant >= 0 else None
    return value.bound if isinstance(value, Bounded) else None


class Bitcast(Value):
    """A bitcast's result, which remembers what it reinterprets (so that the JIT can work on
    a float as a float where it was made an integer only to be put into a vector)."""
    __slots__ = ("source",)


class Instruction(Value):
    """An instruction kept as an object: printed with its block, found again by identity."""
    __slots__ = ("parent", "terminator")

    def render(self) -> str:
        raise NotImplementedError


class _Line(Instruction):
    __slots__ = ("line",)

    def render(self) -> str:
        return self.line


class PhiInstr(Instruction):
    __slots__ = ("incomings",)

    def add_incoming(self, value: Value, block: Block) -> None:
        self.incomings.append((value, block))

    def render(self) -> str:
        pairs = ", ".join(f"[{v.ref}, %{b.name}]" for v, b in self.incomings)
        return f"{self.ref} = phi {self.type} {pairs}"


class SwitchInstr(Instruction):
    __slots__ = ("value", "default", "cases")

    def add_case(self, value: Constant, block: Block) -> None:
        self.cases.append((value, block))

    def render(self) -> str:
        cases = " ".join(f"{v} , label %{b.name}" for v, b in self.cases)
        return f"switch {self.value}, label %{self.default.name} [{cases}]"


class CondBranch(Instruction):
    __slots__ = ("cond", "targets", "weights", "module")

    def set_weights(self, weights: list[int]) -> None:
        self.weights = self.module.branch_weights(weights)

    def render(self) -> str:
        then, otherwise = self.targets
        line = f"br {self.cond}, label %{then.name}, label %{otherwise.name}"
        return f"{line}, !prof {self.weights}" if self.weights else line


# -- module, functions, blocks --------------------------------------------------------------


class Block:
    __slots__ = ("name", "function", "instructions")

    def __init__(self, function: Function, name: str) -> None:
        self.function, self.name = function, name
        self.instructions: list[str | Instruction] = []

    @property
    def is_terminated(self) -> bool:
        last = self.instructions[-1] if self.instructions else None
        return isinstance(last, Instruction) and last.terminator


class Function(Value):
    __slots__ = ("module", "name", "function_type", "args", "blocks", "linkage", "_names",
                 "_counter", "subprogram")

    def __init__(self, module: Module, fnty: FunctionType, name: str) -> None:
        self.type, self.ref = PointerType(fnty), f"@{name}"
        self.module, self.name, self.function_type = module, name, fnty
        self.args = [Argument(ty, f"%arg{i}") for i, ty in enumerate(fnty.args)]
        self.blocks: list[Block] = []
        self.linkage = ""
        self.subprogram = ""  # its debug information's node (see Module.line_location)
        self._names: set[str] = set()
        self._counter = 0
        module.globals[name] = self

    @property
    def basic_blocks(self) -> list[Block]:
        return self.blocks

    def append_basic_block(self, name: str = "") -> Block:
        base, n = name or "b", 0
        while name in self._names or not name:
            n += 1
            name = f"{base}.{n}"
        self._names.add(name)
        block = Block(self, name)
        self.blocks.append(block)
        return block

    def new_name(self) -> str:
        self._counter += 1
        return f"%v{self._counter}"

    def render(self) -> str:
        fnty = self.function_type
        if not self.blocks:
            return f"declare {fnty.return_type} @{self.name}({', '.join(map(str, fnty.args))})"
        args = ", ".join(" ".join([str(a.type), *a.attributes, a.ref]) for a in self.args)
        linkage = f"{self.linkage} " if self.linkage else ""
        debug = f" !dbg {self.subprogram}" if self.subprogram else ""
        lines = [f"define {linkage}{fnty.return_type} @{self.name}({args}){debug} {{"]
        for block in self.blocks:
            lines.append(f"{block.name}:")
            lines.extend(f"  {i if isinstance(i, str) else i.render()}"
                         for i in block.instructions)
        lines.append("}")
        return "\n".join(lines)


class Module:
    def __init__(self, name: str = "") -> None:
        self.name = name
        self.triple = ""
        self.globals: dict[str, Function] = {}
        self._nodes: dict[str, str] = {}  # metadata node -> its reference, one for each
        self._named: dict[str, list[str]] = {}  # named metadata (!llvm.dbg.cu) -> its nodes

    def node(self, text: str) -> str:
        """A reference to the metadata node `text` (made once)."""
        ref = self._nodes.get(text)
        if ref is None:
            ref = self._nodes[text] = f"!{len(self._nodes)}"
        return ref

    def branch_weights(self, weights: list[int]) -> str:
        """A reference to branch-weight metadata, one node for each set of weights."""
        return self.node(f'!{{!"branch_weights", {", ".join(f"i32 {w}" for w in weights)}}}')

    def line_location(self, function: Function, line: int) -> str:
        """A reference to the debug location `line` of function, for an instruction's !dbg:
        LLVM then emits a line table (.debug_line) that maps the host code of each such
        instruction to its line. The module gets the debug information that needs (line
        tables only), the function a subprogram."""
        if not function.subprogram:
            file = self.node('!DIFile(filename: "guest", directory: "")')
            if "llvm.dbg.cu" not in self._named:
                # DWARF 4: its line table's header is the simpler one to read back.
                self._named["llvm.module.flags"] = [
                    self.node('!{i32 2, !"Debug Info Version", i32 3}'),
                    self.node('!{i32 2, !"Dwarf Version", i32 4}')]
                self._named["llvm.dbg.cu"] = [self.node(
                    f'distinct !DICompileUnit(language: DW_LANG_C, file: {file}, '
                    f'producer: "xlate", isOptimized: true, runtimeVersion: 0, '
                    f'emissionKind: LineTablesOnly)')]
            unit = self._named["llvm.dbg.cu"][0]
            kind = self.node(f"!DISubroutineType(types: {self.node('!{}')})")
            function.subprogram = self.node(
                f'distinct !DISubprogram(name: "{function.name}", scope: {file}, file: {file}, '
                f'line: 1, type: {kind}, scopeLine: 1, '
                f'spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: {unit})')
        return self.node(f"!DILocation(line: {line}, column: 0, scope: {function.subprogram})")

    def __str__(self) -> str:
        parts = [f'; ModuleID = "{self.name}"', f'target triple = "{self.triple}"']
        parts.extend(fn.render() for fn in self.globals.values())
        parts.extend(f"!{name} = !{{{', '.join(nodes)}}}" for name, nodes in self._named.items())
        parts.extend(f"{ref} = {text}" for text, ref in self._nodes.items())
        return "\n".join(parts) + "\n"


# -- the builder ----------------------------------------------------------------------------

_ICMP = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_FCMP_ORDERED = {"==": "oeq", "!=": "one", "<": "olt", "<=": "ole", ">": "ogt", ">=": "oge",
                 "ord": "ord", "uno": "uno"}
_FCMP_UNORDERED = {"==": "ueq", "!=": "une", "<": "ult", "<=": "ule", ">": "ugt", ">=": "uge",
                   "ord": "ord", "uno": "uno"}
I1, I32 = IntType(1), IntType(32)


def _bool_type(ty: Type) -> Type:
    """The type of a comparison of values of type ty."""
    return VectorType(I1, ty.count) if isinstance(ty, VectorType) else I1


class IRBuilder:
    """Appends instructions to a block, or inserts them before an instruction of it."""

    def __init__(self, block: Block | None = None) -> None:
        self.block = block
        # Where instructions go: before the item at this index of the block, or at its end
        # (None). Only this builder may change the block meanwhile.
        self._at: int | None = None

    # -- position ----------------------------------------------------------------------------

    def position_at_end(self, block: Block) -> None:
        self.block, self._at = block, None

    def position_before(self, instr: Instruction) -> None:
        self.block, self._at = instr.parent, _index(instr.parent.instructions, instr)

    def position_after(self, instr: Instruction) -> None:
        items = instr.parent.instructions
        at = _index(items, instr) + 1
        self.block, self._at = instr.parent, at if at < len(items) else None

    def _emit(self, item: str | Instruction) -> None:
        if self._at is None:
            self.block.instructions.append(item)
        else:
            self.block.instructions.insert(self._at, item)
            self._at += 1

    def _value(self, ty: Type, text: str, cls: type = Value) -> Value:
        name = self.block.function.new_name()
        self._emit(f"{name} = {text}")
        return Value(ty, name) if cls is Value else _make(cls, ty, name)

    # -- arithmetic and logic ----------------------------------------------------------------

    def _binop(self, op: str, a: Value, b: Value) -> Value:
        return self._value(a.type, f"{op} {a.type} {a.ref}, {b.ref}")

    def add(self, a: Value, b: Value) -> Value:
        value = self._value(a.type, f"add {a.type} {a.ref}, {b.ref}", Sum)
        value.operands = (a, b)
        return value

    def _bounded(self, op: str, a: Value, b: Value, bound: int | None) -> Value:
        """A binary operation's result, with its upper bound if known and in its type's range."""
        if bound is None or not isinstance(a.type, IntType) or bound >> a.type.width:
            return self._binop(op, a, b)
        value = self._value(a.type, f"{op} {a.type} {a.ref}, {b.ref}", Bounded)
        value.bound = bound
        return value

    def mul(self, a, b):
        x, y = upper_bound(a), upper_bound(b)
        return self._bounded("mul", a, b, None if x is None or y is None else x * y)

    def and_(self, a, b):
        known = [x for x in (upper_bound(a), upper_bound(b)) if x is not None]
        return self._bounded("and", a, b, min(known) if known else None)

    def shl(self, a, b):
        x, n = upper_bound(a), upper_bound(b)
        return self._bounded("shl", a, b, None if x is None or n is None else x << n)

    def lshr(self, a, b):
        x, n = upper_bound(a), upper_bound(b)
        if n is None or not isinstance(a.type, IntType) or n >= a.type.width:
            return self._binop("lshr", a, b)
        return self._bounded("lshr", a, b, ((1 << a.type.width) - 1 if x is None else x) >> n)

    def sub(self, a, b): return self._binop("sub", a, b)
    def or_(self, a, b): return self._binop("or", a, b)
    def xor(self, a, b): return self._binop("xor", a, b)
    def ashr(self, a, b): return self._binop("ashr", a, b)
    def udiv(self, a, b): return self._binop("udiv", a, b)
    def urem(self, a, b): return self._binop("urem", a, b)
    def sdiv(self, a, b): return self._binop("sdiv", a, b)
    def srem(self, a, b): return self._binop("srem", a, b)

    def not_(self, a: Value) -> Value:
        return self.xor(a, _all_ones(a.type))

    def neg(self, a: Value) -> Value:
        return self.sub(_zero(a.type), a)

    def icmp_unsigned(self, op: str, a: Value, b: Value) -> Value:
        cond = _ICMP[op] if op in ("==", "!=") else "u" + _ICMP[op]
        return self._value(_bool_type(a.type), f"icmp {cond} {a.type} {a.ref}, {b.ref}")

    def icmp_signed(self, op: str, a: Value, b: Value) -> Value:
        cond = _ICMP[op] if op in ("==", "!=") else "s" + _ICMP[op]
        return self._value(_bool_type(a.type), f"icmp {cond} {a.type} {a.ref}, {b.ref}")

    def fcmp_ordered(self, op: str, a: Value, b: Value) -> Value:
        return self._value(_bool_type(a.type), f"fcmp {_FCMP_ORDERED[op]} {a}, {b.ref}")

    def fcmp_unordered(self, op: str, a: Value, b: Value) -> Value:
        return self._value(_bool_type(a.type), f"fcmp {_FCMP_UNORDERED[op]} {a}, {b.ref}")

    def select(self, cond: Value, a: Value, b: Value) -> Value:
        value = self._value(a.type, f"select {cond}, {a}, {b}", Select)
        value.operands = (cond, a, b)
        return value

    # -- conversions -------------------------------------------------------------------------

    def _cast(self, op: str, a: Value, ty: Type) -> Value:
        return self._value(ty, f"{op} {a} to {ty}")

    def zext(self, a: Value, ty: Type) -> Value:
        if not isinstance(a.type, IntType):
            return self._cast("zext", a, ty)
        value = self._value(ty, f"zext {a} to {ty}", Bounded)
        bound = upper_bound(a)
        value.bound = (1 << a.type.width) - 1 if bound is None else bound
        return value

    def sext(self, a, ty): return self._cast("sext", a, ty)
    def trunc(self, a, ty): return self._cast("trunc", a, ty)
    def bitcast(self, a: Value, ty: Type) -> Value:
        value = self._value(ty, f"bitcast {a} to {ty}", Bitcast)
        value.source = a
        return value

    def sitofp(self, a, ty): return self._cast("sitofp", a, ty)
    def fptosi(self, a, ty): return self._cast("fptosi", a, ty)
    def fpext(self, a, ty): return self._cast("fpext", a, ty)
    def fptrunc(self, a, ty): return self._cast("fptrunc", a, ty)

    # -- memory ------------------------------------------------------------------------------

    def load(self, ptr: Value, typ: Type, align: int | None = None,
             volatile: bool = False, dbg: str = "") -> Value:
        """dbg: a debug location (Module.line_location) for the instruction."""
        kind = "load volatile" if volatile else "load"
        suffix = (f", align {align}" if align else "") + (f", !dbg {dbg}" if dbg else "")
        return self._value(typ, f"{kind} {typ}, {ptr}{suffix}")

    def store(self, value: Value, ptr: Value, align: int | None = None,
              volatile: bool = False, dbg: str = "") -> None:
        kind = "store volatile" if volatile else "store"
        suffix = (f", align {align}" if align else "") + (f", !dbg {dbg}" if dbg else "")
        self._emit(f"{kind} {value}, {ptr}{suffix}")

    def gep(self, ptr: Value, indices: list[Value], source_etype: Type) -> Value:
        rest = "".join(f", {i}" for i in indices)
        return self._value(PointerType(), f"getelementptr {source_etype}, {ptr}{rest}")

    def alloca(self, ty: Type) -> Value:
        return self._value(PointerType(ty), f"alloca {ty}")

    # -- vectors -----------------------------------------------------------------------------

    def insert_element(self, vector: Value, element: Value, index: Value) -> Value:
        return self._value(vector.type, f"insertelement {vector}, {element}, {index}")

    def extract_element(self, vector: Value, index: Value) -> Value:
        return self._value(vector.type.element, f"extractelement {vector}, {index}")

    def shuffle_vector(self, a: Value, b: Value, mask: Constant) -> Value:
        ty = VectorType(a.type.element, mask.type.count)
        return self._value(ty, f"shufflevector {a}, {b}, {mask}")

    # -- calls and control -------------------------------------------------------------------

    def call(self, fn: Value, args: list[Value], tail: str | bool = False) -> Instruction:
        fnty = fn.function_type if isinstance(fn, Function) else fn.type.pointee
        ret = fnty.return_type
        prefix = f"{tail} call" if isinstance(tail, str) else "tail call" if tail else "call"
        text = f"{prefix} {ret} {fn.ref}({', '.join(map(str, args))})"
        if isinstance(ret, VoidType):
            instr = _make(_Line, ret, "")
            instr.line = text
        else:
            instr = _make(_Line, ret, self.block.function.new_name())
            instr.line = f"{instr.ref} = {text}"
        return self._insert(instr)

    def branch(self, target: Block) -> Instruction:
        return self._insert(_line(f"br label %{target.name}", self.block, terminator=True))

    def cbranch(self, cond: Value, then: Block, otherwise: Block) -> CondBranch:
        instr = _make(CondBranch, None, "", terminator=True)
        instr.cond, instr.targets, instr.weights = cond, (then, otherwise), ""
        instr.module = self.block.function.module
        return self._insert(instr)

    def switch(self, value: Value, default: Block) -> SwitchInstr:
        instr = _make(SwitchInstr, None, "", terminator=True)
        instr.value, instr.default, instr.cases = value, default, []
        return self._insert(instr)

    def ret(self, value: Value) -> Instruction:
        return self._insert(_line(f"ret {value}", self.block, terminator=True))

    def unreachable(self) -> Instruction:
        return self._insert(_line("unreachable", self.block, terminator=True))

    def phi(self, ty: Type) -> PhiInstr:
        instr = _make(PhiInstr, ty, self.block.function.new_name())
        instr.incomings = []
        return self._insert(instr)

    def _insert(self, instr: Instruction) -> Instruction:
        instr.parent = self.block
        self._emit(instr)
        return instr

    @contextmanager
    def if_else(self, cond: Value):
        """As llvmlite's: `with b.if_else(c) as (then, otherwise): with then: ...`; code after
        the with-statement goes where both branches meet."""
        function = self.block.function
        then = function.append_basic_block("then")
        otherwise = function.append_basic_block("else")
        merge = function.append_basic_block("endif")
        self.cbranch(cond, then, otherwise)

        @contextmanager
        def arm(block: Block):
            self.position_at_end(block)
            yield
            if not self.block.is_terminated:
                self.branch(merge)

        yield arm(then), arm(otherwise)
        self.position_at_end(merge)


def _make(cls: type, ty: Type | None, ref: str, terminator: bool = False):
    value = cls.__new__(cls)
    value.type, value.ref = ty, ref
    if issubclass(cls, Instruction):
        value.terminator = terminator
    return value


def _line(text: str, block: Block, terminator: bool = False) -> _Line:
    instr = _make(_Line, None, "", terminator)
    instr.line, instr.parent = text, block
    return instr


def _index(items: list, instr: Instruction) -> int:
    for i, item in enumerate(items):
        if item is instr:
            return i
    raise ValueError("instruction not in its block")


def _all_ones(ty: Type) -> Constant:
    if isinstance(ty, VectorType):
        return Constant(ty, [(1 << ty.element.width) - 1] * ty.count)
    return Constant(ty, (1 << ty.width) - 1)


def _zero(ty: Type) -> Constant:
    return Constant(ty, [0] * ty.count) if isinstance(ty, VectorType) else Constant(ty, 0)
