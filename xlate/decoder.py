"""Guest code -> instructions -> blocks, on Capstone, with a decode cache.

Instructions are turned into small plain records once, here, so that the semantics and the
engines never touch Capstone objects. Capstone's library is loaded when the first block is
decoded: a run whose code all comes from the code cache does without it. Decoded blocks can be
exported and adopted by a later run of the same program (through the code cache), which then
uses them where the guest's code bytes are still the same, instead of decoding again."""

from __future__ import annotations

import importlib.util
import marshal
import os
import struct

from xlate.errors import XlateError
from xlate.memory import PROT_EXEC, AddressSpace, GuestMemoryError
from xlate.records import named_tuple
from xlate.runtime import ffi, lib

GPR_NAMES = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")

MAX_BLOCK_INSNS = 64
MAX_INSN_BYTES = 15

REG, IMM, MEM = "reg", "imm", "mem"
GPR, XMM, ST = "gpr", "xmm", "st"


# Records are named tuples (xlate.records) and Block a plain class, not dataclasses: importing
# dataclasses (and inspect, which it imports) costs tens of milliseconds on the way to the
# guest's first instruction, and a dataclass a millisecond or two to create.
@named_tuple
class Reg:
    """A guest register operand: which file, which register, how many bits from which bit."""
    file: str
    index: int
    bits: int
    shift: int = 0  # 8 for ah, ch, dh, bh


@named_tuple
class Operand:
    kind: str           # REG, IMM or MEM
    size: int           # bytes
    reg: Reg | None = None
    imm: int = 0
    base: Reg | None = None   # MEM: rip-relative operands are resolved into disp
    index: Reg | None = None
    scale: int = 1
    disp: int = 0
    segment: str = ""   # "fs" or "gs" for a segment override


@named_tuple
class Insn:
    address: int
    size: int
    name: str                 # Capstone's instruction name: "add", "movsb", "cvtsi2sd"
    ops: tuple[Operand, ...]
    raw: bytes
    rep: int = 0              # 0, 1 for rep/repe, 2 for repne
    lock: bool = False
    addr32: bool = False      # the 0x67 prefix: addresses are computed modulo 2**32
    text: str = ""            # as Capstone prints it, for messages

    @property
    def next(self) -> int:
        return self.address + self.size

    def op(self, i: int) -> Operand:
        return self.ops[i]


class Block:
    """Straight-line guest code: only the last instruction may transfer control."""
    __slots__ = ("start", "insns", "undefined_at")

    def __init__(self, start: int, insns: list[Insn], undefined_at: int | None = None) -> None:
        self.start = start
        self.insns = insns
        # Set when decoding stopped at bytes that are not an instruction (or not fetchable).
        self.undefined_at = undefined_at

    @property
    def end(self) -> int:
        return self.insns[-1].next if self.insns else self.start

    @property
    def raw(self) -> bytes:
        """The block's code bytes."""
        return b"".join(insn.raw for insn in self.insns)


def _sse_kind(raw: bytes) -> str:
    """The ps/pd/ss/sd kind that the mandatory prefix before the 0f opcode byte selects (the
    last of f2/f3 wins over 66)."""
    kind = "ps"
    for byte in raw:
        if byte == 0x0F:
            break
        if byte in (0xF2, 0xF3):
            kind = "sd" if byte == 0xF2 else "ss"
        elif byte == 0x66 and kind == "ps":
            kind = "pd"
    return kind


def _export_operand(op: Operand) -> tuple:
    return (op.kind, op.size, _export_reg(op.reg), op.imm, _export_reg(op.base),
            _export_reg(op.index), op.scale, op.disp, op.segment)


def _export_reg(reg: Reg | None) -> tuple | None:
    return None if reg is None else (reg.file, reg.index, reg.bits, reg.shift)


def _operand(exported: tuple) -> Operand:
    kind, size, reg, imm, base, index, scale, disp, segment = exported
    return Operand(kind, size, _reg(reg), imm, _reg(base), _reg(index), scale, disp, segment)


