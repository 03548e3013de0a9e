"""LLVM: IR module (xlate.jit.irbuilder's text) -> host object file. Loading objects into the
process is the C runtime's (xlate.jit.linker), so that code from the code cache runs without this
module, and without llvmlite, being imported.

Each thread that compiles has its own target machine, so that none is shared between threads; a
thread keeps it for its compilations, as a new one costs a millisecond or more of each (LLVM
fills the machine's tables as it first uses them)."""

from __future__ import annotations

import threading

import llvmlite.binding as llvm

llvm.initialize_native_target()
llvm.initialize_native_asmprinter()


class Compiler:
    """Compiles IR modules to host object files at one optimisation level."""

    def __init__(self, opt_level: int = 2) -> None:
        self.opt_level = opt_level
        self.target = llvm.Target.from_default_triple()
        self._local = threading.local()  # the thread's target machine

    def _target_machine(self) -> llvm.TargetMachine:
        tm = getattr(self._local, "tm", None)
        if tm is None:
            tm = self._local.tm = self._new_target_machine()
        return tm

    def _new_target_machine(self) -> llvm.TargetMachine:
        # The large code model: the object loader maps code anywhere, and the helpers it calls
        # are anywhere in the host's address space; every address is then an absolute 64-bit
        # relocation, so nothing needs to be within 2 GiB of anything and no PLT or GOT exists.
        return self.target.create_target_machine(
            cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
            opt=self.opt_level, reloc="static", codemodel="large")

    def compile(self, module: str) -> bytes:
        """Optimise a module (LLVM IR text) and compile it to a relocatable host object file."""
        tm = self._target_machine()
        parsed = llvm.parse_assembly(module)
        parsed.verify()
        if self.opt_level:
            pto = llvm.create_pipeline_tuning_options(speed_level=self.opt_level)
            pb = llvm.create_pass_builder(tm, pto)
            pb.getModulePassManager().run(parsed, pb)
        return tm.emit_object(parsed)
