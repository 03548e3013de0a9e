"""xlate.records.named_tuple: typing.NamedTuple's classes, which it stands in for."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from xlate.records import named_tuple


@named_tuple
class Point:
    """A point."""
    x: int
    y: int
    z: int = 0
    label: str = ""

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y) + abs(self.z)

    def moved(self, dx: int) -> Point:
        return self._replace(x=self.x + dx)


class TypingPoint(NamedTuple):
    x: int
    y: int
    z: int = 0
    label: str = ""


def test_a_named_tuple_is_what_typing_makes_of_the_same_class():
    p = Point(1, -2)
    assert p == TypingPoint(1, -2) == (1, -2, 0, "")
    assert Point._fields == TypingPoint._fields and Point._field_defaults == \
        TypingPoint._field_defaults
    assert Point(1, 2, label="a") == (1, 2, 0, "a") and Point(*p) == p
    assert p.norm1 == 3 and p.moved(5) == (6, -2, 0, "") and isinstance(p.moved(5), Point)
    assert Point.__doc__ == "A point." and Point.__name__ == "Point" and Point.__slots__ == ()
    assert Point.__module__ == __name__ and repr(p) == "Point(x=1, y=-2, z=0, label='')"
    with pytest.raises(AttributeError):
        p.w = 1
    with pytest.raises(TypeError):
        Point(1)


def test_a_field_without_a_default_after_one_with_one_is_refused():
    with pytest.raises(TypeError, match="without a default"):
        @named_tuple
        class Bad:
            x: int = 0
            y: int