def _reg(exported: tuple | None) -> Reg | None:
    return None if exported is None else Reg(*exported)


def _layout(ctype: str, **formats: str) -> struct.Struct:
    """A reader of fields (named, with their struct formats, in the order they lie in) of a
    structure of the C runtime's, at the offsets its compiler gave them."""
    layout, at = "<", 0
    for name, fmt in formats.items():
        offset = ffi.offsetof(ctype, name)
        if offset < at:
            raise ValueError(f"{ctype}.{name} lies before the field listed before it")
        layout += f"{offset - at}x{fmt}"
        at = offset + struct.calcsize("<" + fmt)
    return struct.Struct(layout)


def _capstone_library() -> str:
    """The Capstone library that Capstone's Python package carries, found without importing
    the package."""
    spec = importlib.util.find_spec("capstone")
    if spec is None or not spec.submodule_search_locations:
        raise XlateError("cannot decode: Capstone's Python package (capstone) is not installed")
    return os.path.join(spec.submodule_search_locations[0], "lib", "libcapstone.so")


_REG_FILES = {lib.XLATE_REG_GPR: GPR, lib.XLATE_REG_XMM: XMM, lib.XLATE_REG_ST: ST}
_SEGMENTS = {0: "", lib.XLATE_SEGMENT_FS: "fs", lib.XLATE_SEGMENT_GS: "gs"}


def _register(record: bytes) -> Reg | None:
    """An xlate_reg as a record (None for none)."""
    file, index, bits, shift = record
    return Reg(_REG_FILES[file], index, bits, shift) if file else None


class _Capstone:
    """Capstone's decoding of x86-64, by the C runtime (csrc/decode.c), which loads the
    library and reads its structures into flat records (xlate_decoded): Capstone's Python
    package, whose imports took 40 ms, and whose instruction objects copy every instruction's
    details (nearly 2 KB) field by field, is not imported."""

    def __init__(self) -> None:
        error = ffi.new("char[]", 256)
        decoder = lib.xlate_decoder_new(_capstone_library().encode(), error, len(error))
        if decoder == ffi.NULL:
            raise XlateError(f"cannot decode: {ffi.string(error).decode(errors='replace')}")
        self._decoder = ffi.gc(decoder, lib.xlate_decoder_free)
        self._records = ffi.new("xlate_decoded[]", MAX_BLOCK_INSNS)
        self._record_size = ffi.sizeof("xlate_decoded")
        self._header = _layout("xlate_decoded", address="Q", id="I", size="B", rep="B",
                               lock="B", addr32="B", ends_block="B", op_count="B",
                               unsupported="B", opcode="4s", bytes="16s")
        self._operands_at = ffi.offsetof("xlate_decoded", "ops")
        self._operand_size = ffi.sizeof("xlate_operand")
        self._operand = _layout("xlate_operand", value="q", kind="B", size="B", segment="B",
                                scale="B", rip_relative="B", reg="4s", base="4s", index="4s")
        self._text = slice(ffi.offsetof("xlate_decoded", "text"), ffi.sizeof("xlate_decoded"))
        # Operands repeat (the same registers, the same stack slots): each is made once.
        self._operands: dict[bytes, Operand] = {}
        self._names: dict[int, str] = {}

    def decode(self, code: bytes, address: int):
        """The instructions from the start of code (at the guest address) up to one that ends
        a block, MAX_BLOCK_INSNS at most, each with whether it ends a block; None for one
        with an operand that no record holds (a segment or control register), which ends
        them. Before bytes that are not an instruction, fewer."""
        n = lib.xlate_decode(self._decoder, code, len(code), address, self._records,
                             MAX_BLOCK_INSNS)
        size = self._record_size
        records = ffi.buffer(self._records, n * size)[:]
        for at in range(0, n * size, size):
            yield self._insn(records[at:at + size])

    def _insn(self, record: bytes) -> tuple[Insn, bool] | None:
        address, id_, size, rep, lock, addr32, ends_block, op_count, unsupported, opcode, raw \
            = self._header.unpack_from(record)
        if unsupported:
            return None
        raw, operand_size, cache, ops = raw[:size], self._operand_size, self._operands, []
        for at in range(self._operands_at, self._operands_at + op_count * operand_size,
                        operand_size):
            key = record[at:at + operand_size]
            op = cache.get(key)
            if op is None:
                op = cache[key] = self._operand_record(key)
            ops.append(op)
        name = self._names.get(id_)
        if name is None:
            name = self._names[id_] = ffi.string(lib.xlate_insn_name(self._decoder, id_)).decode()
        if opcode[:2] == b"\x0f\xc2":
            # Capstone 5 names these compares after their predicate (cmpltsd) and gives them
            # the ids of unrelated instructions (cmpxchg16b...).
            name = "cmp" + _sse_kind(raw)
        text = record[self._text].split(b"\0", 1)[0].decode()
        return Insn(address, size, name, tuple(ops), raw, rep, bool(lock), bool(addr32),
                    text), bool(ends_block)

    def _operand_record(self, operand: bytes) -> Operand:
        value, kind, size, segment, scale, rip_relative, reg, base, index = \
            self._operand.unpack_from(operand)
        if kind == lib.XLATE_OP_KIND_REG:
            return Operand(REG, size, reg=_register(reg))
        if kind == lib.XLATE_OP_KIND_IMM:
            return Operand(IMM, size, imm=value)
        return Operand(MEM, size, base=_register(base), index=_register(index), scale=scale,
                       disp=value & (2**64 - 1) if rip_relative else value,
                       segment=_SEGMENTS[segment])


