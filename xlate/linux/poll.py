"""Waiting for descriptors: poll, ppoll, select, pselect6, all carried out by the host's poll.

The guest's struct pollfd arrays and fd_set bitmaps are read, its event bits translated to the
host's select.POLL* values and back, and the remaining time written back where Linux does."""

from __future__ import annotations

import errno
import select
import struct
import time

from xlate.linux.clock import read_timespec, write_timespec
from xlate.linux.syscalls import LinuxOS, int32, syscall

# Guest (x86-64) poll event bits and the host's names for them.
_EVENTS = [(0x1, "POLLIN"), (0x2, "POLLPRI"), (0x4, "POLLOUT"), (0x8, "POLLERR"),
           (0x10, "POLLHUP"), (0x20, "POLLNVAL"), (0x40, "POLLRDNORM"), (0x80, "POLLRDBAND"),
           (0x100, "POLLWRNORM"), (0x200, "POLLWRBAND"), (0x400, "POLLMSG"),
           (0x2000, "POLLRDHUP")]
_HOST_EVENTS = [(bit, getattr(select, name)) for bit, name in _EVENTS if hasattr(select, name)]
POLLERR, POLLHUP, POLLNVAL = 0x8, 0x10, 0x20
MAX_POLL_FDS = 1 << 20  # the kernel's ceiling on RLIMIT_NOFILE


def _host_events(guest: int) -> int:
    return sum(host for bit, host in _HOST_EVENTS if guest & bit)


def _guest_events(host: int) -> int:
    return sum(bit for bit, flag in _HOST_EVENTS if host & flag)


def _wait(wanted: dict[int, int], timeout_ns: int | None) -> dict[int, int]:
    """Poll host descriptors for guest events; their guest revents (none if not ready)."""
    poller = select.poll()
    for fd, events in wanted.items():
        poller.register(fd, _host_events(events))
    timeout_ms = None if timeout_ns is None else -(-timeout_ns // 10**6)
    return {fd: _guest_events(revents) for fd, revents in poller.poll(timeout_ms)}


def _poll(lx: LinuxOS, fds_addr: int, count: int, timeout_ns: int | None) -> int:
    if count > MAX_POLL_FDS:
        return -errno.EINVAL
    raw = bytearray(lx.memory.read(fds_addr, 8 * count)) if count else bytearray()
    entries = [struct.unpack_from("<ihh", raw, 8 * i)[:2] for i in range(count)]
    wanted: dict[int, int] = {}
    for fd, events in entries:
        if fd >= 0:  # a negative fd is skipped, and reports nothing
            wanted[fd] = wanted.get(fd, 0) | events & 0xFFFF
    ready = _wait(wanted, timeout_ns)
    ready_count = 0
    for i, (fd, events) in enumerate(entries):
        revents = ready.get(fd, 0) & (events & 0xFFFF | POLLERR | POLLHUP | POLLNVAL)
        struct.pack_into("<H", raw, 8 * i + 6, revents)
        ready_count += revents != 0
    if count:
        lx.memory.write(fds_addr, bytes(raw))
    return ready_count


class _Deadline:
    """A timeout that Linux writes back as the time left."""

    def __init__(self, timeout_ns: int | None) -> None:
        self.timeout_ns = timeout_ns
        self.start = time.monotonic_ns()

    def left(self) -> int:
        return max(0, self.timeout_ns - (time.monotonic_ns() - self.start))


@syscall(7, "poll", "xdi")
def sys_poll(lx: LinuxOS, cpu, fds, count, timeout_ms, *_):
    timeout_ms = int32(timeout_ms)
    return _poll(lx, fds, count, None if timeout_ms < 0 else timeout_ms * 10**6)


def _check_sigmask(lx: LinuxOS, sigmask: int, size: int) -> None:
    # Signals are not delivered to guest handlers yet, so the mask to wait under changes nothing.
    if sigmask and size != 8:
        raise OSError(errno.EINVAL, "sigsetsize")
    if sigmask:
        lx.memory.read(sigmask, 8)


@syscall(271, "ppoll", "xdxxd")
def sys_ppoll(lx: LinuxOS, cpu, fds, count, timeout, sigmask, sigsetsize, *_):
    _check_sigmask(lx, sigmask, sigsetsize)
    deadline = _Deadline(read_timespec(lx, timeout) if timeout else None)
    result = _poll(lx, fds, count, deadline.timeout_ns)
    if timeout:
        write_timespec(lx, timeout, deadline.left())
    return result


# -- select -----------------------------------------------------------------------------------

READ_EVENTS = 0x1 | 0x40 | 0x80 | POLLHUP | POLLERR  # what makes select call an fd readable
WRITE_EVENTS = 0x4 | 0x100 | 0x200 | POLLERR
EXCEPT_EVENTS = 0x2


def _select(lx: LinuxOS, count: int, sets: tuple[int, int, int], timeout_ns: int | None) -> int:
    count = int32(count)
    if count < 0:
        return -errno.EINVAL
    count = min(count, MAX_POLL_FDS)
    size = (count + 63) // 64 * 8  # fd_set is an array of unsigned long
    bitmaps = [int.from_bytes(lx.memory.read(addr, size), "little") if addr and size else 0
               for addr in sets]
    wanted: dict[int, int] = {}
    for bitmap, events in zip(bitmaps, (0x1, 0x4, 0x2), strict=True):
        while bitmap:
            fd = (bitmap & -bitmap).bit_length() - 1
            wanted[fd] = wanted.get(fd, 0) | events
            bitmap &= bitmap - 1
    ready = _wait(wanted, timeout_ns)
    if any(revents & POLLNVAL for revents in ready.values()):
        return -errno.EBADF
    results = [0, 0, 0]
    total = 0
    for fd, revents in ready.items():
        for which, (bitmap, events) in enumerate(zip(
                bitmaps, (READ_EVENTS, WRITE_EVENTS, EXCEPT_EVENTS), strict=True)):
            if bitmap >> fd & 1 and revents & events:
                results[which] |= 1 << fd
                total += 1
    for addr, result in zip(sets, results, strict=True):
        if addr and size:
            lx.memory.write(addr, result.to_bytes(size, "little"))
    return total


@syscall(23, "select", "ixxxx")
def sys_select(lx: LinuxOS, cpu, count, readfds, writefds, exceptfds, timeout, *_):
    timeout_ns = None
    if timeout:
        sec, usec = struct.unpack("<qq", lx.memory.read(timeout, 16))
        if sec < 0 or not 0 <= usec < 10**6:
            return -errno.EINVAL
        timeout_ns = sec * 10**9 + usec * 1000
    deadline = _Deadline(timeout_ns)
    result = _select(lx, count, (readfds, writefds, exceptfds), timeout_ns)
    if timeout and result >= 0:
        left = deadline.left()
        lx.memory.write(timeout, struct.pack("<qq", left // 10**9, left // 1000 % 10**6))
    return result


@syscall(270, "pselect6", "ixxxxx")
def sys_pselect6(lx: LinuxOS, cpu, count, readfds, writefds, exceptfds, timeout, sigmask):
    if sigmask:  # struct { const sigset_t *ss; size_t ss_len; }
        mask_addr, mask_size = struct.unpack("<QQ", lx.memory.read(sigmask, 16))
        _check_sigmask(lx, mask_addr, mask_size)
    deadline = _Deadline(read_timespec(lx, timeout) if timeout else None)
    result = _select(lx, count, (readfds, writefds, exceptfds), deadline.timeout_ns)
    if timeout and result >= 0:
        write_timespec(lx, timeout, deadline.left())
    return result
