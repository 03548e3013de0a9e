"""LLVM: IR module (xlate.jit.irbuilder's text) -> host object file. Loading objects into the
process is the C runtime's (xlate.jit.linker), so that code from the code cache runs without this
module, and without LLVM, being loaded.

Each thread that compiles has its own target machine, so that none is shared between threads; a
thread keeps it for its compilations, as a new one costs a millisecond or more of each (LLVM
fills the machine's tables as it first uses them)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from xlate.jit import llvm
from xlate.jit.checks import branch_checks


class Compiler:
    """Compiles IR modules to host object files."""

    def __init__(self) -> None:
        self._local = threading.local()  # the thread's target machines, by level

    def _target_machine(self, opt_level: int) -> llvm.TargetMachine:
        machines = self._local.__dict__.setdefault("machines", {})
        tm = machines.get(opt_level)
        if tm is None:
            # The large code model: the object loader maps code anywhere, and the helpers it
            # calls are anywhere in the host's address space; every address is then an absolute
            # 64-bit relocation, so nothing needs to be within 2 GiB of anything and no PLT or
            # GOT exists.
            tm = machines[opt_level] = llvm.TargetMachine(opt_level, "static", "large")
        return tm

    def compile(self, module: str, opt_level: int = 2,
                between: Callable[[], None] | None = None) -> bytes:
        """Optimise a module (LLVM IR text) and compile it to a relocatable host object file.
        At level 0 nothing is optimised (but the counters' calls inlined: a call in every block
        made quick code 10% slower) and LLVM's fast instruction selection makes the code, in
        one call to LLVM; above, clamps of guest addresses become branches after optimising
        (xlate.jit.checks), and between, if given, is called between optimising and making the
        code, which take about as long as each other (it may compile other modules)."""
        tm = self._target_machine(opt_level)
        if not opt_level:
            return llvm.emit(tm, module)
        text = branch_checks(llvm.optimised(tm, module))
        if between is not None:
            between()
        return llvm.emit(tm, text, prepare=False)
