"""LLVM, called through the C functions of llvmlite's shared library (its LLVMPY_* layer, which
llvmlite's Python binding wraps): the few that the compiler needs, declared with ctypes.

Importing llvmlite.binding takes 60 to 70 ms (its modules, and importlib.resources to find the
library), on the guest's thread, in every run that compiles anything; loading the library takes
6 to 9 ms. The C layer is not llvmlite's public interface: its functions are declared here as the
llvmlite release that pyproject.toml names has them, and the library is used only if its package
says it is that release (LLVMError otherwise).

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

# The llvmlite release whose C layer is declared here (its _version.py's version_version).
RELEASE = "0.50."
LIBRARY = "libllvmlite.so"


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


def _library():
    """llvmlite's library, loaded and its functions declared on first use (the code cache asks
    for llvmlite's version in runs that load no LLVM), by one thread (LLVM's targets are
    registered once)."""
    global _ctypes, _lib
    if _lib is None:
        with _loading:
            if _lib is None:
                _ctypes, _lib = _load()
    return _lib


def _load():
    import ctypes
    from ctypes import POINTER, c_bool, c_char_p, c_int, c_size_t, c_void_p

    if f"version_version = '{RELEASE}".encode() not in llvmlite_version_file():
        raise LLVMError(f"LLVM: xlate calls llvmlite {RELEASE}x's library, and llvmlite is not "
                        f"that release (pip install 'llvmlite=={RELEASE}*')")
    path = llvmlite_file("binding", LIBRARY)
    try:
        lib = ctypes.CDLL(path)
    except (OSError, TypeError) as e:
        raise LLVMError(f"LLVM: cannot load llvmlite's {LIBRARY}: {e}") from None
    out = POINTER(c_char_p)  # a string LLVM allocates, freed with LLVMPY_DisposeString
    p = c_void_p
    for name, restype, argtypes in (
            ("LLVMPY_InitializeNativeTarget", None, []),
            ("LLVMPY_InitializeNativeAsmPrinter", None, []),
            ("LLVMPY_DisposeString", None, [c_char_p]),
            ("LLVMPY_GetDefaultTargetTriple", None, [out]),
            ("LLVMPY_GetTargetFromTriple", p, [c_char_p, out]),
            ("LLVMPY_GetHostCPUName", None, [out]),
            ("LLVMPY_GetHostCPUFeatures", c_int, [out]),
            ("LLVMPY_CreateTargetMachine", p, [p, c_char_p, c_char_p, c_char_p, c_int, c_char_p,
                                               c_char_p, c_int, c_int, c_char_p]),
            ("LLVMPY_GetTargetMachineTriple", None, [p, out]),
            ("LLVMPY_CreateTargetMachineData", p, [p]),
            ("LLVMPY_CopyStringRepOfTargetData", None, [p, out]),
            ("LLVMPY_DisposeTargetData", None, [p]),
            ("LLVMPY_TargetMachineEmitToMemory", p, [p, p, c_int, out]),
            ("LLVMPY_GetBufferStart", p, [p]),
            ("LLVMPY_GetBufferSize", c_size_t, [p]),
            ("LLVMPY_DisposeMemoryBuffer", None, [p]),
            ("LLVMPY_DisposeTargetMachine", None, [p]),
            ("LLVMPY_ContextCreate", p, []),
            ("LLVMPY_ContextDispose", None, [p]),
            ("LLVMPY_ParseAssembly", p, [p, c_char_p, out]),
            ("LLVMPY_VerifyModule", c_bool, [p, out]),
            ("LLVMPY_SetDataLayout", None, [p, c_char_p]),
            ("LLVMPY_SetTarget", None, [p, c_char_p]),
            ("LLVMPY_PrintModuleToString", None, [p, out]),
            ("LLVMPY_DisposeModule", None, [p]),
            ("LLVMPY_CreatePipelineTuningOptions", p, []),
            ("LLVMPY_DisposePipelineTuningOptions", None, [p]),
            ("LLVMPY_CreatePassBuilder", p, [p, p]),
            ("LLVMPY_DisposePassBuilder", None, [p]),
            ("LLVMPY_buildPerModuleDefaultPipeline", p, [p, c_int]),
            ("LLVMPY_CreateNewModulePassManager", p, []),
            ("LLVMPY_module_AddAlwaysInlinerPass", None, [p]),
            ("LLVMPY_RunNewModulePassManager", None, [p, p, p]),
            ("LLVMPY_DisposeNewModulePassManger", None, [p])):
        try:
            function = getattr(lib, name)
        except AttributeError:
            raise LLVMError(f"LLVM: llvmlite's {LIBRARY} has no {name}") from None
        function.restype, function.argtypes = restype, argtypes
    lib.LLVMPY_InitializeNativeTarget()
    lib.LLVMPY_InitializeNativeAsmPrinter()
    return ctypes, lib


_ctypes = _lib = None
_loading = threading.Lock()
_local = threading.local()  # the thread's context (see _context)


def _call(call, *args) -> tuple:
    """call(*args, &out): its result, and the string it put in out (freed here)."""
    out = _ctypes.c_char_p()
    result = call(*args, _ctypes.byref(out))
    value = out.value  # (a copy each time it is read: a printed module is 100 KB and more)
    if value is not None:
        _lib.LLVMPY_DisposeString(out)
    return result, value.decode() if value else ""


class TargetMachine:
    """LLVM's target machine for the host's CPU (its name and features), at an optimisation
    level: one per thread and level (see Compiler), disposed of with its thread's data."""

    def __init__(self, opt_level: int, reloc: str = "static", code_model: str = "large") -> None:
        _library()
        triple = _call(_lib.LLVMPY_GetDefaultTargetTriple)[1].encode()
        target, error = _call(_lib.LLVMPY_GetTargetFromTriple, triple)
        if not target:
            raise LLVMError(f"LLVM: no target for {triple.decode()}: {error}")
        cpu = _call(_lib.LLVMPY_GetHostCPUName)[1]
        found, features = _call(_lib.LLVMPY_GetHostCPUFeatures)
        self.ref = _lib.LLVMPY_CreateTargetMachine(
            target, triple, cpu.encode(), features.encode() if found else b"", opt_level,
            reloc.encode(), code_model.encode(), 0, 0, b"")
        if not self.ref:
            raise LLVMError("LLVM: cannot create a target machine")
        self.opt_level = opt_level
        self.triple = _call(_lib.LLVMPY_GetTargetMachineTriple, self.ref)[1]
        data = _lib.LLVMPY_CreateTargetMachineData(self.ref)
        self.data_layout = _call(_lib.LLVMPY_CopyStringRepOfTargetData, data)[1]
        _lib.LLVMPY_DisposeTargetData(data)

    def __del__(self) -> None:
        if getattr(self, "ref", None) and not sys.is_finalizing():
            _lib.LLVMPY_DisposeTargetMachine(self.ref)

    def emit_object(self, module: Module) -> bytes:
        """The module compiled to a relocatable object file."""
        buffer, error = _call(_lib.LLVMPY_TargetMachineEmitToMemory, self.ref, module.ref, 1)
        if not buffer:
            raise LLVMError(f"LLVM: cannot emit an object: {error}")
        try:
            return _ctypes.string_at(_lib.LLVMPY_GetBufferStart(buffer),
                                     _lib.LLVMPY_GetBufferSize(buffer))
        finally:
            _lib.LLVMPY_DisposeMemoryBuffer(buffer)


