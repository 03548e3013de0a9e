"""The loader builds the initial process state that execve would: argv, envp, the auxiliary
vector, an aligned stack; for static programs at a fixed address and for static-pie ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENGINES = ("jit", "interp")


@pytest.fixture(scope="module", params=["static", "static-pie"])
def startup_guest(request, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("guests") / f"startup-{request.param}"
    flags = ["-static", "-fno-pie", "-no-pie"] if request.param == "static" else [
        "-static-pie", "-fpie"]
    subprocess.run(["gcc", "-O1", "-nostdlib", *flags, "-o", str(out),
                    str(REPO / "tests/guests/startup.c")], check=True)
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_initial_stack_matches_native(startup_guest, engine):
    args = ["one", "two words", ""]
    env = {**os.environ, "XLT_A": "1", "XLT_B": "with = sign"}
    native = subprocess.run([str(startup_guest), *args], env=env, capture_output=True,
                            timeout=60)
    emulated = subprocess.run([sys.executable, "-m", "xlate", "run", "--engine", engine,
                               str(startup_guest), *args], env=env, capture_output=True,
                              timeout=120, cwd=REPO)
    assert native.returncode == 0
    assert b"missing auxv entry" not in native.stdout
    assert emulated.stderr == b""
    assert emulated.stdout.decode() == native.stdout.decode()
    assert emulated.returncode == 0
