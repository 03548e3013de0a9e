"""The guest address space: one reserved host region, guest address g at host base + g.

Guest mappings are host mappings placed inside the region with the guest's permissions (less
execute: guest code is never run natively), so ordinary host loads and stores are guest accesses
and a host fault in the region is a guest fault.  The list of mappings is kept here too, for the
decoder (execute permission), mmap placement and the OS layer.
"""

from __future__ import annotations

import bisect
import errno
from collections.abc import Callable

from xlate.runtime import GUEST_SPACE, ffi, lib

GUARD = lib.XLATE_GUEST_GUARD
# A byte for each page of the space, and one for the address that generated code clamps wild
# addresses to (the space's end), which is never marked.
CODE_PAGES_SIZE = GUEST_SPACE // 4096 + 1

PAGE = 4096
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
# Host mmap constants (Linux's generic values, the same on x86-64 and aarch64).
HOST_PROT_NONE, HOST_PROT_READ, HOST_PROT_WRITE = 0, 1, 2
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS, MAP_NORESERVE = 0x1, 0x2, 0x10, 0x20, 0x4000

# Guest layout: where things go when the guest does not choose.
STACK_TOP = GUEST_SPACE - (1 << 30)
STACK_SIZE = 8 << 20
MMAP_TOP = STACK_TOP - STACK_SIZE - (1 << 30)
PIE_BASE = 0x5_5555_4000


def page_down(x: int) -> int:
    return x & ~(PAGE - 1)


def page_up(x: int) -> int:
    return (x + PAGE - 1) & ~(PAGE - 1)


class GuestMemoryError(OSError):
    """A guest memory operation failed; .errno is the Linux errno the guest should see."""


class Mapping:
    __slots__ = ("start", "end", "prot", "name")

    def __init__(self, start: int, end: int, prot: int, name: str = "") -> None:
        self.start = start
        self.end = end
        self.prot = prot
        self.name = name


def _alike(a: Mapping, b: Mapping) -> bool:
    return a.prot == b.prot and a.name == b.name


def _host_prot(prot: int) -> int:
    host = 0
    if prot & (PROT_READ | PROT_EXEC):
        host |= HOST_PROT_READ
    if prot & PROT_WRITE:
        host |= HOST_PROT_READ | HOST_PROT_WRITE
    return host


