"""The x86-64 Linux system call table, and the kernel state one guest process sees.

Each entry takes the guest's six argument registers and returns what the guest sees in rax (a
negative errno on failure). Structures and flags are translated field by field between the
guest's x86-64 ABI and the host's, never passed through: the host need not be x86-64. A syscall
grows the table by adding a function with @syscall(number, name, args) to the module that holds
its concern; importing this module imports them all:

    files     descriptors and their I/O: read, write, open, close, lseek, fcntl, pipe, dup...
    paths     the file system's names: getcwd, chdir, mkdir, unlink, rename, chmod, access...
    dirs      directory listings (getdents64) and their positions
    metadata  stat, statx, statfs
    poll      poll, ppoll, select, pselect6
    mm        mmap, munmap, mprotect, mremap, madvise, brk
    process   exit, ids, arch_prctl, futex, rlimits, uname, prctl, resource usage, sessions
    signals   signal actions, masks and stacks; kill, tkill, tgkill
    clock     clocks and sleeping
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable

from xlate.memory import AddressSpace, GuestMemoryError

TYPE_CHECKING = False  # typing's, without importing typing (see xlate.records)
if TYPE_CHECKING:
    from xlate.linux.dirs import DirectoryListing

MASK64 = (1 << 64) - 1


class GuestExit(Exception):
    """The guest called exit or exit_group."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class GuestKilled(Exception):
    """A signal the guest sent itself ended it (its default action terminates the process)."""

    def __init__(self, signum: int, note: str = "raised by the guest") -> None:
        from xlate.linux.signals import signal_name
        super().__init__(f"killed by signal {signal_name(signum)} ({note})")
        self.signum = signum


class SyscallEntry:
    __slots__ = ("name", "handler", "args")

    def __init__(self, name: str, handler: Callable[..., int], args: str) -> None:
        self.name = name
        self.handler = handler
        # How --strace shows the arguments: d 64-bit int, i 32-bit int (fds), o octal (modes),
        # x hex, s string, p pointer.
        self.args = args


SYSCALLS: dict[int, SyscallEntry] = {}


def syscall(number: int, name: str, args: str = "") -> Callable:
    """Register the decorated function as syscall `number` in the one table."""
    def register(fn: Callable[..., int]) -> Callable[..., int]:
        assert number not in SYSCALLS, f"syscall {number} registered twice"
        SYSCALLS[number] = SyscallEntry(name, fn, args)
        return fn
    return register


def signed(value: int) -> int:
    """A 64-bit argument register as a signed value."""
    return value - (1 << 64) if value >> 63 else value


def int32(value: int) -> int:
    """A C int argument (the upper half of the register is undefined)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


class SignalStack:
    """The guest's alternate signal stack (stack_t)."""
    __slots__ = ("sp", "flags", "size")

    def __init__(self, sp: int = 0, flags: int = 2, size: int = 0) -> None:
        self.sp = sp
        self.flags = flags  # 2: SS_DISABLE
        self.size = size


class LinuxOS:
    """The guest's view of the kernel: one per guest process."""

    def __init__(self, memory: AddressSpace, exe_path: str, brk_start: int, brk: int = 0,
                 strace: bool = False, syscall_count: int = 0, signal_mask: int = 0,
                 tid: int | None = None,
                 invalidate_code: Callable[[int, int], None] = lambda start, end: None,
                 signal_actions: dict[int, bytes] | None = None, pending_signals: int = 0,
                 signal_stack: SignalStack | None = None, thread_name: bytes = b"",
                 directories: dict[int, DirectoryListing] | None = None) -> None:
        self.memory = memory
        self.exe_path = exe_path
        if exe_path:  # /proc/self/exe must not move when the guest changes directory
            self.exe_path = os.path.abspath(exe_path)
        self.brk_start = brk_start
        self.brk = brk_start  # the break starts there, whatever the brk argument says
        self.strace = strace
        self.syscall_count = syscall_count
        self.signal_mask = signal_mask
        self.tid = os.getpid() if tid is None else tid
        # Called with a guest range whose code changed or went away, so translations of it drop.
        self.invalidate_code = invalidate_code
        # Guest signal number -> its struct sigaction as the guest gave it (32 bytes); absent:
        # default.
        self.signal_actions = {} if signal_actions is None else signal_actions
        self.pending_signals = pending_signals  # raised while blocked: bit (signum - 1)
        self.signal_stack = SignalStack() if signal_stack is None else signal_stack
        # prctl PR_SET_NAME / PR_GET_NAME
        self.thread_name = thread_name or os.fsencode(os.path.basename(self.exe_path))[:15]
        # Open directory descriptors being listed by getdents64: fd -> listing and position.
        self.directories = {} if directories is None else directories

    def handle(self, cpu) -> None:
        """Carry out the syscall whose number and arguments are in cpu's registers."""
        number = cpu.gpr[0]
        args = [cpu.gpr[7], cpu.gpr[6], cpu.gpr[2], cpu.gpr[10], cpu.gpr[8], cpu.gpr[9]]
        self.syscall_count += 1
        try:
            result = self._call(number, cpu, args)
            if result == -errno.EPIPE:  # a write to a pipe nobody reads: SIGPIPE, as the kernel
                from xlate.linux.signals import SIGPIPE, send_to_self
                send_to_self(self, SIGPIPE)
        except GuestKilled as killed:
            if self.strace:
                sys.stderr.write(f"+++ {killed} +++\n")
            raise
        cpu.gpr[0] = result & MASK64

    def _call(self, number: int, cpu, args: list[int]) -> int:
        entry = SYSCALLS.get(number)
        if entry is None:
            result = -errno.ENOSYS
            if self.strace:
                self._trace(f"syscall_{number}({', '.join(hex(a) for a in args[:3])})", result)
            return result
        try:
            result = entry.handler(self, cpu, *args)
        except GuestMemoryError as e:
            result = -(e.errno or errno.EFAULT)
        except OSError as e:
            result = -(e.errno or errno.EIO)
        except (ValueError, OverflowError):  # an argument the host call cannot take
            result = -errno.EINVAL
        except GuestExit:
            if self.strace:
                self._trace(f"{entry.name}({args[0]})", None)
            raise
        except GuestKilled:
            if self.strace:
                self._trace(self._describe(entry, args), None)
            raise
        if self.strace:
            self._trace(self._describe(entry, args), result)
        return result

    def _describe(self, entry: SyscallEntry, args: list[int]) -> str:
        shown = []
        for kind, value in zip(entry.args, args, strict=False):
            if kind == "d":
                shown.append(str(signed(value)))
            elif kind == "i":
                shown.append(str(int32(value)))
            elif kind == "o":
                shown.append(f"0{value & 0xFFFFFFFF:o}")
            elif kind == "s":
                try:
                    shown.append(repr(self.memory.read_cstring(value, 256).decode(
                        errors="backslashreplace")).replace("'", '"'))
                except GuestMemoryError:
                    shown.append(hex(value))
            else:
                shown.append(hex(value))
        return f"{entry.name}({', '.join(shown)})"

    def _trace(self, call: str, result: int | None) -> None:
        if result is None:
            line = f"{call} = ?"
        elif -4096 < result < 0:
            name = errno.errorcode.get(-result, str(-result))
            line = f"{call} = -1 {name} ({os.strerror(-result)})"
        else:
            line = f"{call} = {result if result < 1 << 32 else hex(result)}"
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


# Importing the modules that define syscalls fills the table; they import the names above.
from xlate.linux import (  # noqa: E402, F401
    clock,
    dirs,
    files,
    metadata,
    mm,
    paths,
    poll,
    process,
    signals,
)
