"""Syscalls on the file system's names: the working directory, creating, removing, renaming and
linking names, permissions, owners, times and access checks."""

from __future__ import annotations

import errno
import os
import stat
import struct
import time

from xlate.linux.syscalls import LinuxOS, int32, signed, syscall

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_EACCESS = 0x200  # faccessat's meaning of 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_EMPTY_PATH = 0x1000


def dirfd(fd: int) -> int | None:
    """A *at syscall's directory argument as os functions take it (None: the cwd)."""
    fd = int32(fd)
    return None if fd == AT_FDCWD else fd


def _is_exe_link(name: bytes) -> bool:
    return name in (b"/proc/self/exe", f"/proc/{os.getpid()}/exe".encode())


def guest_path(lx: LinuxOS, guest_addr: int) -> bytes:
    """A path argument; /proc/self/exe names the guest program, not the translator."""
    path = lx.memory.read_cstring(guest_addr, 4096)
    return os.fsencode(os.path.abspath(lx.exe_path)) if _is_exe_link(path) else path


def _existing_path(lx: LinuxOS, guest_addr: int) -> bytes:
    """A path argument that must name something: the empty path is ENOENT, as in the kernel."""
    path = guest_path(lx, guest_addr)
    if not path:
        raise FileNotFoundError(errno.ENOENT, "empty path")
    return path


# -- the working directory --------------------------------------------------------------------

@syscall(79, "getcwd", "xd")
def sys_getcwd(lx: LinuxOS, cpu, buf, size, *_):
    cwd = os.getcwdb() + b"\0"
    if size < len(cwd):
        return -errno.ERANGE
    lx.memory.write(buf, cwd)
    return len(cwd)


@syscall(80, "chdir", "s")
def sys_chdir(lx: LinuxOS, cpu, path, *_):
    os.chdir(_existing_path(lx, path))
    return 0


@syscall(81, "fchdir", "i")
def sys_fchdir(lx: LinuxOS, cpu, fd, *_):
    os.fchdir(int32(fd))
    return 0


@syscall(95, "umask", "o")
def sys_umask(lx: LinuxOS, cpu, mask, *_):
    return os.umask(mask & 0o777)


# -- creating and removing names --------------------------------------------------------------

@syscall(83, "mkdir", "so")
def sys_mkdir(lx: LinuxOS, cpu, path, mode, *_):
    os.mkdir(_existing_path(lx, path), mode & 0o7777)
    return 0


@syscall(258, "mkdirat", "iso")
def sys_mkdirat(lx: LinuxOS, cpu, fd, path, mode, *_):
    os.mkdir(_existing_path(lx, path), mode & 0o7777, dir_fd=dirfd(fd))
    return 0


# File types as the guest's mode encodes them (S_IFMT bits are the same on every Linux).
_MKNOD_TYPES = {0o100000: stat.S_IFREG, 0o020000: stat.S_IFCHR, 0o060000: stat.S_IFBLK,
                0o010000: stat.S_IFIFO, 0o140000: stat.S_IFSOCK}


def _mknod(lx: LinuxOS, fd: int | None, path: int, mode: int, dev: int) -> int:
    kind = mode & 0o170000
    if kind and kind not in _MKNOD_TYPES:
        return -errno.EINVAL
    host_mode = _MKNOD_TYPES.get(kind, stat.S_IFREG) | mode & 0o7777
    # dev_t as the guest passes it: the kernel's 32-bit encoding (major 12 bits, minor 20).
    device = os.makedev((dev >> 8) & 0xFFF, (dev & 0xFF) | ((dev >> 12) & 0xFFF00))
    os.mknod(_existing_path(lx, path), host_mode, device, dir_fd=fd)
    return 0


@syscall(133, "mknod", "sox")
def sys_mknod(lx: LinuxOS, cpu, path, mode, dev, *_):
    return _mknod(lx, None, path, mode, dev)


