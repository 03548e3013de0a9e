"""Which guest instruction a host instruction of compiled code came from.

Compiled code does not store the guest pc before each guest memory access: each access carries
a debug location whose line numbers its guest instruction (IRBuilder.location), so LLVM emits a
line table (.debug_line, DWARF 4) that maps the host code to those lines. It is read here, once,
where the region is compiled, into rows that the code cache keeps with the code; a fault in
compiled code is then reported at the guest instruction whose access faulted (JitEngine.guest_pc).
"""

from __future__ import annotations

import struct

_SHT_SYMTAB, _SHT_RELA = 2, 4
_SECTION = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")

Rows = tuple[tuple[int, int], ...]


def pc_rows(obj: bytes, function: str, pcs: list[int]) -> Rows:
    """(host offset from the function's start, guest pc) rows by offset, for the object that
    LLVM made of a region: from a row's offset on, the host code is that guest instruction's
    (0: no guest access's). pcs[n - 1] is the guest pc of line n. Empty if the object has no
    line table it can read."""
    try:
        rows = _line_rows(obj, function)
    except (struct.error, IndexError, ValueError, KeyError):
        return ()
    found: list[tuple[int, int]] = []
    for offset, line in rows:
        pc = pcs[line - 1] if 0 < line <= len(pcs) else 0
        if found and found[-1][0] == offset:
            found[-1] = (offset, pc)
        elif not found or found[-1][1] != pc:
            found.append((offset, pc))
    return tuple(found)


def _line_rows(obj: bytes, function: str) -> list[tuple[int, int]]:
    """(host offset from the function's start, line) of each row of the line table."""
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shnum, shstrndx = struct.unpack_from("<HH", obj, 0x3C)
    sections = [_SECTION.unpack_from(obj, shoff + i * _SECTION.size) for i in range(shnum)]
    names = sections[shstrndx]
    by_name = {_string(obj, names[4] + s[0]): i for i, s in enumerate(sections)}
    line_index = by_name[".debug_line"]
    symtab = next(s for s in sections if s[1] == _SHT_SYMTAB)
    symbols = [_SYMBOL.unpack_from(obj, symtab[4] + i * _SYMBOL.size)
               for i in range(symtab[5] // _SYMBOL.size)]
    strings = sections[symtab[6]][4]
    code_section, start = next((shndx, value) for name, _, _, shndx, value, _ in symbols
                               if name and _string(obj, strings + name) == function)
    # The addresses in the table are relocations against the code section's symbol (or the
    # function's): their addends, in a relocatable object.
    addends = {}
    for s in sections:
        if s[1] == _SHT_RELA and s[7] == line_index:
            for i in range(s[5] // _RELA.size):
                offset, info, addend = _RELA.unpack_from(obj, s[4] + i * _RELA.size)
                symbol = symbols[info >> 32]
                if symbol[3] == code_section:
                    addends[offset] = symbol[4] + addend
    table = sections[line_index]
    return _run_program(obj[table[4]:table[4] + table[5]], addends, start)


def _run_program(data: bytes, addends: dict[int, int], start: int) -> list[tuple[int, int]]:
    """The rows of a DWARF 2-4 line number program (one unit), offsets made relative to
    start."""
    unit_length, version, header_length = struct.unpack_from("<IHI", data)
    if unit_length >= 0xFFFFFFF0 or not 2 <= version <= 4:
        raise ValueError(f"line table: DWARF {version} or 64-bit")
    at = 10
    min_length, = data[at:at + 1]
    at += 2 if version >= 4 else 1  # maximum_operations_per_instruction, from version 4
    _default_is_stmt, line_base, line_range, opcode_base = struct.unpack_from("<BbBB", data, at)
    lengths = data[at + 4:at + 4 + opcode_base - 1]
    at, end = 10 + header_length, 4 + unit_length
    rows: list[tuple[int, int]] = []
    address, line = 0, 1
    while at < end:
        op = data[at]
        at += 1
        if op >= opcode_base:  # special: advance both, then a row
            adjusted = op - opcode_base
            address += adjusted // line_range * min_length
            line += line_base + adjusted % line_range
            rows.append((address - start, line))
        elif op == 0:  # extended
            length, at = _uleb(data, at)
            sub, operand = data[at], at + 1
            at += length
            if sub == 1:  # end_sequence
                rows.append((address - start, 0))
                address, line = 0, 1
            elif sub == 2:  # set_address
                address = addends.get(operand, struct.unpack_from("<Q", data, operand)[0])
        elif op == 1:  # copy
            rows.append((address - start, line))
        elif op == 2:  # advance_pc
            advance, at = _uleb(data, at)
            address += advance * min_length
        elif op == 3:  # advance_line
            advance, at = _sleb(data, at)
            line += advance
        elif op == 8:  # const_add_pc
            address += (255 - opcode_base) // line_range * min_length
        elif op == 9:  # fixed_advance_pc
            address += struct.unpack_from("<H", data, at)[0]
            at += 2
        else:  # the others change nothing of ours: skip their operands
            for _ in range(lengths[op - 1]):
                _, at = _uleb(data, at)
    return rows


def _string(data: bytes, at: int) -> str:
    return data[at:data.index(b"\0", at)].decode()


def _uleb(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _sleb(data: bytes, at: int) -> tuple[int, int]:
    value, end = _uleb(data, at)
    bits = 7 * (end - at)
    return (value - (1 << bits) if value >> (bits - 1) & 1 else value), end
