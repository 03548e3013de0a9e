"""The persistent code cache: a second run starts with its hot code compiled, and nothing in the
cache directory (damaged files, foreign files, no write access, concurrent runs) changes what a
program does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.program_build import build
from xlate.jit import cache as code_cache
from xlate.jit.cache import CodeCache, RegionCode
from xlate.machine import Machine
from xlate.memory import PROT_EXEC

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    return build.build("crc32", "gcc-static", tmp_path_factory.mktemp("cache-guest"))


def run(program: Path, cache: Path, *extra: str, arg: str = "20000") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xlate", "run", "--stats", *extra, str(program),
                           arg], capture_output=True, timeout=300, cwd=REPO,
                          env={**os.environ, "XLATE_CACHE_DIR": str(cache)})


def run_patched(program: Path, cache: Path, patch: str,
                arg: str = "20000") -> subprocess.CompletedProcess:
    """A run whose xlate.jit.engine (imported as engine, with os and sys) patch changes."""
    code = (f"import os, sys\nimport xlate.jit.engine as engine\n{patch}\n"
            "from xlate.cli import entry\nsys.argv[0] = 'xlate'\nentry()")
    return subprocess.run([sys.executable, "-c", code, "run", "--stats", str(program), arg],
                          capture_output=True, timeout=300, cwd=REPO,
                          env={**os.environ, "XLATE_CACHE_DIR": str(cache)})


NEVER_HOT = "engine.UPGRADE_COUNT = 1 << 62"  # nothing is optimised


def preloaded(proc: subprocess.CompletedProcess) -> int:
    return int(re.search(rb"\((\d+) regions from the code cache", proc.stderr).group(1))


def regrown(proc: subprocess.CompletedProcess) -> int:
    return int(re.search(rb"code cache, (\d+) regrown", proc.stderr).group(1))


def made(proc: subprocess.CompletedProcess) -> int:
    """How many blocks the run made into threaded code or Python functions."""
    return int(re.search(rb"threaded code or Python \((\d+) made\)", proc.stderr).group(1))


def optimised(proc: subprocess.CompletedProcess) -> int:
    return int(re.search(rb"regrown, (\d+) optimised\)", proc.stderr).group(1))


@pytest.fixture(scope="module")
def native(program) -> bytes:
    return subprocess.run([str(program), "20000"], capture_output=True, check=True).stdout


def region_files(cache: Path) -> list[Path]:
    return sorted((cache / "regions").glob("*/*.o"))


def manifest_keys(cache: Path) -> list[str]:
    """The keys in the (one) program's manifest, in the order it lists them."""
    (manifest,) = (cache / "programs").glob("*.manifest")
    return manifest.read_text().split()


def test_second_run_starts_with_the_first_runs_code(program, native, tmp_path):
    cold = run(program, tmp_path)
    assert cold.stdout == native and preloaded(cold) == 0
    assert region_files(tmp_path)
    warm = run(program, tmp_path)
    assert warm.stdout == native
    # Every region the first run ended with (not those that regions regrown from them, or
    # optimised from their hot part and compiled again from the rest, replaced).
    keys = manifest_keys(tmp_path)
    assert {f"{key}.o" for key in keys} <= {path.name for path in region_files(tmp_path)}
    assert preloaded(warm) == len(keys) > 0
    assert b"translating 0.000 s" in warm.stderr


# Each region installed in place of another: the one it replaces (by identity) and its size,
# its own size, and whether it is optimised code.
_LOG_REPLACEMENTS = """
install = engine.JitEngine._install
def logged(self, region, loaded, cached, replaces=None, regrowths=0, optimised=False):
    if replaces is not None:
        print("replaced", id(replaces), len(replaces.spans), len(region.blocks), optimised,
              file=sys.stderr)
    return install(self, region, loaded, cached, replaces, regrowths, optimised)
engine.JitEngine._install = logged
"""


def test_only_the_hot_part_of_quick_code_is_optimised(program, tmp_path):
    """crc32's loop is one block of the many its quick code holds (64: how many have run when
    it is compiled depends on timing): that block alone is optimised, and the others are
    compiled again quickly, as a region of their own. (On a buffer long enough for the loop to
    run mostly as quick code, however late that comes.)"""
    expected = subprocess.run([str(program), "2000000"], capture_output=True, check=True).stdout
    proc = run_patched(program, tmp_path, _LOG_REPLACEMENTS, arg="2000000")
    assert proc.stdout == expected and proc.returncode == 0
    # (An id is unique while its object lives: quick code of which a part was optimised lives
    # until the rest replaces it.)
    optimised_part: dict[str, tuple[int, int]] = {}  # quick code -> its size, the part's
    trimmed = []  # (size, optimised part) of the quick code that the rest then replaced
    for line in proc.stderr.decode().splitlines():
        if line.startswith("replaced "):
            _, quick, size, part, optimised = line.split()
            whole, hot = int(size), int(part)
            if optimised == "True" and hot < whole:
                optimised_part[quick] = (whole, hot)
            elif optimised == "False" and optimised_part.get(quick) == (whole, whole - hot):
                trimmed.append(optimised_part.pop(quick))
    assert any(part == 1 < whole for whole, part in trimmed), trimmed


