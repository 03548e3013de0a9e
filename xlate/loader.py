"""ELF file -> mappings in the guest address space, the initial stack and the entry point.

Does what the kernel's execve does for an x86-64 ELF: loads the PT_LOAD segments (at a load bias
for ET_DYN), loads the interpreter named by PT_INTERP the same way, and builds the stack with
argc, argv, envp and a complete auxiliary vector."""

from __future__ import annotations

import hashlib
import os
import struct

from xlate.errors import LoadError
from xlate.memory import (
    PAGE,
    PIE_BASE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    STACK_SIZE,
    STACK_TOP,
    AddressSpace,
    page_down,
    page_up,
)
from xlate.records import named_tuple

# Auxiliary vector keys (linux/auxvec.h).
AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS = 0, 3, 4, 5, 6, 7, 8
AT_ENTRY = 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN = 23, 25, 26, 31

INTERP_BASE = 0x7_0000_0000  # where an ET_DYN interpreter goes, away from the program

# The ELF header after e_ident, and a program header (elf.h's Elf64_Ehdr and Elf64_Phdr).
_HEADER = struct.Struct("<HHIQQQIHHHHHH")
_PROGRAM_HEADER = struct.Struct("<IIQQQQQQ")
ET_EXEC, ET_DYN = 2, 3
EM_X86_64 = 62
PT_LOAD, PT_INTERP, PT_PHDR = 1, 3, 6
# Names for the messages, of the values a user may meet.
_TYPE_NAMES = {0: "ET_NONE", 1: "ET_REL", 4: "ET_CORE"}
_MACHINE_NAMES = {3: "EM_386", 40: "EM_ARM", 183: "EM_AARCH64", 243: "EM_RISCV"}
MAX_PROGRAM_HEADERS_SIZE = 65536  # the kernel's limit (fs/binfmt_elf.c)
MAX_INTERPRETER_PATH = 4096  # PATH_MAX


class Image:
    """One loaded ELF file."""
    __slots__ = ("path", "load_bias", "entry", "phdr", "phnum", "phentsize", "end",
                 "interpreter", "digest")

    def __init__(self, path: str, load_bias: int, entry: int, phdr: int, phnum: int,
                 phentsize: int, end: int, interpreter: str | None, digest: str) -> None:
        self.path = path
        self.load_bias = load_bias
        self.entry = entry
        self.phdr = phdr  # guest address of the program headers
        self.phnum = phnum
        self.phentsize = phentsize
        self.end = end  # end of the highest segment
        self.interpreter = interpreter
        self.digest = digest  # sha256 of the file


# Records read from the file are named tuples (xlate.records): struct's tuples as they come,
# and a named tuple class costs a tenth of a frozen dataclass to create, on the way to the
# guest's first instruction.
@named_tuple
class Segment:
    """One program header."""
    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    align: int


@named_tuple
class ElfHeaders:
    """What execve reads of an ELF file: its ELF header's fields and its program headers."""
    type: int
    entry: int
    phoff: int
    phentsize: int
    segments: list[Segment]


class Process:
    """What execve leaves behind: where to start and how memory looks."""
    __slots__ = ("entry", "stack_pointer", "brk", "program", "interpreter")

    def __init__(self, entry: int, stack_pointer: int, brk: int, program: Image,
                 interpreter: Image | None) -> None:
        self.entry = entry  # the interpreter's entry when there is one
        self.stack_pointer = stack_pointer
        self.brk = brk
        self.program = program
        self.interpreter = interpreter


def _prot(p_flags: int) -> int:
    return ((PROT_READ if p_flags & 4 else 0) | (PROT_WRITE if p_flags & 2 else 0)
            | (PROT_EXEC if p_flags & 1 else 0))


