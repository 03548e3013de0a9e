"""The guest address space's mapping list (xlate.memory.AddressSpace): map, unmap and mprotect
against a page-by-page model of what the guest sees."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlate.memory import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace, GuestMemoryError

BASE = 0x10000000
PAGES = 24  # the operations stay within these pages from BASE

ranges = st.tuples(st.integers(0, PAGES - 1), st.integers(1, 8)).map(
    lambda r: (r[0], min(r[1], PAGES - r[0])))
prots = st.sampled_from([PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC])
operations = st.lists(st.one_of(
    st.tuples(st.just("map"), ranges, prots, st.sampled_from(["", "[heap]"])),
    st.tuples(st.just("unmap"), ranges),
    st.tuples(st.just("protect"), ranges, prots),
), max_size=25)


@pytest.fixture(scope="module")
def space():
    memory = AddressSpace()
    yield memory
    memory.close()


def _check(memory: AddressSpace, model: dict[int, tuple[int, str]]) -> None:
    """The list is sorted and disjoint, joins what is alike and adjacent, and agrees with
    the model page by page; the host's permissions too."""
    mappings = memory.mappings
    for a, b in zip(mappings, mappings[1:], strict=False):
        assert a.start < a.end <= b.start < b.end
        assert a.end < b.start or (a.prot, a.name) != (b.prot, b.name)
    for page in range(PAGES):
        addr = BASE + page * PAGE
        m = memory.find(addr)
        seen = None if m is None else (m.prot, m.name)
        assert seen == model.get(page), hex(addr)
        assert memory.readable(addr, PAGE, PROT_WRITE) == (
            page in model and bool(model[page][0] & PROT_WRITE))


@settings(max_examples=150, deadline=None)
@given(operations)
def test_the_mapping_list_follows_map_unmap_and_protect(space, ops):
    space.unmap(BASE, PAGES * PAGE)
    model: dict[int, tuple[int, str]] = {}
    for op in ops:
        (first, count), pages = op[1], range(op[1][0], op[1][0] + op[1][1])
        addr, size = BASE + first * PAGE, count * PAGE
        if op[0] == "map":
            space.map(addr, size, op[2], name=op[3])
            model.update((p, (op[2], op[3])) for p in pages)
        elif op[0] == "unmap":
            space.unmap(addr, size)
            for p in pages:
                model.pop(p, None)
        elif all(p in model for p in pages):
            space.protect(addr, size, op[2])
            model.update((p, (op[2], model[p][1])) for p in pages)
        else:
            with pytest.raises(GuestMemoryError):
                space.protect(addr, size, op[2])
        _check(space, model)


def test_a_heap_grown_a_page_at_a_time_stays_one_mapping(space):
    """As brk grows it: the list stays short, and a map or unmap costs no more for the
    thousands of times the heap grew before (malloc's benchmark called brk 1230 times)."""
    start = BASE + PAGES * PAGE
    for i in range(2000):
        space.map(start + i * PAGE, PAGE, PROT_READ | PROT_WRITE, name="[heap]")
    def heap() -> list[tuple[int, int]]:
        return [(m.start, m.end) for m in space.mappings if m.start >= start]
    assert heap() == [(start, start + 2000 * PAGE)]
    space.unmap(start + 1000 * PAGE, 1000 * PAGE)
    assert heap() == [(start, start + 1000 * PAGE)]
    space.unmap(start, 1000 * PAGE)