@syscall(259, "mknodat", "isox")
def sys_mknodat(lx: LinuxOS, cpu, fd, path, mode, dev, *_):
    return _mknod(lx, dirfd(fd), path, mode, dev)


@syscall(84, "rmdir", "s")
def sys_rmdir(lx: LinuxOS, cpu, path, *_):
    os.rmdir(_existing_path(lx, path))
    return 0


@syscall(87, "unlink", "s")
def sys_unlink(lx: LinuxOS, cpu, path, *_):
    os.unlink(_existing_path(lx, path))
    return 0


@syscall(263, "unlinkat", "isx")
def sys_unlinkat(lx: LinuxOS, cpu, fd, path, flags, *_):
    if flags & ~AT_REMOVEDIR:
        return -errno.EINVAL
    name = _existing_path(lx, path)
    if flags & AT_REMOVEDIR:
        os.rmdir(name, dir_fd=dirfd(fd))
    else:
        os.unlink(name, dir_fd=dirfd(fd))
    return 0


@syscall(82, "rename", "ss")
def sys_rename(lx: LinuxOS, cpu, old, new, *_):
    os.rename(_existing_path(lx, old), _existing_path(lx, new))
    return 0


@syscall(264, "renameat", "isis")
def sys_renameat(lx: LinuxOS, cpu, old_fd, old, new_fd, new, *_):
    os.rename(_existing_path(lx, old), _existing_path(lx, new), src_dir_fd=dirfd(old_fd),
              dst_dir_fd=dirfd(new_fd))
    return 0


@syscall(316, "renameat2", "isisx")
def sys_renameat2(lx: LinuxOS, cpu, old_fd, old, new_fd, new, flags, *_):
    if flags & 0xFFFFFFFF:  # RENAME_NOREPLACE, EXCHANGE, WHITEOUT: not yet; callers fall back
        return -errno.EINVAL
    return sys_renameat(lx, cpu, old_fd, old, new_fd, new)


@syscall(86, "link", "ss")
def sys_link(lx: LinuxOS, cpu, old, new, *_):
    os.link(_existing_path(lx, old), _existing_path(lx, new), follow_symlinks=False)
    return 0


@syscall(265, "linkat", "isisx")
def sys_linkat(lx: LinuxOS, cpu, old_fd, old, new_fd, new, flags, *_):
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        return -errno.EINVAL
    source, source_dir = guest_path(lx, old), dirfd(old_fd)
    follow = bool(flags & AT_SYMLINK_FOLLOW)
    if not source:
        if not flags & AT_EMPTY_PATH or source_dir is None:
            return -errno.ENOENT
        # The open file itself (an O_TMPFILE given a name): its /proc link, followed.
        source, source_dir, follow = f"/proc/self/fd/{source_dir}".encode(), None, True
    os.link(source, _existing_path(lx, new), src_dir_fd=source_dir, dst_dir_fd=dirfd(new_fd),
            follow_symlinks=follow)
    return 0


@syscall(88, "symlink", "ss")
def sys_symlink(lx: LinuxOS, cpu, target, path, *_):
    os.symlink(_existing_path(lx, target), _existing_path(lx, path))
    return 0


@syscall(266, "symlinkat", "sis")
def sys_symlinkat(lx: LinuxOS, cpu, target, fd, path, *_):
    os.symlink(_existing_path(lx, target), _existing_path(lx, path), dir_fd=dirfd(fd))
    return 0


def _readlink(lx: LinuxOS, fd: int | None, path: int, buf: int, size: int) -> int:
    if int32(size) <= 0:
        return -errno.EINVAL
    name = lx.memory.read_cstring(path, 4096)
    if _is_exe_link(name):  # the guest program, not the translator
        target = os.fsencode(os.path.abspath(lx.exe_path))
    else:
        target = os.fsencode(os.readlink(name, dir_fd=fd))
    lx.memory.write(buf, target[:size])
    return min(len(target), size)


