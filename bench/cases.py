"""The benchmark cases, and how each runner (native, qemu, the interpreter, the JIT cold and warm)
runs one.

Each case has two sizes. `args` is the long size, where the native run takes roughly 0.2-1 s; qemu
and the JIT (cold and warm) run it. The interpreter runs about 1000 times slower than native (about
2.5 us a guest instruction), so it runs `interp_args`, two to three million guest instructions
(about 5-15 s).
Every runner is compared with a native run of the same arguments, so a ratio measures equal work.
The sizes are in guest-program units; read tests/programs/NAME.c for what each one means.

The JIT keeps compiled code in a persistent code cache ($XLATE_CACHE_DIR), so it has two runners:
"jit-cold" gets a new, empty cache directory for every run (removed afterwards), so that it pays for
translating and for writing the cache, as a user's first run does; "jit-warm" uses one directory
per case (bench/.build/cache/CASE), emptied when the case starts and filled by one untimed run, so
that it starts from the code cache, as a user's second run does. Neither touches the user's cache.
"""

from __future__ import annotations

import functools
import os
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.program_build import build as programs_build

REPO = Path(__file__).resolve().parent.parent
BUILD_DIR = Path(__file__).resolve().parent / ".build"

RUNNERS = ("native", "qemu", "interp", "jit-cold", "jit-warm")
JIT_RUNNERS = ("jit-cold", "jit-warm")  # both run `xlate run --engine jit`; only the cache differs
QEMU = "qemu-x86_64"
CACHE_VARIABLE = "XLATE_CACHE_DIR"  # where xlate keeps its code cache
# What xlate's --stats line says about translation, e.g. "translating 0.374 s (and 1.102 s in the
# background)": the time on the guest's thread and LLVM's time beside it.
_TRANSLATING = re.compile(r"translating ([0-9.]+) s \(and ([0-9.]+) s in the background\)")


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


BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static (scripts/install-test-deps)
_TEXT_DATA: dict[str, int] = {}  # path -> size of the generated inputs that cases name


def text_data(size: int) -> str:
    """The path of SIZE bytes of generated text (made by build_case): lines of words drawn from
    a fixed vocabulary, so that it compresses about as well as prose does."""
    path = str(BUILD_DIR / f"text-{size}.txt")
    _TEXT_DATA[path] = size
    return path


def _write_text_data(path: Path, size: int) -> None:
    rng = random.Random(size)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9)))
             for _ in range(5000)]
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 14))) + "\n"
        lines.append(line)
        total += len(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines)[:size])


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
    # busybox-static applets on generated text (instruction counts from `xlate run --engine
    # interp --stats`). sha256sum natively uses the host's SHA instructions, which the emulated
    # CPU does not offer, so the guest hashes in plain code.
    BenchCase("sha256sum", ("sha256sum", text_data(8 << 20)),
              ("sha256sum", text_data(32 << 10)), variant="busybox"),  # 0.03 s; 2.3 M
    BenchCase("gzip", ("gzip", "-c", text_data(8 << 20)),
              ("gzip", "-c", text_data(16 << 10)), variant="busybox"),  # 0.24 s; 2.2 M
    BenchCase("bzip2", ("bzip2", "-c", text_data(8 << 20)),
              ("bzip2", "-c", text_data(4 << 10)), variant="busybox"),  # 0.45 s; 3.2 M
]


def find_case(name: str) -> BenchCase:
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


def runner_available(runner: str) -> bool:
    return runner != "qemu" or shutil.which(QEMU) is not None


# The packages xlate imports (cffi and its backend) or loads the libraries of (llvmlite's LLVM,
# Capstone's): the directories that hold them go on the path of the Python that runs xlate (see
# xlate_python), where xlate finds them.
XLATE_DEPENDENCIES = ("_cffi_backend", "cffi", "llvmlite", "capstone")


@functools.cache
def xlate_python() -> str:
    """The Python that runs xlate: a virtual environment's (bench/.build/venv), which finds this
    checkout's xlate and the packages it imports, as `pipx install` would set it up. Its start
    is then what an install of xlate costs, without the .pth files of the site-packages that
    xlate's dependencies are in (this Python's): on some machines those import modules in
    every Python process (on the one the README's table is from, certifi, 25 ms of a warm
    run of 150)."""
    import importlib.util
    import sysconfig

    venv = BUILD_DIR / "venv"
    python = venv / "bin" / "python3"
    # Made again (--clear) if another Python version made it: its interpreter is that one's.
    version = "version = {}.{}.{}\n".format(*sys.version_info[:3])
    config = venv / "pyvenv.cfg"
    if not python.exists() or version not in (config.read_text() if config.exists() else ""):
        subprocess.run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(venv)],
                       check=True)
    directories = [str(REPO)]
    for name in XLATE_DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin).parent
        where = str(origin.parent if spec.submodule_search_locations else origin)
        if where not in directories:
            directories.append(where)
    site = sysconfig.get_path("purelib", "venv", vars={"base": venv, "platbase": venv})
    # The lines of a .pth file go on sys.path; .pth files in those directories are not read.
    Path(site, "xlate-bench.pth").write_text("".join(f"{d}\n" for d in directories))
    return str(python)