class Decoder:
    """Decodes guest code into blocks and caches them by start address."""

    def __init__(self, memory: AddressSpace) -> None:
        self.memory = memory
        self._capstone: _Capstone | None = None
        self.blocks: dict[int, Block] = {}
        self.insns_decoded = 0
        # Addresses where the guest stops for its embedder: blocks end before them.
        self.stops: set[int] = set()
        # Blocks an earlier run decoded (see adopt), by start address, in export's form, and
        # the operands they name by number, exported and (once used) made.
        self.adopted: dict[int, bytes] = {}
        self._exported_operands: list[tuple] = []
        self._operands: list[Operand | None] = []
        # The adopted blocks' operand lists, by their numbers: instructions repeat them.
        self._operand_lists: dict[tuple[int, ...], tuple[Operand, ...]] = {}

    def block(self, address: int) -> Block:
        """The block that starts at the guest address, decoded on first use."""
        block = self.blocks.get(address)
        if block is None:
            known = self.adopted.pop(address, None)
            block = None if known is None else self._from_export(address, known)
            if block is None:
                block = self._decode(address)
            self.blocks[address] = block
            if block.insns:
                self.memory.mark_code(block.start, block.end)
        return block

    def export(self) -> bytes:
        """The blocks decoded so far (and those adopted and not used), for adopt(): each
        marshalled apart, so that a later run unmarshals only those it uses, and naming its
        operands by number in one table (operands repeat: the same registers, the same stack
        slots), which extends the adopted one, as the adopted blocks' numbers are its."""
        table = list(self._exported_operands)
        numbers = {exported: i for i, exported in enumerate(table)}

        def number(op: Operand) -> int:
            exported = _export_operand(op)
            i = numbers.setdefault(exported, len(table))
            if i == len(table):
                table.append(exported)
            return i

        blocks = {b.start: marshal.dumps((b"".join(i.raw for i in b.insns), [
            (i.size, i.name, tuple(map(number, i.ops)), i.rep, i.lock, i.addr32, i.text)
            for i in b.insns]))
            for b in self.blocks.values() if b.insns and b.undefined_at is None}
        return marshal.dumps((table, {**self.adopted, **blocks}))

    def adopt(self, data: bytes) -> None:
        """Take blocks that export() gave in an earlier run; each is used, when first asked
        for, only if the guest's code bytes there are still the ones it was decoded from."""
        try:
            table, adopted = marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            table, adopted = [], {}
        if not (isinstance(table, list) and isinstance(adopted, dict)):
            table, adopted = [], {}
        self.adopted, self._exported_operands = adopted, table
        self._operands = [None] * len(table)
        self._operand_lists = {}

    def _adopted_operand(self, number: int) -> Operand:
        """The adopted blocks' operand of that number."""
        op = self._operands[number]
        if op is None:
            op = self._operands[number] = _operand(self._exported_operands[number])
        return op

    def _from_export(self, start: int, known: bytes) -> Block | None:
        try:
            raw, insns = marshal.loads(known)
            if self.memory.read(start, len(raw), PROT_EXEC) != raw:
                return None
            block, address, lists = Block(start, []), start, self._operand_lists
            for size, name, ops, rep, lock, addr32, text in insns:
                if address in self.stops and block.insns:
                    return None  # the embedder stops here: the block would end before it
                operands = lists.get(ops)
                if operands is None:
                    operands = lists[ops] = tuple(map(self._adopted_operand, ops))
                offset = address - start
                block.insns.append(Insn(address, size, name, operands,
                                        raw[offset:offset + size], rep, lock, addr32, text))
                address += size
            return block if address == start + len(raw) else None
        except (GuestMemoryError, TypeError, ValueError, EOFError, IndexError):
            return None

    def executable(self, address: int) -> bool:
        m = self.memory.find(address)
        return m is not None and bool(m.prot & PROT_EXEC)

    def invalidate(self, start: int, end: int) -> None:
        """Forget blocks that overlap [start, end): their code changed or went away."""
        stale = [a for a, b in self.blocks.items() if a < end and b.end > start]
        for a in stale:
            del self.blocks[a]

    def fetchable(self, address: int) -> bytes:
        """The executable bytes from address on, as many as a block could use."""
        limit = MAX_BLOCK_INSNS * MAX_INSN_BYTES
        code = b""
        addr = address
        while len(code) < limit:
            m = self.memory.find(addr)
            if m is None or not m.prot & PROT_EXEC:
                break
            n = min(m.end - addr, limit - len(code))
            code += self.memory.read(addr, n, PROT_EXEC)
            addr += n
        return code

    def _decode(self, address: int) -> Block:
        if self._capstone is None:
            self._capstone = _Capstone()
        insns: list[Insn] = []
        for decoded in self._capstone.decode(self.fetchable(address), address):
            if decoded is None:
                break
            insn, ends_block = decoded
            if insn.address in self.stops and insns:
                return Block(address, insns)
            insns.append(insn)
            self.insns_decoded += 1
            if ends_block or len(insns) == MAX_BLOCK_INSNS:
                return Block(address, insns)
        return Block(address, insns, undefined_at=insns[-1].next if insns else address)


