"""Signals: actions, the mask, pending signals, the alternate stack, and sending (kill, tkill,
tgkill).

Guest handlers are recorded but not yet run. A signal the guest sends itself therefore takes its
default action when it arrives (at once, or when the mask stops blocking it): the ones whose
default ends the process end the guest (GuestKilled, exit status 128 + signal), the ones whose
default is to ignore do nothing, and SIGSTOP and its kin stop the whole process as natively.
Signals sent to other processes go to them through the host, with the host's signal numbers."""

from __future__ import annotations

import errno
import os
import signal
import struct

from xlate.linux.syscalls import GuestKilled, LinuxOS, int32, syscall

# x86-64 Linux signal numbers, names and default actions.
SIGKILL, SIGPIPE, SIGSTOP = 9, 13, 19
_SIGNALS = {
    1: ("SIGHUP", "term"), 2: ("SIGINT", "term"), 3: ("SIGQUIT", "core"), 4: ("SIGILL", "core"),
    5: ("SIGTRAP", "core"), 6: ("SIGABRT", "core"), 7: ("SIGBUS", "core"),
    8: ("SIGFPE", "core"), 9: ("SIGKILL", "term"), 10: ("SIGUSR1", "term"),
    11: ("SIGSEGV", "core"), 12: ("SIGUSR2", "term"), 13: ("SIGPIPE", "term"),
    14: ("SIGALRM", "term"), 15: ("SIGTERM", "term"), 16: ("SIGSTKFLT", "term"),
    17: ("SIGCHLD", "ignore"), 18: ("SIGCONT", "ignore"), 19: ("SIGSTOP", "stop"),
    20: ("SIGTSTP", "stop"), 21: ("SIGTTIN", "stop"), 22: ("SIGTTOU", "stop"),
    23: ("SIGURG", "ignore"), 24: ("SIGXCPU", "core"), 25: ("SIGXFSZ", "core"),
    26: ("SIGVTALRM", "term"), 27: ("SIGPROF", "term"), 28: ("SIGWINCH", "ignore"),
    29: ("SIGIO", "term"), 30: ("SIGPWR", "term"), 31: ("SIGSYS", "core"),
}
MAX_SIGNAL = 64  # 32...64 are real-time signals: their default ends the process
SIG_DFL, SIG_IGN = 0, 1
UNBLOCKABLE = 1 << SIGKILL - 1 | 1 << SIGSTOP - 1


def signal_name(signum: int) -> str:
    if signum in _SIGNALS:
        return _SIGNALS[signum][0]
    return f"SIGRTMIN+{signum - 34}" if signum >= 34 else f"SIG{signum}"


def _default_action(signum: int) -> str:
    return _SIGNALS[signum][1] if signum in _SIGNALS else "term"


def host_signal(signum: int) -> int:
    """The host's number for a guest signal (real-time signals keep theirs on every Linux)."""
    if signum in _SIGNALS:
        return int(getattr(signal, _SIGNALS[signum][0], signum))
    return signum


def _handler(lx: LinuxOS, signum: int) -> int:
    action = lx.signal_actions.get(signum)
    return struct.unpack_from("<Q", action)[0] if action else SIG_DFL


def _ignored(lx: LinuxOS, signum: int) -> bool:
    handler = _handler(lx, signum)
    return handler == SIG_IGN or handler == SIG_DFL and _default_action(signum) == "ignore"


def _arrive(lx: LinuxOS, signum: int) -> None:
    """An unblocked signal reaches the guest: its action happens."""
    if signum not in (SIGKILL, SIGSTOP) and _ignored(lx, signum):
        return
    action = _default_action(signum)
    if action == "ignore":  # a guest handler for a signal that is ignored by default
        return
    if action == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)  # the translator's process stops, as natively
        return
    if signum not in (SIGKILL, SIGSTOP) and _handler(lx, signum) != SIG_DFL:
        raise GuestKilled(signum, "raised by the guest; its handler was not run: delivering "
                          "signals to guest handlers is not implemented")
    raise GuestKilled(signum)


def send_to_self(lx: LinuxOS, signum: int) -> None:
    """The guest sent itself signal `signum` (0: only checks that the guest exists)."""
    if signum == 0:
        return
    bit = 1 << signum - 1
    if lx.signal_mask & bit & ~UNBLOCKABLE:  # even an ignored one: it may be unignored first
        lx.pending_signals |= bit
        return
    _arrive(lx, signum)


def _deliver_pending(lx: LinuxOS) -> None:
    """Signals pending and no longer blocked arrive, lowest number first."""
    while ready := lx.pending_signals & ~lx.signal_mask:
        signum = (ready & -ready).bit_length()
        lx.pending_signals &= ~(1 << signum - 1)
        _arrive(lx, signum)


# -- actions, masks, stacks -------------------------------------------------------------------