@functools.cache
def compile_bytecode() -> None:
    """Writes the .pyc files of xlate's modules, as an installed package has them, so that no
    timed run compiles xlate's source first: under PYTHONDONTWRITEBYTECODE (set on some
    machines) Python writes none itself, and compileall writes them all the same."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "xlate")], check=True)


@functools.cache
def build_runtime() -> None:
    """Builds the C runtime (xlate._runtime) in this checkout when it is missing or older than
    a file of csrc/: the timed runs import this checkout's xlate (see xlate_python), and
    `pip install .` builds the runtime into site-packages, not here."""
    built = [p.stat().st_mtime for p in (REPO / "xlate").glob("_runtime*.so")]
    newest_source = max(p.stat().st_mtime for p in (REPO / "csrc").iterdir()
                        if p.suffix in (".c", ".h", ".py"))
    if not built or min(built) < newest_source:
        subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=REPO,
                       check=True, stdout=subprocess.DEVNULL)


def build_case(case: BenchCase) -> Path:
    """Builds the case's program into bench/.build (a no-op when it is up to date), the input
    data it reads, this checkout's C runtime and xlate's bytecode; returns the program."""
    build_runtime()
    compile_bytecode()
    for arg in {*case.args, *case.interp_args}:
        if arg in _TEXT_DATA and not Path(arg).exists():
            _write_text_data(Path(arg), _TEXT_DATA[arg])
    if case.variant == "busybox":
        if not BUSYBOX.exists():
            raise FileNotFoundError(f"{BUSYBOX} is missing: run scripts/install-test-deps")
        return BUSYBOX
    return programs_build.build(case.program, case.variant, BUILD_DIR)


def command(runner: str, binary: Path, args: tuple[str, ...]) -> list[str]:
    if runner == "native":
        return [str(binary), *args]
    if runner == "qemu":
        return [QEMU, str(binary), *args]
    if runner == "interp" or runner in JIT_RUNNERS:
        engine = "interp" if runner == "interp" else "jit"
        # --stats costs one line on stderr at exit, and tells translation apart from running.
        return [xlate_python(), "-m", "xlate", "run", "--engine", engine, "--stats",
                str(binary), *args]
    raise ValueError(f"unknown runner {runner!r}; expected one of {RUNNERS}")


def warm_cache_dir(case: BenchCase) -> Path:
    """jit-warm's code cache for CASE, emptied: the caller fills it with one untimed run."""
    directory = BUILD_DIR / "cache" / case.name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def run_runner(runner: str, binary: Path, args: tuple[str, ...], timeout: float,
               warm_cache: Path | None = None) -> Run:
    """One timed run of RUNNER. jit-cold runs with a new, empty code cache, removed after the
    timer stops; jit-warm runs with WARM_CACHE (from warm_cache_dir, filled by an earlier run)."""
    cmd = command(runner, binary, args)
    if runner == "jit-cold":
        with tempfile.TemporaryDirectory(prefix="xlate-bench-cold-") as directory:
            return run_timed(cmd, timeout, env={CACHE_VARIABLE: directory})
    if runner == "jit-warm":
        if warm_cache is None:
            raise ValueError("jit-warm needs its cache directory (see warm_cache_dir)")
        return run_timed(cmd, timeout, env={CACHE_VARIABLE: str(warm_cache)})
    return run_timed(cmd, timeout)


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
        lines = [line for line in lines if " guest instructions interpreted " not in line]
        return lines[-1] if lines else ""

    def translate_seconds(self) -> float | None:
        """The JIT's own account of its translation time (foreground and background), from the
        --stats line."""
        found = _TRANSLATING.search(self.stderr.decode("utf-8", "replace"))
        return float(found.group(1)) + float(found.group(2)) if found else None


def run_timed(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> Run:
    """Times the whole process, Python start-up included for xlate: what a user waits for.
    ENV holds variables to set on top of this process's environment."""
    environment = {**os.environ, **env} if env else None  # None: inherit it unchanged
    started = time.perf_counter()
    try:
        # cwd=REPO so that `-m xlate` finds the package without installing it.
        result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, cwd=REPO,
                                timeout=timeout, env=environment)
    except subprocess.TimeoutExpired as e:
        return Run(time.perf_counter() - started, None, e.stdout or b"", e.stderr or b"")
    seconds = time.perf_counter() - started
    status = 128 - result.returncode if result.returncode < 0 else result.returncode
    return Run(seconds, status, result.stdout, result.stderr)