def test_a_region_is_regrown_with_code_that_became_hot_later(tmp_path):
    """phases' loop is compiled before its later branch has run; once that branch is hot, the
    loop's region is compiled again with it, and the next run starts with the regrown region
    (and not the one it replaced, which would leave the branch to the lower tiers)."""
    program = build.build("phases", "gcc-static", tmp_path)
    expected = subprocess.run([str(program), "3000000"], capture_output=True, check=True).stdout
    cold = run(program, tmp_path / "cache", arg="3000000")
    assert cold.stdout == expected
    assert regrown(cold) >= 1
    warm = run(program, tmp_path / "cache", arg="3000000")
    assert warm.stdout == expected
    assert regrown(warm) == 0
    assert b"translating 0.000 s" in warm.stderr


def test_hot_quick_code_is_optimised_and_the_optimised_code_is_kept(program, native, tmp_path):
    """Regions are compiled quickly first; crc32's loop counts enough to be compiled again,
    optimised, which replaces its quick code in the cache too: a warm run compiles nothing."""
    cold = run(program, tmp_path, arg="200000")
    assert optimised(cold) >= 1
    warm = run(program, tmp_path, arg="200000")
    assert warm.stdout == cold.stdout and optimised(warm) == 0
    assert b"translating 0.000 s" in warm.stderr


def test_quick_code_is_kept_until_a_run_makes_it_hot(program, native, tmp_path):
    """With no region counting enough to be optimised, the run ends without compiling any
    again, and the cache keeps the quick code, which the next run uses as it is; a later run
    in which it gets hot optimises it, and the one after that starts with the optimised code."""
    for _ in ("cold", "warm"):
        proc = run_patched(program, tmp_path, NEVER_HOT)
        assert proc.stdout == native and optimised(proc) == 0
    assert preloaded(proc) == len(region_files(tmp_path)) > 0
    assert b"translating 0.000 s" in proc.stderr
    hot = run(program, tmp_path, arg="200000")
    assert preloaded(hot) > 0 and optimised(hot) >= 1
    again = run(program, tmp_path, arg="200000")
    assert again.stdout == hot.stdout and optimised(again) == 0
    assert b"translating 0.000 s" in again.stderr


# Nothing is compiled until the run ends, and then every region is optimised, by the guest's
# thread and the compiling thread at once (see JitEngine._compile_all): the first job each
# takes waits for the other thread to take one too, and each says which it is.
AT_THE_END = """
import threading
take = engine.JitEngine._take
engine.JitEngine._take = lambda self, quick=False: take(self, quick) if self.closing else None
engine.UPGRADE_COUNT = 1
both = threading.Barrier(2, timeout=30)
compile_job, started = engine.JitEngine._compile_job, set()
def compile_at_once(self, job):
    me = threading.current_thread()
    if self.closing and me.name not in started:
        started.add(me.name)
        os.write(2, f"compiling on {me.name}\\n".encode())  # (one write: the threads race)
        both.wait()
    compile_job(self, job)
engine.JitEngine._compile_job = compile_at_once
"""


def test_the_end_of_a_run_compiles_on_two_threads_at_once(program, native, tmp_path):
    proc = run_patched(program, tmp_path, AT_THE_END)
    assert proc.stdout == native
    assert set(re.findall(rb"compiling on ([\w-]+)", proc.stderr)) == {b"MainThread", b"xlate-jit"}
    warm = run(program, tmp_path)
    assert warm.stdout == native and preloaded(warm) > 0
    assert b"translating 0.000 s" in warm.stderr


def test_a_compiling_thread_that_fails_outside_a_job_stops_the_run(program, tmp_path):
    # Without a word, the guest would go on in the lower tiers with nothing compiled.
    proc = run_patched(program, tmp_path, """
import threading
take = engine.JitEngine._take
def broken(self, quick=False):
    if threading.current_thread() is self.worker:
        raise RuntimeError("the compiling thread broke")
    return take(self, quick)
engine.JitEngine._take = broken
""")
    assert proc.returncode != 0
    assert b"RuntimeError: the compiling thread broke" in proc.stderr


