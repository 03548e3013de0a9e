"""The command line: bad programs and guest crashes give one line on stderr and the exit status a
shell would report, never a traceback."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from xlate.cli import UsageError, parse_run

REPO = Path(__file__).resolve().parent.parent
ENGINES = ("jit", "interp")


def xlate(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xlate", "run", *args], input=stdin,
                          capture_output=True, timeout=120, cwd=REPO)


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    err = proc.stderr.decode()
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("xlate: ")
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def crash_guest(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("guests") / "crash"
    subprocess.run(["gcc", "-O1", "-static", "-nostdlib", "-fno-pie", "-no-pie", "-o", str(out),
                    str(REPO / "tests/guests/crash.c")], check=True)
    return out


@pytest.fixture(scope="module")
def good_elf(crash_guest) -> bytes:
    return crash_guest.read_bytes()


def test_missing_program_exits_127():
    proc = xlate("/nonexistent/program")
    assert proc.returncode == 127
    assert_one_line_error(proc, "/nonexistent/program", "No such file")


@pytest.mark.parametrize("kind, status, message", [
    ("file-as-directory", 127, "Not a directory"),
    ("directory", 126, "Is a directory"),
    ("unreadable", 126, "Permission denied"),
])
def test_unopenable_program_is_one_line(tmp_path, kind, status, message):
    """Whatever stops the program file from opening is reported as the shell reports it."""
    plain = tmp_path / "plain"
    plain.write_bytes(b"\x7fELF")
    path = {"file-as-directory": plain / "program", "directory": tmp_path,
            "unreadable": plain}[kind]
    if kind == "unreadable":
        plain.chmod(0)
        if os.access(plain, os.R_OK):
            pytest.skip("running as root: every file is readable")
    proc = xlate(str(path))
    assert proc.returncode == status
    assert_one_line_error(proc, str(path), message)


def test_non_elf_file_exits_126(tmp_path):
    script = tmp_path / "script.txt"
    script.write_text("just some text\n")
    proc = xlate(str(script))
    assert proc.returncode == 126
    assert_one_line_error(proc, "not an ELF file")


def test_truncated_elf_exits_126(tmp_path, good_elf):
    path = tmp_path / "truncated"
    path.write_bytes(good_elf[:40])
    proc = xlate(str(path))
    assert proc.returncode == 126
    assert_one_line_error(proc, "truncated")


def test_32_bit_elf_exits_126(tmp_path, good_elf):
    path = tmp_path / "elf32"
    path.write_bytes(good_elf[:4] + b"\x01" + good_elf[5:])
    proc = xlate(str(path))
    assert proc.returncode == 126
    assert_one_line_error(proc, "64-bit")


def test_wrong_machine_exits_126(tmp_path, good_elf):
    path = tmp_path / "aarch64"
    path.write_bytes(good_elf[:18] + struct.pack("<H", 183) + good_elf[20:])  # EM_AARCH64
    proc = xlate(str(path))
    assert proc.returncode == 126
    assert_one_line_error(proc, "x86-64")


def test_program_headers_past_end_of_file_exit_126(tmp_path, good_elf):
    path = tmp_path / "badphdr"
    path.write_bytes(good_elf[:32] + struct.pack("<Q", len(good_elf) + 4096) + good_elf[40:])
    proc = xlate(str(path))
    assert proc.returncode == 126
    assert_one_line_error(proc)


def test_segment_past_end_of_file_exits_126(tmp_path, good_elf):
    data = bytearray(good_elf)
    phoff, phentsize, phnum = (struct.unpack_from("<Q", data, 32)[0],
                               *struct.unpack_from("<HH", data, 54))
    for i in range(phnum):
        entry = phoff + i * phentsize
        if struct.unpack_from("<I", data, entry)[0] == 1:  # PT_LOAD: make p_filesz huge
            struct.pack_into("<Q", data, entry + 32, 1 << 40)
            struct.pack_into("<Q", data, entry + 40, 1 << 40)
            break
    path = tmp_path / "badload"
    path.write_bytes(bytes(data))
    proc = xlate(str(path))
    assert proc.returncode == 126
    assert_one_line_error(proc, "PT_LOAD")


def program_headers(data: bytes) -> list[int]:
    """File offsets of an ELF file's program headers."""
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    return [phoff + i * phentsize for i in range(phnum)]


@pytest.mark.parametrize("field, value", [(54, 32), (56, 2000)])  # e_phentsize, e_phnum
def test_program_header_table_of_bad_shape_exits_126(tmp_path, good_elf, field, value):
    path = tmp_path / "badshape"
    path.write_bytes(good_elf[:field] + struct.pack("<H", value) + good_elf[field + 2:])
    proc = xlate(str(path))
    assert proc.returncode == 126
    assert_one_line_error(proc, "program headers")


@pytest.mark.parametrize("damage", ["past-the-end", "unterminated"])
def test_bad_interpreter_segment_exits_126(tmp_path, good_elf, damage):
    data = bytearray(good_elf)
    # A segment that loads nothing becomes a PT_INTERP naming an 18-byte path.
    entry = next(e for e in program_headers(data) if struct.unpack_from("<I", data, e)[0] != 1)
    p_offset = len(data)
    if damage == "unterminated":
        data += b"/lib/ld-linux.so.2"  # no NUL within the segment
    else:
        p_offset += 4096
    struct.pack_into("<I", data, entry, 3)
    struct.pack_into("<Q", data, entry + 8, p_offset)
    struct.pack_into("<Q", data, entry + 32, 18)
    path = tmp_path / "badinterp"
    path.write_bytes(bytes(data))
    proc = xlate(str(path))
    assert proc.returncode == 126
    assert_one_line_error(proc, "PT_INTERP")


