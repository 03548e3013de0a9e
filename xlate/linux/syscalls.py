"""The x86-64 Linux system call table.

Each entry takes the guest's six argument registers and returns what the guest sees in rax (a
negative errno on failure). Structures and flags are translated field by field between the
guest's x86-64 ABI and the host's, never passed through: the host need not be x86-64. A syscall
grows the table by adding a function with @syscall(number)."""

from __future__ import annotations

import errno
import os
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from xlate.memory import (
    MMAP_TOP,
    PAGE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    AddressSpace,
    GuestMemoryError,
    page_up,
)

MASK64 = (1 << 64) - 1


class GuestExit(Exception):
    """The guest called exit or exit_group."""

    def __init__(self, status: int) -> None:
        self.status = status


@dataclass
class SyscallEntry:
    name: str
    handler: Callable[..., int]
    args: str  # how --strace shows the arguments: d int, x hex, s string, p pointer


SYSCALLS: dict[int, SyscallEntry] = {}


def syscall(number: int, name: str, args: str = "") -> Callable:
    def register(fn: Callable[..., int]) -> Callable[..., int]:
        SYSCALLS[number] = SyscallEntry(name, fn, args)
        return fn
    return register


@dataclass
class LinuxOS:
    """The guest's view of the kernel: one per guest process."""
    memory: AddressSpace
    exe_path: str
    brk_start: int
    brk: int = 0
    strace: bool = False
    syscall_count: int = 0
    signal_mask: int = 0
    tid: int = field(default_factory=os.getpid)
    # Called with a guest range whose code changed or went away, so translations of it drop.
    invalidate_code: Callable[[int, int], None] = lambda start, end: None

    def __post_init__(self) -> None:
        self.brk = self.brk_start

    def handle(self, cpu) -> None:
        """Carry out the syscall whose number and arguments are in cpu's registers."""
        number = cpu.gpr[0]
        args = [cpu.gpr[7], cpu.gpr[6], cpu.gpr[2], cpu.gpr[10], cpu.gpr[8], cpu.gpr[9]]
        self.syscall_count += 1
        entry = SYSCALLS.get(number)
        if entry is None:
            result = -errno.ENOSYS
            if self.strace:
                self._trace(f"syscall_{number}({', '.join(hex(a) for a in args[:3])})", result)
        else:
            try:
                result = entry.handler(self, cpu, *args)
            except GuestMemoryError as e:
                result = -(e.errno or errno.EFAULT)
            except OSError as e:
                result = -(e.errno or errno.EIO)
            except GuestExit:
                if self.strace:
                    self._trace(f"{entry.name}({args[0]})", None)
                raise
            if self.strace:
                self._trace(self._describe(entry, args), result)
        cpu.gpr[0] = result & MASK64

    def _describe(self, entry: SyscallEntry, args: list[int]) -> str:
        shown = []
        for kind, value in zip(entry.args, args, strict=False):
            if kind == "d":
                shown.append(str(value - (1 << 64) if value >> 63 else value))
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


def _signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


# -- files ------------------------------------------------------------------------------------

