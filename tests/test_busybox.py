"""Real-world static guest: Debian's busybox-static applets must print, under `xlate run` with
each engine, exactly what they print natively (stdout, stderr and exit status), and applets that
change files must leave the same files behind.

Every applet works on a small tree made here with fixed names, contents, modes and mtimes, so
that listings and archives are the same on every run; applets that change files each get their
own copy of it, and the copies are compared afterwards."""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUSYBOX = Path("/bin/busybox")
ENGINES = ("jit", "interp")
TIMEOUT = 120
FIXED_MTIME = 1_000_000_000  # 2001-09-09: every file of the tree has it (or an offset of it)

pytestmark = pytest.mark.skipif(
    not BUSYBOX.exists(),
    reason="/bin/busybox is missing: scripts/install-test-deps installs busybox-static")


@dataclass
class Applet:
    id: str
    argv: tuple[str, ...]  # after "busybox"; relative paths name the tree
    stdin: bytes = b""
    status: int = 0  # what the native run must exit with, so that a broken case cannot pass
    stdin_from: tuple[str, ...] = ()  # argv of a native busybox run whose stdout is the stdin
    changes_files: bool = False  # runs in its own copy of the tree, compared afterwards


FRUITS = b"".join(f"{name}\n".encode() for name in (
    "banana", "apple", "cherry", "banana", "date", "elderberry", "fig", "apple", "grape",
    "Banana split", "kiwi", "lemon"))
TABLE = b"".join(f"{name}:{uid}:{score}:{home}\n".encode() for name, uid, score, home in (
    ("root", 0, 90, "/root"), ("daemon", 1, 15, "/usr/sbin"), ("alice", 1000, 77, "/home/alice"),
    ("bob", 1001, 42, "/home/bob"), ("carol", 1002, 63, "/home/carol")))
NUMBERS = b"".join(f"{(i * 7919) % 1000}\n".encode() for i in range(200))
LOREM = b"The quick brown fox jumps over the lazy dog.\n" * 40