def native(guest: Path, mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(guest), mode], capture_output=True, timeout=60)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode, signum, words", [
    ("s", signal.SIGSEGV, ("segmentation fault", "0x1234")),
    ("w", signal.SIGSEGV, ("segmentation fault",)),
    ("k", signal.SIGSEGV, ("segmentation fault",)),
    ("l", signal.SIGSEGV, ("segmentation fault",)),
    ("m", signal.SIGSEGV, ("segmentation fault", "outside the guest address space")),
    ("d", signal.SIGFPE, ("divide error",)),
    ("u", signal.SIGILL, ("undefined instruction", "0f ff")),
])
def test_guest_crash_reports_pc_and_exits_like_native(crash_guest, engine, mode, signum, words):
    expected = native(crash_guest, mode)
    assert expected.returncode == -signum
    proc = xlate("--engine", engine, str(crash_guest), mode)
    assert proc.returncode == 128 + signum
    assert proc.stdout == expected.stdout == b"start\n"
    assert_one_line_error(proc, "guest pc 0x", *words)


@pytest.mark.parametrize("mode", ["l", "m"])
def test_fault_in_compiled_code_names_its_instruction(crash_guest, mode):
    """Compiled code does not store the guest pc before each access: the line table that LLVM
    emits says which access faulted (here one in the middle of its block: l, on an unmapped
    page; m, beyond the guest space, which a bounds check finds), fresh from LLVM and from the
    code cache alike, as the interpreter, going instruction by instruction, says."""
    expected = xlate("--engine", "interp", str(crash_guest), mode)
    assert expected.returncode == 128 + signal.SIGSEGV
    assert_one_line_error(expected, "guest pc 0x", "qword ptr")
    for run in ("compiled", "from the code cache"):
        proc = xlate("--jit-threshold", "0", str(crash_guest), mode)
        assert (proc.returncode, proc.stderr) == (expected.returncode, expected.stderr), run


@pytest.mark.parametrize("engine", ENGINES)
def test_normal_exit_status_passes_through(crash_guest, engine):
    proc = xlate("--engine", engine, str(crash_guest))
    assert proc.returncode == 7
    assert proc.stdout == b"start\n"
    assert proc.stderr == b""


@pytest.mark.parametrize("engine", ENGINES)
def test_stats_and_strace_go_to_stderr(crash_guest, engine):
    proc = xlate("--engine", engine, "--stats", "--strace", str(crash_guest))
    assert proc.returncode == 7
    assert proc.stdout == b"start\n"
    err = proc.stderr.decode()
    assert 'write(1, "start\\n", 6) = 6' in err
    assert "exit(7) = ?" in err
    assert "guest instructions interpreted" in err and "syscalls" in err


def test_python_module_and_command_agree(crash_guest):
    proc = subprocess.run([sys.executable, "-m", "xlate", "run", str(crash_guest)],
                          capture_output=True, timeout=60)
    assert proc.returncode == 7


@pytest.fixture(scope="module")
def printf_guest(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("src") / "p.c"
    source.write_text('#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }\n')
    out = source.with_suffix("")
    subprocess.run(["gcc", "-O2", "-static", "-o", str(out), str(source)], check=True)
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_stdout_on_a_character_device_that_is_no_terminal(printf_guest, engine):
    # glibc asks TCGETS of a character device before buffering stdout: /dev/null says ENOTTY.
    proc = subprocess.run([sys.executable, "-m", "xlate", "run", "--engine", engine,
                           "--strace", str(printf_guest)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "ioctl(1, 0x5401" in proc.stderr.decode()
    assert "ENOTTY" in proc.stderr.decode()


def test_run_options_come_before_the_program_and_its_arguments_are_its_own():
    options = parse_run(["--engine=interp", "--stats", "--jit-threshold", "0", "--no-cache",
                         "prog", "--strace", "-h", "--engine", "x"])
    assert (options.engine, options.stats, options.strace, options.no_cache) == \
        ("interp", True, False, True)
    assert options.jit_threshold == 0
    assert (options.program, options.args) == ("prog", ["--strace", "-h", "--engine", "x"])
    options = parse_run(["--strace", "--", "--stats"])
    assert (options.strace, options.stats, options.program) == (True, False, "--stats")
    assert parse_run(["prog"]).engine == "jit"


@pytest.mark.parametrize("argv", [[], ["--engine", "fast", "p"], ["--jit-threshold=-1", "p"],
                                  ["--jit-threshold", "many", "p"], ["--bogus", "p"],
                                  ["--stats=1", "p"], ["--engine"]])
def test_bad_run_options_are_usage_errors(argv):
    with pytest.raises(UsageError):
        parse_run(argv)


@pytest.mark.parametrize("argv", [[], ["walk"], ["run"], ["run", "--engine", "fast", "p"],
                                  ["cache"], ["cache", "purge"]])
def test_a_bad_command_line_prints_the_usage_and_exits_2(argv):
    proc = subprocess.run([sys.executable, "-m", "xlate", *argv], capture_output=True,
                          timeout=60, cwd=REPO)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.startswith("usage: xlate run") and "\nxlate: error: " in err, err
    assert "Traceback" not in err and not proc.stdout


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["run", "--stats", "--help"]])
def test_help_goes_to_stdout(argv):
    proc = subprocess.run([sys.executable, "-m", "xlate", *argv], capture_output=True,
                          timeout=60, cwd=REPO)
    assert proc.returncode == 0 and not proc.stderr
    assert proc.stdout.decode().startswith("usage: xlate run") and b"--jit-threshold N" in \
        proc.stdout
