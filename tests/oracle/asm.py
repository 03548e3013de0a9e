"""assemble(): Intel-syntax x86-64 assembly text -> raw machine code bytes, via GNU as.

Results are cached in memory and on disk (build/asm/), since each `as` run costs
milliseconds and hypothesis replays the same texts across runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import threading
from pathlib import Path

from .native import build_dir


class AsmError(ValueError):
    """The text does not assemble to self-contained code."""


_memo: dict[str, bytes] = {}
_lock = threading.Lock()
_tool_key: str | None = None
_workdir: str | None = None


def _as_key() -> str:
    """Identifies the assembler binary, so an upgrade invalidates the disk cache."""
    global _tool_key
    if _tool_key is None:
        path = shutil.which("as")
        if path is None:
            raise AsmError("GNU as not found (install binutils)")
        st = os.stat(path)
        _tool_key = f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"
    return _tool_key


def assemble(asm_text: str) -> bytes:
    """Assemble `asm_text` (Intel syntax, no register prefixes, 64-bit; instructions
    separated by newlines or ';') and return the bytes of its .text section.

    The code must be self-contained: labels it defines are fine, references to
    anything else are an AsmError (the bytes would be placeholders). Absolute
    addresses must be written as numbers (e.g. DATA_ADDR in hex).
    """
    hit = _memo.get(asm_text)
    if hit is not None:
        return hit
    digest = hashlib.sha256(f"{_as_key()}\0{asm_text}".encode()).hexdigest()
    cache = build_dir() / "asm" / digest[:2] / f"{digest}.bin"
    try:
        code = cache.read_bytes()
    except FileNotFoundError:
        code = _run_as(asm_text)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_bytes(code)
        os.replace(tmp, cache)
    _memo[asm_text] = code
    return code


def _run_as(asm_text: str) -> bytes:
    global _workdir
    with _lock:
        if _workdir is None:
            _workdir = tempfile.mkdtemp(prefix="xlate-asm-")
        obj = os.path.join(_workdir, "out.o")
        # The directive shares line 1 with the text (';' separates statements), so
        # `as` line numbers match the caller's.
        src = ".intel_syntax noprefix;" + asm_text + "\n"
        proc = subprocess.run(
            ["as", "--64", "-o", obj, "-"], input=src.encode(), capture_output=True
        )
        if proc.returncode:
            msgs = proc.stderr.decode(errors="replace")
            msgs = msgs.replace("{standard input}: Assembler messages:\n", "")
            msgs = msgs.replace("{standard input}:", "line ")
            numbered = "\n".join(
                f"{i:4}: {line}" for i, line in enumerate(asm_text.splitlines(), 1)
            )
            raise AsmError(f"as failed:\n{msgs.strip()}\nsource:\n{numbered}")
        return _text_section(Path(obj).read_bytes(), asm_text)


def _text_section(elf: bytes, asm_text: str) -> bytes:
    """The .text bytes of an ELF64 relocatable, refusing any relocation against it."""
    (shoff,) = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = sections[shstrndx][4]

    def name(off: int, base: int) -> str:
        return elf[base + off : elf.index(b"\0", base + off)].decode()

    text_idx = next(i for i, s in enumerate(sections) if name(s[0], strtab_off) == ".text")
    for _name, sh_type, _f, _a, off, size, link, info, _al, _es in sections:
        if sh_type in (4, 9) and info == text_idx and size:  # SHT_RELA, SHT_REL
            symtab = sections[link]
            symstr = sections[symtab[6]][4]
            names = set()
            for r in range(0, size, 24 if sh_type == 4 else 16):
                (r_info,) = struct.unpack_from("<Q", elf, off + r + 8)
                (st_name,) = struct.unpack_from("<I", elf, symtab[4] + (r_info >> 32) * 24)
                names.add(name(st_name, symstr) or "?")
            raise AsmError(
                f"code refers to undefined or non-local symbols {sorted(names)}; "
                f"use numeric addresses or labels defined in the text:\n{asm_text}"
            )
    text = sections[text_idx]
    return elf[text[4] : text[4] + text[5]]
