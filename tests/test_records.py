"""The value classes the package declares with `record`: what dataclasses would give."""

from __future__ import annotations

import pytest

from kaniko_action.records import FrozenInstanceError, field, record, replace


@record(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()
    note: str = field(default="", compare=False)
    secret: str = field(default="", repr=False)


@record
class Counter:
    name: str
    seen: list[str] = field(default_factory=list)


@record(frozen=True, order=True)
class Version:
    major: int
    minor: int


def test_construction_defaults_and_repr() -> None:
    p = Point(1, secret="s3cret")
    assert (p.x, p.y, p.tags, p.note) == (1, 0, (), "")
    assert repr(p) == "Point(x=1, y=0, tags=(), note='')"
    assert Point(x=2, y=3) == Point(2, 3)
    with pytest.raises(TypeError, match="missing argument 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected arguments"):
        Point(1, z=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes 5 arguments"):
        Point(1, 2, (), "", "", 6)  # type: ignore[call-arg]


def test_equality_hash_and_compare_false() -> None:
    assert Point(1, note="a") == Point(1, note="b")
    assert hash(Point(1, note="a")) == hash(Point(1, note="b"))
    assert Point(1) != Point(2)
    assert Point(1).__eq__((1, 0, (), "", "")) is NotImplemented
    assert len({Point(1), Point(1), Point(2)}) == 2


def test_frozen_records_refuse_assignment_and_mutable_ones_are_unhashable() -> None:
    p = Point(1)
    with pytest.raises(FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del p.x
    c = Counter("a")
    c.seen.append("x")
    assert Counter("a").seen == []  # each instance gets its own list
    c.name = "b"
    with pytest.raises(TypeError):
        hash(c)


def test_order_and_replace() -> None:
    assert sorted([Version(1, 2), Version(1, 0), Version(0, 9)]) == [
        Version(0, 9),
        Version(1, 0),
        Version(1, 2),
    ]
    assert Version(1, 0) < Version(1, 1) <= Version(1, 1)
    p = replace(Point(1, 2, note="n"), y=5)
    assert (p.x, p.y, p.note) == (1, 5, "n")
    with pytest.raises(TypeError, match="no fields"):
        replace(p, z=1)
