"""Ticket facts: what a ticket's timeline yields, each at the instant it became true.

A fact is a value with a time and the dimensions it is reported under (spec section 3).
Facts are values: a ticket's facts are recomputed from its timeline, and the difference
between the old and the new multiset is what windows retract and add.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Final

from streams.domain.instant import Instant
from streams.domain.value import Value


class FactKind(StrEnum):
    CREATED = "created"  # value 0
    FIRST_REPLY = "first_reply"  # value: microseconds created -> first touch
    REPLY = "reply"  # value: microseconds of a first- or next-reply sample
    RESOLUTION = "resolution"  # first solve; value: microseconds created -> first solve
    TOUCHES_TO_CLOSE = "touches_to_close"  # at the first solve; value: touches
    FULL_RESOLUTION = "full_resolution"  # closed; value: microseconds created -> closed
    HANDLE = "handle"  # a touch with a duration (a call); value: its microseconds
    REOPEN = "reopen"  # value 0
    CSAT = "csat"  # value: score 1..5
    NPS = "nps"  # value: score 0..10
    SLA_MET = "sla_met"  # target set; value 0
    SLA_BREACHED = "sla_breached"  # target set; value 0


class SlaTarget(StrEnum):
    FIRST_REPLY = "first_reply"
    NEXT_REPLY = "next_reply"
    RESOLUTION = "resolution"


class Fact(Value):
    """One fact. ``agent`` is None when the fact has no agent (left out of by_agent).

    Ordered by its fields in order, as windows and diffs sort facts.
    """

    _NAMES = ("time", "kind", "value", "team", "channel", "priority", "agent", "target")
    __slots__ = _NAMES

    time: Final[Instant]
    kind: Final[FactKind]
    value: Final[int]
    team: Final[str]
    channel: Final[str]
    priority: Final[str]
    agent: Final[str | None]
    target: Final[SlaTarget | None]

    def __init__(
        self,
        time: Instant,
        kind: FactKind,
        value: int,
        team: str,
        channel: str,
        priority: str,
        agent: str | None = None,
        target: SlaTarget | None = None,
    ) -> None:
        self.time = time
        self.kind = kind
        self.value = value
        self.team = team
        self.channel = channel
        self.priority = priority
        self.agent = agent
        self.target = target

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.time,
            self.kind,
            self.value,
            self.team,
            self.channel,
            self.priority,
            self.agent,
            self.target,
        )

    def __eq__(self, other: object) -> bool:
        # field by field, without the base's tuples: diff_facts compares every fact it is given
        if not isinstance(other, Fact):
            return NotImplemented
        return (
            self.time == other.time
            and self.kind == other.kind
            and self.value == other.value
            and self.team == other.team
            and self.channel == other.channel
            and self.priority == other.priority
            and self.agent == other.agent
            and self.target == other.target
        )

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, Fact):
            return NotImplemented
        return not self == other

    def __hash__(self) -> int:
        return hash(self._fields())

    def _order(self) -> tuple[Any, ...]:
        # None sorts as "": two facts alike up to an agent (or a target) that only one of
        # them has must compare (say two clocks met at one instant), not raise TypeError
        return (
            self.time,
            self.kind,
            self.value,
            self.team,
            self.channel,
            self.priority,
            self.agent or "",
            self.target or "",
        )

    def __lt__(self, other: Fact) -> bool:
        if self.time != other.time:  # facts mostly differ in time: no tuples to build
            return self.time < other.time
        return self._order() < other._order()

    def __le__(self, other: Fact) -> bool:
        if self.time != other.time:  # facts mostly differ in time: no tuples to build
            return self.time < other.time
        return self._order() <= other._order()

    def __gt__(self, other: Fact) -> bool:
        if self.time != other.time:  # facts mostly differ in time: no tuples to build
            return self.time > other.time
        return self._order() > other._order()

    def __ge__(self, other: Fact) -> bool:
        if self.time != other.time:  # facts mostly differ in time: no tuples to build
            return self.time > other.time
        return self._order() >= other._order()


class FactDiff(Value):
    """What changed in a ticket's facts: windows subtract ``retracted`` and add ``added``."""

    _NAMES = ("retracted", "added")
    __slots__ = _NAMES

    retracted: Final[tuple[Fact, ...]]
    added: Final[tuple[Fact, ...]]

    def __init__(self, retracted: tuple[Fact, ...] = (), added: tuple[Fact, ...] = ()) -> None:
        self.retracted = retracted
        self.added = added

    def _fields(self) -> tuple[Any, ...]:
        return (self.retracted, self.added)

    def __bool__(self) -> bool:
        return bool(self.retracted or self.added)


NO_DIFF = FactDiff()


def diff_facts(old: Iterable[Fact], new: Iterable[Fact]) -> FactDiff:
    """The multiset difference between two fact lists.

    A ticket's facts come out of evaluation in event order, so a new event mostly appends:
    the common prefix is skipped before counting (the hot path of every live batch).
    """
    before_all, after_all = tuple(old), tuple(new)
    shared = min(len(before_all), len(after_all))
    i = 0
    while i < shared and before_all[i] == after_all[i]:
        i += 1
    if i == len(before_all) == len(after_all):
        return NO_DIFF
    if i == len(before_all):  # only new facts: the first evaluation, or an appended event
        return FactDiff(added=tuple(sorted(after_all[i:])))
    if i == len(after_all):
        return FactDiff(retracted=tuple(sorted(before_all[i:])))
    # the few facts after the prefix, counted in a plain dict (a Counter each cost more
    # than the rest of the difference)
    unmatched: dict[Fact, int] = {}
    for fact in before_all[i:]:
        unmatched[fact] = unmatched.get(fact, 0) + 1
    added = []
    for fact in after_all[i:]:
        left = unmatched.get(fact, 0)
        if left:
            unmatched[fact] = left - 1
        else:
            added.append(fact)
    retracted = [f for f, n in unmatched.items() for _ in range(n)]
    return FactDiff(retracted=tuple(sorted(retracted)), added=tuple(sorted(added)))
