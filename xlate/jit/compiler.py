"""LLVM set-up and the lifetime of compiled code: modules in, host function addresses out.

Each batch of blocks is one module compiled by its own MCJIT execution engine, which owns its own
target machine (sharing one between engines is not allowed). Engines are kept alive as long as
their code may run."""

from __future__ import annotations

import llvmlite.binding as llvm

from xlate.jit.support import SYMBOLS as SUPPORT_SYMBOLS
from xlate.runtime import ffi, lib

# C functions that generated code calls by name (every helper declared in csrc/xlate.h); their
# addresses are given to LLVM's linker.
RUNTIME_SYMBOLS = ("xlate_note_code_write",
                   *(name for name in dir(lib) if name.startswith("xlate_helper_")))

_initialized = False


def _initialize() -> None:
    global _initialized
    if _initialized:
        return
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    for name in RUNTIME_SYMBOLS:
        llvm.add_symbol(name, int(ffi.cast("uintptr_t", getattr(lib, name))))
    _initialized = True


class Compiler:
    """Compiles IR modules to host code at one optimisation level."""

    # The engine that holds the support module's code, once linked: kept for the process's
    # life, as LLVM's symbol table that points into it is the process's.
    support: llvm.ExecutionEngine | None = None

    def __init__(self, opt_level: int = 2) -> None:
        _initialize()
        self.opt_level = opt_level
        self.target = llvm.Target.from_default_triple()
        self.engines: list[llvm.ExecutionEngine] = []

    def _target_machine(self) -> llvm.TargetMachine:
        return self.target.create_target_machine(
            cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
            opt=self.opt_level, codemodel="jitdefault")

    def compile(self, module: str) -> bytes:
        """Optimise a module (LLVM IR text) and compile it to a host object file."""
        tm = self._target_machine()
        parsed = llvm.parse_assembly(module)
        parsed.verify()
        if self.opt_level:
            pto = llvm.create_pipeline_tuning_options(speed_level=self.opt_level)
            pb = llvm.create_pass_builder(tm, pto)
            pb.getModulePassManager().run(parsed, pb)
        return tm.emit_object(parsed)

    def load(self, obj: bytes, name: str) -> int:
        """Link an object file into the process; returns the host address of symbol name."""
        return self._link(obj).get_function_address(name)

    def link_support(self, obj: bytes) -> None:
        """Link the support module's object (xlate.jit.support): the objects loaded from now
        on may call its functions."""
        engine = self._link(obj)
        for name in SUPPORT_SYMBOLS:
            llvm.add_symbol(name, engine.get_function_address(name))
        Compiler.support = engine

    def _link(self, obj: bytes) -> llvm.ExecutionEngine:
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), self._target_machine())
        engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        engine.finalize_object()
        self.engines.append(engine)
        return engine
