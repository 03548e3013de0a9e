"""Syscalls on file descriptors: opening and closing, reading and writing, seeking, duplicating,
pipes, fcntl and ioctl, syncing and truncating. Guest descriptors are host descriptors."""

from __future__ import annotations

import errno
import os
import struct

from xlate.linux import dirs
from xlate.linux.paths import dirfd, guest_path
from xlate.linux.syscalls import LinuxOS, int32, signed, syscall
from xlate.memory import PROT_WRITE, GuestMemoryError

# Guest (x86-64) open flags -> host os.O_* flags: the bit values differ between architectures.
_OPEN_FLAGS = [(0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"),
               (0o2000, "O_APPEND"), (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"),
               (0o20000, "O_ASYNC"), (0o40000, "O_DIRECT"), (0o200000, "O_DIRECTORY"),
               (0o400000, "O_NOFOLLOW"), (0o1000000, "O_NOATIME"), (0o2000000, "O_CLOEXEC"),
               (0o4010000, "O_SYNC"), (0o10000000, "O_PATH"), (0o20200000, "O_TMPFILE")]
O_CLOEXEC = 0o2000000


def host_open_flags(guest: int) -> int:
    host = guest & 3  # O_RDONLY, O_WRONLY, O_RDWR
    for bit, name in _OPEN_FLAGS:
        if guest & bit == bit and hasattr(os, name):
            host |= getattr(os, name)
    return host


def guest_open_flags(host: int) -> int:
    guest = host & 3
    for bit, name in _OPEN_FLAGS:
        if hasattr(os, name) and host & getattr(os, name) == getattr(os, name):
            guest |= bit
    return guest


def _forget(lx: LinuxOS, fd: int) -> None:
    """fd now names another file, or none: state kept about the old one goes."""
    lx.directories.pop(fd, None)


# -- reading and writing ----------------------------------------------------------------------

@syscall(0, "read", "ixd")
def sys_read(lx: LinuxOS, cpu, fd, buf, count, *_):
    # As the kernel: no more than the buffer's writable start, and nothing read if that is
    # empty (EFAULT).
    size = lx.memory.accessible(buf, min(count, 1 << 30), PROT_WRITE)
    if count and not size:
        return -errno.EFAULT
    data = os.read(int32(fd), size)
    lx.memory.write(buf, data)
    return len(data)


@syscall(1, "write", "isd")
def sys_write(lx: LinuxOS, cpu, fd, buf, count, *_):
    return os.write(int32(fd), lx.memory.read(buf, count))


def _iovecs(lx: LinuxOS, iov: int, count: int) -> list[tuple[int, int]]:
    if count > 1024:
        raise GuestMemoryError(errno.EINVAL, "iovcnt")
    raw = lx.memory.read(iov, 16 * count)
    return [struct.unpack_from("<QQ", raw, 16 * i) for i in range(count)]


@syscall(19, "readv", "ixd")
def sys_readv(lx: LinuxOS, cpu, fd, iov, count, *_):
    total = 0
    for base, length in _iovecs(lx, iov, count):
        data = os.read(int32(fd), length)
        lx.memory.write(base, data)
        total += len(data)
        if len(data) < length:
            break
    return total


@syscall(20, "writev", "ixd")
def sys_writev(lx: LinuxOS, cpu, fd, iov, count, *_):
    data = b"".join(lx.memory.read(base, length) for base, length in _iovecs(lx, iov, count))
    return os.write(int32(fd), data)


@syscall(17, "pread64", "ixdd")
def sys_pread(lx: LinuxOS, cpu, fd, buf, count, offset, *_):
    data = os.pread(int32(fd), count, offset)
    lx.memory.write(buf, data)
    return len(data)


@syscall(18, "pwrite64", "ixdd")
def sys_pwrite(lx: LinuxOS, cpu, fd, buf, count, offset, *_):
    return os.pwrite(int32(fd), lx.memory.read(buf, count), offset)


def _copy(lx: LinuxOS, out_fd: int, in_fd: int, in_offset_addr: int, count: int,
          out_offset_addr: int = 0) -> int:
    """Copy up to count bytes between descriptors through the translator, at the guest's offset
    pointers when given (updating them) or at the descriptors' own offsets."""
    count = min(count, 1 << 24)
    if in_offset_addr:
        in_offset = struct.unpack("<q", lx.memory.read(in_offset_addr, 8))[0]
        if in_offset < 0:
            return -errno.EINVAL
        data = os.pread(in_fd, count, in_offset)
    else:
        data = os.read(in_fd, count)
    if not data:
        return 0
    if out_offset_addr:
        out_offset = struct.unpack("<q", lx.memory.read(out_offset_addr, 8))[0]
        written = os.pwrite(out_fd, data, out_offset)
        lx.memory.write(out_offset_addr, struct.pack("<q", out_offset + written))
    else:
        written = os.write(out_fd, data)
    if in_offset_addr:
        lx.memory.write(in_offset_addr, struct.pack("<q", in_offset + written))
    elif written < len(data):  # give back what was read but not written
        os.lseek(in_fd, written - len(data), os.SEEK_CUR)
    return written


@syscall(40, "sendfile", "iixd")
def sys_sendfile(lx: LinuxOS, cpu, out_fd, in_fd, offset, count, *_):
    return _copy(lx, int32(out_fd), int32(in_fd), offset, count)


@syscall(326, "copy_file_range", "ixixdx")
def sys_copy_file_range(lx: LinuxOS, cpu, in_fd, in_offset, out_fd, out_offset, count, flags):
    if flags:
        return -errno.EINVAL
    return _copy(lx, int32(out_fd), int32(in_fd), in_offset, count, out_offset)


# -- opening, closing, seeking ----------------------------------------------------------------

def _open(lx: LinuxOS, fd: int | None, path: int, flags: int, mode: int) -> int:
    opened = os.open(guest_path(lx, path), host_open_flags(flags), mode & 0o7777, dir_fd=fd)
    if not flags & O_CLOEXEC:  # os.open always sets close-on-exec; the guest did not ask
        os.set_inheritable(opened, True)
    return opened


@syscall(2, "open", "sxo")
def sys_open(lx: LinuxOS, cpu, path, flags, mode, *_):
    return _open(lx, None, path, flags, mode)


@syscall(257, "openat", "isxo")
def sys_openat(lx: LinuxOS, cpu, fd, path, flags, mode, *_):
    return _open(lx, dirfd(fd), path, flags, mode)


@syscall(85, "creat", "so")
def sys_creat(lx: LinuxOS, cpu, path, mode, *_):
    return _open(lx, None, path, 0o100 | 0o1000 | 1, mode)  # O_CREAT | O_TRUNC | O_WRONLY


@syscall(3, "close", "i")
def sys_close(lx: LinuxOS, cpu, fd, *_):
    os.close(int32(fd))
    _forget(lx, int32(fd))
    return 0


SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE = 0, 1, 2, 3, 4


@syscall(8, "lseek", "idd")
def sys_lseek(lx: LinuxOS, cpu, fd, offset, whence, *_):
    fd = int32(fd)
    if fd in lx.directories:  # positions in a listing are getdents64's, not the host's
        return dirs.seek(lx, fd, signed(offset), whence)
    host_whence = {SEEK_SET: os.SEEK_SET, SEEK_CUR: os.SEEK_CUR, SEEK_END: os.SEEK_END,
                   SEEK_DATA: getattr(os, "SEEK_DATA", -1),
                   SEEK_HOLE: getattr(os, "SEEK_HOLE", -1)}.get(whence, -1)
    if host_whence < 0:
        return -errno.EINVAL
    return os.lseek(fd, signed(offset), host_whence)


@syscall(32, "dup", "i")
def sys_dup(lx: LinuxOS, cpu, fd, *_):
    import fcntl
    return fcntl.fcntl(int32(fd), fcntl.F_DUPFD, 0)  # os.dup would set close-on-exec


@syscall(33, "dup2", "ii")
def sys_dup2(lx: LinuxOS, cpu, fd, fd2, *_):
    fd, fd2 = int32(fd), int32(fd2)
    result = os.dup2(fd, fd2)
    if fd != fd2:
        _forget(lx, fd2)
    return result


@syscall(292, "dup3", "iix")
def sys_dup3(lx: LinuxOS, cpu, fd, fd2, flags, *_):
    fd, fd2 = int32(fd), int32(fd2)
    if fd == fd2 or flags & ~O_CLOEXEC:
        return -errno.EINVAL
    result = os.dup2(fd, fd2, inheritable=not flags & O_CLOEXEC)
    _forget(lx, fd2)
    return result


def _pipe(lx: LinuxOS, fds_addr: int, flags: int) -> int:
    if flags & ~(O_CLOEXEC | 0o4000 | 0o40000 | 0o10000000):  # CLOEXEC NONBLOCK DIRECT NOTIFICATION
        return -errno.EINVAL
    lx.memory.write(fds_addr, bytes(8))  # EFAULT before any descriptor exists
    read_end, write_end = os.pipe2(host_open_flags(flags & ~0o10000000))
    lx.memory.write(fds_addr, struct.pack("<ii", read_end, write_end))
    return 0


@syscall(22, "pipe", "x")
def sys_pipe(lx: LinuxOS, cpu, fds, *_):
    return _pipe(lx, fds, 0)


@syscall(293, "pipe2", "xx")
def sys_pipe2(lx: LinuxOS, cpu, fds, flags, *_):
    return _pipe(lx, fds, flags)


MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_HUGETLB = 1, 2, 4


@syscall(319, "memfd_create", "sx")
def sys_memfd_create(lx: LinuxOS, cpu, name, flags, *_):
    if flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | 0x3F << 26):
        return -errno.EINVAL
    label = lx.memory.read_cstring(name, 250)
    host = ((os.MFD_CLOEXEC if flags & MFD_CLOEXEC else 0)
            | (os.MFD_ALLOW_SEALING if flags & MFD_ALLOW_SEALING else 0)
            | (os.MFD_HUGETLB | (flags >> 26 & 0x3F) << os.MFD_HUGE_SHIFT
               if flags & MFD_HUGETLB else 0))
    return os.memfd_create(os.fsdecode(label), host)


# -- control ----------------------------------------------------------------------------------

TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO = 0x5401, 0x5413, 0x541B, 0x5421
FIONCLEX, FIOCLEX = 0x5450, 0x5451


@syscall(16, "ioctl", "ixx")
def sys_ioctl(lx: LinuxOS, cpu, fd, request, arg, *_):
    import fcntl
    import termios
    fd = int32(fd)
    if request == TCGETS:
        # struct termios (kernel's, 36 bytes): four flag words, the line discipline, 19 c_cc.
        try:
            attrs = termios.tcgetattr(fd)
        except termios.error as e:  # not an OSError: ENOTTY for a pipe or file, EBADF...
            return -e.args[0]
        cc = bytes(c if isinstance(c, int) else c[0] for c in attrs[6])[:19].ljust(19, b"\0")
        lx.memory.write(arg, struct.pack("<IIIIB", *attrs[:4], 0) + cc)
        return 0
    if request == TIOCGWINSZ:  # struct winsize: four unsigned shorts
        rows, cols, xpixels, ypixels = struct.unpack(
            "=HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
        lx.memory.write(arg, struct.pack("<HHHH", rows, cols, xpixels, ypixels))
        return 0
    if request == FIONREAD:  # bytes waiting to be read, as an int
        waiting = struct.unpack("=i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
        lx.memory.write(arg, struct.pack("<i", waiting))
        return 0
    if request == FIONBIO:
        os.set_blocking(fd, not struct.unpack("<i", lx.memory.read(arg, 4))[0])
        return 0
    if request in (FIOCLEX, FIONCLEX):
        os.set_inheritable(fd, request == FIONCLEX)
        return 0
    return -errno.ENOTTY


F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK, F_SETLKW = 0, 1, 2, 3, 4, 5, 6, 7
F_DUPFD_CLOEXEC, F_SETPIPE_SZ, F_GETPIPE_SZ, F_ADD_SEALS, F_GET_SEALS = 1030, 1031, 1032, 1033, 1034
F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2
# memfd seals, guest bit -> the host's fcntl name
_SEALS = [(1, "F_SEAL_SEAL"), (2, "F_SEAL_SHRINK"), (4, "F_SEAL_GROW"), (8, "F_SEAL_WRITE")]


def _record_lock(lx: LinuxOS, fd: int, cmd: int, arg: int) -> int:
    """F_SETLK / F_SETLKW with the guest's struct flock: type, whence, start, length."""
    import fcntl
    kind, whence, start, length = struct.unpack("<hh4xqq", lx.memory.read(arg, 24))
    operation = {F_RDLCK: fcntl.LOCK_SH, F_WRLCK: fcntl.LOCK_EX, F_UNLCK: fcntl.LOCK_UN}.get(kind)
    if operation is None or whence not in (SEEK_SET, SEEK_CUR, SEEK_END):
        return -errno.EINVAL
    if cmd == F_SETLK and operation != fcntl.LOCK_UN:
        operation |= fcntl.LOCK_NB
    host_whence = (os.SEEK_SET, os.SEEK_CUR, os.SEEK_END)[whence]
    try:
        fcntl.lockf(fd, operation, length, start, host_whence)
    except OSError as e:  # a conflicting lock: F_SETLK reports EAGAIN or EACCES, as the host
        return -(e.errno or errno.EAGAIN)
    return 0


@syscall(72, "fcntl", "iix")
def sys_fcntl(lx: LinuxOS, cpu, fd, cmd, arg, *_):
    import fcntl
    fd, cmd = int32(fd), int32(cmd)
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC if cmd == F_DUPFD_CLOEXEC else fcntl.F_DUPFD,
                           int32(arg))
    if cmd in (F_GETFD, F_SETFD):
        return fcntl.fcntl(fd, fcntl.F_GETFD if cmd == F_GETFD else fcntl.F_SETFD, arg & 1)
    if cmd == F_GETFL:
        return guest_open_flags(fcntl.fcntl(fd, fcntl.F_GETFL))
    if cmd == F_SETFL:
        return fcntl.fcntl(fd, fcntl.F_SETFL, host_open_flags(arg))
    if cmd in (F_SETLK, F_SETLKW):
        return _record_lock(lx, fd, cmd, arg)
    if cmd == F_GETPIPE_SZ:
        return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
    if cmd == F_SETPIPE_SZ:
        return fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, int32(arg))
    if cmd == F_GET_SEALS:
        host = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        return sum(bit for bit, name in _SEALS if host & getattr(fcntl, name))
    if cmd == F_ADD_SEALS:
        if arg & ~sum(bit for bit, _ in _SEALS):
            return -errno.EINVAL
        return fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                           sum(getattr(fcntl, name) for bit, name in _SEALS if arg & bit))
    return -errno.EINVAL  # F_GETLK, owners, leases, notifications: not yet


LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN, LOCK_MAND = 1, 2, 4, 8, 32


@syscall(73, "flock", "ix")
def sys_flock(lx: LinuxOS, cpu, fd, operation, *_):
    import fcntl
    if operation & LOCK_MAND:  # obsolete mandatory locks: Linux 5.15 on ignores the call
        return 0
    kind = {LOCK_SH: fcntl.LOCK_SH, LOCK_EX: fcntl.LOCK_EX, LOCK_UN: fcntl.LOCK_UN}.get(
        operation & ~LOCK_NB)
    if kind is None:
        return -errno.EINVAL
    fcntl.flock(int32(fd), kind | (fcntl.LOCK_NB if operation & LOCK_NB else 0))
    return 0


_FADVICE = {0: "POSIX_FADV_NORMAL", 1: "POSIX_FADV_RANDOM", 2: "POSIX_FADV_SEQUENTIAL",
            3: "POSIX_FADV_WILLNEED", 4: "POSIX_FADV_DONTNEED", 5: "POSIX_FADV_NOREUSE"}


@syscall(221, "fadvise64", "iddi")
def sys_fadvise64(lx: LinuxOS, cpu, fd, offset, length, advice, *_):
    name = _FADVICE.get(int32(advice))
    if name is None:
        return -errno.EINVAL
    os.posix_fadvise(int32(fd), signed(offset), signed(length), getattr(os, name))
    return 0


# -- syncing and sizes ------------------------------------------------------------------------

@syscall(74, "fsync", "i")
def sys_fsync(lx: LinuxOS, cpu, fd, *_):
    os.fsync(int32(fd))
    return 0


@syscall(75, "fdatasync", "i")
def sys_fdatasync(lx: LinuxOS, cpu, fd, *_):
    os.fdatasync(int32(fd))
    return 0


@syscall(162, "sync")
def sys_sync(lx: LinuxOS, cpu, *_):
    os.sync()
    return 0


@syscall(77, "ftruncate", "id")
def sys_ftruncate(lx: LinuxOS, cpu, fd, length, *_):
    os.ftruncate(int32(fd), signed(length))
    return 0