def _open_elf(path: str) -> tuple[bytes, ElfHeaders]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        # The shell's statuses: 127 when there is no such program, 126 when it cannot be run.
        status = 127 if isinstance(e, (FileNotFoundError, NotADirectoryError)) else 126
        raise LoadError(f"{path}: {e.strerror}", status) from None
    if data[:4] != b"\x7fELF":
        raise LoadError(f"{path}: not an ELF file (cannot execute binary file: Exec format error)")
    if len(data) < 64:
        raise LoadError(f"{path}: truncated ELF header ({len(data)} bytes)")
    if data[4] != 2:
        raise LoadError(f"{path}: not a 64-bit ELF file (EI_CLASS {data[4]})")
    if data[5] != 1:
        raise LoadError(f"{path}: not a little-endian ELF file (EI_DATA {data[5]})")
    (e_type, machine, _version, entry, phoff, _shoff, _flags, _ehsize, phentsize, phnum,
     *_sections) = _HEADER.unpack_from(data, 16)
    if machine != EM_X86_64:
        raise LoadError(f"{path}: not an x86-64 program "
                        f"(machine {_MACHINE_NAMES.get(machine, machine)})")
    if e_type not in (ET_EXEC, ET_DYN):
        raise LoadError(f"{path}: not an executable ELF file "
                        f"(type {_TYPE_NAMES.get(e_type, e_type)})")
    if phnum and (phentsize != _PROGRAM_HEADER.size
                  or phnum * phentsize > MAX_PROGRAM_HEADERS_SIZE):
        raise LoadError(f"{path}: malformed program headers: {phnum} entries of {phentsize} "
                        f"bytes")
    if phoff + phnum * phentsize > len(data):
        raise LoadError(f"{path}: malformed program headers: the table at file offset "
                        f"{phoff:#x} ends past the end of the file ({len(data)} bytes)")
    segments = [Segment._make(fields) for fields
                in _PROGRAM_HEADER.iter_unpack(data[phoff:phoff + phnum * phentsize])]
    return data, ElfHeaders(e_type, entry, phoff, phentsize, segments)


def _interpreter(path: str, data: bytes, s: Segment) -> str:
    """The path that a PT_INTERP segment names: NUL-terminated, as the kernel requires."""
    text = data[s.offset:s.offset + s.filesz]
    if (s.offset + s.filesz > len(data) or not 2 <= s.filesz <= MAX_INTERPRETER_PATH
            or text[-1] != 0):
        raise LoadError(f"{path}: bad PT_INTERP segment at file offset {s.offset:#x} "
                        f"(filesz {s.filesz:#x})")
    return os.fsdecode(text.split(b"\0")[0])