class _Context:
    """A thread's LLVM context, disposed of with the thread's data when the thread ends (a
    compiling thread ends with each run: see JitEngine.finish)."""

    def __init__(self) -> None:
        self.ref = _lib.LLVMPY_ContextCreate()

    def __del__(self) -> None:
        if not sys.is_finalizing():
            _lib.LLVMPY_ContextDispose(self.ref)


def _context():
    context = getattr(_local, "context", None)
    if context is None:
        context = _local.context = _Context()
    return context.ref


class Module:
    """An IR module parsed from text, in the thread's context: closed (freed) by `with`."""

    def __init__(self, ir: str) -> None:
        _library()
        self.ref, error = _call(_lib.LLVMPY_ParseAssembly, _context(), ir.encode())
        if error or not self.ref:
            self.close()
            raise LLVMError(f"LLVM IR parsing error\n{error}")

    def __enter__(self) -> Module:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.ref:
            _lib.LLVMPY_DisposeModule(self.ref)
            self.ref = None

    def __str__(self) -> str:
        return _call(_lib.LLVMPY_PrintModuleToString, self.ref)[1]

    def verify(self) -> None:
        broken, error = _call(_lib.LLVMPY_VerifyModule, self.ref)
        if broken:
            raise LLVMError(f"LLVM IR is not valid\n{error}")

    def target(self, machine: TargetMachine) -> None:
        """Give the module the machine's triple and data layout (which names the legal integer
        types, which InstCombine needs: see Compiler.compile)."""
        _lib.LLVMPY_SetDataLayout(self.ref, machine.data_layout.encode())
        _lib.LLVMPY_SetTarget(self.ref, machine.triple.encode())

    def optimise(self, machine: TargetMachine) -> None:
        """Run LLVM's default pipeline at the machine's level; at level 0, the always-inliner
        alone."""
        options = _lib.LLVMPY_CreatePipelineTuningOptions()
        builder = _lib.LLVMPY_CreatePassBuilder(machine.ref, options)
        if machine.opt_level:
            passes = _lib.LLVMPY_buildPerModuleDefaultPipeline(builder, machine.opt_level)
        else:
            passes = _lib.LLVMPY_CreateNewModulePassManager()
            _lib.LLVMPY_module_AddAlwaysInlinerPass(passes)
        try:
            _lib.LLVMPY_RunNewModulePassManager(passes, self.ref, builder)
        finally:
            _lib.LLVMPY_DisposeNewModulePassManger(passes)
            _lib.LLVMPY_DisposePassBuilder(builder)
            _lib.LLVMPY_DisposePipelineTuningOptions(options)