_CONDITIONAL = {"j" + cc for cc in ("o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p",
                                    "np", "l", "ge", "le", "g")} | {"jrcxz", "jecxz", "loop",
                                                                     "loope", "loopne"}


def ends_indirect(block: Block) -> bool:
    """Whether the block ends in a return, or a jump or call to a computed address."""
    last = block.insns[-1] if block.insns else None
    return last is not None and (last.name == "ret" or (
        last.name in ("jmp", "call") and last.ops[0].kind != IMM))


def successors(block: Block) -> list[int]:
    """Where control can go after the block, as far as direct branches tell."""
    if not block.insns:
        return []
    last = block.insns[-1]
    target = [last.ops[0].imm] if last.ops and last.ops[0].kind == IMM else []
    if last.name == "jmp":
        return target
    if last.name in _CONDITIONAL or last.name == "call":
        return target + [last.next]
    if last.name in ("ret", "syscall", "hlt", "ud0", "ud1", "ud2") or last.name.startswith("int"):
        return [last.next] if last.name == "syscall" else []
    return [block.end]


def callees(block: Block, likely: list[int]) -> list[int]:
    """Where the call that ends the block goes: its target, or where it went most."""
    last = block.insns[-1] if block.insns else None
    if last is None or last.name != "call":
        return []
    return [last.ops[0].imm] if last.ops[0].kind == IMM else likely
