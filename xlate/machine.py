"""A guest process: its address space, its thread's CPU state, its kernel view, and an engine.

This is the Python API that the command line (and embedders) use:

    machine = Machine.load("/bin/true", ["true"], engine="interp")
    result = machine.run()
    print(result.exit_status)
"""

from __future__ import annotations

import os
import signal
import time

from xlate.decoder import Decoder
from xlate.errors import XlateError
from xlate.linux.syscalls import GuestExit, GuestKilled, LinuxOS
from xlate.loader import exec_program
from xlate.memory import AddressSpace, page_down, page_up
from xlate.runtime import (
    EXIT_CODE_WRITTEN,
    EXIT_DIVIDE,
    EXIT_FAULT,
    EXIT_HLT,
    EXIT_NEXT,
    EXIT_SIGILL,
    EXIT_STOP,
    EXIT_SYSCALL,
    GUEST_SPACE,
    ffi,
    lib,
)
from xlate.semantics import SEMANTICS

ENGINES = ("jit", "interp")


class Stats:
    """What a run did, for --stats and benchmarks."""

    def __init__(self, instructions_interpreted: int = 0, blocks_interpreted: int = 0,
                 python_blocks_run: int = 0, python_blocks_compiled: int = 0,
                 compiled_entries: int = 0, blocks_translated: int = 0,
                 translate_seconds: float = 0.0, compile_seconds_background: float = 0.0,
                 run_seconds: float = 0.0, syscalls: int = 0, regions_preloaded: int = 0,
                 regions_regrown: int = 0, regions_optimised: int = 0,
                 seconds_to_first_instruction: float = 0.0) -> None:
        # Optimised code counts nothing (a counter would cost a memory update a block): these
        # count the interpreter's work, the blocks run in the cheap tier (as threaded code,
        # xlate.threaded, or as Python functions, xlate.pyblocks) and how often the dispatch
        # loop entered compiled code.
        self.instructions_interpreted = instructions_interpreted
        self.blocks_interpreted = blocks_interpreted
        self.python_blocks_run = python_blocks_run
        self.python_blocks_compiled = python_blocks_compiled
        self.compiled_entries = compiled_entries
        self.blocks_translated = blocks_translated
        self.translate_seconds = translate_seconds  # on the guest's thread
        # LLVM in the background, alongside running
        self.compile_seconds_background = compile_seconds_background
        self.run_seconds = run_seconds
        self.syscalls = syscalls
        self.regions_preloaded = regions_preloaded
        self.regions_regrown = regions_regrown  # compiled again with code that became hot later
        # quickly compiled code that became hot and was compiled again, optimised
        self.regions_optimised = regions_optimised
        self.seconds_to_first_instruction = seconds_to_first_instruction  # from process start

    def report(self) -> str:
        return (f"xlate: {self.instructions_interpreted} guest instructions interpreted "
                f"({self.blocks_interpreted} blocks), {self.python_blocks_run} blocks run as "
                f"threaded code or Python ({self.python_blocks_compiled} made), compiled code "
                f"entered {self.compiled_entries} times, {self.blocks_translated} blocks "
                f"translated ({self.regions_preloaded} regions from the code cache, "
                f"{self.regions_regrown} regrown, {self.regions_optimised} optimised); "
                f"translating {self.translate_seconds:.3f} s (and "
                f"{self.compile_seconds_background:.3f} s in the background), "
                f"running {self.run_seconds:.3f} s; "
                f"{self.syscalls} syscalls; first guest instruction after "
                f"{self.seconds_to_first_instruction:.3f} s")


class RunResult:
    """How the guest ended: exit_status is what a shell would report (128 + signal if killed),
    None when it stopped at the requested address."""

    def __init__(self, exit_status: int | None, signal: int = 0, message: str = "",
                 stats: Stats | None = None) -> None:
        self.exit_status = exit_status
        self.signal = signal
        self.message = message
        self.stats = Stats() if stats is None else stats


class GuestSignal(XlateError):
    """The guest was killed by a signal; the message names the instruction that raised it."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message, 128 + signum)
        self.signum = signum


def _process_start() -> float:
    """When this process started, as time.time() counts (Linux: from /proc/self/stat)."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time()


