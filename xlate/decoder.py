"""Guest code -> instructions -> blocks, on Capstone, with a decode cache.

Instructions are turned into small plain records once, here, so that the semantics and the
engines never touch Capstone objects. Capstone itself is imported when the first block is
decoded: a run whose code all comes from the code cache does without it. Decoded blocks can be
exported and adopted by a later run of the same program (through the code cache), which then
uses them where the guest's code bytes are still the same, instead of decoding again."""

from __future__ import annotations

import marshal
import struct
from typing import NamedTuple

from xlate.memory import PROT_EXEC, AddressSpace, GuestMemoryError

GPR_NAMES = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")

MAX_BLOCK_INSNS = 64
MAX_INSN_BYTES = 15
DECODE_CHUNK = 8  # instructions asked of Capstone at a time (see Decoder._disassemble)

REG, IMM, MEM = "reg", "imm", "mem"
GPR, XMM, ST = "gpr", "xmm", "st"


# Records are NamedTuples and Block a plain class, not dataclasses: importing dataclasses (and
# inspect, which it imports) costs tens of milliseconds on the way to the guest's first
# instruction, and a dataclass a millisecond or two to create.
class Reg(NamedTuple):
    """A guest register operand: which file, which register, how many bits from which bit."""
    file: str
    index: int
    bits: int
    shift: int = 0  # 8 for ah, ch, dh, bh


class Operand(NamedTuple):
    kind: str           # REG, IMM or MEM
    size: int           # bytes
    reg: Reg | None = None
    imm: int = 0
    base: Reg | None = None   # MEM: rip-relative operands are resolved into disp
    index: Reg | None = None
    scale: int = 1
    disp: int = 0
    segment: str = ""   # "fs" or "gs" for a segment override


class Insn(NamedTuple):
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


def _reg_table(X) -> dict[int, Reg]:
    table: dict[int, Reg] = {}
    legacy = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di")
    for i, name in enumerate(legacy):
        table[getattr(X, "X86_REG_R" + name.upper())] = Reg(GPR, i, 64)
        table[getattr(X, "X86_REG_E" + name.upper())] = Reg(GPR, i, 32)
        table[getattr(X, "X86_REG_" + name.upper())] = Reg(GPR, i, 16)
    for i, name in enumerate(("AL", "CL", "DL", "BL", "SPL", "BPL", "SIL", "DIL")):
        table[getattr(X, "X86_REG_" + name)] = Reg(GPR, i, 8)
    for i, name in enumerate(("AH", "CH", "DH", "BH")):
        table[getattr(X, "X86_REG_" + name)] = Reg(GPR, i, 8, 8)
    for i in range(8, 16):
        table[getattr(X, f"X86_REG_R{i}")] = Reg(GPR, i, 64)
        table[getattr(X, f"X86_REG_R{i}D")] = Reg(GPR, i, 32)
        table[getattr(X, f"X86_REG_R{i}W")] = Reg(GPR, i, 16)
        table[getattr(X, f"X86_REG_R{i}B")] = Reg(GPR, i, 8)
    for i in range(16):
        table[getattr(X, f"X86_REG_XMM{i}")] = Reg(XMM, i, 128)
    for i in range(8):
        table[getattr(X, f"X86_REG_ST{i}")] = Reg(ST, i, 80)
    return table


# Instructions after which a block ends besides Capstone's jump/call/ret/interrupt groups.
_ENDS_BLOCK = {"syscall", "hlt", "ud2", "ud1", "ud0", "int3", "cpuid",
               "loop", "loope", "loopne", "jrcxz", "jecxz"}


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


class UnsupportedOperand(Exception):
    pass


class _Decoded(NamedTuple):
    """What Capstone says of one instruction, read straight from its C structures."""
    address: int
    size: int
    raw: bytes
    name: str
    text: str
    groups: bytes
    prefix: bytes
    opcode: bytes
    ops: tuple[Operand, ...]


def _layout(cls, **formats: str) -> struct.Struct:
    """A reader of fields (named, with their struct formats, in the order they lie in) of a
    ctypes structure of Capstone's Python binding: its layouts are the ones of the library
    that it loads."""
    layout, at = "<", 0
    for name, fmt in formats.items():
        offset = getattr(cls, name).offset
        if offset < at:
            raise ValueError(f"{cls.__name__}.{name} lies before the field listed before it")
        layout += f"{offset - at}x{fmt}"
        at = offset + struct.calcsize("<" + fmt)
    return struct.Struct(layout)


