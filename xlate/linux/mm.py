"""Memory syscalls: mmap, munmap, mprotect, mremap, madvise, brk."""

from __future__ import annotations

import errno

from xlate.linux.syscalls import LinuxOS, int32, syscall
from xlate.memory import MMAP_TOP, PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, page_up

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
    lx.memory.map(start, size, _guest_prot(prot), fd=-1 if anonymous else int32(fd),
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


