"""The C runtime's object loader (csrc/objload.c, through xlate.jit.linker): an object that LLVM
compiled runs once loaded, and a damaged or foreign object (the code cache is untrusted input) is
an error with a reason, never a crash."""

from __future__ import annotations

import gc
import random
import struct

import pytest

from xlate.jit.compiler import Compiler
from xlate.jit.linker import Linker, ObjectLoadError
from xlate.machine import Machine
from xlate.memory import PROT_EXEC, PROT_READ
from xlate.runtime import ffi

# A jump table (relocations into read-only data), a constant-pool float and a call to a runtime
# helper (an undefined symbol): what the JIT's regions need of the loader.
IR = """
declare i64 @xlate_helper_cpuid(ptr, i64, i64)

define i64 @entry(ptr %cpu, i64 %which, i64 %x) {
start:
  switch i64 %which, label %helper [i64 0, label %a
                                    i64 1, label %b
                                    i64 2, label %c
                                    i64 3, label %d
                                    i64 4, label %e
                                    i64 5, label %float]
a:
  ret i64 1001
b:
  ret i64 2002
c:
  ret i64 3003
d:
  ret i64 4004
e:
  ret i64 5005
float:
  %f = bitcast i64 %x to double
  %sum = fadd double %f, 1.25
  %bits = bitcast double %sum to i64
  ret i64 %bits
helper:
  %r = call i64 @xlate_helper_cpuid(ptr %cpu, i64 0, i64 0)
  ret i64 %which
}
"""
FUNCTION = "uint64_t (*)(xlate_cpu *, uint64_t, uint64_t)"
SHDR = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
SYM = struct.Struct("<IBBHQQ")  # Elf64_Sym
RELA = struct.Struct("<QQq")  # Elf64_Rela
SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 2, 3, 4


@pytest.fixture(scope="module")
def obj() -> bytes:
    return Compiler().compile(IR)


@pytest.fixture(scope="module")
def linker() -> Linker:
    return Linker()


