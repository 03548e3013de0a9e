"""The OS layer: tests/guests/syscalls.c exercises directory listing, file creation, renaming,
linking and removal, permissions and times, statx and statfs, the working directory, pipes with
poll and select, process ids and groups, resource usage, signals a program sends itself (abort,
raise, SIGPIPE, a blocked signal unblocked) and more; each subcommand prints only what is the same
on every run. Built with gcc and musl-gcc (-static), each must print under `xlate run` with each
engine exactly what it prints natively and end the same way (killed by signal N natively is exit
status 128 + N and one line on stderr under xlate)."""

from __future__ import annotations

import difflib
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from xlate.linux.syscalls import SYSCALLS, GuestExit, GuestKilled, LinuxOS

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "tests/guests/syscalls.c"
ENGINES = ("jit", "interp")
TOOLCHAINS = {"gcc": ["gcc", "-O2", "-static"], "musl": ["musl-gcc", "-O2", "-static"]}

# subcommand -> the signal that ends it natively (0: it exits with status 0)
COMMANDS = {
    "dirs": 0, "files": 0, "cwd": 0, "io": 0, "hot-io": 0, "proc": 0,
    "abort": signal.SIGABRT, "raise": signal.SIGTERM, "sigpipe": signal.SIGPIPE,
    "pending-kill": signal.SIGTERM, "group-kill": signal.SIGTERM,
}


@pytest.fixture(scope="module")
def guests(tmp_path_factory) -> dict[str, Path]:
    out_dir = tmp_path_factory.mktemp("syscall-guests")
    built = {}
    for name, compiler in TOOLCHAINS.items():
        if shutil.which(compiler[0]) is None:
            continue
        out = out_dir / f"syscalls-{name}"
        subprocess.run([*compiler, "-o", str(out), str(SOURCE)], check=True)
        built[name] = out
    return built


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, cwd=REPO,
                          timeout=120)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_syscalls_under_xlate_match_native_run(guests, toolchain, command, tmp_path):
    if toolchain not in guests:
        pytest.skip(f"{TOOLCHAINS[toolchain][0]} is not installed (scripts/install-test-deps)")
    guest = guests[toolchain]
    scratch = {label: tmp_path / label for label in ("native", *ENGINES)}
    for directory in scratch.values():
        directory.mkdir()
    native = _run([str(guest), command, str(scratch["native"])])
    signum = COMMANDS[command]
    assert native.returncode == -signum, (
        f"the native run ended with {native.returncode}, not {-signum}: the guest is broken, "
        f"not xlate\n{_text(native.stdout)}{_text(native.stderr)}")

    with ThreadPoolExecutor(len(ENGINES)) as pool:
        results = dict(zip(ENGINES, pool.map(
            lambda engine: _run([sys.executable, "-m", "xlate", "run", "--engine", engine,
                                 str(guest), command, str(scratch[engine])]), ENGINES),
            strict=True))

    for engine, xlate in results.items():
        diff = "".join(list(difflib.unified_diff(
            _text(native.stdout).splitlines(keepends=True),
            _text(xlate.stdout).splitlines(keepends=True), "native", f"xlate {engine}"))[:80])
        assert xlate.stdout == native.stdout, (
            f"[{engine}] stdout differs\n{diff}\nxlate stderr:\n{_text(xlate.stderr)[-2000:]}")
        if signum:
            name = signal.Signals(signum).name
            assert xlate.returncode == 128 + signum, _text(xlate.stderr)
            assert _text(xlate.stderr) == (
                f"xlate: killed by signal {name} (raised by the guest)\n")
        else:
            assert xlate.returncode == 0, _text(xlate.stderr)
            assert xlate.stderr == native.stderr == b""


def test_one_table_holds_the_syscalls_of_every_module():
    names = {entry.name for entry in SYSCALLS.values()}
    for name in ("read", "getdents64", "statx", "mkdirat", "poll", "mmap", "prctl", "tgkill",
                 "clock_nanosleep", "exit_group"):
        assert name in names, name
    assert len(names) == len(SYSCALLS)
    assert {LinuxOS, GuestExit, GuestKilled}  # the names machine.py imports stay importable


def test_guest_killed_names_the_signal():
    assert str(GuestKilled(signal.SIGABRT)) == "killed by signal SIGABRT (raised by the guest)"
    assert GuestKilled(15).signum == 15
