"""Guest blocks as threaded code: arrays of operations that the C runtime runs (csrc/threaded.c).

The JIT's cheap tier. Building a block's operations from the semantics takes a small part of
what compiling it to Python or to native code would, and the C loop runs them many times faster
than Python runs either the interpreter or a block compiled to Python. Values are 64-bit
temporaries, masked to their width as the interpreter's ints are; guest registers and flags
are read and written in the cpu struct at once, as the interpreter does, so that an exit at any
instruction finds the state as the interpreter would leave it. The flags of an operation that
the block describes itself are computed from its values; others from the cpu struct's lazy
description, by a flag program made once a process from the same formulas.

A 128-bit value (an xmm register's, a 16-byte load's) is a pair of temporaries, which moves and
bitwise logic handle, and 64-bit lanes are taken from or put into; blocks whose semantics need
what the operations do not have (the vector primitives, whose Builder leaves them
unimplemented, other wide values) are left to the Python tier (xlate.pyblocks)."""

from __future__ import annotations

from array import array

from xlate.builder import Builder, mask
from xlate.decoder import Block
from xlate.records import named_tuple
from xlate.runtime import EXIT_NEXT, FLAG_SLOT, ffi, lib
from xlate.semantics import SEMANTICS, flags

# The C functions that helper and pure calls name by their place in this list.
FUNCTIONS = tuple(sorted(name for name in dir(lib)
                         if name.startswith(("xlate_helper_", "xlate_pure_"))))
_FUNCTION_INDEX = {name: i for i, name in enumerate(FUNCTIONS)}
_NO_TEMP = 0xFFFF
_MAX_TEMPS = 4096  # (the C loop keeps them on its stack)
_SEGMENTS = {"fs": 0, "gs": 1}


class Unsupported(Exception):
    """The block needs what threaded code does not have."""


@named_tuple
class Wide:
    """A 128-bit value: the temporaries of its low and high 64 bits."""
    lo: int
    hi: int


