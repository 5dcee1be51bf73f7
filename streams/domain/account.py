"""What an account's timeline means: its stage, MRR, facts and history as of an instant.

``evaluate_account`` walks one account's events in contract order and applies the stage
table: the account starts at its first ``lead_created`` or ``converted``; events before that,
a second ``lead_created`` and the transitions the table marks as anomalies take no part
(they are counted). It is a pure function of (events, now), like ``ticket.evaluate``: a late
event is handled by evaluating again and diffing the facts.

The view keeps the account's **history**: its stage, MRR, segment and manager after each
event that took part, so that the state at any earlier instant (a window's start) is a
bisection away.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Final

from streams.domain.account_events import DIRECT_SOURCE, AccountEvent, AccountEventType
from streams.domain.account_facts import NO_TOUCH, AccountFact, AccountFactKind
from streams.domain.instant import Instant
from streams.domain.value import Value


class Stage(StrEnum):
    LEAD = "lead"
    CUSTOMER = "customer"
    CHURNED = "churned"
    LOST = "lost"


# One point of the history: from ``time`` on (for instants after it), the account had these.
class AccountState(Value):
    """The account after its events up to ``time``: in force at every instant after it."""

    _NAMES = ("time", "stage", "mrr", "segment", "manager")
    __slots__ = _NAMES

    time: Final[Instant]
    stage: Final[Stage]
    mrr: Final[int]
    segment: Final[str | None]
    manager: Final[str | None]

    def __init__(
        self, time: Instant, stage: Stage, mrr: int, segment: str | None, manager: str | None
    ) -> None:
        self.time = time
        self.stage = stage
        self.mrr = mrr
        self.segment = segment
        self.manager = manager

    def _fields(self) -> tuple[Any, ...]:
        return (self.time, self.stage, self.mrr, self.segment, self.manager)


class AccountView(Value):
    """An account as of ``now``. ``stage`` is None until the account has started."""

    _NAMES = ("account_id", "now", "facts", "history", "source", "anomalies")
    __slots__ = _NAMES

    account_id: Final[str]
    now: Final[Instant]
    facts: Final[tuple[AccountFact, ...]]
    history: Final[tuple[AccountState, ...]]
    source: Final[str | None]
    anomalies: Final[int]

    def __init__(
        self,
        account_id: str,
        now: Instant,
        facts: tuple[AccountFact, ...] = (),
        history: tuple[AccountState, ...] = (),
        source: str | None = None,
        anomalies: int = 0,
    ) -> None:
        self.account_id = account_id
        self.now = now
        self.facts = facts
        self.history = history
        self.source = source
        self.anomalies = anomalies

    def _fields(self) -> tuple[Any, ...]:
        return (self.account_id, self.now, self.facts, self.history, self.source, self.anomalies)

    def state_at(self, instant: Instant) -> AccountState | None:
        """The state after every event with occurred_at < ``instant``; None before the start."""
        history = self.history
        index = bisect_left([s.time for s in history], instant) - 1
        return history[index] if index >= 0 else None

    @property
    def current(self) -> AccountState | None:
        """The state as of ``now``."""
        return self.history[-1] if self.history else None


class _Walk:
    """The mutable walk over one account's events."""

    __slots__ = (
        "anomalies",
        "facts",
        "history",
        "last_channel",
        "lead_at",
        "lead_index",
        "manager",
        "mrr",
        "segment",
        "source",
        "stage",
        "touches",
    )

    def __init__(self, source: str) -> None:
        self.source = source
        self.stage: Stage | None = None
        self.mrr = 0
        self.segment: str | None = None
        self.manager: str | None = None
        self.facts: list[AccountFact] = []
        self.history: list[AccountState] = []
        self.lead_at: Instant | None = None
        self.lead_index = -1
        self.touches = 0
        self.last_channel: str | None = None
        self.anomalies = 0

    def fact(self, at: Instant, kind: AccountFactKind, value: int = 0) -> None:
        self.facts.append(AccountFact(at, kind, value, self.segment, self.manager, self.source))

    def apply(self, event: AccountEvent) -> None:
        at, kind, stage = event.occurred_at, event.type, self.stage
        if kind is AccountEventType.TOUCHED:
            assert event.channel is not None
            manager = event.manager if event.manager is not None else self.manager
            duration = event.duration if event.duration is not None else 0
            self.facts.append(
                AccountFact(
                    at,
                    AccountFactKind.TOUCH,
                    duration,
                    self.segment,
                    manager,
                    self.source,
                    channel=event.channel,
                )
            )
            self.touches += 1
            self.last_channel = event.channel
            return  # a touch changes no state
        if kind is AccountEventType.ASSIGNED:
            self.manager = event.manager
            if event.segment is not None:
                self.segment = event.segment
        elif kind is AccountEventType.LEAD_CREATED:
            if stage is not None:
                self.anomalies += 1
                return
            self.start_lead(event)
        elif kind is AccountEventType.CONVERTED:
            if stage is Stage.CUSTOMER:
                self.anomalies += 1
                return
            self.convert(event)
        elif kind is AccountEventType.MRR_CHANGED:
            if stage is not Stage.CUSTOMER:
                self.anomalies += 1
                return
            assert event.mrr is not None
            delta, self.mrr = event.mrr - self.mrr, event.mrr
            self.facts.append(
                AccountFact(
                    at,
                    AccountFactKind.MRR_CHANGE,
                    delta,
                    self.segment,
                    self.manager,
                    self.source,
                    reason=event.reason,
                )
            )
        elif stage is Stage.CUSTOMER:  # churned
            churned_mrr, self.mrr, self.stage = self.mrr, 0, Stage.CHURNED
            self.facts.append(
                AccountFact(
                    at,
                    AccountFactKind.CHURN,
                    churned_mrr,
                    self.segment,
                    self.manager,
                    self.source,
                    voluntary=event.voluntary,
                )
            )
        elif stage is Stage.LEAD:
            self.stage = Stage.LOST
            self.fact(at, AccountFactKind.LEAD_LOST)
        else:
            self.anomalies += 1
            return
        self.record(at)

    def start_lead(self, event: AccountEvent) -> None:
        self.stage = Stage.LEAD
        self.lead_at = event.occurred_at
        if event.segment is not None:
            self.segment = event.segment
        if event.manager is not None:
            self.manager = event.manager
        self.lead_index = len(self.facts)
        self.fact(event.occurred_at, AccountFactKind.LEAD)

    def convert(self, event: AccountEvent) -> None:
        at, before = event.occurred_at, self.stage
        assert event.mrr is not None
        self.stage, self.mrr = Stage.CUSTOMER, event.mrr
        if event.segment is not None:
            self.segment = event.segment
        if before is Stage.CHURNED:
            self.fact(at, AccountFactKind.WON_BACK, event.mrr)
            return
        lead_at = self.lead_at
        self.facts.append(
            AccountFact(
                at,
                AccountFactKind.CONVERSION,
                event.mrr,
                self.segment,
                self.manager,
                self.source,
                channel=self.last_channel or NO_TOUCH,
                touches=None if lead_at is None else self.touches,
                waited=None if lead_at is None else at - lead_at,
            )
        )
        lead = self.facts[self.lead_index] if self.lead_index >= 0 else None
        if lead is not None and lead.converted_at is None:
            self.facts[self.lead_index] = AccountFact(
                lead.time,
                lead.kind,
                lead.value,
                lead.segment,
                lead.manager,
                lead.source,
                converted_at=at,
            )

    def record(self, at: Instant) -> None:
        assert self.stage is not None
        state = AccountState(at, self.stage, self.mrr, self.segment, self.manager)
        history = self.history
        if history and history[-1].time == at:
            history[-1] = state  # several events at one instant: the last state counts
        else:
            history.append(state)


def _starts(event: AccountEvent) -> bool:
    return event.type is AccountEventType.LEAD_CREATED or event.type is AccountEventType.CONVERTED


def evaluate_account(account_id: str, events: Sequence[AccountEvent], now: Instant) -> AccountView:
    """Stage, facts and history of one account as of ``now``.

    ``events`` are the account's accepted events in contract order (an ``AccountTimeline``'s);
    only those with occurred_at < ``now`` take part.
    """
    start = -1
    for index, event in enumerate(events):
        if event.occurred_at >= now:
            break
        if _starts(event):
            start = index
            break
    if start < 0:
        before = sum(1 for e in events if e.occurred_at < now)
        return AccountView(account_id, now, anomalies=before)
    first = events[start]
    is_lead = first.type is AccountEventType.LEAD_CREATED
    source = first.source if is_lead and first.source is not None else DIRECT_SOURCE
    walk = _Walk(source)
    walk.anomalies = start
    for event in events[start:]:
        if event.occurred_at >= now:
            break
        walk.apply(event)
    return AccountView(
        account_id, now, tuple(walk.facts), tuple(walk.history), source, walk.anomalies
    )


__all__ = ["AccountState", "AccountView", "Stage", "evaluate_account"]
