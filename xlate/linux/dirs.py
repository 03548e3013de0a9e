"""Directory listings: getdents64 (and the older getdents) over a directory descriptor.

The host lists the directory (os.scandir on the descriptor, plus "." and "..", which it leaves
out) when the guest first reads it; the guest's position in that listing is kept per descriptor,
so that repeated calls continue where the last stopped, and lseek moves it: offset 0 rewinds (and
lists afresh), other offsets are the d_off cookies that earlier entries carried."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import struct

from xlate.linux.syscalls import LinuxOS, int32, syscall

# d_type values (the same on every Linux)
DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK = 0, 1, 2, 4, 6, 8, 10, 12

_TYPES_BY_MODE = [(stat.S_ISFIFO, DT_FIFO), (stat.S_ISCHR, DT_CHR), (stat.S_ISBLK, DT_BLK),
                  (stat.S_ISSOCK, DT_SOCK), (stat.S_ISREG, DT_REG), (stat.S_ISDIR, DT_DIR),
                  (stat.S_ISLNK, DT_LNK)]


class DirectoryListing:
    """What one directory descriptor lists, and how far the guest has read."""
    __slots__ = ("identity", "entries", "position")

    def __init__(self, identity: tuple[int, int],
                 entries: list[tuple[int, int, bytes]] | None = None, position: int = 0) -> None:
        self.identity = identity  # (st_dev, st_ino) of the directory, to notice a reused fd
        self.entries = entries  # (d_ino, d_type, name); None: not read
        self.position = position  # index of the next entry; entry i carries d_off i + 1


def _entry_type(entry: os.DirEntry) -> int:
    try:
        if entry.is_symlink():
            return DT_LNK
        if entry.is_dir(follow_symlinks=False):
            return DT_DIR
        if entry.is_file(follow_symlinks=False):
            return DT_REG
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError:  # gone since it was listed
        return DT_UNKNOWN
    return next((kind for test, kind in _TYPES_BY_MODE if test(mode)), DT_UNKNOWN)


def _list(fd: int) -> list[tuple[int, int, bytes]]:
    entries = [(os.fstat(fd).st_ino, DT_DIR, b".")]
    with contextlib.suppress(OSError):
        entries.append((os.stat("..", dir_fd=fd).st_ino, DT_DIR, b".."))
    os.lseek(fd, 0, os.SEEK_SET)
    with os.scandir(fd) as listing:  # reads through a duplicate; rewinds it when closed
        entries += [(entry.inode(), _entry_type(entry), os.fsencode(entry.name))
                    for entry in listing]
    return entries


def _listing(lx: LinuxOS, fd: int) -> DirectoryListing:
    st = os.fstat(fd)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory")
    listing = lx.directories.get(fd)
    if listing is None or listing.identity != (st.st_dev, st.st_ino):
        listing = lx.directories[fd] = DirectoryListing((st.st_dev, st.st_ino))
    if listing.entries is None:
        listing.entries = _list(fd)
    return listing


def _getdents(lx: LinuxOS, fd: int, buf: int, size: int, record) -> int:
    listing = _listing(lx, int32(fd))
    size = min(size, 1 << 24)
    out = bytearray()
    while listing.position < len(listing.entries):
        ino, kind, name = listing.entries[listing.position]
        data = record(ino, listing.position + 1, kind, name)
        if len(out) + len(data) > size:
            break
        out += data
        listing.position += 1
    if not out and listing.position < len(listing.entries):
        return -errno.EINVAL  # the buffer cannot hold the next entry
    lx.memory.write(buf, bytes(out))
    return len(out)


def _dirent64(ino: int, offset: int, kind: int, name: bytes) -> bytes:
    """struct linux_dirent64: d_ino, d_off, d_reclen, d_type, the name and its NUL, 8-aligned."""
    length = (19 + len(name) + 1 + 7) & ~7
    return struct.pack("<QqHB", ino, offset, length, kind) + name.ljust(length - 19, b"\0")


def _dirent(ino: int, offset: int, kind: int, name: bytes) -> bytes:
    """struct linux_dirent: d_ino, d_off, d_reclen, the name and its NUL, d_type in the last
    byte."""
    length = (18 + len(name) + 2 + 7) & ~7
    return (struct.pack("<QqH", ino, offset, length) + name.ljust(length - 19, b"\0")
            + bytes([kind]))


@syscall(217, "getdents64", "ixd")
def sys_getdents64(lx: LinuxOS, cpu, fd, buf, size, *_):
    return _getdents(lx, fd, buf, size, _dirent64)


@syscall(78, "getdents", "ixd")
def sys_getdents(lx: LinuxOS, cpu, fd, buf, size, *_):
    return _getdents(lx, fd, buf, size, _dirent)


def seek(lx: LinuxOS, fd: int, offset: int, whence: int) -> int:
    """lseek on a directory being listed: moves the position in its listing."""
    listing = lx.directories[fd]
    if whence == 0:  # SEEK_SET
        position = offset
    elif whence == 1:  # SEEK_CUR
        position = listing.position + offset
    else:
        return -errno.EINVAL
    if position < 0:
        return -errno.EINVAL
    listing.position = position
    if position == 0:  # rewinddir: the next read lists the directory as it is now
        listing.entries = None
    return position
