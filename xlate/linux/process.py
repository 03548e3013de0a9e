"""The process and its thread: exit, ids, sessions and process groups, arch_prctl, prctl,
futex, scheduling, resource limits and usage, uname, sysinfo, waiting for children."""

from __future__ import annotations

import errno
import os
import struct
import time

from xlate.linux.syscalls import MASK64, GuestExit, LinuxOS, int32, syscall
from xlate.memory import GuestMemoryError

CLOCK_TICKS = 100  # what the loader tells the guest in AT_CLKTCK


@syscall(60, "exit", "d")
def sys_exit(lx: LinuxOS, cpu, status, *_):
    raise GuestExit(status & 0xFF)


@syscall(231, "exit_group", "d")
def sys_exit_group(lx: LinuxOS, cpu, status, *_):
    raise GuestExit(status & 0xFF)


@syscall(61, "wait4", "ixxx")
def sys_wait4(lx: LinuxOS, cpu, pid, status, options, rusage, *_):
    return -errno.ECHILD  # the guest cannot create children yet


@syscall(247, "waitid", "iixx")
def sys_waitid(lx: LinuxOS, cpu, idtype, pid, info, options, *_):
    return -errno.ECHILD


# -- thread state -----------------------------------------------------------------------------

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


PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 2, 3, 4
PR_SET_NAME, PR_GET_NAME = 15, 16
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 38, 39
PR_SET_VMA = 0x53564D41


@syscall(157, "prctl", "ixxxx")
def sys_prctl(lx: LinuxOS, cpu, option, arg2, *_):
    option = int32(option)
    if option == PR_SET_NAME:  # the kernel copies 16 bytes and keeps at most 15 of them
        try:
            name = lx.memory.read_cstring(arg2, 16)
        except GuestMemoryError as e:
            if e.errno != errno.ENAMETOOLONG:
                raise
            name = lx.memory.read(arg2, 16)
        lx.thread_name = name[:15]
        return 0
    if option == PR_GET_NAME:
        lx.memory.write(arg2, lx.thread_name.ljust(16, b"\0"))
        return 0
    if option == PR_GET_DUMPABLE:
        return 1
    if option == PR_SET_DUMPABLE:
        return 0 if arg2 in (0, 1) else -errno.EINVAL
    if option == PR_GET_PDEATHSIG:
        lx.memory.write(arg2, bytes(4))
        return 0
    if option == PR_SET_PDEATHSIG:
        return 0 if arg2 <= 64 else -errno.EINVAL
    if option == PR_GET_NO_NEW_PRIVS:
        return 0
    if option == PR_SET_VMA:  # naming anonymous memory: a hint
        return 0
    return -errno.EINVAL


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


# -- ids, groups, sessions --------------------------------------------------------------------

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


@syscall(118, "getresuid", "xxx")
def sys_getresuid(lx: LinuxOS, cpu, ruid, euid, suid, *_):
    for addr, value in zip((ruid, euid, suid), os.getresuid(), strict=True):
        lx.memory.write(addr, struct.pack("<I", value))
    return 0


@syscall(120, "getresgid", "xxx")
def sys_getresgid(lx: LinuxOS, cpu, rgid, egid, sgid, *_):
    for addr, value in zip((rgid, egid, sgid), os.getresgid(), strict=True):
        lx.memory.write(addr, struct.pack("<I", value))
    return 0


@syscall(115, "getgroups", "ix")
def sys_getgroups(lx: LinuxOS, cpu, size, groups_addr, *_):
    size, groups = int32(size), os.getgroups()
    if size < 0:
        return -errno.EINVAL
    if size:
        if size < len(groups):
            return -errno.EINVAL
        lx.memory.write(groups_addr, struct.pack(f"<{len(groups)}I", *groups))
    return len(groups)


@syscall(111, "getpgrp")
def sys_getpgrp(lx: LinuxOS, cpu, *_):
    return os.getpgrp()


@syscall(121, "getpgid", "i")
def sys_getpgid(lx: LinuxOS, cpu, pid, *_):
    return os.getpgid(int32(pid))


@syscall(109, "setpgid", "ii")
def sys_setpgid(lx: LinuxOS, cpu, pid, pgid, *_):
    os.setpgid(int32(pid), int32(pgid))
    return 0


@syscall(124, "getsid", "i")
def sys_getsid(lx: LinuxOS, cpu, pid, *_):
    return os.getsid(int32(pid))


@syscall(112, "setsid")
def sys_setsid(lx: LinuxOS, cpu, *_):
    return os.setsid()


# -- the system -------------------------------------------------------------------------------

@syscall(63, "uname", "x")
def sys_uname(lx: LinuxOS, cpu, buf, *_):
    u = os.uname()
    fields = (u.sysname, u.nodename, u.release, u.version, "x86_64", "(none)")
    lx.memory.write(buf, b"".join(os.fsencode(f)[:64].ljust(65, b"\0") for f in fields))
    return 0


