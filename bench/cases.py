"""The benchmark cases, and how each runner (native, qemu, the JIT, the interpreter) runs one.

Each case has two sizes. `args` is the long size, where the native run takes roughly 0.2-1 s; qemu
and the JIT run it. The interpreter runs about 1000 times slower than native (about 2.5 us a guest
instruction), so it runs `interp_args`, two to three million guest instructions (about 5-15 s).
Every runner is compared with a native run of the same arguments, so a ratio measures equal work.
The sizes are in guest-program units; read tests/programs/NAME.c for what each one means.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD_DIR = Path(__file__).resolve().parent / ".build"

# Loaded by path, as the tests do: tests/programs is not a package, and a top-level module named
# "build" would clash with the PyPA package of that name.
_spec = importlib.util.spec_from_file_location(
    "xlate_bench_programs_build", REPO / "tests/programs/build.py"
)
programs_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(programs_build)

RUNNERS = ("native", "qemu", "interp", "jit")
QEMU = "qemu-x86_64"
# What xlate's --stats line says about translation, e.g. "translating 1.374 s, running 0.001 s".
_TRANSLATING = re.compile(r"translating ([0-9.]+) s, running ([0-9.]+) s")


@dataclass(frozen=True)
class BenchCase:
    program: str
    args: tuple[str, ...]  # the long size: native about 0.2-1 s
    interp_args: tuple[str, ...]  # the interpreter's size: 2-3 million guest instructions
    variant: str = "gcc-static"

    @property
    def name(self) -> str:
        return self.program if self.variant == "gcc-static" else f"{self.program}-{self.variant}"

    def args_for(self, runner: str) -> tuple[str, ...]:
        return self.interp_args if runner == "interp" else self.args


# Native times and guest instruction counts (valgrind --tool=lackey) measured on the development
# machine; the comments give native seconds at the long size and guest instructions at the short.
CASES = [
    BenchCase("fib", ("42",), ("25",)),  # 0.24 s; 2.8 M (fib grows by 1.6x a step)
    BenchCase("sieve", ("50000000",), ("70000",)),  # 0.23 s; 1.9 M
    BenchCase("crc32", ("40000000",), ("35000",)),  # 0.33 s; 2.1 M
    BenchCase("nbody", ("3000000",), ("3000",)),  # 0.26 s; 2.0 M
    BenchCase("qsort", ("1000000",), ("1200",)),  # 0.42 s; 2.8 M
    BenchCase("loops", ("50",), ("3",)),  # 0.27 s; 1.8 M (the matrix multiplies grow as size^3)
    # malloc's scrambled free order needs size/4 * 7919 < 2**32, so its size must stay below 2.17 M.
    BenchCase("malloc", ("2000000",), ("3000",)),  # 0.25 s; 2.8 M
    BenchCase("int128", ("40000000",), ("30000",)),  # 0.34 s; 3.2 M
    BenchCase("hello", (), ()),  # start-up: 2 ms natively; 0.6 M
]


def find_case(name: str) -> BenchCase:
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


def runner_available(runner: str) -> bool:
    return runner != "qemu" or shutil.which(QEMU) is not None


def build_case(case: BenchCase) -> Path:
    """Builds the case's program into bench/.build (a no-op when it is up to date)."""
    return programs_build.build(case.program, case.variant, BUILD_DIR)


def command(runner: str, binary: Path, args: tuple[str, ...]) -> list[str]:
    if runner == "native":
        return [str(binary), *args]
    if runner == "qemu":
        return [QEMU, str(binary), *args]
    if runner in ("jit", "interp"):
        # --stats costs one line on stderr at exit, and tells translation apart from running.
        return [sys.executable, "-m", "xlate", "run", "--engine", runner, "--stats",
                str(binary), *args]
    raise ValueError(f"unknown runner {runner!r}; expected one of {RUNNERS}")


@dataclass
class Run:
    """A timed process; status is what a shell reports (128 + signal if killed), None on timeout."""

    seconds: float
    status: int | None
    stdout: bytes
    stderr: bytes

    def failure(self, reference: Run) -> str | None:
        """Why this run does not count as the reference (native) run, or None if it matches."""
        if self.status is None:
            return "timeout"
        if self.status != reference.status:
            return f"fail {self.status}"
        if self.stdout != reference.stdout:
            return "MISMATCH"
        return None

    def last_stderr_line(self) -> str:
        lines = self.stderr.decode("utf-8", "backslashreplace").strip().splitlines()
        # xlate's --stats line comes last; the complaint worth showing is the one before it.
        lines = [line for line in lines if " guest instructions, " not in line]
        return lines[-1] if lines else ""

    def translate_seconds(self) -> float | None:
        """The JIT's own account of its translation time, from the --stats line."""
        found = _TRANSLATING.search(self.stderr.decode("utf-8", "replace"))
        return float(found.group(1)) if found else None


def run_timed(cmd: list[str], timeout: float) -> Run:
    """Times the whole process, Python start-up included for xlate: what a user waits for."""
    started = time.perf_counter()
    try:
        # cwd=REPO so that `-m xlate` finds the package without installing it.
        result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, cwd=REPO,
                                timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return Run(time.perf_counter() - started, None, e.stdout or b"", e.stderr or b"")
    seconds = time.perf_counter() - started
    status = 128 - result.returncode if result.returncode < 0 else result.returncode
    return Run(seconds, status, result.stdout, result.stderr)