APPLETS = [
    Applet("echo", ("echo", "-e", "hello\\tworld", "second\\nline")),
    Applet("echo-n", ("echo", "-n", "no newline")),
    Applet("printf", ("printf", "%5.2f|%x|%-6s|%c|%e|%o\\n", "3.14159", "255", "ab", "xyz",
                      "12345.678", "8")),
    Applet("seq", ("seq", "1", "3", "20")),
    Applet("seq-width", ("seq", "-s", ",", "-w", "8", "12")),
    Applet("sort", ("sort", "data/fruits.txt")),
    Applet("sort-fields", ("sort", "-t:", "-k3,3nr", "data/table.txt")),
    Applet("sort-numbers", ("sort", "-n", "-u"), stdin=NUMBERS),
    Applet("uniq", ("uniq", "-c"), stdin=b"a\na\nb\nc\nc\nc\na\n"),
    Applet("wc", ("wc", "data/fruits.txt", "data/numbers.txt", "data/lorem.txt")),
    Applet("wc-stdin", ("wc", "-c"), stdin=LOREM * 50),
    Applet("head", ("head", "-n", "3", "data/fruits.txt")),
    Applet("tail", ("tail", "-n", "2", "data/fruits.txt")),
    Applet("tail-bytes", ("tail", "-c", "30", "data/lorem.txt")),
    Applet("cut", ("cut", "-d:", "-f1,3", "data/table.txt")),
    Applet("tr", ("tr", "a-z", "A-Z"), stdin=FRUITS),
    Applet("tr-delete", ("tr", "-d", "aeiou\\n"), stdin=FRUITS),
    Applet("sed", ("sed", "-e", "s/an/AN/g", "-e", "3d", "data/fruits.txt")),
    Applet("sed-print", ("sed", "-n", "/^[bc]/p", "data/fruits.txt")),
    Applet("awk", ("awk", "-F:", "{ s += $3; n++ } END { printf \"%d rows, sum %d, mean %.3f\\n\","
                   " n, s, s / n }", "data/table.txt")),
    Applet("awk-builtins", ("awk", "BEGIN { print int(7/2), 10/4, 7 % 3, 1e3 + 0.5;"
                            " print substr(\"hello\", 2, 3), toupper(\"x\"),"
                            " sprintf(\"%05.1f\", 3.14159), length(\"four\"),"
                            " index(\"banana\", \"nan\") }")),
    Applet("grep", ("grep", "-n", "-i", "AN", "data/fruits.txt")),
    Applet("grep-count", ("grep", "-c", "-v", "a", "data/fruits.txt")),
    Applet("grep-no-match", ("grep", "zebra", "data/fruits.txt"), status=1),
    Applet("grep-recursive", ("grep", "-r", "-l", "e", "data")),
    Applet("expr", ("expr", "6", "*", "7")),
    Applet("expr-false", ("expr", "1", "=", "2"), status=1),
    Applet("expr-string", ("expr", "length", "hello", "+", "1")),
    Applet("basename", ("basename", "/usr/lib/file.txt", ".txt")),
    Applet("dirname", ("dirname", "/usr/lib/file.txt")),
    Applet("sha256sum", ("sha256sum", "data/fruits.txt", "data/binary.bin")),
    Applet("md5sum", ("md5sum", "data/lorem.txt", "data/binary.bin")),
    Applet("crc32", ("crc32", "data/table.txt")),
    Applet("sha512sum", ("sha512sum", "data/table.txt")),
    Applet("od", ("od", "-A", "x", "-t", "x1", "-N", "64", "data/binary.bin")),
    Applet("xxd", ("xxd", "-l", "48", "-s", "100", "data/binary.bin")),
    Applet("ls", ("ls", "-la", "data")),
    Applet("ls-recursive", ("ls", "-lnR", "data/sub")),
    Applet("stat", ("stat", "-c", "%n %s %F %a %Y", "data/fruits.txt", "data/sub",
                    "data/link")),
    Applet("cat", ("cat", "data/fruits.txt", "data/sub/nested.txt")),
    Applet("cat-missing", ("cat", "data/missing.txt"), status=1),
    Applet("find", ("find", "data", "-name", "*.txt")),
    Applet("find-dirs", ("find", "data", "-type", "d")),
    Applet("du", ("du", "-s", "data")),
    Applet("test-dir", ("test", "-d", "data/sub")),
    Applet("test-missing", ("test", "-e", "data/missing"), status=1),
    Applet("readlink", ("readlink", "data/link")),
    Applet("tar", ("tar", "cf", "-", "data")),
    Applet("tar-list", ("tar", "tvf", "-"), stdin_from=("tar", "cf", "-", "data")),
    Applet("gzip", ("gzip", "-c", "data/lorem.txt")),
    Applet("gunzip", ("gunzip", "-c"), stdin_from=("gzip", "-c", "data/lorem.txt")),
    Applet("date", ("date", "-u", "-d", "@0")),
    Applet("date-format", ("date", "-u", "-d", "@1234567890", "+%Y-%m-%d %H:%M:%S %j %a %s")),
    Applet("true", ("true",)),
    Applet("false", ("false",), status=1),
    # Applets that change files: each run gets its own copy of the tree.
    Applet("cp", ("cp", "-a", "data", "copy"), changes_files=True),
    Applet("mv", ("mv", "data/fruits.txt", "data/sub/moved.txt"), changes_files=True),
    Applet("rm", ("rm", "-r", "data/sub"), changes_files=True),
    Applet("mkdir", ("mkdir", "-p", "new/a/b/c"), changes_files=True),
    Applet("touch", ("touch", "-d", "2002-03-04 05:06:07", "data/fruits.txt", "data/fresh"),
           changes_files=True),
    Applet("chmod", ("chmod", "-R", "go-rwx", "data/sub"), changes_files=True),
    Applet("ln", ("ln", "-s", "sub/nested.txt", "data/newlink"), changes_files=True),
    Applet("sed-in-place", ("sed", "-i", "s/a/A/", "data/fruits.txt"), changes_files=True),
    Applet("tar-extract", ("tar", "xf", "-"), stdin_from=("tar", "cf", "-", "data"),
           changes_files=True),
    Applet("gzip-in-place", ("gzip", "data/lorem.txt"), changes_files=True),
]


def _make_tree(root: Path) -> None:
    """The tree every applet works on: data/ with text, a table, binary bytes, an empty file,
    a symlink and nested directories, all with fixed modes and mtimes."""
    data = root / "data"
    (data / "sub" / "deeper").mkdir(parents=True)
    files = {
        "fruits.txt": FRUITS, "table.txt": TABLE, "numbers.txt": NUMBERS, "lorem.txt": LOREM,
        "binary.bin": bytes(range(256)) * 2, "empty": b"",
        "sub/nested.txt": b"nested file\nwith two lines\n",
        "sub/deeper/leaf.txt": b"the leaf\n",
    }
    for offset, (name, content) in enumerate(files.items()):
        path = data / name
        path.write_bytes(content)
        path.chmod(0o600 if name == "empty" else 0o644)
        os.utime(path, (FIXED_MTIME, FIXED_MTIME + offset * 3600))
    (data / "link").symlink_to("fruits.txt")
    _fix_directory_times(root)