class _Capstone:
    """A Capstone disassembler for x86-64, and the tables keyed by its constants.

    Instructions are read from the C structures that cs_disasm fills, through the layouts that
    Capstone's Python binding declares: its instruction objects copy every instruction's
    details (nearly 2 KB) into new ctypes objects, field by field, which made decoding most of
    a first run's start-up."""

    def __init__(self) -> None:
        import ctypes

        import capstone
        from capstone import x86, x86_const

        self.X = X = x86_const
        self.cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
        self.cs.detail = True
        self._lib, self._ctypes = capstone._cs, ctypes
        self._insn_array = ctypes.POINTER(capstone._cs_insn)
        self._insn = _layout(capstone._cs_insn, id="I", address="Q", size="H", bytes="24s",
                             mnemonic="32s", op_str="160s")
        self._detail_pointer = _layout(capstone._cs_insn, detail="Q")
        self._insn_size = ctypes.sizeof(capstone._cs_insn)
        detail, self._x86_at = capstone._cs_detail, capstone._cs_detail.arch.offset
        self._detail = _layout(detail, groups="8s", groups_count="B")
        self._x86 = _layout(x86.CsX86, prefix="4s", opcode="4s", op_count="B")
        self._operands_at = self._x86_at + x86.CsX86.operands.offset
        self._operand_size = ctypes.sizeof(x86.X86Op)
        self._operand = _layout(x86.X86Op, type="I", size="B")
        # The operand's value, a union: a register, an immediate, or a memory operand.
        self._value_at = x86.X86Op.value.offset
        self._mem = _layout(x86.X86OpMem, segment="I", base="I", index="I", scale="i", disp="q")
        self._imm = struct.Struct("<q")
        self._operands: dict[bytes, Operand] = {}  # by their X86Op structures (see decoded)
        self._names: dict[int, str] = {}
        self.regs = _reg_table(X)
        self.segments = {X.X86_REG_FS: "fs", X.X86_REG_GS: "gs"}
        # Capstone's groups of instructions that end a block.
        self.block_end_groups = {capstone.CS_GRP_JUMP, capstone.CS_GRP_CALL, capstone.CS_GRP_RET,
                                 capstone.CS_GRP_INT, capstone.CS_GRP_IRET}

    def disassemble(self, code: bytes, address: int, count: int) -> list[tuple[bytes, int, bytes]]:
        """Up to count instructions from the start of code (at the guest address), stopping
        before bytes that are not one: each as its cs_insn structure (the bytes of all of
        them, and where it starts in them) and a copy of its details, for decoded(), which
        costs several times as much as Capstone's decoding and is only asked of the
        instructions that a block takes."""
        ctypes = self._ctypes
        array = self._insn_array()
        n = self._lib.cs_disasm(self.cs.csh, code, len(code), address, count,
                                ctypes.byref(array))
        if not n:
            return []
        try:
            size, string_at, pointer = self._insn_size, ctypes.string_at, self._detail_pointer
            insns = string_at(ctypes.cast(array, ctypes.c_void_p).value, n * size)
            detail_size = self._operands_at + 8 * self._operand_size
            return [(insns, at, string_at(pointer.unpack_from(insns, at)[0], detail_size))
                    for at in range(0, n * size, size)]
        finally:
            self._lib.cs_free(array, n)

    def decoded(self, copied: tuple[bytes, int, bytes]) -> _Decoded:
        """An instruction that disassemble() gave, read; UnsupportedOperand if it names a
        register that no record has (a segment base, a control register)."""
        insns, at, detail = copied
        id_, address, size, raw, mnemonic, op_str = self._insn.unpack_from(insns, at)
        operand_size, cache = self._operand_size, self._operands
        groups, groups_count = self._detail.unpack_from(detail)
        prefix, opcode, op_count = self._x86.unpack_from(detail, self._x86_at)
        ops = []
        for at in range(self._operands_at, self._operands_at + op_count * operand_size,
                        operand_size):
            # Operands repeat (the same registers, the same stack slots): each is read once,
            # but for a rip-relative one, whose address depends on the instruction's.
            key = detail[at:at + operand_size]
            op = cache.get(key)
            ops.append(op if op is not None else self._operand_at(key, address + size))
        name = self._names.get(id_)
        if name is None:
            name = self._names[id_] = self._lib.cs_insn_name(self.cs.csh, id_).decode()
        text = f"{_c_string(mnemonic)} {_c_string(op_str)}".strip()
        return _Decoded(address, size, raw[:size], name, text, groups[:groups_count], prefix,
                        opcode, tuple(ops))

    def reg_name(self, reg: int) -> str:
        return self._lib.cs_reg_name(self.cs.csh, reg).decode()

    def _operand_at(self, x86_op: bytes, next_address: int) -> Operand:
        """The operand of an X86Op structure, as a record, which the cache of them keeps
        unless it is rip-relative (see decoded)."""
        X, regs = self.X, self.regs
        kind, size = self._operand.unpack_from(x86_op)
        if kind == X.X86_OP_REG:
            value = self._mem.unpack_from(x86_op, self._value_at)[0]
            reg = regs.get(value)
            if reg is None:
                raise UnsupportedOperand(self.reg_name(value))
            op = self._operands[x86_op] = Operand(REG, size, reg=reg)
            return op
        if kind == X.X86_OP_IMM:
            op = self._operands[x86_op] = Operand(
                IMM, size, imm=self._imm.unpack_from(x86_op, self._value_at)[0])
            return op
        mem_segment, mem_base, mem_index, scale, disp = \
            self._mem.unpack_from(x86_op, self._value_at)
        base = None
        if mem_base == X.X86_REG_RIP:
            disp = (next_address + disp) & (2**64 - 1)
        elif mem_base:
            base = regs.get(mem_base)
            if base is None or base.file != GPR:
                raise UnsupportedOperand(self.reg_name(mem_base))
        index = None
        if mem_index:
            index = regs.get(mem_index)
            if index is None or index.file != GPR:
                raise UnsupportedOperand(self.reg_name(mem_index))
        segment = self.segments.get(mem_segment, "")
        op = Operand(MEM, size, base=base, index=index, scale=scale, disp=disp, segment=segment)
        if mem_base != X.X86_REG_RIP:
            self._operands[x86_op] = op
        return op


