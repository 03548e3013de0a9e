"""LLVM, called through the C functions of llvmlite's shared library (its LLVMPY_* layer, which
llvmlite's Python binding wraps): the C runtime loads the library and calls them
(csrc/llvm.c), a whole compilation in one call, which gives up Python's GIL once.

Importing llvmlite.binding takes 60 to 70 ms (its modules, and importlib.resources to find the
library), on the guest's thread, in every run that compiles anything; loading the library takes
6 to 9 ms. The C layer is not llvmlite's public interface: its functions are declared in
csrc/llvm.c as the llvmlite release that pyproject.toml names has them, and the library is used
only if its package says it is that release (LLVMError otherwise).

llvmlite's binding serialises all calls into the library with one lock, as its modules share
LLVM's global context; here each thread parses into a context of its own, so that threads
compile at once (LLVM's contexts are independent), and target machines are per thread too (see
Compiler)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading

from xlate.errors import XlateError
from xlate.runtime import ffi, lib

# The llvmlite release whose C layer csrc/llvm.c declares (its _version.py's version_version).
RELEASE = "0.50."
LIBRARY = "libllvmlite.so"
_ERROR_SIZE = 4096  # LLVM's messages: a parse error quotes its line, the verifier lists all


class LLVMError(XlateError):
    """LLVM rejected a module, or its library cannot be used (a one-line error for the user,
    as the run cannot go on)."""


def llvmlite_file(*parts: str) -> str | None:
    """The path of a file of llvmlite's package, found on sys.path as the import system would
    find the package, without importing it (or importlib.util)."""
    for entry in sys.path:
        path = os.path.join(entry or ".", "llvmlite", *parts)
        if os.path.isfile(path):
            return path
    return None


def llvmlite_version_file() -> bytes:
    """llvmlite's version file, which names its release and so the LLVM it was built with."""
    path = llvmlite_file("_version.py")
    if path is not None:
        with contextlib.suppress(OSError), open(path, "rb") as f:
            return f.read()
    return b""


def _open() -> None:
    """Load llvmlite's library on first use (the code cache asks for llvmlite's version in runs
    that load no LLVM), by one thread (LLVM's targets are registered once)."""
    global _opened
    if _opened:
        return
    with _loading:
        if _opened:
            return
        if f"version_version = '{RELEASE}".encode() not in llvmlite_version_file():
            raise LLVMError(f"LLVM: xlate calls llvmlite {RELEASE}x's library, and llvmlite is "
                            f"not that release (pip install 'llvmlite=={RELEASE}*')")
        path = llvmlite_file("binding", LIBRARY)
        error = ffi.new("char[]", _ERROR_SIZE)
        if path is None or lib.xlate_llvm_open(path.encode(), error, _ERROR_SIZE):
            reason = ffi.string(error).decode(errors="replace") or "not found"
            raise LLVMError(f"LLVM: cannot use llvmlite's {LIBRARY}: {reason}")
        _opened = True


_opened = False
_loading = threading.Lock()
_local = threading.local()  # the thread's context (see _context)


def _dispose(free, ref) -> None:
    """Free a context or a machine (free: its C function), unless Python is ending."""
    if not sys.is_finalizing():
        free(ref)


class TargetMachine:
    """LLVM's target machine for the host's CPU (its name and features), at an optimisation
    level: one per thread and level (see Compiler), disposed of with its thread's data."""

    def __init__(self, opt_level: int, reloc: str = "static", code_model: str = "large") -> None:
        _open()
        error = ffi.new("char[]", _ERROR_SIZE)
        self.ref = lib.xlate_llvm_machine_new(opt_level, reloc.encode(), code_model.encode(),
                                              error, _ERROR_SIZE)
        if self.ref == ffi.NULL:
            raise LLVMError(f"LLVM: {ffi.string(error).decode(errors='replace')}")
        self.opt_level = opt_level
        self.triple = ffi.string(self.ref.triple).decode()
        self.data_layout = ffi.string(self.ref.data_layout).decode()

    def __del__(self) -> None:
        if getattr(self, "ref", ffi.NULL) != ffi.NULL:
            _dispose(lib.xlate_llvm_machine_free, self.ref)


class _Context:
    """A thread's LLVM context, disposed of with the thread's data when the thread ends (a
    compiling thread ends with each run: see JitEngine.finish)."""

    def __init__(self) -> None:
        self.ref = lib.xlate_llvm_context_new()

    def __del__(self) -> None:
        _dispose(lib.xlate_llvm_context_free, self.ref)


def _context():
    context = getattr(_local, "context", None)
    if context is None:
        context = _local.context = _Context()
    return context.ref


def _compile(machine: TargetMachine, ir: str, flags: int) -> bytes:
    error = ffi.new("char[]", _ERROR_SIZE)
    out = ffi.new("xlate_llvm_output *")
    status = lib.xlate_llvm_compile(_context(), machine.ref, ir.encode(), flags, out, error,
                                    _ERROR_SIZE)
    if status != lib.XLATE_LLVM_OK:
        reason = ffi.string(error).decode(errors="replace")
        raise LLVMError({lib.XLATE_LLVM_PARSE_ERROR: "LLVM IR parsing error",
                         lib.XLATE_LLVM_INVALID: "LLVM IR is not valid"}.get(
                             status, "LLVM: cannot emit an object") + f"\n{reason}")
    try:
        return ffi.buffer(out.data, out.size)[:]
    finally:
        lib.xlate_llvm_output_free(out)


def optimised(machine: TargetMachine, ir: str) -> str:
    """The module's text verified, given the machine's triple and data layout, and optimised
    with LLVM's default pipeline at the machine's level (at level 0, the always-inliner alone).
    The layout names the legal integer types: without it InstCombine takes every integer phi (a
    region has one per guest register a block carries) for an illegal one and tries to slice it
    up, a third of O2's time on printf's code."""
    return _compile(machine, ir, lib.XLATE_LLVM_PREPARE).decode()


def emit(machine: TargetMachine, ir: str, prepare: bool = True) -> bytes:
    """The module compiled to a relocatable object file: first verified, targeted and
    optimised as by optimised(), if prepare (not for the text optimised() returned)."""
    return _compile(machine, ir, lib.XLATE_LLVM_EMIT | (lib.XLATE_LLVM_PREPARE if prepare else 0))