def new_cpu(memory: AddressSpace):
    """A zeroed CPU state with the power-on values a Linux process starts with."""
    cpu = ffi.new("xlate_cpu *")
    cpu.mem_base = ffi.cast("uint8_t *", memory.base)
    cpu.mxcsr = 0x1F80
    cpu.fpu_cw = 0x037F
    cpu.fpu_tag = 0xFF
    cpu.code_pages = memory.code_pages
    return cpu


def cpu_hwcap() -> int:
    """AT_HWCAP on x86-64 is cpuid leaf 1's edx: asked of the one place that defines it."""
    scratch = ffi.new("xlate_cpu *")
    scratch.gpr[0] = 1
    lib.xlate_helper_cpuid(scratch, 0, 0)
    return scratch.gpr[2]


class Machine:
    """One guest process with one thread, run by the chosen engine."""

    def __init__(self, engine: str = "jit", strace: bool = False,
                 jit_threshold: int | None = None,
                 cache_dir: str | os.PathLike | None = None,
                 python_threshold: int | None = None) -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}")
        self.engine_name = engine
        self.jit_threshold = jit_threshold
        self.python_threshold = python_threshold
        self.cache_dir = cache_dir
        self.program_digest = ""
        self.memory = AddressSpace()
        self.cpu = new_cpu(self.memory)
        self.decoder = Decoder(self.memory)
        self.memory.on_code_write = self.invalidate_code
        self.os: LinuxOS | None = None
        self.strace = strace
        self.stats = Stats()
        self._engine = None

    @classmethod
    def load(cls, path: str, argv: list[str] | None = None, env: dict[str, str] | None = None,
             engine: str = "jit", strace: bool = False, jit_threshold: int | None = None,
             cache_dir: str | os.PathLike | None = None) -> Machine:
        """Load an ELF program as execve would, ready to run from its entry point.

        jit_threshold: how many times the JIT runs a block before compiling it with LLVM (0:
        compile everything before it first runs; None: the default). cache_dir: where the JIT
        keeps compiled code between runs (None: nowhere)."""
        machine = cls(engine, strace, jit_threshold, cache_dir)
        argv = argv if argv is not None else [path]
        env = dict(os.environ) if env is None else env
        process = exec_program(machine.memory, path, argv, env, cpu_hwcap())
        machine.program_digest = process.program.digest
        machine.cpu.rip = process.entry
        machine.cpu.gpr[4] = process.stack_pointer
        machine.os = LinuxOS(machine.memory, exe_path=path, brk_start=process.brk,
                             strace=strace, invalidate_code=machine.invalidate_code)
        return machine

    @classmethod
    def bare(cls, engine: str = "jit", jit_threshold: int = 0,
             python_threshold: int | None = None) -> Machine:
        """An empty machine for running code snippets: map memory, set registers, run(until=).
        The JIT compiles snippets with LLVM before they first run, unless given a threshold;
        python_threshold: how many times it interprets a block that threaded code cannot
        express before compiling it to Python (xlate.pyblocks), None for the default."""
        machine = cls(engine, jit_threshold=jit_threshold, python_threshold=python_threshold)
        machine.os = LinuxOS(machine.memory, exe_path="", brk_start=0,
                             invalidate_code=machine.invalidate_code)
        return machine

    @property
    def rflags(self) -> int:
        """The guest's rflags register."""
        from xlate.interp import read_rflags
        return read_rflags(self.cpu)

    @rflags.setter
    def rflags(self, value: int) -> None:
        from xlate.interp import write_rflags
        write_rflags(self.cpu, value)

    def invalidate_code(self, start: int, end: int) -> None:
        """Forget decoded and compiled code in [start, end) (whole pages): it changed."""
        start, end = page_down(start), page_up(end)
        self.decoder.invalidate(start, end)
        if self._engine is not None:
            self._engine.invalidate(start, end)
        self.memory.unmark_code(start, end)

    def engine(self):
        if self._engine is None:
            if self.engine_name == "jit":
                from xlate.jit.cache import CodeCache
                from xlate.jit.engine import DEFAULT_THRESHOLD, PYTHON_THRESHOLD, JitEngine
                threshold = DEFAULT_THRESHOLD if self.jit_threshold is None else self.jit_threshold
                cache = CodeCache(self.cache_dir) if self.cache_dir else None
                python = (PYTHON_THRESHOLD if self.python_threshold is None
                          else self.python_threshold)
                self._engine = JitEngine(self.cpu, self.decoder, self.stats, threshold,
                                         cache=cache, python_threshold=python)
                if cache and self.program_digest:
                    self._engine.preload(self.program_digest, self.memory)
            else:
                from xlate.interp import InterpEngine
                self._engine = InterpEngine(self.cpu, self.decoder, self.stats)
        return self._engine

    def run(self, until: int | None = None) -> RunResult:
        """Run until the guest exits or is killed, or reaches the address `until` (then the
        result's exit_status is None); never raises for what the guest does."""
        engine = self.engine()
        self.stats.seconds_to_first_instruction = time.time() - _process_start()
        if until is not None and until not in self.decoder.stops:
            self.decoder.stops.add(until)
            self.invalidate_code(until, until + 1)
        started = time.perf_counter()
        self.cpu.c_syscalls = not self.os.strace  # strace shows every syscall: Python's
        try:
            while True:
                exit_code = engine.run()
                if exit_code == EXIT_SYSCALL:
                    self.os.handle(self.cpu)
                elif exit_code == EXIT_CODE_WRITTEN:  # self-modifying code
                    cpu = self.cpu
                    lib.xlate_clear_stop(cpu, lib.XLATE_STOP_CODE_WRITTEN)
                    self.invalidate_code(cpu.code_written_start, cpu.code_written_end)
                    cpu.code_written_start = cpu.code_written_end = 0
                elif exit_code == EXIT_STOP:
                    if self.cpu.rip in self.decoder.stops:
                        result = RunResult(None)
                        break
                else:
                    raise self._guest_signal(exit_code)
        except GuestExit as done:
            result = RunResult(done.status)
        except GuestSignal as killed:
            result = RunResult(killed.exit_status, killed.signum, str(killed))
        except GuestKilled as killed:  # a signal the guest sent itself
            result = RunResult(128 + killed.signum, killed.signum, str(killed))
        self.stats.run_seconds = time.perf_counter() - started - self.stats.translate_seconds
        self.os.syscall_count += self.cpu.c_syscall_count
        self.cpu.c_syscall_count = 0
        self.stats.syscalls = self.os.syscall_count
        engine.finish(self.program_digest)
        result.stats = self.stats
        return result

    def _guest_signal(self, exit_code: int) -> GuestSignal:
        rip = self.cpu.rip
        where = f"at guest pc {rip:#x}"
        try:
            insn = self.decoder.block(rip).insns[0]
            where += f" ({insn.text}; bytes {insn.raw.hex(' ')})"
        except (IndexError, XlateError):
            pass
        if exit_code == EXIT_FAULT:
            signum = self.cpu.fault_signal or signal.SIGSEGV
            addr = self.cpu.fault_addr
            what = (f"guest address {addr:#x}" if addr < GUEST_SPACE
                    else "guest address outside the guest address space")
            return GuestSignal(signum, f"segmentation fault: {what} {where}")
        if exit_code == EXIT_DIVIDE:
            return GuestSignal(signal.SIGFPE, f"divide error {where}")
        if exit_code == EXIT_HLT:
            return GuestSignal(signal.SIGSEGV, f"privileged instruction {where}")
        assert exit_code == EXIT_SIGILL, exit_code
        if not self.decoder.executable(rip):  # a fetch from memory that holds no code
            return GuestSignal(signal.SIGSEGV, f"segmentation fault: instruction fetch from "
                               f"guest address {rip:#x}")
        code = self.decoder.fetchable(rip)[:15]
        block = self.decoder.block(rip)
        if block.insns:  # decodable: either architecturally undefined (ud2) or not implemented
            kind = "undefined" if block.insns[0].name in SEMANTICS else "unimplemented"
            return GuestSignal(signal.SIGILL, f"{kind} instruction {where}")
        return GuestSignal(signal.SIGILL, f"undefined instruction at guest pc {rip:#x} "
                           f"(bytes {code.hex(' ') or 'not executable'})")


__all__ = ["Machine", "RunResult", "Stats", "EXIT_NEXT"]