def _c_string(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode()


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

    def _disassemble(self, code: bytes, address: int):
        """Capstone's instructions for the code at address, DECODE_CHUNK at a time: Capstone
        decodes all that it is asked for before giving the first, and a block is a few of the
        hundreds of instructions that a block's worth of bytes holds."""
        capstone, offset = self._capstone, 0
        while True:
            chunk = capstone.disassemble(code[offset:], address + offset, DECODE_CHUNK)
            for copied in chunk:
                decoded = capstone.decoded(copied)
                yield decoded
            if len(chunk) < DECODE_CHUNK:  # undecodable, or the end of the code
                return
            offset = decoded.address + decoded.size - address

    def _decode(self, address: int) -> Block:
        if self._capstone is None:
            self._capstone = _Capstone()
        capstone, X = self._capstone, self._capstone.X
        insns: list[Insn] = []
        try:
            for decoded in self._disassemble(self.fetchable(address), address):
                if decoded.address in self.stops and insns:
                    return Block(address, insns)
                prefix, name = decoded.prefix, decoded.name
                if decoded.opcode[:2] == b"\x0f\xc2":
                    # Capstone 5 names these compares after their predicate (cmpltsd) and
                    # gives them the ids of unrelated instructions (cmpxchg16b...).
                    name = "cmp" + _sse_kind(decoded.raw)
                insns.append(Insn(
                    decoded.address, decoded.size, name, decoded.ops, decoded.raw,
                    1 if X.X86_PREFIX_REP in prefix else 2 if X.X86_PREFIX_REPNE in prefix else 0,
                    X.X86_PREFIX_LOCK in prefix, prefix[3] == X.X86_PREFIX_ADDRSIZE,
                    decoded.text))
                self.insns_decoded += 1
                if (name in _ENDS_BLOCK or capstone.block_end_groups.intersection(decoded.groups)
                        or len(insns) == MAX_BLOCK_INSNS):
                    return Block(address, insns)
        except UnsupportedOperand:
            pass
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
