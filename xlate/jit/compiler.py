"""LLVM: IR module (xlate.jit.irbuilder's text) -> host object file. Loading objects into the
process is the C runtime's (xlate.jit.linker), so that code from the code cache runs without this
module, and without llvmlite, being imported.

Each thread that compiles has its own target machine, so that none is shared between threads; a
thread keeps it for its compilations, as a new one costs a millisecond or more of each (LLVM
fills the machine's tables as it first uses them)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import llvmlite.binding as llvm

llvm.initialize_native_target()
llvm.initialize_native_asmprinter()


class Compiler:
    """Compiles IR modules to host object files."""

    def __init__(self) -> None:
        self.target = llvm.Target.from_default_triple()
        self._local = threading.local()  # the thread's target machines, by level

    def _target_machine(self, opt_level: int) -> llvm.TargetMachine:
        machines = self._local.__dict__.setdefault("machines", {})
        tm = machines.get(opt_level)
        if tm is None:
            tm = machines[opt_level] = self._new_target_machine(opt_level)
        return tm

    def _new_target_machine(self, opt_level: int) -> llvm.TargetMachine:
        # The large code model: the object loader maps code anywhere, and the helpers it calls
        # are anywhere in the host's address space; every address is then an absolute 64-bit
        # relocation, so nothing needs to be within 2 GiB of anything and no PLT or GOT exists.
        return self.target.create_target_machine(
            cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
            opt=opt_level, reloc="static", codemodel="large")

    def compile(self, module: str, opt_level: int = 2,
                between: Callable[[], None] | None = None) -> bytes:
        """Optimise a module (LLVM IR text) and compile it to a relocatable host object file.
        At level 0 nothing is optimised and LLVM's fast instruction selection makes the code.
        between, if given, is called between optimising and making the code, which take about
        as long as each other (it may compile other modules)."""
        tm = self._target_machine(opt_level)
        parsed = llvm.parse_assembly(module)
        parsed.verify()
        if opt_level:
            pto = llvm.create_pipeline_tuning_options(speed_level=opt_level)
            pb = llvm.create_pass_builder(tm, pto)
            pb.getModulePassManager().run(parsed, pb)
        if between is not None:
            between()
        return tm.emit_object(parsed)