class ThreadedBuilder(Builder):
    """Emits the semantics of one block as threaded code; values are temporary numbers."""

    def __init__(self) -> None:
        self.constants: dict[int, int] = {}  # value -> its temporary
        self.temps = 0
        self.ops: list[int] = []
        self.insn = None
        self.stored = False  # the current instruction stored (or called a helper)
        self.terminated = False
        # The lazy flag description the block made and the cpu struct holds now: (kind, bits,
        # r, x, y, lazy bits), or None where it is not known here.
        self.cc: tuple | None = None

    def program(self) -> bytes:
        """The block's threaded code."""
        if self.temps > _MAX_TEMPS:
            raise Unsupported("too many temporaries")
        pool = [word for value, temp in self.constants.items() for word in (temp, value)]
        words = array("Q", [self.temps, len(self.constants), *pool, *self.ops])
        return words.tobytes()

    def _temp(self) -> int:
        self.temps += 1
        return self.temps - 1

    def _op(self, op: int, bits: int = 0, d: int = 0, a: int = 0, b: int = 0,
            *extra: int) -> None:
        self.ops.append(op | bits << 8 | d << 16 | a << 32 | b << 48)
        self.ops.extend(extra)

    def _value(self, op: int, bits: int, a: int = 0, b: int = 0, *extra: int) -> int:
        d = self._temp()
        self._op(op, bits, d, a, b, *extra)
        return d

    # -- primitives: values ------------------------------------------------------------------

    def const(self, value: int, bits: int) -> int:
        if bits == 128:
            return Wide(self.const(value, 64), self.const(value >> 64, 64))
        value &= mask(bits)
        temp = self.constants.get(value)
        if temp is None:
            temp = self.constants[value] = self._temp()
        return temp

    def add(self, a, b, bits): return self._value(lib.XLATE_OP_ADD, bits, a, b)
    def sub(self, a, b, bits): return self._value(lib.XLATE_OP_SUB, bits, a, b)
    def mul(self, a, b, bits): return self._value(lib.XLATE_OP_MUL, bits, a, b)
    def and_(self, a, b, bits): return self._bitwise(lib.XLATE_OP_AND, bits, a, b)
    def or_(self, a, b, bits): return self._bitwise(lib.XLATE_OP_OR, bits, a, b)
    def xor(self, a, b, bits): return self._bitwise(lib.XLATE_OP_XOR, bits, a, b)
    def neg(self, a, bits): return self._value(lib.XLATE_OP_NEG, bits, a)
    def shl(self, a, n, bits): return self._value(lib.XLATE_OP_SHL, bits, a, n)
    def lshr(self, a, n, bits): return self._value(lib.XLATE_OP_LSHR, bits, a, n)
    def ashr(self, a, n, bits): return self._value(lib.XLATE_OP_ASHR, bits, a, n)
    def udiv(self, a, b, bits): return self._value(lib.XLATE_OP_UDIV, bits, a, b)
    def urem(self, a, b, bits): return self._value(lib.XLATE_OP_UREM, bits, a, b)
    def sdiv(self, a, b, bits): return self._value(lib.XLATE_OP_SDIV, bits, a, b)
    def srem(self, a, b, bits): return self._value(lib.XLATE_OP_SREM, bits, a, b)
    def eq(self, a, b, bits): return self._value(lib.XLATE_OP_EQ, bits, a, b)
    def ult(self, a, b, bits): return self._value(lib.XLATE_OP_ULT, bits, a, b)
    def slt(self, a, b, bits): return self._value(lib.XLATE_OP_SLT, bits, a, b)
    def ctz(self, a, bits): return self._value(lib.XLATE_OP_CTZ, bits, a)
    def clz(self, a, bits): return self._value(lib.XLATE_OP_CLZ, bits, a)
    def popcount(self, a, bits): return self._value(lib.XLATE_OP_POPCOUNT, bits, a)
    def bswap(self, a, bits): return self._value(lib.XLATE_OP_BSWAP, bits, a)

    def not_(self, a, bits):
        if bits == 128:
            return Wide(*(self.not_(half, 64) for half in self._halves(a)))
        return self._value(lib.XLATE_OP_NOT, bits, a)

    def _bitwise(self, op: int, bits: int, a, b):
        if bits == 128:
            return Wide(*(self._value(op, 64, x, y)
                          for x, y in zip(self._halves(a), self._halves(b), strict=True)))
        return self._value(op, bits, a, b)

    def zext(self, a, bits, to):
        if to == 128 and bits <= 64:
            return Wide(a, self.const(0, 64))
        return a if bits == to else self._wide(a, to)

    def sext(self, a, bits, to):
        self._wide(a, to)
        return a if bits == to else self._value(lib.XLATE_OP_SEXT, bits, a, to)

    def trunc(self, a, bits, to):
        if bits == 128 and to < 128:
            a, bits = self._halves(a).lo, 64
        return a if bits == to else self.and_(a, self.const(mask(to), 64), 64)

    def select(self, c, a, b, bits):
        return self._value(lib.XLATE_OP_SELECT, bits, c, a, b)

    @staticmethod
    def _wide(a: int, bits: int) -> int:
        if bits > 64:
            raise Unsupported("a value wider than 64 bits")
        return a

    @staticmethod
    def _halves(a) -> Wide:
        if not isinstance(a, Wide):
            raise Unsupported("a 128-bit operation on a narrower value")
        return a

    # -- primitives: guest state -------------------------------------------------------------

    def get_gpr(self, index: int) -> int:
        return self._value(lib.XLATE_OP_GET_GPR, 64, index)

    def set_gpr(self, index: int, value: int) -> None:
        self._op(lib.XLATE_OP_SET_GPR, 64, 0, index, value)

    def get_xmm(self, index: int) -> Wide:
        return Wide(*(self._value(lib.XLATE_OP_GET_XMM, 64, index, half) for half in (0, 1)))

    def set_xmm(self, index: int, value: Wide) -> None:
        for half, temp in enumerate(self._halves(value)):
            self._op(lib.XLATE_OP_SET_XMM, 0, half, index, temp)

    def vextract(self, a: Wide, lane: int, index: int) -> int:
        if lane != 64:
            raise Unsupported(f"{lane}-bit lanes")
        return self._halves(a)[index]

    def vinsert(self, a: Wide, x: int, lane: int, index: int) -> Wide:
        if lane != 64:
            raise Unsupported(f"{lane}-bit lanes")
        return self._halves(a)._replace(**{Wide._fields[index]: x})

    def get_segment_base(self, segment: str) -> int:
        return self._value(lib.XLATE_OP_GET_SEGMENT, 64, _SEGMENTS[segment])

    def get_flag(self, name: str) -> int:
        if name == "df":
            return self._value(lib.XLATE_OP_GET_SLOT, 1, FLAG_SLOT["df"])
        cc = self.cc
        if cc is not None and cc[5] & flags.BIT[name]:
            kind, bits, r, x, y, _ = cc
            return flags.formula(self, kind, bits, name, r, x, y)
        return self._value(lib.XLATE_OP_GET_FLAG, 1, flags.ARITH.index(name))

    def set_flag(self, name: str, value: int) -> None:
        self.set_flags({name: value})

    def set_flags(self, values: dict[str, int]) -> None:
        explicit = 0
        for name, value in values.items():
            bit = flags.BIT.get(name, 0)
            self._op(lib.XLATE_OP_SET_FLAG, bit, 0, FLAG_SLOT[name], value)
            explicit |= bit
        if self.cc is not None:
            self.cc = (*self.cc[:5], self.cc[5] & ~explicit)

    def set_flags_lazy(self, kind, bits, r, x, y, unless=None) -> None:
        lazy = flags.lazy_bits(kind)
        if not lazy & flags.BIT["cf"]:  # it keeps CF: in its slot
            if unless is not None:
                raise Unsupported("a conditional flag update that keeps CF")
            self.set_flags({"cf": self.get_flag("cf")})
        op = flags.CC_OP[kind, bits] | lazy << flags.LAZY_SHIFT
        self._op(lib.XLATE_OP_SET_CC, 0, y, r, x,
                 op | (_NO_TEMP if unless is None else unless) << 32)
        # With unless, whether the flags change is known only when it runs.
        self.cc = (kind, bits, r, x, y, lazy) if unless is None else None

    def lazy_flags(self):
        cc = self.cc
        if cc is None or cc[5] != flags.ALL:
            return None
        return cc[:5]

    def load(self, guest_addr: int, bits: int, volatile: bool = False):
        if bits == 128:
            value = Wide(self._temp(), self._temp())
            self._op(lib.XLATE_OP_LOAD, 128, value.lo, guest_addr, 0, value.hi)
            return value
        return self._value(lib.XLATE_OP_LOAD, self._access(bits), guest_addr)

    def store(self, guest_addr: int, value, bits: int) -> None:
        if bits == 128:
            lo, hi = self._halves(value)
            self._op(lib.XLATE_OP_STORE, 128, 0, guest_addr, lo, hi)
        else:
            self._op(lib.XLATE_OP_STORE, self._access(bits), 0, guest_addr, value)
        self.stored = True

    @staticmethod
    def _access(bits: int) -> int:
        if bits not in (8, 16, 32, 64):
            raise Unsupported(f"a {bits}-bit access")
        return bits

    def call_helper(self, name: str, a: int, b: int, state=None) -> int:
        self.cc = None  # it may set the flags
        self.stored = True  # and store to translated code
        return self._value(lib.XLATE_OP_HELPER, 64, a, b, _FUNCTION_INDEX["xlate_helper_" + name])

    def call_pure(self, name, a, b, c):
        out0, out1 = self._temp(), self._temp()
        result = self._value(lib.XLATE_OP_PURE, 64, a, b, c
                             | _FUNCTION_INDEX["xlate_pure_" + name] << 16
                             | out0 << 32 | out1 << 48)
        return result, out0, out1

    # -- primitives: control -----------------------------------------------------------------

    def end_block(self, next_rip: int, exit_code: int = 0) -> None:
        self.finish_insn(next_rip)
        self._op(lib.XLATE_OP_END, 0, 0, next_rip, exit_code)
        self.terminated = True

    def exit_if(self, cond: int, exit_code: int) -> None:
        """Stop at the instruction (XLATE_OP_INSN has set rip to it)."""
        self._op(lib.XLATE_OP_EXIT_IF, 0, 0, cond, exit_code)

    def start_insn(self, insn) -> None:
        self.insn = insn
        self._op(lib.XLATE_OP_INSN, 0, 0, 0, 0, insn.address)

    def finish_insn(self, next_rip: int | None = None) -> None:
        """After an instruction that stored: stop after it if it wrote translated code."""
        if self.stored:
            if next_rip is None:
                next_rip = self.const(self.insn.next, 64)
            self._op(lib.XLATE_OP_WRITTEN, 0, 0, next_rip)
            self.stored = False