def sections(data: bytes) -> list[tuple[int, tuple]]:
    """(file offset of the header, header fields) of each section."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shnum, = struct.unpack_from("<H", data, 0x3C)
    return [(shoff + i * SHDR.size, SHDR.unpack_from(data, shoff + i * SHDR.size))
            for i in range(shnum)]


def section_of_type(data: bytes, sh_type: int, nth: int = 0) -> tuple[int, tuple]:
    return [s for s in sections(data) if s[1][1] == sh_type][nth]


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def assert_rejected(linker: Linker, data: bytes, reason: str | None = None) -> None:
    with pytest.raises(ObjectLoadError, match=reason):
        linker.load(data, "entry")


def test_loaded_code_runs_jump_tables_constants_and_helper_calls(obj, linker):
    loaded = linker.load(obj, "entry")
    fn = ffi.cast(FUNCTION, loaded.entry)
    cpu = ffi.new("xlate_cpu *")
    assert [fn(cpu, i, 0) for i in range(5)] == [1001, 2002, 3003, 4004, 5005]
    bits = fn(cpu, 5, struct.unpack("<Q", struct.pack("<d", 2.5))[0])
    assert struct.unpack("<d", struct.pack("<Q", bits))[0] == 3.75
    assert fn(cpu, 99, 0) == 99
    assert cpu.gpr[3] == int.from_bytes(b"Xlat", "little")  # cpuid leaf 0 ran: ebx
    linker.unload(loaded)


def test_missing_entry_symbol_is_an_error(obj, linker):
    with pytest.raises(ObjectLoadError, match="no symbol region_1"):
        linker.load(obj, "region_1")


def test_undefined_symbol_outside_the_runtime_is_an_error(obj, linker):
    offset = obj.index(b"xlate_helper_cpuid\0")
    assert_rejected(linker, obj[:offset] + b"y" + obj[offset + 1:], "undefined symbol ylate")


@pytest.mark.parametrize("length", [0, 1, 16, 63, 64, 200, -400, -64, -1])
def test_truncated_object_is_an_error(obj, linker, length):
    assert_rejected(linker, obj[:length])


@pytest.mark.parametrize(("what", "offset", "fmt", "value", "reason"), [
    ("magic", 0, "<B", 0x7E, "not an ELF object"),
    ("class", 4, "<B", 1, "64-bit little-endian"),
    ("byte order", 5, "<B", 2, "64-bit little-endian"),
    ("type", 0x10, "<H", 2, "not a relocatable object"),
    ("machine", 0x12, "<H", 183, "machine 183"),
    ("section table offset", 0x28, "<Q", 2**64 - 64, "section header table"),
    ("section entry size", 0x3A, "<H", 40, "section header table"),
    ("section count", 0x3C, "<H", 0xFFFF, "section header table"),
    ("no sections", 0x3C, "<H", 0, "section header table"),
])
def test_bad_elf_header_is_an_error(obj, linker, what, offset, fmt, value, reason):
    assert_rejected(linker, patched(obj, offset, fmt, value), reason)


def code_section(data: bytes) -> int:
    """File offset of the header of the section that holds the code."""
    return max((s for s in sections(data) if s[1][2] & 4), key=lambda s: s[1][5])[0]


@pytest.mark.parametrize(("field", "fmt", "value", "reason"), [
    (24, "<Q", 2**64 - 8, "outside the file"),        # sh_offset
    (32, "<Q", 2**40, "too large"),                    # sh_size
    (32, "<Q", 2**20, "outside the file"),             # sh_size
    (48, "<Q", 3, "bad alignment"),                    # sh_addralign
    (48, "<Q", 1 << 20, "bad alignment"),
    (4, "<I", 7, "unsupported allocated section type"),  # sh_type SHT_NOTE
    (8, "<Q", 0x2 | 0x4 | 0x1, "writable and executable"),  # sh_flags
    (8, "<Q", 0x2 | 0x4 | 0x400, "thread-local"),
])
def test_bad_code_section_is_an_error(obj, linker, field, fmt, value, reason):
    assert_rejected(linker, patched(obj, code_section(obj) + field, fmt, value), reason)


def test_bad_symbol_table_is_an_error(obj, linker):
    header, fields = section_of_type(obj, SHT_SYMTAB)
    assert_rejected(linker, patched(obj, header + 56, "<Q", 16), "bad symbol table")
    assert_rejected(linker, patched(obj, header + 40, "<I", 0xFFFF), "without a string table")
    assert_rejected(linker, patched(obj, header + 4, "<I", 1), "no symbol table")
    strtab = sections(obj)[fields[6]][0]
    assert_rejected(linker, patched(obj, strtab + 24, "<Q", len(obj)), "string table outside")
    # Every symbol's name past the end of the string table.
    data = bytearray(obj)
    for i in range(1, fields[5] // SYM.size):
        struct.pack_into("<I", data, fields[4] + i * SYM.size, 2**32 - 1)
    assert_rejected(linker, bytes(data))


def relocations(data: bytes) -> list[int]:
    """File offsets of every relocation entry."""
    return [fields[4] + i for _, fields in sections(data) if fields[1] == SHT_RELA
            for i in range(0, fields[5], RELA.size)]


@pytest.mark.parametrize(("field", "fmt", "value", "reason"), [
    (0, "<Q", 2**63, "outside its section"),  # r_offset
    (8, "<Q", 0xFFFF_FFFF << 32 | 1, "symbol index"),  # r_info: symbol
    (8, "<Q", 1 << 32 | 0x7F, "unsupported x86-64 relocation type 127"),
    (8, "<Q", 1 << 32 | 9, "unsupported x86-64 relocation type 9"),  # GOTPCREL: no GOT
])
def test_bad_relocation_is_an_error(obj, linker, field, fmt, value, reason):
    first = relocations(obj)[0]
    assert_rejected(linker, patched(obj, first + field, fmt, value), reason)


def test_relocation_table_header_is_checked(obj, linker):
    header, _ = section_of_type(obj, SHT_RELA)
    assert_rejected(linker, patched(obj, header + 44, "<I", 0xFFFF), "relocates no section")
    assert_rejected(linker, patched(obj, header + 32, "<Q", 2**62), "bad relocation table")
    assert_rejected(linker, patched(obj, header + 56, "<Q", 16), "bad relocation table")
    assert_rejected(linker, patched(obj, header + 4, "<I", 9), "without addends")  # SHT_REL


def test_random_damage_never_crashes(obj, linker):
    """Bytes flipped in the headers, section table, symbols and relocations: each load either
    succeeds or fails with a reason; none crashes the process."""
    rng = random.Random(20261115)
    structural = list(range(64))
    for header, fields in sections(obj):
        structural += range(header, header + SHDR.size)
        if fields[1] in (SHT_SYMTAB, SHT_RELA):
            structural += range(fields[4], fields[4] + fields[5])
    for _ in range(3000):
        data = bytearray(obj)
        for _ in range(rng.randint(1, 4)):
            data[rng.choice(structural)] = rng.randrange(256)
        try:
            linker.unload(linker.load(bytes(data), "entry"))
        except ObjectLoadError as e:
            assert str(e)


def test_helpers_are_linked_at_their_own_address():
    """Generated code calls a helper where it is, not through the wrapper that cffi's
    ffi.addressof gives (a call and a return more for each)."""
    from xlate.runtime import lib
    address = lib.xlate_runtime_symbol(b"xlate_pure_div")
    wrapper = ffi.cast("void *", ffi.addressof(lib, "xlate_pure_div"))
    assert address != ffi.NULL and address != wrapper
    divide = ffi.cast("uint64_t (*)(uint64_t, uint64_t, uint64_t, uint64_t *)", address)
    out = ffi.new("uint64_t[2]")
    assert divide(1, 5, 3, out) == 0
    assert (out[0], out[1]) == divmod(1 << 64 | 5, 3)
    assert lib.xlate_runtime_symbol(b"xlate_no_such_helper") == ffi.NULL
    Linker()
    assert {ffi.string(s.name): s.address for s in Linker._symbols}[b"xlate_pure_div"] == address


def _host_mappings() -> int:
    gc.collect()
    with open("/proc/self/maps") as maps:
        return sum(1 for _ in maps)


def test_loaded_code_is_freed_when_its_handle_is_collected_or_unloaded(obj, linker):
    before = _host_mappings()
    for _ in range(20):
        linker.load(obj, "entry")
        Linker.unload(linker.load(obj, "entry"))
    assert _host_mappings() - before < 5


def test_machines_that_are_gone_leave_no_compiled_code_behind():
    # An embedder (a fuzzer, say) makes a machine for each input: each JIT machine's regions were
    # mapped for good, two mappings each, until the kernel's limit on them ran out.
    def run_one() -> None:
        machine = Machine.bare("jit")
        machine.memory.map(0x10000, 0x1000, PROT_READ | PROT_EXEC)
        machine.memory.poke(0x10000, b"\x48\x01\xd8")  # add rax, rbx
        machine.cpu.rip = 0x10000
        machine.run(until=0x10003)
    run_one()
    before = _host_mappings()
    for _ in range(20):
        run_one()
    assert _host_mappings() - before < 5