@syscall(89, "readlink", "sxd")
def sys_readlink(lx: LinuxOS, cpu, path, buf, size, *_):
    return _readlink(lx, None, path, buf, size)


@syscall(267, "readlinkat", "isxd")
def sys_readlinkat(lx: LinuxOS, cpu, fd, path, buf, size, *_):
    return _readlink(lx, dirfd(fd), path, buf, size)


@syscall(76, "truncate", "sd")
def sys_truncate(lx: LinuxOS, cpu, path, length, *_):
    os.truncate(_existing_path(lx, path), signed(length))
    return 0


# -- permissions, owners, times ---------------------------------------------------------------

@syscall(90, "chmod", "so")
def sys_chmod(lx: LinuxOS, cpu, path, mode, *_):
    os.chmod(_existing_path(lx, path), mode & 0o7777)
    return 0


@syscall(91, "fchmod", "io")
def sys_fchmod(lx: LinuxOS, cpu, fd, mode, *_):
    os.fchmod(int32(fd), mode & 0o7777)
    return 0


@syscall(268, "fchmodat", "iso")
def sys_fchmodat(lx: LinuxOS, cpu, fd, path, mode, *_):
    # The syscall has no flags argument: C libraries emulate AT_SYMLINK_NOFOLLOW themselves.
    os.chmod(_existing_path(lx, path), mode & 0o7777, dir_fd=dirfd(fd))
    return 0


def _id(value: int) -> int:
    """A uid_t or gid_t argument: (uid_t)-1 means "leave unchanged"."""
    value &= 0xFFFFFFFF
    return -1 if value == 0xFFFFFFFF else value


@syscall(92, "chown", "sii")
def sys_chown(lx: LinuxOS, cpu, path, uid, gid, *_):
    os.chown(_existing_path(lx, path), _id(uid), _id(gid))
    return 0


@syscall(93, "fchown", "iii")
def sys_fchown(lx: LinuxOS, cpu, fd, uid, gid, *_):
    os.fchown(int32(fd), _id(uid), _id(gid))
    return 0


@syscall(94, "lchown", "sii")
def sys_lchown(lx: LinuxOS, cpu, path, uid, gid, *_):
    os.lchown(_existing_path(lx, path), _id(uid), _id(gid))
    return 0


