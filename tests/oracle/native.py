"""Run x86-64 machine code natively from a CpuState and return the final CpuState.

The work is done by harness.c, built once into tests/oracle/build/ (or
$XLATE_ORACLE_BUILD) and kept running as a helper process that forks a child per
case, so faults, stray writes and syscalls in test code cannot harm the test process
or later cases.
"""

from __future__ import annotations

import atexit
import hashlib
import mmap
import os
import select
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .state import (
    CODE_ADDR,
    CODE_SIZE,
    DATA_ADDR,
    DATA_SIZE,
    FLAGS_MASK,
    MAX_CODE_LEN,
    CpuState,
)

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "harness.c"
CFLAGS = ["-O2", "-Wall", "-Wextra", "-fno-stack-protector", "-static"]

# Layout of the memfd shared with the helper; harness.c asserts the same offsets.
_REQ = struct.Struct("<II16QQ512s")  # code_len, timeout_ms, gpr, rflags, fx
_CODE_OFF = 1024
_RESP_OFF = _CODE_OFF + CODE_SIZE
_RESP = struct.Struct("<IiiiQQ16QQ512s")  # status, signal, si_code, wait_status, ...
_MEM_OFF = _RESP_OFF + 680
_SHM_SIZE = (_MEM_OFF + DATA_SIZE + 4095) & ~4095
_ST_OK, _ST_DIED, _ST_BAD_REQUEST, _ST_HARNESS_FAULT, _ST_HUNG = range(5)


class HarnessError(RuntimeError):
    """The case could not be run or did not report a state (e.g. it called exit)."""


def build_dir() -> Path:
    return Path(os.environ.get("XLATE_ORACLE_BUILD", HERE / "build"))


def _defines() -> list[str]:
    return [
        f"-DDATA_ADDR={DATA_ADDR:#x}",
        f"-DDATA_SIZE={DATA_SIZE:#x}",
        f"-DCODE_ADDR={CODE_ADDR:#x}",
        f"-DCODE_SIZE={CODE_SIZE:#x}",
    ]