def _meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes."""
    info = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                name, _, rest = line.partition(":")
                words = rest.split()
                if words:
                    info[name] = int(words[0]) * (1024 if words[1:] == ["kB"] else 1)
    except (OSError, ValueError):
        pass
    return info


@syscall(99, "sysinfo", "x")
def sys_sysinfo(lx: LinuxOS, cpu, buf, *_):
    mem = _meminfo()
    try:
        with open("/proc/loadavg") as f:
            processes = int(f.read().split()[3].partition("/")[2])
    except (OSError, ValueError, IndexError):
        processes = 1
    uptime = int(time.clock_gettime(time.CLOCK_BOOTTIME))
    loads = [min(int(load * 65536), MASK64) for load in os.getloadavg()]  # SI_LOAD_SHIFT 16
    # struct sysinfo (112 bytes): uptime, loads[3], six memory sizes, procs, pad, totalhigh,
    # freehigh, mem_unit; sizes are in units of mem_unit bytes.
    lx.memory.write(buf, struct.pack(
        "<q3Q6QH6xQQI4x", uptime, *loads, mem.get("MemTotal", 0), mem.get("MemFree", 0),
        mem.get("Shmem", 0), mem.get("Buffers", 0), mem.get("SwapTotal", 0),
        mem.get("SwapFree", 0), min(processes, 0xFFFF), 0, 0, 1))
    return 0


@syscall(309, "getcpu", "xxx")
def sys_getcpu(lx: LinuxOS, cpu, cpu_addr, node_addr, *_):
    try:  # field 39 of /proc/self/stat: the CPU the process last ran on
        with open("/proc/self/stat") as f:
            current = int(f.read().rsplit(")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        current = 0
    if cpu_addr:
        lx.memory.write(cpu_addr, struct.pack("<I", current))
    if node_addr:
        lx.memory.write(node_addr, struct.pack("<I", 0))
    return 0


# -- scheduling -------------------------------------------------------------------------------

@syscall(204, "sched_getaffinity", "ddx")
def sys_sched_getaffinity(lx: LinuxOS, cpu, pid, size, mask_addr, *_):
    cpus = os.sched_getaffinity(0)
    nbytes = max(8, (max(cpus) // 64 + 1) * 8)
    if size < nbytes:
        return -errno.EINVAL
    bits = sum(1 << c for c in cpus)
    lx.memory.write(mask_addr, bits.to_bytes(nbytes, "little"))
    return nbytes


@syscall(203, "sched_setaffinity", "ddx")
def sys_sched_setaffinity(lx: LinuxOS, cpu, pid, size, mask_addr, *_):
    # Accepted, not applied: the translator's own threads keep running where they may.
    mask = int.from_bytes(lx.memory.read(mask_addr, min(size, 1 << 16)), "little")
    if not mask & sum(1 << c for c in os.sched_getaffinity(0)):
        return -errno.EINVAL
    return 0


@syscall(24, "sched_yield")
def sys_sched_yield(lx: LinuxOS, cpu, *_):
    return 0


PRIO_PROCESS, PRIO_PGRP, PRIO_USER = 0, 1, 2


def _priority_target(which: int) -> int:
    host = {PRIO_PROCESS: os.PRIO_PROCESS, PRIO_PGRP: os.PRIO_PGRP,
            PRIO_USER: os.PRIO_USER}.get(int32(which))
    if host is None:
        raise OSError(errno.EINVAL, "which")
    return host


@syscall(140, "getpriority", "ii")
def sys_getpriority(lx: LinuxOS, cpu, which, who, *_):
    # The raw syscall answers 20 - nice, so that no answer looks like an error.
    return 20 - os.getpriority(_priority_target(which), int32(who))


@syscall(141, "setpriority", "iii")
def sys_setpriority(lx: LinuxOS, cpu, which, who, nice, *_):
    os.setpriority(_priority_target(which), int32(who), max(-20, min(19, int32(nice))))
    return 0


# -- resources --------------------------------------------------------------------------------

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


RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD = 0, -1, 1


def _timeval(seconds: float) -> tuple[int, int]:
    return divmod(int(seconds * 1e6), 10**6)


@syscall(98, "getrusage", "ix")
def sys_getrusage(lx: LinuxOS, cpu, who, buf, *_):
    import resource
    host = {RUSAGE_SELF: resource.RUSAGE_SELF, RUSAGE_CHILDREN: resource.RUSAGE_CHILDREN,
            RUSAGE_THREAD: getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)}.get(
        int32(who))
    if host is None:
        return -errno.EINVAL
    if host == resource.RUSAGE_CHILDREN:  # the guest's children: none, it cannot fork yet
        lx.memory.write(buf, bytes(144))
        return 0
    r = resource.getrusage(host)
    # struct rusage: two timevals, then fourteen longs.
    lx.memory.write(buf, struct.pack(
        "<4q14q", *_timeval(r.ru_utime), *_timeval(r.ru_stime), r.ru_maxrss, r.ru_ixrss,
        r.ru_idrss, r.ru_isrss, r.ru_minflt, r.ru_majflt, r.ru_nswap, r.ru_inblock, r.ru_oublock,
        r.ru_msgsnd, r.ru_msgrcv, r.ru_nsignals, r.ru_nvcsw, r.ru_nivcsw))
    return 0


@syscall(100, "times", "x")
def sys_times(lx: LinuxOS, cpu, buf, *_):
    t = os.times()
    if buf:  # struct tms: the guest's user and system time, then its children's (none yet)
        lx.memory.write(buf, struct.pack("<4q", int(t.user * CLOCK_TICKS),
                                         int(t.system * CLOCK_TICKS), 0, 0))
    return int(t.elapsed * CLOCK_TICKS)
