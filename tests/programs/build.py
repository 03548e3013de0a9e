"""Builds the guest programs in this directory, once per toolchain variant.

Tests and benchmarks import this file by path; as a script it builds everything:
    python3 tests/programs/build.py OUT_DIR [NAME...]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent
VARIANTS = ("gcc-static", "gcc-static-pie", "musl-static")

_COMMANDS = {
    "gcc-static": ["gcc", "-O2", "-static"],
    "gcc-static-pie": ["gcc", "-O2", "-static-pie"],
    "musl-static": ["musl-gcc", "-O2", "-static"],
}


class BuildError(RuntimeError):
    pass


def programs() -> list[str]:
    return sorted(p.stem for p in SOURCE_DIR.glob("*.c"))


def output_path(name: str, variant: str, out_dir: Path) -> Path:
    return Path(out_dir) / f"{name}-{variant}"


def build(name: str, variant: str, out_dir: Path) -> Path:
    """Compiles NAME.c for VARIANT into OUT_DIR unless the output is newer than its inputs."""
    if variant not in _COMMANDS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    src = SOURCE_DIR / f"{name}.c"
    if not src.is_file():
        raise ValueError(f"no program {name!r} in {SOURCE_DIR}")
    out_dir = Path(out_dir)
    out = output_path(name, variant, out_dir)
    # This file holds the flags, so editing it also makes outputs stale.
    newest_input = max(src.stat().st_mtime_ns, Path(__file__).stat().st_mtime_ns)
    if out.exists() and out.stat().st_mtime_ns >= newest_input:
        return out
    compiler = _COMMANDS[variant][0]
    if shutil.which(compiler) is None:
        raise BuildError(
            f"{compiler} not found (needed for {variant}); run scripts/install-test-deps"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    # Link in a private directory and rename into place, so that concurrent builders (pytest-xdist
    # workers, a benchmark next to a test run) never run a half-written executable.
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build-") as tmp:
        tmp_out = Path(tmp) / out.name
        cmd = [*_COMMANDS[variant], "-o", str(tmp_out), str(src), "-lm"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError(
                f"{' '.join(cmd)} failed with status {result.returncode}:\n{result.stderr}"
            )
        os.replace(tmp_out, out)
    return out


def build_all(
    out_dir: Path, names: list[str] | None = None, variants: tuple[str, ...] = VARIANTS
) -> dict[tuple[str, str], Path | BuildError]:
    """Builds every (name, variant) in parallel; a failed build maps to its error, so that one
    missing toolchain does not hide the results of the others."""
    jobs = [(n, v) for n in (names or programs()) for v in variants]

    def one(job: tuple[str, str]) -> Path | BuildError:
        try:
            return build(*job, out_dir)
        except BuildError as e:
            return e

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(jobs, pool.map(one, jobs), strict=True))


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1].startswith("-"):
        print(f"usage: {argv[0]} OUT_DIR [NAME...]", file=sys.stderr)
        return 2
    unknown = sorted(set(argv[2:]) - set(programs()))
    if unknown:
        print(f"no such program: {' '.join(unknown)}; have {' '.join(programs())}", file=sys.stderr)
        return 2
    failed = 0
    for (name, variant), result in build_all(Path(argv[1]), argv[2:] or None).items():
        if isinstance(result, BuildError):
            failed += 1
            print(f"{name} ({variant}): {result}", file=sys.stderr)
        else:
            print(result)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
