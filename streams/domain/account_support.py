"""The support experience of an account: what its tickets add, with times.

A ticket belongs to the account named by its (first) ``ticket.created``. ``ticket_support``
turns one evaluated ticket into **support facts**, each with its time and the account it
counts for: the ticket's creation, reopens and SLA outcomes (its facts, from the ticket
engine), and the events the ticket accepted that are no ticket fact: public inbound contacts,
public agent replies (with their ``duration_seconds``), CSAT and NPS answers. A survey counts
for the ticket's account, or for its own ``account_id`` when the ticket has none. "Accepted"
is the ticket engine's rule: after the ticket's creation, before its close (surveys also after
the close), before ``now``. Like facts they are recomputed per ticket, so late events correct
them; the live worker can send them keyed by account.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any, Final

from streams.domain.events import Event, EventType, Status
from streams.domain.facts import FactKind
from streams.domain.instant import MICROS_PER_SECOND, Instant
from streams.domain.ticket import TicketView
from streams.domain.value import Value


class SupportKind(StrEnum):
    CREATED = "created"
    INBOUND = "inbound"
    AGENT_TOUCH = "agent_touch"  # value: duration in microseconds (0 when not given)
    REOPEN = "reopen"
    SLA_MET = "sla_met"
    SLA_BREACHED = "sla_breached"
    CSAT = "csat"  # value: score
    NPS = "nps"  # value: score


_FROM_FACTS: Final = {
    FactKind.CREATED: SupportKind.CREATED,
    FactKind.REOPEN: SupportKind.REOPEN,
    FactKind.SLA_MET: SupportKind.SLA_MET,
    FactKind.SLA_BREACHED: SupportKind.SLA_BREACHED,
}
_SURVEYS: Final = frozenset({EventType.SURVEY_CSAT, EventType.SURVEY_NPS})


class SupportFact(Value):
    """One thing a ticket adds to an account's support experience, at ``time``."""

    _NAMES = ("time", "account_id", "kind", "value")
    __slots__ = _NAMES

    time: Final[Instant]
    account_id: Final[str]
    kind: Final[SupportKind]
    value: Final[int]

    def __init__(self, time: Instant, account_id: str, kind: SupportKind, value: int = 0) -> None:
        self.time = time
        self.account_id = account_id
        self.kind = kind
        self.value = value

    def _fields(self) -> tuple[Any, ...]:
        return (self.time, self.account_id, self.kind, self.value)

    # Compared field by field, without ``_fields``' tuples: a ticket's support facts are
    # compared with those last sent at every change of the ticket (``account_links``).
    def _same(self, other: SupportFact) -> bool:
        return (
            self.time == other.time
            and self.value == other.value
            and self.kind is other.kind
            and self.account_id == other.account_id
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not SupportFact:
            return NotImplemented
        return other is self or self._same(other)

    def __ne__(self, other: object) -> bool:
        if type(other) is not SupportFact:
            return NotImplemented
        return other is not self and not self._same(other)

    def __hash__(self) -> int:  # Value's (a class that defines __eq__ loses the inherited one)
        return hash(self._fields())


def ticket_support(events: Sequence[Event], view: TicketView) -> tuple[SupportFact, ...]:
    """The support facts of one ticket as of ``view.now``; none when no account is named.

    ``events`` are the ticket's timeline (contract order), ``view`` its evaluation.
    """
    now = view.now
    created = -1
    for index, event in enumerate(events):
        if event.type is EventType.TICKET_CREATED:
            created = index
            break
    if created < 0 or events[created].occurred_at >= now:
        return ()
    account = events[created].account_id
    out: list[SupportFact] = []
    if account is not None:
        for fact in view.facts:
            support_kind = _FROM_FACTS.get(fact.kind)
            if support_kind is not None:
                out.append(SupportFact(fact.time, account, support_kind, 0))
    closed = False
    for event in events[created + 1 :]:
        at, kind = event.occurred_at, event.type
        if at >= now:
            break
        if kind is EventType.TICKET_CREATED or (closed and kind not in _SURVEYS):
            continue  # not accepted (the ticket engine counts them as anomalies)
        if kind is EventType.TICKET_STATUS_CHANGED:
            closed = event.status is Status.CLOSED
        elif kind is EventType.SURVEY_NPS:
            owner = account if account is not None else event.account_id
            if owner is not None:
                assert event.score is not None
                out.append(SupportFact(at, owner, SupportKind.NPS, event.score))
        elif account is None or not event.public:
            continue
        elif kind is EventType.CONTACT_INBOUND:
            out.append(SupportFact(at, account, SupportKind.INBOUND))
        elif kind is EventType.CONTACT_OUTBOUND:
            seconds = event.duration_seconds
            micros = 0 if seconds is None else round(seconds * MICROS_PER_SECOND)
            out.append(SupportFact(at, account, SupportKind.AGENT_TOUCH, micros))
        elif kind is EventType.SURVEY_CSAT:
            assert event.score is not None
            out.append(SupportFact(at, account, SupportKind.CSAT, event.score))
    return tuple(out)


class SupportSums:
    """The support facts of one account in a window, counted."""

    __slots__ = (
        "agent_micros",
        "agent_touches",
        "created",
        "csat",
        "inbound",
        "nps",
        "reopened",
        "sla_breached",
        "sla_met",
    )

    def __init__(self) -> None:
        self.created = 0
        self.inbound = 0
        self.agent_touches = 0
        self.agent_micros = 0
        self.reopened = 0
        self.sla_met = 0
        self.sla_breached = 0
        self.csat: list[int] = []  # the scores
        self.nps: list[int] = []

    def add(self, fact: SupportFact) -> None:
        kind = fact.kind
        if kind is SupportKind.CREATED:
            self.created += 1
        elif kind is SupportKind.INBOUND:
            self.inbound += 1
        elif kind is SupportKind.AGENT_TOUCH:
            self.agent_touches += 1
            self.agent_micros += fact.value
        elif kind is SupportKind.REOPEN:
            self.reopened += 1
        elif kind is SupportKind.SLA_MET:
            self.sla_met += 1
        elif kind is SupportKind.SLA_BREACHED:
            self.sla_breached += 1
        elif kind is SupportKind.CSAT:
            self.csat.append(fact.value)
        else:
            self.nps.append(fact.value)


def support_accounts(facts: Iterable[SupportFact]) -> set[str]:
    """The accounts some of these facts count for."""
    return {fact.account_id for fact in facts}
