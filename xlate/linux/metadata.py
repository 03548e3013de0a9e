"""What files and file systems are: stat, fstat, lstat, newfstatat, statx, statfs, fstatfs.

The host's os.stat_result and os.statvfs_result are packed into the x86-64 kernel's structs."""

from __future__ import annotations

import errno
import os
import struct

from xlate.linux.paths import AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, dirfd, guest_path
from xlate.linux.syscalls import LinuxOS, int32, syscall

AT_NO_AUTOMOUNT = 0x800
AT_STATX_SYNC_TYPE = 0x6000


def guest_dev(host_dev: int) -> int:
    """A device number in the encoding the guest's C library decodes (glibc's 64-bit dev_t)."""
    major, minor = os.major(host_dev), os.minor(host_dev)
    return ((major & 0xFFFFF000) << 32 | (major & 0xFFF) << 8
            | (minor & 0xFFFFFF00) << 12 | minor & 0xFF)


def _seconds(ns: int) -> tuple[int, int]:
    return ns // 10**9, ns % 10**9


def pack_stat(st: os.stat_result) -> bytes:
    """struct stat as x86-64 lays it out (144 bytes)."""
    return struct.pack(
        "<QQQIIIIQqqqqQqQqQqqq", guest_dev(st.st_dev), st.st_ino, st.st_nlink, st.st_mode,
        st.st_uid, st.st_gid, 0, guest_dev(st.st_rdev), st.st_size, st.st_blksize, st.st_blocks,
        *_seconds(st.st_atime_ns), *_seconds(st.st_mtime_ns), *_seconds(st.st_ctime_ns), 0, 0, 0)


def _stat_at(fd: int | None, name: bytes, flags: int) -> os.stat_result:
    """fstatat: the empty path with AT_EMPTY_PATH is the descriptor (or the cwd) itself."""
    if not name:
        if not flags & AT_EMPTY_PATH:
            raise FileNotFoundError(errno.ENOENT, "empty path")
        return os.stat(".") if fd is None else os.fstat(fd)
    return os.stat(name, dir_fd=fd, follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)


@syscall(5, "fstat", "ix")
def sys_fstat(lx: LinuxOS, cpu, fd, buf, *_):
    lx.memory.write(buf, pack_stat(os.fstat(int32(fd))))
    return 0


@syscall(4, "stat", "sx")
def sys_stat(lx: LinuxOS, cpu, path, buf, *_):
    lx.memory.write(buf, pack_stat(_stat_at(None, guest_path(lx, path), 0)))
    return 0


@syscall(6, "lstat", "sx")
def sys_lstat(lx: LinuxOS, cpu, path, buf, *_):
    lx.memory.write(buf, pack_stat(_stat_at(None, guest_path(lx, path), AT_SYMLINK_NOFOLLOW)))
    return 0


@syscall(262, "newfstatat", "isxx")
def sys_newfstatat(lx: LinuxOS, cpu, fd, path, buf, flags, *_):
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT):
        return -errno.EINVAL
    lx.memory.write(buf, pack_stat(_stat_at(dirfd(fd), guest_path(lx, path), flags)))
    return 0


# -- statx ------------------------------------------------------------------------------------

STATX_BASIC_STATS, STATX_BTIME, STATX__RESERVED = 0x7FF, 0x800, 0x80000000


def _statx_time(ns: int) -> bytes:
    return struct.pack("<qIi", *_seconds(ns), 0)


def pack_statx(st: os.stat_result) -> bytes:
    """struct statx (256 bytes): the basic stats, and the birth time when the host has it."""
    birth_ns = getattr(st, "st_birthtime_ns", None)
    mask = STATX_BASIC_STATS | (STATX_BTIME if birth_ns is not None else 0)
    head = struct.pack("<IIQIIIHHQQQQ", mask, st.st_blksize, 0, st.st_nlink, st.st_uid,
                       st.st_gid, st.st_mode, 0, st.st_ino, st.st_size, st.st_blocks, 0)
    times = b"".join(_statx_time(ns) for ns in (st.st_atime_ns, birth_ns or 0, st.st_ctime_ns,
                                                 st.st_mtime_ns))
    devices = struct.pack("<IIII", os.major(st.st_rdev), os.minor(st.st_rdev),
                          os.major(st.st_dev), os.minor(st.st_dev))
    return (head + times + devices).ljust(256, b"\0")


@syscall(332, "statx", "isxxx")
def sys_statx(lx: LinuxOS, cpu, fd, path, flags, mask, buf, *_):
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)
            or flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE or mask & STATX__RESERVED):
        return -errno.EINVAL
    name = guest_path(lx, path) if path or not flags & AT_EMPTY_PATH else b""
    lx.memory.write(buf, pack_statx(_stat_at(dirfd(fd), name, flags)))
    return 0


# -- file systems -----------------------------------------------------------------------------

