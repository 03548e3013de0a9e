"""LLVM: IR module (xlate.jit.irbuilder's text) -> host object file. Loading objects into the
process is the C runtime's (xlate.jit.linker), so that code from the code cache runs without this
module, and without LLVM, being loaded.

Each thread that compiles has its own target machine, so that none is shared between threads; a
thread keeps it for its compilations, as a new one costs a millisecond or more of each (LLVM
fills the machine's tables as it first uses them)."""

from __future__ import annotations

import marshal
import os
import threading
import time
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
        At level 0 nothing is optimised (but the counters' calls inlined) and LLVM's fast
        instruction selection makes the code; above, clamps of guest addresses become branches
        after optimising (xlate.jit.checks). between, if given, is called between optimising
        and making the code, which take about as long as each other (it may compile other
        modules)."""
        tm = self._target_machine(opt_level)
        parsed = llvm.Module(module)
        try:
            parsed.verify()
            # The target's layout, which names its legal integer types: without it InstCombine
            # takes every integer phi (a region has one per guest register a block carries) for
            # an illegal one and tries to slice it up, a third of O2's time on printf's code.
            parsed.target(tm)
            # At level 0 only the counters' calls are inlined (a call in every block made quick
            # code 10% slower).
            parsed.optimise(tm)
            if opt_level:  # (the module's text names its target and layout)
                text = branch_checks(str(parsed))
                parsed.close()
                parsed = llvm.Module(text)
            if between is not None:
                between()
            return tm.emit_object(parsed)
        finally:
            parsed.close()

    def compile_in_child(self, modules: list[tuple[str, int]]
                         ) -> Callable[[], tuple | None] | None:
        """Compile (module, level) pairs in a child process, a fork of this one, while this
        one goes on, with a Python of its own: the Python part of a compilation (the address
        checks' rewriting of optimised IR, xlate.jit.checks) takes the GIL, which a second
        thread would share. Only for a process whose other threads are done (one of them could
        hold a lock that the child would wait for forever). Returns what collects the result:
        the object files, in order, and the seconds they took, or None if the child could not
        make them all; None if no child could be started."""
        try:
            read_end, write_end = os.pipe()
        except OSError:
            return None
        try:
            pid = os.fork()
        except OSError:  # EAGAIN, ENOMEM
            os.close(read_end)
            os.close(write_end)
            return None
        if pid == 0:  # the child: no cleanup of the parent's objects, no buffers flushed
            status = 1
            try:
                os.close(read_end)
                started = time.perf_counter()
                objs = [self.compile(module, level) for module, level in modules]
                data = memoryview(marshal.dumps((objs, time.perf_counter() - started)))
                while data:
                    data = data[os.write(write_end, data):]
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)

        def collect() -> tuple | None:
            chunks = []
            while chunk := os.read(read_end, 1 << 20):
                chunks.append(chunk)
            os.close(read_end)
            _, status = os.waitpid(pid, 0)
            if status:
                return None
            try:
                objs, seconds = marshal.loads(b"".join(chunks))
            except (EOFError, ValueError, TypeError):
                return None
            return (objs, seconds) if len(objs) == len(modules) else None
        return collect