def compile_harness(out: Path, extra_flags: tuple[str, ...] = ()) -> str:
    """Compile harness.c to `out`; return gcc's diagnostics (empty when clean)."""
    cmd = ["gcc", *CFLAGS, *extra_flags, *_defines(), str(SOURCE), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode and "-static" in cmd:
        # No static libc installed: a dynamic helper works too, its forks are just slower.
        cmd.remove("-static")
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise HarnessError(f"building the native harness failed:\n{' '.join(cmd)}\n{proc.stderr}")
    return proc.stderr


def harness_path() -> Path:
    """The helper executable, compiled on first use; keyed by source, flags and layout."""
    key = hashlib.sha256()
    key.update(SOURCE.read_bytes())
    key.update(repr((CFLAGS, _defines(), sys.platform)).encode())
    exe = build_dir() / f"harness-{key.hexdigest()[:16]}"
    if not exe.exists():
        exe.parent.mkdir(parents=True, exist_ok=True)
        # Build under a private name and rename, so parallel workers never run a
        # half-written file.
        fd, tmp = tempfile.mkstemp(dir=exe.parent, prefix=".harness-")
        os.close(fd)
        try:
            compile_harness(Path(tmp))
            os.replace(tmp, exe)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return exe


def _pack_fx(s: CpuState) -> bytes:
    fx = bytearray(512)
    struct.pack_into("<HHB", fx, 0, s.fcw, s.fsw, s.ftw)
    struct.pack_into("<I", fx, 24, s.mxcsr)
    for i, v in enumerate(s.st):
        fx[32 + 16 * i : 42 + 16 * i] = v.to_bytes(10, "little")
    for i, v in enumerate(s.xmm):
        fx[160 + 16 * i : 176 + 16 * i] = v.to_bytes(16, "little")
    return bytes(fx)


def _unpack_fx(fx: bytes, s: CpuState) -> None:
    s.fcw, s.fsw, s.ftw = struct.unpack_from("<HHB", fx, 0)
    (s.mxcsr,) = struct.unpack_from("<I", fx, 24)
    s.st = [int.from_bytes(fx[32 + 16 * i : 42 + 16 * i], "little") for i in range(8)]
    s.xmm = [int.from_bytes(fx[160 + 16 * i : 176 + 16 * i], "little") for i in range(16)]


class NativeHarness:
    """One helper process; `run` is thread-safe. Restarted transparently after it dies."""

    def __init__(self, exe: Path | None = None) -> None:
        self._exe = exe
        self._proc: subprocess.Popen[bytes] | None = None
        self._shm: mmap.mmap | None = None
        self._lock = threading.Lock()

    def _start(self) -> tuple[subprocess.Popen[bytes], mmap.mmap]:
        if self._proc is None or self._shm is None or self._proc.poll() is not None:
            self.close()
            exe = self._exe or harness_path()
            fd = os.memfd_create("xlate-oracle")
            try:
                os.ftruncate(fd, _SHM_SIZE)
                self._shm = mmap.mmap(fd, _SHM_SIZE)
                self._proc = subprocess.Popen(
                    [str(exe), str(fd)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    bufsize=0, pass_fds=(fd,),
                )  # fmt: skip
            finally:
                os.close(fd)
        assert self._proc is not None and self._shm is not None
        return self._proc, self._shm

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for f in (proc.stdin, proc.stdout):
                if f is not None:
                    f.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shm, self._shm = self._shm, None
        if shm is not None:
            shm.close()

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self.close()

    def run(self, code: bytes, state: CpuState, *, timeout: float = 2.0) -> CpuState:
        """Run `code` at CODE_ADDR from `state` until it falls off its end or faults.

        A fault (or running past `timeout` seconds: SIGALRM) gives the state at the
        signal with `signal`, `si_code`, `fault_addr` and `rip` set. Raises HarnessError
        if the code ended the process some other way (exit syscall, kill...).
        """
        state.validate()
        if len(code) > MAX_CODE_LEN:
            raise ValueError(f"code is {len(code)} bytes, at most {MAX_CODE_LEN} fit")
        fresh = self._proc is None
        try:
            return self._run(code, state, timeout)
        except HarnessError:
            # A helper that dies before answering its very first request (seen once, on a
            # heavily loaded machine) is started again, once; a later death is the code's doing.
            if not fresh:
                raise
            return self._run(code, state, timeout)

    def _run(self, code: bytes, state: CpuState, timeout: float) -> CpuState:
        timeout_ms = max(1, int(timeout * 1000))
        with self._lock:
            proc, shm = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            _REQ.pack_into(
                shm, 0, len(code), timeout_ms, *state.gpr, state.rflags & FLAGS_MASK,
                _pack_fx(state),
            )  # fmt: skip
            shm[_CODE_OFF : _CODE_OFF + len(code)] = code
            shm[_MEM_OFF : _MEM_OFF + DATA_SIZE] = state.mem
            try:
                proc.stdin.write(b"g")
                # The child has its own alarm; this is the backstop if the helper hangs.
                fd = proc.stdout.fileno()
                if not select.select([fd], [], [], timeout + 10)[0]:
                    raise HarnessError("timed out waiting for the helper")
                if os.read(fd, 1) != b"d":
                    raise HarnessError(f"helper exited (status {proc.poll()})")
            except (OSError, HarnessError) as e:
                self._kill()
                raise HarnessError(f"native harness stopped responding: {e}") from e
            return self._decode(shm, state)

    @staticmethod
    def _decode(shm: mmap.mmap, state: CpuState) -> CpuState:
        fields = _RESP.unpack_from(shm, _RESP_OFF)
        status, sig, si_code, wait_status, fault_addr, rip, *rest = fields
        if status == _ST_BAD_REQUEST:
            raise ValueError(f"the CPU rejects this state (mxcsr={state.mxcsr:#x}?)")
        if status == _ST_DIED:
            how = _wait_str(wait_status)
            raise HarnessError(f"the code ended the process without a fault: {how}")
        if status == _ST_HUNG:
            raise HarnessError("the code ignored SIGALRM and was killed (signals blocked?)")
        if status == _ST_HARNESS_FAULT:
            raise HarnessError(
                f"the harness itself got signal {sig} at {rip:#x} (broken by the code?)"
            )
        if status != _ST_OK:
            raise HarnessError(f"garbled reply from the helper (status {status:#x})")
        mem = shm[_MEM_OFF : _MEM_OFF + DATA_SIZE]
        out = CpuState(gpr=rest[:16], rflags=rest[16] & FLAGS_MASK, mem=mem)
        _unpack_fx(rest[17], out)
        out.signal, out.si_code, out.fault_addr, out.rip = sig, si_code, fault_addr, rip
        return out


def _wait_str(ws: int) -> str:
    if os.WIFEXITED(ws):
        return f"exit status {os.WEXITSTATUS(ws)}"
    if os.WIFSIGNALED(ws):
        return f"killed by signal {os.WTERMSIG(ws)}"
    return f"wait status {ws:#x}"


_default: NativeHarness | None = None
_default_lock = threading.Lock()


def _harness() -> NativeHarness:
    global _default
    with _default_lock:
        if _default is None:
            _default = NativeHarness()
            atexit.register(_default.close)
        return _default


def run_native(code: bytes, state: CpuState, *, timeout: float = 2.0) -> CpuState:
    """Run `code` natively at CODE_ADDR from `state`; return the final state.

    The code runs until it falls off its end (rip == CODE_ADDR + len(code)) or gets a
    signal (SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGTRAP, SIGALRM after `timeout`), in which case
    the returned state is the one at the signal, with `signal` set.
    """
    return _harness().run(code, state, timeout=timeout)
