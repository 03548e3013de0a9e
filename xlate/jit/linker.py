"""Compiled code into the process: the object files that LLVM emits (fresh, or from the code cache)
are mapped and relocated by the C runtime's object loader (csrc/objload.c), so that running code
from the cache needs neither LLVM nor llvmlite."""

from __future__ import annotations

from xlate.errors import XlateError
from xlate.runtime import ffi, lib

# C functions that generated code calls by name: every helper declared in csrc/xlate.h.
RUNTIME_SYMBOLS = ("xlate_note_code_write", *(
    name for name in dir(lib) if name.startswith(("xlate_helper_", "xlate_pure_"))))
# The support module's function (xlate.jit.support), which generated code calls by name too.
# Named here, which a warm run imports, rather than there, which it need not.
SUPPORT_SYMBOL = "xlate_lazy_flags"
_ERROR_SIZE = 256


class ObjectLoadError(XlateError):
    """An object file that the loader rejected: malformed, or needing what it does not know.
    From the code cache, its region is compiled anew; freshly compiled, it is the translator's
    fault, and the run ends with this one line."""


class Linker:
    """Loads object files into host memory; each stays until it is unloaded, or until nothing
    refers to its handle any more (an engine that is gone: a fuzzer makes thousands)."""

    # The table of symbols that objects are linked against, the process's: the runtime's
    # helpers, and once loaded, the support module's function (xlate.jit.support), whose code
    # stays for the process's life.
    _symbols = None
    _names: list = []
    support = None

    def __init__(self) -> None:
        if Linker._symbols is None:
            Linker._table({})

    @staticmethod
    def _table(extra: dict[str, object]) -> None:
        addresses = {name: lib.xlate_runtime_symbol(name.encode())
                     for name in RUNTIME_SYMBOLS} | extra
        missing = [name for name, address in addresses.items() if address == ffi.NULL]
        if missing:
            raise ObjectLoadError(f"the runtime has no {', '.join(missing)}")
        Linker._names = [ffi.new("char[]", name.encode()) for name in addresses]
        Linker._symbols = ffi.new("xlate_symbol[]", len(addresses))
        for symbol, cname, address in zip(Linker._symbols, Linker._names, addresses.values(),
                                          strict=True):
            symbol.name = cname
            symbol.address = address

    def link_support(self, obj: bytes, name: str) -> None:
        """Load the support module's object, whose function `name` the objects loaded from now
        on may call. Raises ObjectLoadError."""
        Linker.support = self.load(obj, name)
        Linker._table({name: Linker.support.entry})

    def load(self, obj: bytes, name: str):
        """Map and relocate an object; returns its handle (an xlate_object *), whose `entry` is
        the host address of the function called name, and which frees the code when it is
        collected. Raises ObjectLoadError."""
        error = ffi.new("char[]", _ERROR_SIZE)
        loaded = lib.xlate_object_load(ffi.from_buffer(obj), len(obj), name.encode(),
                                       Linker._symbols, len(Linker._symbols), error,
                                       _ERROR_SIZE)
        if loaded == ffi.NULL:
            reason = ffi.string(error).decode(errors="replace")
            raise ObjectLoadError(f"cannot load the compiled code of {name}: {reason}")
        return ffi.gc(loaded, lib.xlate_object_free)

    @staticmethod
    def unload(loaded) -> None:
        """Free an object's code now: nothing may run it any more."""
        ffi.release(loaded)
