"""End-to-end: every guest program in tests/programs/, built with every toolchain variant, must
behave under `xlate run` with each engine exactly as it does natively: the same stdout bytes, stderr
bytes and exit status for the same argv, environment and stdin."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.program_build import build

REPO = Path(__file__).resolve().parent.parent


# How xlate runs: the JIT (tiered, cold cache), the interpreter, and for one toolchain also the
# JIT compiling everything on first use (no interpreter at all) and the JIT with a warm code cache.
MODES = {
    "jit": ["--engine", "jit"],
    "interp": ["--engine", "interp"],
    "jit-all": ["--engine", "jit", "--jit-threshold", "0"],
    "jit-warm": ["--engine", "jit"],
}
ALL_VARIANT_MODES = ("jit", "interp")
# Compiling everything costs about 10 s a program (LLVM's time for some thousand blocks), so that
# mode runs each program once, with its first case.
ONCE_A_PROGRAM_MODES = ("jit-all",)
NATIVE_TIMEOUT = 60
XLATE_TIMEOUT = 300


@dataclass
class Case:
    program: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes | None = None  # None: stdin is /dev/null
    status: int = 0  # what the native run must exit with, so that a broken build cannot pass
    name: str = ""  # tells apart several cases of one program

    @property
    def id(self) -> str:
        return f"{self.program}-{self.name}" if self.name else self.program


def _binary_stdin() -> bytes:
    # Longer than stdio's 4 KiB buffer, so that the guest reads it in several read(2) calls; holds
    # every byte value including NUL, CR and bytes >= 0x80.
    x, out = 1, bytearray()
    for _ in range(10000):
        x = (x * 1103515245 + 12345) % 2**31
        out.append(x >> 16 & 0xFF)
    return bytes(out)


# Default sizes throughout, so that each run is at most about 650k guest instructions natively.
CASES = [
    Case("hello"),
    Case("fib"),
    Case("qsort"),
    Case("sieve"),
    Case("crc32"),
    Case("nbody"),
    Case("strings"),
    Case("int128"),
    Case("setjmp"),
    Case("switch"),
    Case("malloc"),
    Case("loops"),
    Case("smc"),
    Case("phases"),
    Case("args", ("a", "b c", ""), {"XLATE_TEST_VAR": "hello", "XLATE_TEST_EMPTY": ""}, status=4),
    Case("args", name="no-args", status=1),
    Case("stdin_cat", stdin=b"first line\nsecond line\n\n\ttabbed line\nno newline at the end"),
    Case("stdin_cat", name="binary", stdin=_binary_stdin()),
    Case("stdin_cat", name="empty", stdin=b"", status=1),
    Case("exit_status", ("42",), status=42),
    Case("exit_status", ("0",), name="zero"),
    Case("exit_status", ("300",), name="wraps", status=300 % 256),
]

# (case id, variant) pairs whose interpretation would take well over 20 s (more than about a million
# guest instructions at ~20 us each); none today. Entries need the `slow` marker registered.
SLOW_INTERP: set[tuple[str, str]] = set()


def _params():
    for case in CASES:
        for variant in build.VARIANTS:
            for mode in MODES:
                if mode not in ALL_VARIANT_MODES and variant != "gcc-static":
                    continue
                if mode in ONCE_A_PROGRAM_MODES and case.name:
                    continue
                slow = mode == "interp" and (case.id, variant) in SLOW_INTERP
                yield pytest.param(
                    case,
                    variant,
                    mode,
                    id=f"{case.id}-{variant}-{mode}",
                    marks=[pytest.mark.slow] if slow else [],
                )


@pytest.fixture(scope="session")
def guest_programs(tmp_path_factory) -> dict:
    return build.build_all(tmp_path_factory.mktemp("guest-programs"))


def _run(cmd: list[str], case: Case, timeout: float) -> subprocess.CompletedProcess:
    # The same environment for both runs, minus any XLATE_TEST_ variables the caller happens to set.
    env = {k: v for k, v in os.environ.items() if not k.startswith("XLATE_TEST_")}
    env.update(case.env)
    return subprocess.run(
        cmd,
        input=case.stdin,
        stdin=subprocess.DEVNULL if case.stdin is None else None,
        capture_output=True,
        env=env,
        cwd=REPO,  # so that `-m xlate` finds the package without installing it; natively too, alike
        timeout=timeout,
    )


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _diff(label: str, got: bytes, want: bytes, limit: int = 60) -> str:
    lines = difflib.unified_diff(
        _text(want).splitlines(keepends=True),
        _text(got).splitlines(keepends=True),
        f"native {label}",
        f"xlate {label}",
    )
    return "".join(list(lines)[:limit])


@pytest.mark.parametrize(("case", "variant", "mode"), list(_params()))
def test_program_under_xlate_matches_native_run(
    guest_programs, case: Case, variant: str, mode: str, tmp_path, monkeypatch
):
    path = guest_programs[(case.program, variant)]
    if isinstance(path, Exception):
        pytest.fail(f"could not build {case.program} ({variant}): {path}")
    # Both runs see the same argv[0], which the args program prints.
    native = _run([str(path), *case.args], case, NATIVE_TIMEOUT)
    assert native.returncode == case.status, (
        f"the native run exited with {native.returncode}, not {case.status}: the program or the"
        f" toolchain is broken, not xlate\n{_text(native.stdout)}\n{_text(native.stderr)}"
    )

    monkeypatch.setenv("XLATE_CACHE_DIR", str(tmp_path / "code-cache"))
    cmd = [sys.executable, "-m", "xlate", "run", *MODES[mode], str(path), *case.args]
    xlate = _run(cmd, case, XLATE_TIMEOUT)
    if mode == "jit-warm":  # the first run fills the cache; the second must agree too
        xlate = _run(cmd, case, XLATE_TIMEOUT)
    # xlate's own complaints land on stderr, so show it whatever differs.
    stderr_tail = f"\nxlate stderr (last 2000 characters):\n{_text(xlate.stderr)[-2000:]}"
    assert xlate.stdout == native.stdout, (
        "stdout differs\n" + _diff("stdout", xlate.stdout, native.stdout) + stderr_tail
    )
    assert xlate.stderr == native.stderr, "stderr differs\n" + _diff(
        "stderr", xlate.stderr, native.stderr
    )
    assert xlate.returncode == native.returncode, (
        f"exit status {xlate.returncode}, natively {native.returncode}" + stderr_tail
    )