def program(block: Block) -> bytes | None:
    """The threaded code of a block, or None if the semantics cannot handle one of its
    instructions or need what threaded code does not have."""
    if not block.insns or block.undefined_at is not None:
        return None
    b = ThreadedBuilder()
    for insn in block.insns:
        semantics = SEMANTICS.get(insn.name)
        if semantics is None:
            return None
        b.start_insn(insn)
        try:
            semantics(b, insn)
        except Exception:  # a form the semantics do not cover, or Unsupported
            return None
        if b.terminated:
            break
        b.finish_insn()
    if not b.terminated:
        b.end_block(b.const(block.end, 64), EXIT_NEXT)
    try:
        return b.program()
    except Unsupported:
        return None


def _words(program: bytes, header: int = 0):
    """Threaded code in memory that C reads, after `header` words of zeros."""
    words = ffi.new("uint64_t[]", header + len(program) // 8)
    ffi.memmove(words + header, program, len(program))
    return words


def with_header(program: bytes, indirect: bool):
    """Threaded code as the dispatch loop's map holds it (see XLATE_THREADED_HEADER), for a
    block that ends in a computed jump or not."""
    words = _words(program, lib.XLATE_THREADED_HEADER)
    words[lib.XLATE_THREADED_INDIRECT] = indirect
    return words


def _flag_programs() -> list:
    """The programs that compute each lazily described arithmetic flag from cc_dst, cc_src1
    and cc_src2, registered with the runtime (the list keeps them alive)."""
    kept = []
    for op, (kind, bits) in flags.CC_KIND.items():
        for flag, name in enumerate(flags.ARITH):
            b = ThreadedBuilder()
            r, x, y = (b._value(lib.XLATE_OP_GET_CC, 64, i) for i in range(3))
            value = flags.formula(b, kind, bits, name, r, x, y)
            if value is None:
                continue
            b._op(lib.XLATE_OP_RESULT, 0, 0, value)
            code = _words(b.program())
            lib.xlate_threaded_flag_program(op, flag, code)
            kept.append(code)
    return kept


class ThreadedRuntime:
    """What threaded code needs of the C runtime, set up once a process (see setup)."""

    _kept: list | None = None

    @classmethod
    def setup(cls) -> None:
        if cls._kept is not None:
            return
        functions = ffi.new("void *[]", [lib.xlate_runtime_symbol(name.encode())
                                         for name in FUNCTIONS])
        lib.xlate_threaded_functions(functions, len(FUNCTIONS))
        cls._kept = [functions, *_flag_programs()]