@syscall(13, "rt_sigaction", "ixxd")
def sys_rt_sigaction(lx: LinuxOS, cpu, sig, act, oldact, sigsetsize, *_):
    signum = int32(sig)
    if sigsetsize != 8 or not 1 <= signum <= MAX_SIGNAL or signum in (SIGKILL, SIGSTOP) and act:
        return -errno.EINVAL
    new = lx.memory.read(act, 32) if act else None
    if oldact:
        lx.memory.write(oldact, lx.signal_actions.get(signum, bytes(32)))
    if new is not None:
        lx.signal_actions[signum] = new
        if _ignored(lx, signum):  # setting an ignoring action discards a pending signal
            lx.pending_signals &= ~(1 << signum - 1)
    return 0


SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2


@syscall(14, "rt_sigprocmask", "ixxd")
def sys_rt_sigprocmask(lx: LinuxOS, cpu, how, new, old, sigsetsize, *_):
    if sigsetsize != 8:
        return -errno.EINVAL
    value = struct.unpack("<Q", lx.memory.read(new, 8))[0] if new else None
    if value is not None and int32(how) not in (SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK):
        return -errno.EINVAL
    if old:
        lx.memory.write(old, struct.pack("<Q", lx.signal_mask))
    if value is not None:
        how = int32(how)
        if how == SIG_BLOCK:
            lx.signal_mask |= value
        elif how == SIG_UNBLOCK:
            lx.signal_mask &= ~value
        else:
            lx.signal_mask = value
        lx.signal_mask &= ~UNBLOCKABLE
        _deliver_pending(lx)
    return 0


@syscall(127, "rt_sigpending", "xd")
def sys_rt_sigpending(lx: LinuxOS, cpu, set_addr, sigsetsize, *_):
    if sigsetsize > 8:
        return -errno.EINVAL
    lx.memory.write(set_addr, struct.pack("<Q", lx.pending_signals)[:sigsetsize])
    return 0


@syscall(15, "rt_sigreturn")
def sys_rt_sigreturn(lx: LinuxOS, cpu, *_):
    return -errno.ENOSYS  # no signal frame exists to return from: handlers are not yet run


SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
MINSIGSTKSZ = 2048


@syscall(131, "sigaltstack", "xx")
def sys_sigaltstack(lx: LinuxOS, cpu, new, old, *_):
    # stack_t: void *ss_sp; int ss_flags; size_t ss_size
    current = lx.signal_stack
    previous = struct.pack("<Qi4xQ", current.sp, current.flags, current.size)
    if new:
        sp, flags, size = struct.unpack("<Qi4xQ", lx.memory.read(new, 24))
        mode = flags & ~SS_AUTODISARM
        if mode not in (0, SS_ONSTACK, SS_DISABLE):
            return -errno.EINVAL
        if mode == SS_DISABLE:
            sp, size = 0, 0
        elif size < MINSIGSTKSZ:
            return -errno.ENOMEM
        current.sp, current.flags, current.size = sp, SS_DISABLE if mode == SS_DISABLE else (
            flags & SS_AUTODISARM), size
    if old:
        lx.memory.write(old, previous)
    return 0


# -- sending ----------------------------------------------------------------------------------

def _check_signal(signum: int) -> None:
    if not 0 <= signum <= MAX_SIGNAL:
        raise OSError(errno.EINVAL, "bad signal")


def _send_to_group(lx: LinuxOS, pid: int, signum: int) -> None:
    """kill(0 / -1 / -pgrp): the other processes get the host's signal; the guest, which is one
    of them, gets its own, by the guest's rules."""
    host = host_signal(signum)
    if signum in (0, SIGKILL, SIGSTOP):
        os.kill(pid, host)  # nothing to intercept: existence check, or the host's own action
        return
    # The translator's process ignores its copy while it is sent (blocking would not do: the
    # JIT's threads would take it). Handlers can be changed on the main thread only.
    previous = signal.signal(host, signal.SIG_IGN)
    try:
        os.kill(pid, host)
    finally:
        signal.signal(host, previous)
    send_to_self(lx, signum)


@syscall(62, "kill", "ii")
def sys_kill(lx: LinuxOS, cpu, pid, sig, *_):
    pid, signum = int32(pid), int32(sig)
    _check_signal(signum)
    if pid == os.getpid():
        send_to_self(lx, signum)
    elif pid == 0 or pid == -1 or pid == -os.getpgrp():
        _send_to_group(lx, pid, signum)
    else:
        os.kill(pid, host_signal(signum))
    return 0


@syscall(200, "tkill", "ii")
def sys_tkill(lx: LinuxOS, cpu, tid, sig, *_):
    tid, signum = int32(tid), int32(sig)
    _check_signal(signum)
    if tid <= 0:
        return -errno.EINVAL
    if tid == lx.tid:
        send_to_self(lx, signum)
    else:
        os.kill(tid, host_signal(signum))
    return 0


@syscall(234, "tgkill", "iii")
def sys_tgkill(lx: LinuxOS, cpu, tgid, tid, sig, *_):
    tgid, tid, signum = int32(tgid), int32(tid), int32(sig)
    _check_signal(signum)
    if tgid <= 0 or tid <= 0:
        return -errno.EINVAL
    if tgid == os.getpid():
        if tid != lx.tid:  # the guest has one thread
            return -errno.ESRCH
        send_to_self(lx, signum)
    else:
        os.kill(tid if tid == tgid else tgid, host_signal(signum))
    return 0