# Guest (x86-64) open flags -> host os.O_* flags: the bit values differ between architectures.
_OPEN_FLAGS = [(0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"),
               (0o2000, "O_APPEND"), (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"),
               (0o20000, "O_ASYNC"), (0o40000, "O_DIRECT"), (0o200000, "O_DIRECTORY"),
               (0o400000, "O_NOFOLLOW"), (0o1000000, "O_NOATIME"), (0o2000000, "O_CLOEXEC"),
               (0o4010000, "O_SYNC"), (0o10000000, "O_PATH"), (0o20200000, "O_TMPFILE")]
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EMPTY_PATH = 0x1000


def host_open_flags(guest: int) -> int:
    host = guest & 3  # O_RDONLY, O_WRONLY, O_RDWR
    for bit, name in _OPEN_FLAGS:
        if guest & bit == bit and hasattr(os, name):
            host |= getattr(os, name)
    return host


def _dirfd(fd: int) -> int | None:
    fd = _int32(fd)
    return None if fd == AT_FDCWD else fd


@syscall(0, "read", "dxd")
def sys_read(lx: LinuxOS, cpu, fd, buf, count, *_):
    data = os.read(_int32(fd), min(count, 1 << 30))
    lx.memory.write(buf, data)
    return len(data)


@syscall(1, "write", "dsd")
def sys_write(lx: LinuxOS, cpu, fd, buf, count, *_):
    return os.write(_int32(fd), lx.memory.read(buf, count))


def _iovecs(lx: LinuxOS, iov: int, count: int) -> list[tuple[int, int]]:
    if count > 1024:
        raise GuestMemoryError(errno.EINVAL, "iovcnt")
    raw = lx.memory.read(iov, 16 * count)
    return [struct.unpack_from("<QQ", raw, 16 * i) for i in range(count)]


@syscall(19, "readv", "dxd")
def sys_readv(lx: LinuxOS, cpu, fd, iov, count, *_):
    total = 0
    for base, length in _iovecs(lx, iov, count):
        data = os.read(_int32(fd), length)
        lx.memory.write(base, data)
        total += len(data)
        if len(data) < length:
            break
    return total


@syscall(20, "writev", "dxd")
def sys_writev(lx: LinuxOS, cpu, fd, iov, count, *_):
    data = b"".join(lx.memory.read(base, length) for base, length in _iovecs(lx, iov, count))
    return os.write(_int32(fd), data)


@syscall(17, "pread64", "dxdd")
def sys_pread(lx: LinuxOS, cpu, fd, buf, count, offset, *_):
    data = os.pread(_int32(fd), count, offset)
    lx.memory.write(buf, data)
    return len(data)


@syscall(18, "pwrite64", "dxdd")
def sys_pwrite(lx: LinuxOS, cpu, fd, buf, count, offset, *_):
    return os.pwrite(_int32(fd), lx.memory.read(buf, count), offset)


@syscall(2, "open", "sxx")
def sys_open(lx: LinuxOS, cpu, path, flags, mode, *_):
    return os.open(_path(lx, path), host_open_flags(flags), mode & 0o7777)


@syscall(257, "openat", "dsxx")
def sys_openat(lx: LinuxOS, cpu, dirfd, path, flags, mode, *_):
    return os.open(_path(lx, path), host_open_flags(flags), mode & 0o7777, dir_fd=_dirfd(dirfd))


@syscall(3, "close", "d")
def sys_close(lx: LinuxOS, cpu, fd, *_):
    os.close(_int32(fd))
    return 0


@syscall(8, "lseek", "ddd")
def sys_lseek(lx: LinuxOS, cpu, fd, offset, whence, *_):
    return os.lseek(_int32(fd), _signed(offset), whence)


def _pack_stat(st: os.stat_result) -> bytes:
    """struct stat as x86-64 lays it out (144 bytes)."""
    return struct.pack(
        "<QQQIIIIQqqqQQQQQQqqq", st.st_dev, st.st_ino, st.st_nlink, st.st_mode, st.st_uid,
        st.st_gid, 0, st.st_rdev, st.st_size, st.st_blksize, st.st_blocks,
        int(st.st_atime), st.st_atime_ns % 10**9, int(st.st_mtime), st.st_mtime_ns % 10**9,
        int(st.st_ctime), st.st_ctime_ns % 10**9, 0, 0, 0)


@syscall(5, "fstat", "dx")
def sys_fstat(lx: LinuxOS, cpu, fd, buf, *_):
    lx.memory.write(buf, _pack_stat(os.fstat(_int32(fd))))
    return 0


@syscall(4, "stat", "sx")
def sys_stat(lx: LinuxOS, cpu, path, buf, *_):
    lx.memory.write(buf, _pack_stat(os.stat(_path(lx, path))))
    return 0


@syscall(6, "lstat", "sx")
def sys_lstat(lx: LinuxOS, cpu, path, buf, *_):
    lx.memory.write(buf, _pack_stat(os.lstat(_path(lx, path))))
    return 0


@syscall(262, "newfstatat", "dsxx")
def sys_newfstatat(lx: LinuxOS, cpu, dirfd, path, buf, flags, *_):
    name = _path(lx, path)
    if not name and flags & AT_EMPTY_PATH:
        st = os.fstat(_int32(dirfd))
    else:
        st = os.stat(name, dir_fd=_dirfd(dirfd), follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
    lx.memory.write(buf, _pack_stat(st))
    return 0


TCGETS, TIOCGWINSZ = 0x5401, 0x5413


@syscall(16, "ioctl", "dxx")
def sys_ioctl(lx: LinuxOS, cpu, fd, request, arg, *_):
    import fcntl
    import termios
    fd = _int32(fd)
    if request == TCGETS:
        # struct termios (kernel's, 36 bytes): four flag words, the line discipline, 19 c_cc.
        try:
            attrs = termios.tcgetattr(fd)
        except termios.error as e:  # not an OSError: ENOTTY for a pipe or file, EBADF...
            return -e.args[0]
        cc = bytes(c if isinstance(c, int) else c[0] for c in attrs[6])[:19].ljust(19, b"\0")
        lx.memory.write(arg, struct.pack("<IIIIB", *attrs[:4], 0) + cc)
        return 0
    if request == TIOCGWINSZ:
        lx.memory.write(arg, fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
        return 0
    return -errno.ENOTTY


def _is_exe_link(name: bytes) -> bool:
    return name in (b"/proc/self/exe", f"/proc/{os.getpid()}/exe".encode())


def _path(lx: LinuxOS, guest_addr: int) -> bytes:
    path = lx.memory.read_cstring(guest_addr, 4096)
    return os.fsencode(os.path.abspath(lx.exe_path)) if _is_exe_link(path) else path


def _readlink(lx: LinuxOS, dirfd: int | None, path: int, buf: int, size: int) -> int:
    name = lx.memory.read_cstring(path, 4096)
    if _is_exe_link(name):  # the guest program, not the translator
        target = os.fsencode(os.path.abspath(lx.exe_path))
    else:
        target = os.fsencode(os.readlink(name, dir_fd=dirfd))
    lx.memory.write(buf, target[:size])
    return min(len(target), size)


@syscall(89, "readlink", "sxd")
def sys_readlink(lx: LinuxOS, cpu, path, buf, size, *_):
    return _readlink(lx, None, path, buf, size)


@syscall(267, "readlinkat", "dsxd")
def sys_readlinkat(lx: LinuxOS, cpu, dirfd, path, buf, size, *_):
    return _readlink(lx, _dirfd(dirfd), path, buf, size)


@syscall(21, "access", "sx")
def sys_access(lx: LinuxOS, cpu, path, mode, *_):
    return 0 if os.access(_path(lx, path), mode) else -errno.EACCES


@syscall(72, "fcntl", "ddx")
def sys_fcntl(lx: LinuxOS, cpu, fd, cmd, arg, *_):
    import fcntl
    F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC = 0, 1, 2, 3, 4, 1030
    fd = _int32(fd)
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC if cmd == F_DUPFD_CLOEXEC else fcntl.F_DUPFD,
                           arg)
    if cmd in (F_GETFD, F_SETFD):
        return fcntl.fcntl(fd, fcntl.F_GETFD if cmd == F_GETFD else fcntl.F_SETFD, arg & 1)
    if cmd == F_GETFL:
        host = fcntl.fcntl(fd, fcntl.F_GETFL)
        guest = host & 3
        for bit, name in _OPEN_FLAGS:
            if hasattr(os, name) and host & getattr(os, name) == getattr(os, name):
                guest |= bit
        return guest
    if cmd == F_SETFL:
        return fcntl.fcntl(fd, fcntl.F_SETFL, host_open_flags(arg))
    return -errno.EINVAL


@syscall(32, "dup", "d")
def sys_dup(lx: LinuxOS, cpu, fd, *_):
    return os.dup(_int32(fd))


@syscall(33, "dup2", "dd")
def sys_dup2(lx: LinuxOS, cpu, fd, fd2, *_):
    return os.dup2(_int32(fd), _int32(fd2))


# -- memory -----------------------------------------------------------------------------------

MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_FIXED_NOREPLACE = 0x100000


def _guest_prot(prot: int) -> int:
    return prot & (PROT_READ | PROT_WRITE | PROT_EXEC)


@syscall(9, "mmap", "xxxxdx")
def sys_mmap(lx: LinuxOS, cpu, addr, length, prot, flags, fd, offset):
    if length == 0 or offset % PAGE or addr % PAGE and flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
        return -errno.EINVAL
    size = page_up(length)
    if size > 1 << 46:
        return -errno.ENOMEM
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
        if flags & MAP_FIXED_NOREPLACE and not lx.memory.is_free(addr, addr + size):
            return -errno.EEXIST
        start = addr
    elif addr and lx.memory.is_free(addr, addr + size) and addr + size <= MMAP_TOP:
        start = addr
    else:
        start = lx.memory.find_free(size)
    anonymous = bool(flags & MAP_ANONYMOUS)
    lx.memory.map(start, size, _guest_prot(prot), fd=-1 if anonymous else _int32(fd),
                  offset=offset, shared=bool(flags & MAP_SHARED), name="" if anonymous else "file")
    lx.invalidate_code(start, start + size)
    return start


@syscall(11, "munmap", "xx")
def sys_munmap(lx: LinuxOS, cpu, addr, length, *_):
    if addr % PAGE or not length:
        return -errno.EINVAL
    lx.memory.unmap(addr, length)
    lx.invalidate_code(addr, addr + page_up(length))
    return 0


@syscall(10, "mprotect", "xxx")
def sys_mprotect(lx: LinuxOS, cpu, addr, length, prot, *_):
    if addr % PAGE:
        return -errno.EINVAL
    if length:
        lx.memory.protect(addr, length, _guest_prot(prot))
        lx.invalidate_code(addr, addr + page_up(length))
    return 0


MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2


@syscall(25, "mremap", "xxxx")
def sys_mremap(lx: LinuxOS, cpu, old, old_size, new_size, flags, new_addr, *_):
    if old % PAGE or not new_size:
        return -errno.EINVAL
    old_size, new_size = page_up(old_size), page_up(new_size)
    mapping = lx.memory.find(old)
    if mapping is None or not lx.memory.readable(old, old_size, 0):
        return -errno.EFAULT
    if new_size <= old_size:
        if new_size < old_size:
            lx.memory.unmap(old + new_size, old_size - new_size)
        return old
    if lx.memory.is_free(old + old_size, old + new_size):
        lx.memory.map(old + old_size, new_size - old_size, mapping.prot)
        return old
    if not flags & MREMAP_MAYMOVE:
        return -errno.ENOMEM
    start = new_addr if flags & MREMAP_FIXED else lx.memory.find_free(new_size)
    data = lx.memory.read(old, old_size, 0)
    lx.memory.map(start, new_size, mapping.prot | PROT_WRITE)
    lx.memory.poke(start, data)
    lx.memory.protect(start, new_size, mapping.prot)
    lx.memory.unmap(old, old_size)
    lx.invalidate_code(old, old + old_size)
    return start


@syscall(28, "madvise", "xxd")
def sys_madvise(lx: LinuxOS, cpu, addr, length, advice, *_):
    MADV_DONTNEED = 4
    if advice == MADV_DONTNEED and length:  # anonymous memory reads back as zeros
        mapping = lx.memory.find(addr)
        if mapping is not None and mapping.name != "file":
            lx.memory.map(addr, length, mapping.prot)
    return 0


@syscall(12, "brk", "x")
def sys_brk(lx: LinuxOS, cpu, addr, *_):
    if addr < lx.brk_start:
        return lx.brk
    old_top, new_top = page_up(lx.brk), page_up(addr)
    if new_top > old_top:
        if not lx.memory.is_free(old_top, new_top):
            return lx.brk
        lx.memory.map(old_top, new_top - old_top, PROT_READ | PROT_WRITE, name="[heap]")
    elif new_top < old_top:
        lx.memory.unmap(new_top, old_top - new_top)
    lx.brk = addr
    return lx.brk


# -- process ----------------------------------------------------------------------------------

@syscall(60, "exit", "d")
def sys_exit(lx: LinuxOS, cpu, status, *_):
    raise GuestExit(status & 0xFF)


@syscall(231, "exit_group", "d")
def sys_exit_group(lx: LinuxOS, cpu, status, *_):
    raise GuestExit(status & 0xFF)


ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004


@syscall(158, "arch_prctl", "xx")
def sys_arch_prctl(lx: LinuxOS, cpu, code, addr, *_):
    if code == ARCH_SET_FS:
        cpu.fs_base = addr
    elif code == ARCH_SET_GS:
        cpu.gs_base = addr
    elif code in (ARCH_GET_FS, ARCH_GET_GS):
        value = cpu.fs_base if code == ARCH_GET_FS else cpu.gs_base
        lx.memory.write(addr, struct.pack("<Q", value))
    else:
        return -errno.EINVAL
    return 0


@syscall(218, "set_tid_address", "x")
def sys_set_tid_address(lx: LinuxOS, cpu, addr, *_):
    return lx.tid


@syscall(273, "set_robust_list", "xd")
def sys_set_robust_list(lx: LinuxOS, cpu, head, length, *_):
    return 0 if length == 24 else -errno.EINVAL


@syscall(334, "rseq", "xdxx")
def sys_rseq(lx: LinuxOS, cpu, *_):
    return -errno.ENOSYS


@syscall(39, "getpid")
def sys_getpid(lx: LinuxOS, cpu, *_):
    return os.getpid()


@syscall(110, "getppid")
def sys_getppid(lx: LinuxOS, cpu, *_):
    return os.getppid()


@syscall(186, "gettid")
def sys_gettid(lx: LinuxOS, cpu, *_):
    return lx.tid


@syscall(102, "getuid")
def sys_getuid(lx: LinuxOS, cpu, *_):
    return os.getuid()


@syscall(107, "geteuid")
def sys_geteuid(lx: LinuxOS, cpu, *_):
    return os.geteuid()


@syscall(104, "getgid")
def sys_getgid(lx: LinuxOS, cpu, *_):
    return os.getgid()


@syscall(108, "getegid")
def sys_getegid(lx: LinuxOS, cpu, *_):
    return os.getegid()


@syscall(63, "uname", "x")
def sys_uname(lx: LinuxOS, cpu, buf, *_):
    u = os.uname()
    fields = (u.sysname, u.nodename, u.release, u.version, "x86_64", "(none)")
    lx.memory.write(buf, b"".join(os.fsencode(f)[:64].ljust(65, b"\0") for f in fields))
    return 0


RLIMIT_NAMES = {0: "RLIMIT_CPU", 1: "RLIMIT_FSIZE", 2: "RLIMIT_DATA", 3: "RLIMIT_STACK",
                4: "RLIMIT_CORE", 5: "RLIMIT_RSS", 6: "RLIMIT_NPROC", 7: "RLIMIT_NOFILE",
                8: "RLIMIT_MEMLOCK", 9: "RLIMIT_AS"}


def _rlimit(value: int) -> int:
    import resource
    return MASK64 if value == resource.RLIM_INFINITY else value


@syscall(302, "prlimit64", "ddxx")
def sys_prlimit64(lx: LinuxOS, cpu, pid, resource_id, new, old, *_):
    import resource
    name = RLIMIT_NAMES.get(resource_id)
    if name is None or not hasattr(resource, name):
        return -errno.EINVAL
    if old:
        soft, hard = resource.getrlimit(getattr(resource, name))
        lx.memory.write(old, struct.pack("<QQ", _rlimit(soft), _rlimit(hard)))
    if new:  # the guest's limits are its own: accepted, not applied to the translator
        lx.memory.read(new, 16)
    return 0


@syscall(97, "getrlimit", "dx")
def sys_getrlimit(lx: LinuxOS, cpu, resource_id, old, *_):
    return sys_prlimit64(lx, cpu, 0, resource_id, 0, old)


@syscall(318, "getrandom", "xdx")
def sys_getrandom(lx: LinuxOS, cpu, buf, count, flags, *_):
    data = os.urandom(min(count, 1 << 25))
    lx.memory.write(buf, data)
    return len(data)


@syscall(13, "rt_sigaction", "dxxd")
def sys_rt_sigaction(lx: LinuxOS, cpu, sig, act, oldact, sigsetsize, *_):
    # Handlers are recorded but not yet delivered; reading back gives the default action.
    if sigsetsize != 8 or not 1 <= sig <= 64 or sig in (9, 19) and act:
        return -errno.EINVAL
    if oldact:
        lx.memory.write(oldact, bytes(32))
    if act:
        lx.memory.read(act, 32)
    return 0


@syscall(14, "rt_sigprocmask", "dxxd")
def sys_rt_sigprocmask(lx: LinuxOS, cpu, how, new, old, sigsetsize, *_):
    if sigsetsize != 8:
        return -errno.EINVAL
    if old:
        lx.memory.write(old, struct.pack("<Q", lx.signal_mask))
    if new:
        value = struct.unpack("<Q", lx.memory.read(new, 8))[0]
        if how == 0:
            lx.signal_mask |= value
        elif how == 1:
            lx.signal_mask &= ~value
        elif how == 2:
            lx.signal_mask = value
        else:
            return -errno.EINVAL
    return 0


@syscall(204, "sched_getaffinity", "ddx")
def sys_sched_getaffinity(lx: LinuxOS, cpu, pid, size, mask_addr, *_):
    cpus = os.sched_getaffinity(0)
    nbytes = max(8, (max(cpus) // 64 + 1) * 8)
    if size < nbytes:
        return -errno.EINVAL
    bits = sum(1 << c for c in cpus)
    lx.memory.write(mask_addr, bits.to_bytes(nbytes, "little"))
    return nbytes


@syscall(24, "sched_yield")
def sys_sched_yield(lx: LinuxOS, cpu, *_):
    return 0


FUTEX_WAIT, FUTEX_WAKE = 0, 1


@syscall(202, "futex", "xdd")
def sys_futex(lx: LinuxOS, cpu, addr, op, value, *_):
    # One guest thread: a wait whose value matches would wait forever, so it cannot happen in a
    # correct program; report the mismatch case as the kernel does.
    command = op & 0x7F
    if command == FUTEX_WAKE:
        return 0
    if command == FUTEX_WAIT:
        current = struct.unpack("<I", lx.memory.read(addr, 4))[0]
        return -errno.EAGAIN if current != value & 0xFFFFFFFF else -errno.EDEADLK
    return -errno.ENOSYS


# -- time -------------------------------------------------------------------------------------

@syscall(228, "clock_gettime", "dx")
def sys_clock_gettime(lx: LinuxOS, cpu, clock, buf, *_):
    try:
        ns = time.clock_gettime_ns(clock)
    except OSError:
        return -errno.EINVAL
    lx.memory.write(buf, struct.pack("<qq", ns // 10**9, ns % 10**9))
    return 0


@syscall(229, "clock_getres", "dx")
def sys_clock_getres(lx: LinuxOS, cpu, clock, buf, *_):
    res = time.clock_getres(clock)
    if buf:
        lx.memory.write(buf, struct.pack("<qq", int(res), round(res % 1 * 10**9)))
    return 0


@syscall(96, "gettimeofday", "xx")
def sys_gettimeofday(lx: LinuxOS, cpu, tv, tz, *_):
    ns = time.time_ns()
    if tv:
        lx.memory.write(tv, struct.pack("<qq", ns // 10**9, ns // 1000 % 10**6))
    if tz:
        lx.memory.write(tz, bytes(8))
    return 0


@syscall(201, "time", "x")
def sys_time(lx: LinuxOS, cpu, tloc, *_):
    now = int(time.time())
    if tloc:
        lx.memory.write(tloc, struct.pack("<q", now))
    return now


@syscall(35, "nanosleep", "xx")
def sys_nanosleep(lx: LinuxOS, cpu, req, rem, *_):
    sec, nsec = struct.unpack("<qq", lx.memory.read(req, 16))
    if sec < 0 or not 0 <= nsec < 10**9:
        return -errno.EINVAL
    time.sleep(sec + nsec / 1e9)
    return 0