def _fix_directory_times(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
        elif path.is_dir():
            path.chmod(0o755)
    for path in sorted((p for p in [root, *root.rglob("*")] if p.is_dir() and not p.is_symlink()),
                       key=lambda p: -len(p.parts)):  # children first: they touch their parent
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    # A parent of its own, so that the mtime of `..` in listings stays fixed too.
    root = tmp_path_factory.mktemp("busybox-tree") / "tree"
    root.mkdir()
    _make_tree(root)
    return root


def _snapshot(root: Path) -> list[tuple]:
    """What a tree holds: each entry's path, kind, mode, size, content digest or link target,
    and its mtime when it is one this test set (new files and directories differ by run)."""
    entries = []
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        relative = str(path.relative_to(root))
        mtime = st.st_mtime_ns // 10**9
        when = mtime if mtime < 1_500_000_000 else "new"
        if path.is_symlink():
            entries.append((relative, "link", os.readlink(path), when))
        elif path.is_dir():
            entries.append((relative, "dir", oct(st.st_mode & 0o7777)))
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            entries.append((relative, "file", oct(st.st_mode & 0o7777), st.st_size, digest, when))
    return entries


def _run(argv: list[str], cwd: Path, stdin: bytes) -> subprocess.CompletedProcess:
    # xlate runs from the repository's sources whatever the working directory.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.run(argv, input=stdin, capture_output=True, cwd=cwd, env=env,
                          timeout=TIMEOUT)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _diff(label: str, got: bytes, want: bytes) -> str:
    lines = difflib.unified_diff(_text(want).splitlines(keepends=True),
                                 _text(got).splitlines(keepends=True),
                                 f"native {label}", f"xlate {label}")
    return "".join(list(lines)[:60])


@pytest.mark.parametrize("applet", APPLETS, ids=[a.id for a in APPLETS])
def test_busybox_applet_under_xlate_matches_native_run(applet: Applet, tree: Path, tmp_path):
    stdin = applet.stdin
    if applet.stdin_from:
        source = _run([str(BUSYBOX), *applet.stdin_from], tree, b"")
        assert source.returncode == 0, _text(source.stderr)
        stdin = source.stdout

    def workdir(label: str) -> Path:
        if not applet.changes_files:
            return tree
        copy = tmp_path / label
        shutil.copytree(tree, copy, symlinks=True)
        _fix_directory_times(copy)
        return copy

    runs = {label: workdir(label) for label in ("native", *ENGINES)}
    native = _run([str(BUSYBOX), *applet.argv], runs["native"], stdin)
    assert native.returncode == applet.status, (
        f"the native run exited with {native.returncode}, not {applet.status}: the case is "
        f"broken, not xlate\n{_text(native.stdout)}\n{_text(native.stderr)}")

    # Both engines at once: each run is mostly the translator's own start-up.
    with ThreadPoolExecutor(len(ENGINES)) as pool:
        results = dict(zip(ENGINES, pool.map(
            lambda engine: _run([sys.executable, "-m", "xlate", "run", "--engine", engine,
                                 str(BUSYBOX), *applet.argv], runs[engine], stdin),
            ENGINES), strict=True))

    for engine, xlate in results.items():
        where = f"[{engine}] "
        stderr_tail = f"\nxlate stderr:\n{_text(xlate.stderr)[-2000:]}"
        assert xlate.stdout == native.stdout, (
            where + "stdout differs\n" + _diff("stdout", xlate.stdout, native.stdout)
            + stderr_tail)
        assert xlate.stderr == native.stderr, (
            where + "stderr differs\n" + _diff("stderr", xlate.stderr, native.stderr))
        assert xlate.returncode == native.returncode, (
            f"{where}exit status {xlate.returncode}, natively {native.returncode}{stderr_tail}")
        if applet.changes_files:
            assert _snapshot(runs[engine]) == _snapshot(runs["native"]), (
                f"{where}the files left behind differ")
