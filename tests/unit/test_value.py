"""``@value`` records: frozen for mypy, and equal, hashed and ordered like frozen dataclasses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.domain.facts import Fact, FactKind
from streams.domain.value import value


@value(order=True)
class Pair:
    first: int
    second: str | None = None


@value
class Plain:
    number: int


def test_equality_hashing_and_order_follow_the_fields() -> None:
    assert Pair(1, "a") == Pair(1, "a") and hash(Pair(1, "a")) == hash(Pair(1, "a"))
    assert Pair(1, "a") != Pair(1, "b")
    assert sorted([Pair(2), Pair(1, "b"), Pair(1, "a")]) == [Pair(1, "a"), Pair(1, "b"), Pair(2)]
    assert len({Plain(1), Plain(1), Plain(2)}) == 2
    with pytest.raises(TypeError):
        _ = Plain(1) < Plain(2)  # type: ignore[operator]  # order only when asked for


def test_records_have_slots_not_a_dict() -> None:
    fact = Fact(0, FactKind.CREATED, 0, "t", "email", "high")
    assert not hasattr(fact, "__dict__")
    with pytest.raises(AttributeError):
        fact.other = 1  # type: ignore[attr-defined]


def test_mypy_refuses_assigning_a_field(tmp_path: Path) -> None:
    source = tmp_path / "assign.py"
    source.write_text(
        "from streams.domain.facts import Fact, FactKind\n"
        "fact = Fact(0, FactKind.CREATED, 0, 't', 'email', 'high')\n"
        "fact.value = 3\n"
    )
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 1, checked.stdout
    assert 'Property "value" defined in "Fact" is read-only' in checked.stdout
