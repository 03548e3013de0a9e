"""Clocks and sleeping: clock_gettime, clock_getres, gettimeofday, time, nanosleep,
clock_nanosleep. Linux numbers its clocks the same on every architecture."""

from __future__ import annotations

import errno
import struct
import time

from xlate.linux.syscalls import LinuxOS, int32, syscall

CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI = 0, 1, 7, 11
SLEEPING_CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI)
TIMER_ABSTIME = 1


def read_timespec(lx: LinuxOS, guest_addr: int) -> int:
    """A struct timespec in guest memory, as nanoseconds; EINVAL unless it is valid."""
    sec, nsec = struct.unpack("<qq", lx.memory.read(guest_addr, 16))
    if sec < 0 or not 0 <= nsec < 10**9:
        raise OSError(errno.EINVAL, "bad timespec")
    return sec * 10**9 + nsec


def write_timespec(lx: LinuxOS, guest_addr: int, ns: int) -> None:
    lx.memory.write(guest_addr, struct.pack("<qq", ns // 10**9, ns % 10**9))


@syscall(228, "clock_gettime", "ix")
def sys_clock_gettime(lx: LinuxOS, cpu, clock, buf, *_):
    try:
        ns = time.clock_gettime_ns(int32(clock))
    except OSError:
        return -errno.EINVAL
    write_timespec(lx, buf, ns)
    return 0


@syscall(229, "clock_getres", "ix")
def sys_clock_getres(lx: LinuxOS, cpu, clock, buf, *_):
    try:
        res = time.clock_getres(int32(clock))
    except OSError:
        return -errno.EINVAL
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
    now = time.time_ns() // 10**9
    if tloc:
        lx.memory.write(tloc, struct.pack("<q", now))
    return now


@syscall(35, "nanosleep", "xx")
def sys_nanosleep(lx: LinuxOS, cpu, req, rem, *_):
    time.sleep(read_timespec(lx, req) / 1e9)
    return 0


@syscall(230, "clock_nanosleep", "iixx")
def sys_clock_nanosleep(lx: LinuxOS, cpu, clock, flags, req, rem, *_):
    clock = int32(clock)
    if clock not in SLEEPING_CLOCKS:
        return -errno.EINVAL
    ns = read_timespec(lx, req)
    if flags & TIMER_ABSTIME:
        while (left := ns - time.clock_gettime_ns(clock)) > 0:
            time.sleep(left / 1e9)
    else:
        time.sleep(ns / 1e9)
    return 0