def test_a_region_keeps_the_entries_a_newer_one_did_not_take(program, native, tmp_path):
    """Where a newer region took over some of an older one's entries (regrown from part of
    it, say), the next run installs the older one for the rest, as the run that made them
    ended with them: not dropping it, which left those entries to be compiled again, run after
    run. (The newer region here is the older one's code, said to be entered at one entry; no
    region gets hot enough to be optimised, so that the warm run compiles nothing.)"""
    run_patched(program, tmp_path, NEVER_HOT)
    keys = manifest_keys(tmp_path)
    cache = CodeCache(tmp_path)
    older = next(region for region in map(cache.load, keys) if len(region.entries) > 1)
    machine = Machine.load(str(program), [str(program)], cache_dir=None)
    code = [(addr, machine.memory.read(addr, size, PROT_EXEC)) for addr, size in older.blocks]
    newer = older._replace(key=cache.key(code, False, older.entries[:1]),
                           entries=older.entries[:1])
    cache.store(newer)
    cache.save_manifest(machine.program_digest, [*keys, newer.key])
    warm = run_patched(program, tmp_path, NEVER_HOT)
    assert warm.stdout == native
    assert preloaded(warm) == len(keys) + 1
    assert b"translating 0.000 s" in warm.stderr


@pytest.mark.parametrize("threshold", [None, "1000000000"], ids=["regions", "threaded"])
def test_code_from_the_cache_is_dropped_when_the_guest_writes_over_it(tmp_path, threshold):
    """The pages of preloaded code (regions, or with a threshold nothing reaches, threaded
    code installed without decoding) are marked as code, as decoding it would mark them: a
    guest that patches a hot function (on a page with no other code) runs the patched code."""
    guest = tmp_path / "patch_text"
    subprocess.run(["gcc", "-O2", "-static", "-o", str(guest),
                    str(REPO / "tests/guests/patch_text.c")], check=True, capture_output=True)
    expected = subprocess.run([str(guest)], capture_output=True, check=True).stdout
    cache = tmp_path / "cache"
    extra = [] if threshold is None else ["--jit-threshold", threshold]
    cold, warm = (subprocess.run([sys.executable, "-m", "xlate", "run", "--stats", *extra,
                                  str(guest)], capture_output=True, timeout=300, cwd=REPO,
                                 env={**os.environ, "XLATE_CACHE_DIR": str(cache)})
                  for _ in ("cold", "warm"))
    assert cold.stdout == warm.stdout == expected
    if threshold is None:
        assert preloaded(warm) > 0
    else:  # add_k's blocks, among others, came from the cache
        assert made(warm) * 10 < made(cold)


def test_warm_run_makes_almost_no_threaded_code(program, native, tmp_path):
    """The first run makes threaded code of each block it runs outside compiled code (start-up
    code, most of it) when the block first runs, and the next run installs all of it from the
    cache, without decoding."""
    cold = run(program, tmp_path)
    warm = run(program, tmp_path)
    assert cold.stdout == warm.stdout == native
    assert made(warm) * 10 < made(cold)


def test_no_cache_neither_reads_nor_writes(program, native, tmp_path):
    assert run(program, tmp_path, "--no-cache").stdout == native
    assert not (tmp_path / "regions").exists()