class AddressSpace:
    """The guest's memory: mappings, permissions, and access from the host side."""

    def __init__(self) -> None:
        flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
        base = lib.mmap(ffi.NULL, GUEST_SPACE + GUARD, HOST_PROT_NONE, flags, -1, 0)
        if base == ffi.cast("void *", -1):
            raise MemoryError("cannot reserve the guest address space")
        self.host_base = base
        self.base = int(ffi.cast("uintptr_t", base))
        self.mappings: list[Mapping] = []  # sorted, disjoint
        if lib.xlate_runtime_init():
            raise OSError("cannot install the fault handlers")
        # A byte a guest page: nonzero where code was decoded from it (see xlate_cpu.code_pages).
        # Reserved like the space itself: only the pages of it that are touched cost memory.
        self.code_pages = lib.mmap(ffi.NULL, CODE_PAGES_SIZE, HOST_PROT_READ | HOST_PROT_WRITE,
                                   flags, -1, 0)
        if self.code_pages == ffi.cast("void *", -1):
            raise MemoryError("cannot reserve the code page map")
        self.code_pages = ffi.cast("uint8_t *", self.code_pages)
        # Called with a guest range when a host-side write (a syscall) lands on code.
        self.on_code_write: Callable[[int, int], None] = lambda start, end: None

    def close(self) -> None:
        """Give the reservation back to the host; the address space is unusable afterwards."""
        if self.host_base is not None:
            lib.munmap(self.host_base, GUEST_SPACE + GUARD)
            lib.munmap(self.code_pages, CODE_PAGES_SIZE)
            self.host_base = None
            self.mappings = []

    # -- where code was decoded from --------------------------------------------------------

    def mark_code(self, start: int, end: int) -> None:
        """Note that [start, end) holds translated code; guest-writable pages of it are
        write-protected on the host (armed: see xlate_cpu.code_pages)."""
        code_pages = self.code_pages
        for page in range(start // PAGE, (end + PAGE - 1) // PAGE):
            if code_pages[page] & lib.XLATE_CODE_HERE:
                continue
            code_pages[page] |= lib.XLATE_CODE_HERE
            if page:
                code_pages[page - 1] |= lib.XLATE_CODE_NEXT
            m = self.find(page * PAGE)
            if m is not None and m.prot & PROT_WRITE and not lib.mprotect(
                    self._host(page * PAGE), PAGE, _host_prot(m.prot & ~PROT_WRITE)):
                code_pages[page] |= lib.XLATE_CODE_ARMED

    def unmark_code(self, start: int, end: int) -> None:
        """Note that [start, end) holds no translated code any more."""
        code_pages = self.code_pages
        for page in self._marked_pages(start, end):
            if code_pages[page] & lib.XLATE_CODE_ARMED:
                m = self.find(page * PAGE)
                if m is not None:
                    lib.mprotect(self._host(page * PAGE), PAGE, _host_prot(m.prot))
            code_pages[page] &= ~(lib.XLATE_CODE_HERE | lib.XLATE_CODE_ARMED)
            if page:
                code_pages[page - 1] &= ~lib.XLATE_CODE_NEXT

    def writable_code(self, start: int, end: int) -> bool:
        """Whether any page of [start, end) is guest-writable: its code may be rewritten."""
        return any(m.prot & PROT_WRITE for m in self.mappings if m.start < end and start < m.end)

    def holds_code(self, start: int, end: int) -> bool:
        return any(self.code_pages[page] & lib.XLATE_CODE_HERE
                   for page in self._marked_pages(start, end))

    def _marked_pages(self, start: int, end: int) -> range:
        """The pages of [start, end) from the first that code_pages marks to the last: a range
        can be a large buffer (50 MB, 12,800 pages, 9 ms to look at one at a time), and holds
        no code most often."""
        first, last = start // PAGE, (end + PAGE - 1) // PAGE
        marks = ffi.buffer(self.code_pages + first, last - first)[:]
        skipped = len(marks) - len(marks.lstrip(b"\0"))
        return range(first + skipped, first + len(marks.rstrip(b"\0")))

    def __del__(self) -> None:
        self.close()

    # -- mappings ---------------------------------------------------------------------------

    def find(self, guest_addr: int) -> Mapping | None:
        """The mapping that holds guest_addr, if any."""
        i = bisect.bisect_right(self.mappings, guest_addr, key=lambda m: m.start) - 1
        if i >= 0 and self.mappings[i].end > guest_addr:
            return self.mappings[i]
        return None

    def find_free(self, size: int, top: int = MMAP_TOP) -> int:
        """The highest free, page-aligned range of size bytes below top (Linux's top-down rule)."""
        end = top
        for m in reversed(self.mappings):
            if m.start >= end:
                continue
            if m.end <= end - size:
                break
            end = m.start
        if end - size < PAGE:
            raise GuestMemoryError(errno.ENOMEM, "guest address space exhausted")
        return end - size

    def is_free(self, start: int, end: int) -> bool:
        return not any(m.start < end and start < m.end for m in self.mappings)

    def map(self, guest_addr: int, size: int, prot: int, *, fd: int = -1, offset: int = 0,
            shared: bool = False, name: str = "") -> int:
        """Map [guest_addr, +size) anonymously (fd -1) or from a host file, replacing mappings."""
        size = page_up(size)
        self._check_range(guest_addr, size)
        flags = MAP_FIXED | (MAP_SHARED if shared else MAP_PRIVATE)
        if fd < 0:
            flags |= MAP_ANONYMOUS
        result = lib.mmap(self._host(guest_addr), size, _host_prot(prot), flags, fd, offset)
        if result == ffi.cast("void *", -1):
            raise GuestMemoryError(ffi.errno, "mmap failed")
        self._carve(guest_addr, guest_addr + size)
        self._insert(Mapping(guest_addr, guest_addr + size, prot, name))
        return guest_addr

    def unmap(self, guest_addr: int, size: int) -> None:
        """Return [guest_addr, +size) to the reserved, inaccessible state."""
        size = page_up(size)
        self._check_range(guest_addr, size)
        flags = MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS
        flags |= MAP_NORESERVE
        if lib.mmap(self._host(guest_addr), size, HOST_PROT_NONE, flags, -1, 0) == ffi.cast(
                "void *", -1):
            raise GuestMemoryError(ffi.errno, "munmap failed")
        self._carve(guest_addr, guest_addr + size)

    def protect(self, guest_addr: int, size: int, prot: int) -> None:
        """Change the permissions of [guest_addr, +size), which must be wholly mapped."""
        size = page_up(size)
        self._check_range(guest_addr, size)
        end = guest_addr + size
        covered = sum(min(m.end, end) - max(m.start, guest_addr)
                      for m in self.mappings if m.start < end and guest_addr < m.end)
        if covered != size:
            raise GuestMemoryError(errno.ENOMEM, "mprotect of unmapped memory")
        if lib.mprotect(self._host(guest_addr), size, _host_prot(prot)):
            raise GuestMemoryError(ffi.errno, "mprotect failed")
        for piece in self._carve(guest_addr, end):
            piece.prot = prot
            self._insert(piece)

    def _carve(self, start: int, end: int) -> list[Mapping]:
        """Remove [start, end) from the mapping list; return the removed pieces."""
        mappings = self.mappings
        # (Sorted by start, and not overlapping: sorted by end too.)
        first = bisect.bisect_right(mappings, start, key=lambda m: m.end)
        last = bisect.bisect_left(mappings, end, lo=first, key=lambda m: m.start)
        kept: list[Mapping] = []  # what is left of the first and the last, in order
        removed: list[Mapping] = []
        for m in mappings[first:last]:
            if m.start < start:
                kept.append(Mapping(m.start, start, m.prot, m.name))
            if m.end > end:
                kept.append(Mapping(end, m.end, m.prot, m.name))
            removed.append(Mapping(max(m.start, start), min(m.end, end), m.prot, m.name))
        mappings[first:last] = kept
        return removed

    def _insert(self, new: Mapping) -> None:
        """Put a mapping in the list, in a free range, joined to the neighbours it continues
        (the same permissions and name), as the kernel merges areas: a heap grown by brk a page
        at a time stays one mapping, and the list short."""
        mappings = self.mappings
        i = bisect.bisect_left(mappings, new.start, key=lambda m: m.start)
        # (Replaced rather than changed: a mapping that find() gave stays as it was.)
        if i < len(mappings) and mappings[i].start == new.end and _alike(mappings[i], new):
            new = Mapping(new.start, mappings.pop(i).end, new.prot, new.name)
        if i and mappings[i - 1].end == new.start and _alike(mappings[i - 1], new):
            mappings[i - 1] = Mapping(mappings[i - 1].start, new.end, new.prot, new.name)
        else:
            mappings.insert(i, new)

    def _check_range(self, guest_addr: int, size: int) -> None:
        if guest_addr % PAGE or size <= 0 or guest_addr + size > GUEST_SPACE:
            raise GuestMemoryError(errno.EINVAL, f"bad guest range {guest_addr:#x}+{size:#x}")

    def _host(self, guest_addr: int):
        return ffi.cast("void *", self.base + guest_addr)

    # -- host-side access (the loader and the OS layer) -------------------------------------

    def accessible(self, guest_addr: int, size: int, prot: int = PROT_READ) -> int:
        """How much of [guest_addr, +size), from its start, is mapped with prot."""
        addr, end = guest_addr, guest_addr + size
        while addr < end:
            m = self.find(addr)
            if m is None or (m.prot & prot) != prot:
                break
            addr = m.end
        return min(addr, end) - guest_addr

    def readable(self, guest_addr: int, size: int, prot: int = PROT_READ) -> bool:
        """Whether all of [guest_addr, +size) is mapped with prot."""
        return self.accessible(guest_addr, size, prot) == size

    def read(self, guest_addr: int, size: int, prot: int = PROT_READ) -> bytes:
        """Bytes from guest memory; EFAULT unless all of it is mapped with prot."""
        if not self.readable(guest_addr, size, prot):
            raise GuestMemoryError(errno.EFAULT, f"bad guest read at {guest_addr:#x}")
        return bytes(ffi.buffer(self._host(guest_addr), size))

    def executable_views(self) -> list[tuple[int, int, object]]:
        """[start, end) and the bytes (a buffer over them, unread) of each executable mapping:
        for comparing many spans of code with what they were, without a read for each."""
        return [(m.start, m.end, ffi.buffer(self._host(m.start), m.end - m.start))
                for m in self.mappings if m.prot & PROT_EXEC]

    def write(self, guest_addr: int, data: bytes) -> None:
        """Bytes into guest memory; EFAULT unless all of it is writable."""
        if not self.readable(guest_addr, len(data), PROT_WRITE):
            raise GuestMemoryError(errno.EFAULT, f"bad guest write at {guest_addr:#x}")
        # Code there is dropped first, which also gives armed pages their write permission.
        if data and self.holds_code(guest_addr, guest_addr + len(data)):
            self.on_code_write(guest_addr, guest_addr + len(data))
        ffi.memmove(self._host(guest_addr), data, len(data))

    def poke(self, guest_addr: int, data: bytes) -> None:
        """Write whatever the permissions (the loader filling read-only segments)."""
        if not self.readable(guest_addr, len(data), 0) or not self.find(guest_addr):
            raise GuestMemoryError(errno.EFAULT, f"bad guest write at {guest_addr:#x}")
        if data and self.holds_code(guest_addr, guest_addr + len(data)):
            self.on_code_write(guest_addr, guest_addr + len(data))
        for m in self.mappings:
            if m.start < guest_addr + len(data) and guest_addr < m.end and not m.prot & PROT_WRITE:
                lib.mprotect(self._host(m.start), m.end - m.start, _host_prot(m.prot | PROT_WRITE))
        ffi.memmove(self._host(guest_addr), data, len(data))
        for m in self.mappings:
            if m.start < guest_addr + len(data) and guest_addr < m.end and not m.prot & PROT_WRITE:
                lib.mprotect(self._host(m.start), m.end - m.start, _host_prot(m.prot))

    def read_cstring(self, guest_addr: int, limit: int = 1 << 16) -> bytes:
        """A NUL-terminated string from guest memory (without the NUL)."""
        out = bytearray()
        while len(out) < limit:
            m = self.find(guest_addr + len(out))
            if m is None or not m.prot & PROT_READ:
                raise GuestMemoryError(errno.EFAULT, f"bad guest string at {guest_addr:#x}")
            chunk = self.read(guest_addr + len(out), min(m.end - guest_addr - len(out),
                                                         limit - len(out), PAGE))
            nul = chunk.find(0)
            if nul >= 0:
                return bytes(out + chunk[:nul])
            out += chunk
        raise GuestMemoryError(errno.ENAMETOOLONG, "guest string too long")