# statfs's f_type: the magic number of each file system type, by the name /proc/self/mountinfo
# gives it (the host's statvfs does not tell the type).
FS_MAGIC = {
    "ext2": 0xEF53, "ext3": 0xEF53, "ext4": 0xEF53, "tmpfs": 0x01021994,
    "devtmpfs": 0x01021994, "overlay": 0x794C7630, "proc": 0x9FA0, "sysfs": 0x62656572,
    "devpts": 0x1CD1, "btrfs": 0x9123683E, "xfs": 0x58465342, "nfs": 0x6969, "nfs4": 0x6969,
    "cgroup2": 0x63677270, "cgroup": 0x27E0EB, "mqueue": 0x19800202, "fuse": 0x65735546,
    "fuseblk": 0x65735546, "virtiofs": 0x6A656A63, "vfat": 0x4D44, "msdos": 0x4D44,
    "squashfs": 0x73717368, "zfs": 0x2FC12FC1, "f2fs": 0xF2F52010, "9p": 0x01021997,
    "ramfs": 0x858458F6, "hugetlbfs": 0x958458F6, "debugfs": 0x64626720,
    "securityfs": 0x73636673, "tracefs": 0x74726163, "bpf": 0xCAFE4A11, "autofs": 0x0187,
    "configfs": 0x62656570, "pstore": 0x6165676C, "binfmt_misc": 0x42494E4D,
    "nsfs": 0x6E736673, "iso9660": 0x9660, "ntfs": 0x5346544E, "ceph": 0x00C36400,
    "cifs": 0xFF534D42, "smb3": 0xFE534D42, "erofs": 0xE0F5E1E2,
}

# Guest ST_* mount flags (x86-64 statfs f_flags) and the host's os.ST_* names for them.
_MOUNT_FLAGS = [(1, "ST_RDONLY"), (2, "ST_NOSUID"), (4, "ST_NODEV"), (8, "ST_NOEXEC"),
                (16, "ST_SYNCHRONOUS"), (64, "ST_MANDLOCK"), (1024, "ST_NOATIME"),
                (2048, "ST_NODIRATIME"), (4096, "ST_RELATIME")]
ST_VALID = 0x20


def _mounts() -> list[tuple[bytes, int, bytes]]:
    """(mount point, device, file system type) of each mount, from /proc/self/mountinfo."""
    mounts = []
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            for line in f:
                fields, _, rest = line.partition(b" - ")
                parts = fields.split()
                if len(parts) < 5 or not rest:
                    continue
                major, _, minor = parts[2].partition(b":")
                point = _unescape(parts[4])
                mounts.append((point, os.makedev(int(major), int(minor)), rest.split()[0]))
    except (OSError, ValueError):
        pass
    return mounts


def _unescape(field: bytes) -> bytes:
    """A field of mountinfo with its octal escapes (\\040 for a space) undone."""
    if b"\\" not in field:
        return field
    import re  # here: nothing else in most runs imports it, and it takes 3 ms
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8) & 0xFF]), field)


def _fs_type(where: bytes, device: int) -> int:
    """The magic number of the file system holding `where` (a resolved path, or b"" when there
    is none), by its longest mount point, else by its device."""
    mounts = _mounts()
    if where.startswith(b"/"):
        best = max((m for m in mounts
                    if where == m[0] or where.startswith(m[0].rstrip(b"/") + b"/")),
                   key=lambda m: len(m[0]), default=None)
        if best is not None:
            return FS_MAGIC.get(best[2].decode(errors="replace"), 0)
    return next((FS_MAGIC.get(kind.decode(errors="replace"), 0)
                 for _, dev, kind in mounts if dev == device), 0)


def pack_statfs(sv: os.statvfs_result, fs_type: int) -> bytes:
    """struct statfs as x86-64 lays it out (120 bytes)."""
    flags = ST_VALID
    for bit, name in _MOUNT_FLAGS:
        if hasattr(os, name) and sv.f_flag & getattr(os, name):
            flags |= bit
    fsid = getattr(sv, "f_fsid", 0)
    return struct.pack("<qqQQQQQIIqqq32x", fs_type, sv.f_bsize, sv.f_blocks, sv.f_bfree,
                       sv.f_bavail, sv.f_files, sv.f_ffree, fsid & 0xFFFFFFFF,
                       fsid >> 32 & 0xFFFFFFFF, sv.f_namemax, sv.f_frsize, flags)


@syscall(137, "statfs", "sx")
def sys_statfs(lx: LinuxOS, cpu, path, buf, *_):
    name = guest_path(lx, path)
    if not name:
        return -errno.ENOENT
    sv, st = os.statvfs(name), os.stat(name)
    lx.memory.write(buf, pack_statfs(sv, _fs_type(os.path.realpath(name), st.st_dev)))
    return 0


@syscall(138, "fstatfs", "ix")
def sys_fstatfs(lx: LinuxOS, cpu, fd, buf, *_):
    fd = int32(fd)
    sv, st = os.fstatvfs(fd), os.fstat(fd)
    try:
        where = os.readlink(f"/proc/self/fd/{fd}".encode())
    except OSError:
        where = b""
    lx.memory.write(buf, pack_statfs(sv, _fs_type(where, st.st_dev)))
    return 0