def load_image(memory: AddressSpace, path: str, dyn_base: int) -> Image:
    """Map an ELF file's segments; ET_DYN files go at dyn_base."""
    data, elf = _open_elf(path)
    loads = [s for s in elf.segments if s.type == PT_LOAD]
    if not loads:
        raise LoadError(f"{path}: no loadable segments")
    bias = dyn_base if elf.type == ET_DYN else 0
    interpreter = None
    phdr = None
    for s in elf.segments:
        if s.type == PT_INTERP:
            interpreter = _interpreter(path, data, s)
        elif s.type == PT_PHDR:
            phdr = s.vaddr + bias
    for s in loads:
        offset, filesz, memsz, vaddr = s.offset, s.filesz, s.memsz, s.vaddr
        if (filesz > memsz or offset + filesz > len(data) or vaddr + bias + memsz > STACK_TOP
                or (vaddr - offset) % PAGE):
            raise LoadError(f"{path}: bad PT_LOAD segment at file offset {offset:#x} "
                            f"(vaddr {vaddr:#x}, filesz {filesz:#x}, memsz {memsz:#x})")
    start = page_down(min(s.vaddr for s in loads) + bias)
    end = max(s.vaddr + s.memsz for s in loads) + bias
    name = os.path.basename(path)
    memory.map(start, page_up(end) - start, PROT_READ | PROT_WRITE, name=name)
    for s in loads:
        memory.write(s.vaddr + bias, data[s.offset:s.offset + s.filesz])
    # Permissions per page: a page shared by two segments gets both segments' permissions.
    page_prot: dict[int, int] = {}
    for s in loads:
        lo, hi = page_down(s.vaddr + bias), page_up(s.vaddr + bias + s.memsz)
        for page in range(lo, hi, PAGE):
            page_prot[page] = page_prot.get(page, 0) | _prot(s.flags)
    for page in range(start, page_up(end), PAGE):
        if page not in page_prot:
            memory.unmap(page, PAGE)
    pages = sorted(page_prot)
    i = 0
    while i < len(pages):  # one mprotect per run of contiguous pages with equal permissions
        j = i
        while (j + 1 < len(pages) and pages[j + 1] == pages[j] + PAGE
               and page_prot[pages[j + 1]] == page_prot[pages[i]]):
            j += 1
        memory.protect(pages[i], pages[j] + PAGE - pages[i], page_prot[pages[i]])
        i = j + 1
    if phdr is None:  # no PT_PHDR: the headers are wherever a PT_LOAD maps e_phoff
        for s in loads:
            if s.offset <= elf.phoff < s.offset + s.filesz:
                phdr = s.vaddr + bias + elf.phoff - s.offset
        if phdr is None:
            phdr = 0
    return Image(path=path, load_bias=bias, entry=elf.entry + bias, phdr=phdr,
                 phnum=len(elf.segments), phentsize=elf.phentsize, end=end,
                 interpreter=interpreter, digest=hashlib.sha256(data).hexdigest())


def exec_program(memory: AddressSpace, path: str, argv: list[str], env: dict[str, str],
                 hwcap: int) -> Process:
    """Load the program (and its interpreter) and build the initial stack."""
    program = load_image(memory, path, PIE_BASE)
    interp = None
    if program.interpreter:
        interp = load_image(memory, program.interpreter, INTERP_BASE)
    memory.map(STACK_TOP - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE, name="[stack]")
    sp = STACK_TOP

    def push_bytes(data: bytes) -> int:
        nonlocal sp
        sp -= len(data)
        memory.write(sp, data)
        return sp

    execfn = push_bytes(os.fsencode(path) + b"\0")
    env_addrs = [push_bytes(os.fsencode(f"{k}={v}") + b"\0") for k, v in env.items()]
    argv_addrs = [push_bytes(os.fsencode(a) + b"\0") for a in argv]
    platform = push_bytes(b"x86_64\0")
    random_bytes = push_bytes(os.urandom(16))
    sp &= ~15
    auxv = [  # in the order the kernel writes them (fs/binfmt_elf.c)
        (AT_HWCAP, hwcap), (AT_PAGESZ, PAGE), (AT_CLKTCK, 100), (AT_PHDR, program.phdr),
        (AT_PHENT, program.phentsize), (AT_PHNUM, program.phnum),
        (AT_BASE, interp.load_bias if interp else 0), (AT_FLAGS, 0), (AT_ENTRY, program.entry),
        (AT_UID, os.getuid()), (AT_EUID, os.geteuid()), (AT_GID, os.getgid()),
        (AT_EGID, os.getegid()), (AT_SECURE, 0), (AT_RANDOM, random_bytes), (AT_HWCAP2, 0),
        (AT_EXECFN, execfn), (AT_PLATFORM, platform), (AT_NULL, 0),
    ]
    words = [len(argv), *argv_addrs, 0, *env_addrs, 0]
    for key, value in auxv:
        words += [key, value]
    if len(words) % 2:  # rsp must be 16-byte aligned at argc: pad above the auxv
        words.append(0)
    sp -= 8 * len(words)
    memory.write(sp, struct.pack(f"<{len(words)}Q", *words))
    return Process(entry=interp.entry if interp else program.entry, stack_pointer=sp,
                   brk=page_up(program.end), program=program, interpreter=interp)