@pytest.mark.parametrize("damage", ["truncate", "flip-payload", "flip-header", "empty"])
def test_damaged_region_files_are_ignored(program, native, tmp_path, damage):
    run(program, tmp_path)
    for path in region_files(tmp_path):
        data = bytearray(path.read_bytes())
        if damage == "truncate":
            data = data[: len(data) // 2]
        elif damage == "flip-payload":
            data[-10] ^= 0xFF
        elif damage == "flip-header":
            data[9] ^= 0xFF  # the format number
        else:
            data = bytearray()
        path.write_bytes(bytes(data))
    again = run(program, tmp_path)
    assert again.stdout == native and again.returncode == 0
    assert preloaded(again) == 0


def test_a_file_under_another_regions_name_is_ignored(program, native, tmp_path):
    run(program, tmp_path)
    files = region_files(tmp_path)
    assert len(files) >= 2
    # Each file holds another region's code: both are sound, neither is what its name says.
    contents = [p.read_bytes() for p in files]
    for path, data in zip(files, contents[1:] + contents[:1], strict=True):
        path.write_bytes(data)
    again = run(program, tmp_path)
    assert again.stdout == native and preloaded(again) == 0


def test_code_of_another_translator_version_is_not_found(tmp_path):
    cache = CodeCache(tmp_path)
    code = [(0x401000, b"\x90\xc3")]
    cache.store(RegionCode(cache.key(code), "region_401000", ((0x401000, 2),), (0x401000,),
                           b"object"))
    assert cache.load(cache.key(code)) is not None
    other = CodeCache(tmp_path)
    other.environment = b"another translator"
    assert other.key(code) != cache.key(code)
    assert other.load(other.key(code)) is None


def test_translator_digest_is_remembered_until_a_file_changes(tmp_path, monkeypatch):
    files = []
    for name in ("alu.py", "x87.py"):
        path = tmp_path / name
        path.write_text(f"# {name}\n")
        os.utime(path, (1e9, 1e9))  # long settled
        files.append((name, str(path)))
    monkeypatch.setattr(code_cache, "_translator_files", lambda: files)
    memo_path = tmp_path / "translator"
    digest, memo = code_cache._translator_digest(str(memo_path))
    assert memo is not None
    memo_path.write_bytes(memo)
    assert code_cache._translator_digest(str(memo_path)) == (digest, None)  # from the memo
    (tmp_path / "alu.py").write_text("# ALU.py\n")  # the same size; a new modification time
    changed, memo = code_cache._translator_digest(str(memo_path))
    assert changed != digest
    assert memo is None  # modified just now: not remembered yet

def test_unwritable_cache_directory_still_runs(program, native, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory would be")
    proc = run(program, blocker / "cache")
    assert proc.stdout == native and proc.returncode == 0


def test_concurrent_runs_share_one_cache(program, native, tmp_path):
    command = [sys.executable, "-m", "xlate", "run", "--stats", str(program), "20000"]
    env = {**os.environ, "XLATE_CACHE_DIR": str(tmp_path)}
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                              env=env) for _ in range(3)]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert out == native and proc.returncode == 0
    assert not list(tmp_path.rglob(".tmp-*"))
    warm = run(program, tmp_path)
    assert warm.stdout == native and preloaded(warm) > 0


def test_cache_command_reports_and_clears(program, tmp_path):
    run(program, tmp_path)
    env = {**os.environ, "XLATE_CACHE_DIR": str(tmp_path)}
    stats = subprocess.run([sys.executable, "-m", "xlate", "cache", "stats"], env=env,
                           capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert re.search(r"[1-9]\d* regions for 1 programs", stats)
    (tmp_path / "translator.json").write_text("{}")  # the memo as versions before FORMAT 5 kept it
    cleared = subprocess.run([sys.executable, "-m", "xlate", "cache", "clear"], env=env,
                             capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert "removed" in cleared
    assert not list(tmp_path.iterdir())


# Run in a fresh interpreter: what a warm run imports, before the guest starts and by its end.
_IMPORTS_SCRIPT = """
import json, sys
from pathlib import Path
from xlate.machine import Machine
machine = Machine.load(sys.argv[1], [sys.argv[1], "20000"], cache_dir=Path(sys.argv[2]))
engine = machine.engine()
before = {name: name in sys.modules for name in ("llvmlite", "capstone", "elftools")}
result = machine.run()
print(json.dumps({"before": before, "preloaded": result.stats.regions_preloaded,
                  "compiled": engine.compiler is not None,
                  "decoded": machine.decoder.insns_decoded,
                  "after": {name: name in sys.modules for name in ("llvmlite", "capstone")}}))
"""


def _warm_report(program: Path, native: bytes, cache: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", _IMPORTS_SCRIPT, str(program), str(cache)],
                          capture_output=True, timeout=300, cwd=REPO,
                          env={**os.environ, "XLATE_CACHE_DIR": str(cache)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(native)
    return json.loads(proc.stdout[len(native):])


def test_warm_run_needs_no_llvm(program, native, tmp_path):
    """The cache's code is loaded by the C runtime, and the blocks the first run decoded are
    adopted: a run that compiles nothing new imports neither llvmlite nor Capstone; ELF files
    are read without pyelftools."""
    run(program, tmp_path)
    report = _warm_report(program, native, tmp_path)
    assert report["preloaded"] > 0
    assert report["before"] == {"llvmlite": False, "capstone": False, "elftools": False}
    assert not report["compiled"] and report["after"]["llvmlite"] is False
    assert report["decoded"] == 0 and report["after"]["capstone"] is False


def test_damaged_decoded_blocks_are_decoded_again(program, native, tmp_path):
    run(program, tmp_path)
    (blocks,) = (tmp_path / "programs").glob("*.blocks")
    data = bytearray(blocks.read_bytes())
    data[-10] ^= 0xFF
    blocks.write_bytes(bytes(data))
    report = _warm_report(program, native, tmp_path)
    assert report["decoded"] > 0