@syscall(260, "fchownat", "isiix")
def sys_fchownat(lx: LinuxOS, cpu, fd, path, uid, gid, flags, *_):
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        return -errno.EINVAL
    name = guest_path(lx, path)
    if not name:
        if not flags & AT_EMPTY_PATH:
            return -errno.ENOENT
        os.fchown(int32(fd), _id(uid), _id(gid))
        return 0
    os.chown(name, _id(uid), _id(gid), dir_fd=dirfd(fd),
             follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
    return 0


UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2


def _set_times(target: bytes | int, fd: int | None, follow: bool,
               times: list[tuple[int, int]] | None) -> int:
    """Set (atime, mtime), each (seconds, nanoseconds) with UTIME_NOW / UTIME_OMIT, or both now."""
    if times is None or all(nsec == UTIME_NOW for _, nsec in times):
        os.utime(target, None, dir_fd=fd, follow_symlinks=follow)
        return 0
    for _, nsec in times:
        if nsec not in (UTIME_NOW, UTIME_OMIT) and not 0 <= nsec < 10**9:
            return -errno.EINVAL
    current = os.stat(target, dir_fd=fd, follow_symlinks=follow)
    if all(nsec == UTIME_OMIT for _, nsec in times):
        return 0
    now = time.time_ns()
    ns = []
    for (sec, nsec), old in zip(times, (current.st_atime_ns, current.st_mtime_ns), strict=True):
        ns.append(now if nsec == UTIME_NOW else old if nsec == UTIME_OMIT else sec * 10**9 + nsec)
    os.utime(target, ns=(ns[0], ns[1]), dir_fd=fd, follow_symlinks=follow)
    return 0


@syscall(280, "utimensat", "isxx")
def sys_utimensat(lx: LinuxOS, cpu, fd, path, times, flags, *_):
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        return -errno.EINVAL
    stamps = None
    if times:
        raw = lx.memory.read(times, 32)
        stamps = [struct.unpack_from("<qq", raw, 0), struct.unpack_from("<qq", raw, 16)]
    if not path:  # futimens: the descriptor itself
        return _set_times(int32(fd), None, True, stamps)
    name = guest_path(lx, path)
    if not name:
        if not flags & AT_EMPTY_PATH:
            return -errno.ENOENT
        return _set_times(int32(fd), None, True, stamps)
    return _set_times(name, dirfd(fd), not flags & AT_SYMLINK_NOFOLLOW, stamps)


def _timevals(lx: LinuxOS, times: int) -> list[tuple[int, int]] | None:
    if not times:
        return None
    raw = lx.memory.read(times, 32)
    stamps = []
    for offset in (0, 16):
        sec, usec = struct.unpack_from("<qq", raw, offset)
        if not 0 <= usec < 10**6:
            raise OSError(errno.EINVAL, "bad timeval")
        stamps.append((sec, usec * 1000))
    return stamps


@syscall(235, "utimes", "sx")
def sys_utimes(lx: LinuxOS, cpu, path, times, *_):
    return _set_times(_existing_path(lx, path), None, True, _timevals(lx, times))


@syscall(261, "futimesat", "isx")
def sys_futimesat(lx: LinuxOS, cpu, fd, path, times, *_):
    if not path:
        return _set_times(int32(fd), None, True, _timevals(lx, times))
    return _set_times(_existing_path(lx, path), dirfd(fd), True, _timevals(lx, times))


@syscall(132, "utime", "sx")
def sys_utime(lx: LinuxOS, cpu, path, times, *_):
    stamps = None
    if times:
        atime, mtime = struct.unpack("<qq", lx.memory.read(times, 16))
        stamps = [(atime, 0), (mtime, 0)]
    return _set_times(_existing_path(lx, path), None, True, stamps)


# -- access checks ----------------------------------------------------------------------------

R_OK, W_OK, X_OK = 4, 2, 1


def _access(lx: LinuxOS, fd: int | None, path: int, mode: int, flags: int) -> int:
    if mode & ~(R_OK | W_OK | X_OK) or flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        return -errno.EINVAL
    name = guest_path(lx, path)
    follow = not flags & AT_SYMLINK_NOFOLLOW
    if not name:
        if not flags & AT_EMPTY_PATH:
            return -errno.ENOENT
        target = b"." if fd is None else f"/proc/self/fd/{fd}".encode()
        fd, follow = None, True
    else:
        target = name
    host_mode = ((os.R_OK if mode & R_OK else 0) | (os.W_OK if mode & W_OK else 0)
                 | (os.X_OK if mode & X_OK else 0)) or os.F_OK
    if os.access(target, host_mode, dir_fd=fd, effective_ids=bool(flags & AT_EACCESS),
                 follow_symlinks=follow):
        return 0
    # os.access says only no: stat tells a missing file or an unsearchable directory apart.
    os.stat(target, dir_fd=fd, follow_symlinks=follow)
    if mode & W_OK and os.statvfs(target).f_flag & os.ST_RDONLY:
        return -errno.EROFS
    return -errno.EACCES


@syscall(21, "access", "so")
def sys_access(lx: LinuxOS, cpu, path, mode, *_):
    return _access(lx, None, path, mode, 0)


@syscall(269, "faccessat", "iso")
def sys_faccessat(lx: LinuxOS, cpu, fd, path, mode, *_):
    return _access(lx, dirfd(fd), path, mode, 0)


@syscall(439, "faccessat2", "isox")
def sys_faccessat2(lx: LinuxOS, cpu, fd, path, mode, flags, *_):
    return _access(lx, dirfd(fd), path, mode, flags)
