"""``Value`` records: frozen for mypy, equal, hashed and ordered by their fields, with slots."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.domain.account_support import SupportFact, SupportKind
from streams.domain.clocks import ClockView
from streams.domain.events import Channel, Event, EventType, Priority, Status
from streams.domain.facts import Fact, FactDiff, FactKind, SlaTarget
from streams.domain.ticket import TicketView
from streams.domain.value import Value


def _fact(value: int = 1, agent: str | None = "a1", time: int = 0) -> Fact:
    return Fact(time, FactKind.REPLY, value, "billing", "email", "high", agent)


def test_facts_are_equal_hashed_and_ordered_by_their_fields_in_order() -> None:
    assert _fact() == _fact() and hash(_fact()) == hash(_fact())
    assert _fact() != _fact(value=2) and _fact() != _fact(agent=None)
    assert (_fact() != _fact()) is False and (_fact() == _fact(value=2)) is False
    later, bigger, first = _fact(time=1), _fact(value=2), _fact()
    assert sorted([later, bigger, first]) == [first, bigger, later]
    assert first < bigger <= bigger < later and later > first >= first
    assert len({_fact(), _fact(), _fact(value=2)}) == 2
    assert _fact() != object() and _fact() != (0, FactKind.REPLY, 1)


def test_a_value_equals_only_one_of_its_own_class() -> None:
    view = ClockView(SlaTarget.FIRST_REPLY, 0, 10, None, None, False)
    assert view == ClockView(SlaTarget.FIRST_REPLY, 0, 10, None, None, False)
    assert view != ClockView(SlaTarget.FIRST_REPLY, 0, 10, None, None, True)
    assert hash(view) == hash(ClockView(SlaTarget.FIRST_REPLY, 0, 10, None, None, False))
    assert TicketView("T1", 5, (_fact(),)) == TicketView("T1", 5, (_fact(),))
    assert TicketView("T1", 5) != TicketView("T1", 6)
    assert FactDiff(added=(_fact(),)) == FactDiff((), (_fact(),)) != FactDiff((_fact(),))
    assert not FactDiff() and FactDiff(retracted=(_fact(),))
    assert view != TicketView("T1", 5) and FactDiff() != TicketView("T1", 5)


def test_support_facts_are_equal_and_hashed_by_every_field() -> None:
    fact = SupportFact(5, "A1", SupportKind.CSAT, 4)
    same = SupportFact(5, "A1", SupportKind.CSAT, 4)
    assert fact == same and (fact != same) is False and hash(fact) == hash(same)
    others = [
        SupportFact(6, "A1", SupportKind.CSAT, 4),
        SupportFact(5, "A2", SupportKind.CSAT, 4),
        SupportFact(5, "A1", SupportKind.NPS, 4),
        SupportFact(5, "A1", SupportKind.CSAT, 3),
    ]
    for other in others:
        assert fact != other and (fact == other) is False
    assert fact != (5, "A1", SupportKind.CSAT, 4) and fact != _fact()
    assert len({fact, same, *others}) == 5


def test_an_events_extra_fields_are_kept_but_not_part_of_its_value() -> None:
    plain = Event("e1", EventType.CONTACT_INBOUND, 7, "T1")
    extra = Event("e1", EventType.CONTACT_INBOUND, 7, "T1", extra={"source": "x"})
    assert plain == extra and hash(plain) == hash(extra) and extra.extra == {"source": "x"}
    assert plain.extra == {} and plain.public is True
    assert plain != Event("e1", EventType.CONTACT_INBOUND, 7, "T1", public=False)


# every field a value unlike the others, so that two fields swapped would show
DISTINCT: list[Value] = [
    Fact(1, FactKind.SLA_MET, 2, "team", "chat", "high", "agent", SlaTarget.RESOLUTION),
    FactDiff((_fact(),), (_fact(value=2),)),
    ClockView(SlaTarget.NEXT_REPLY, 1, 2, 3, 4, True),
    TicketView("T1", 1, (_fact(),), (), Status.OPEN, "high", "team", "chat", "a", "p", 2, 3),
    Event(
        "e1",
        EventType.CONTACT_OUTBOUND,
        7,
        "T1",
        Channel.EMAIL,
        Priority.HIGH,
        "team",
        "agent",
        Status.OPEN,
        False,
        3,
        "account",
        "requester",
        1.5,
    ),
]


@pytest.mark.parametrize("record", DISTINCT, ids=lambda r: type(r).__name__)
def test_init_takes_the_fields_in_the_order_of_names(record: Value) -> None:
    """Decoding builds events positionally in ``Event._NAMES`` order."""
    values = tuple(getattr(record, name) for name in type(record)._NAMES)
    assert values == record._fields()
    assert len(set(map(repr, values))) == len(values)
    assert type(record)(*values)._fields() == values


def test_repr_names_each_field() -> None:
    assert repr(FactDiff()) == "FactDiff(retracted=(), added=())"
    shown = repr(_fact())
    assert shown.startswith("Fact(time=0, kind=") and shown.endswith("agent='a1', target=None)")


@pytest.mark.parametrize(
    "record",
    [
        _fact(),
        FactDiff(),
        ClockView(SlaTarget.RESOLUTION, 0, None, None, None, True),
        TicketView("T1", 0),
        Event("e1", EventType.CONTACT_INBOUND, 7, "T1"),
    ],
)
def test_records_have_slots_not_a_dict(record: Value) -> None:
    assert not hasattr(record, "__dict__")
    target: Any = record
    with pytest.raises(AttributeError):
        target.other = 1


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
    assert 'Cannot assign to final attribute "value"' in checked.stdout
