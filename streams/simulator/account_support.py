"""What the simulated CRM knows of each account's support: its tickets' bad moments by day,
read as the product's health signals (docs/accounts.md), so that churn can follow them.

A ticket's whole lifecycle is drawn when it is created, so its bad moments are known then and
recorded at their own (later) times; the signals at an instant count only the days up to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from streams.domain.events import EventType
from streams.domain.facts import SlaTarget
from streams.domain.instant import MICROS_PER_MINUTE, Instant
from streams.domain.policies import PolicySet

DAY: Final = 24 * 60 * MICROS_PER_MINUTE
WINDOW_DAYS: Final = 30
BREACH, REOPEN, UNHAPPY, DETRACTOR = range(4)  # the kinds of bad moment

_INBOUND = EventType.CONTACT_INBOUND.value
_OUTBOUND = EventType.CONTACT_OUTBOUND.value
_STATUS = EventType.TICKET_STATUS_CHANGED.value
_CSAT = EventType.SURVEY_CSAT.value
_NPS = EventType.SURVEY_NPS.value


@dataclass(frozen=True, slots=True)
class TicketSketch:
    """What the CRM needs of a drawn ticket to judge its support."""

    account_id: str
    priority: str
    team: str
    channel: str


class SupportMemory:
    """Bad support moments per account and UTC day: [breaches, reopens, unhappy, detractor]."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self.health = policies.account_health
        self.days: dict[str, dict[int, list[int]]] = {}

    def observe(self, ticket: TicketSketch, events: list[tuple[Any, ...]]) -> None:
        """Record a drawn ticket's bad moments, each at its own time.

        ``events`` are the ticket's pending events, (time, rank, number, type, fields), in
        time order. A reply or solve later than its SLA target's deadline under the policies
        (business hours included) is a breach; pauses are not modelled."""
        policy = self.policies.select(
            priority=ticket.priority, team=ticket.team, channel=ticket.channel
        )
        targets = policy.targets if policy is not None else {}
        calendar = policy.calendar if policy is not None else None
        moments: list[tuple[Instant, int]] = []

        def deadline(target: SlaTarget, since: Instant) -> Instant | None:
            amount = targets.get(target)
            return None if amount is None or calendar is None else calendar.add(since, amount)

        waiting = deadline(SlaTarget.FIRST_REPLY, events[0][0])
        resolve_by = deadline(SlaTarget.RESOLUTION, events[0][0])
        replied = solved = False
        for at, _, _, wire_type, fields in events:
            values = fields or {}
            if wire_type == _INBOUND and replied and waiting is None:
                waiting = deadline(SlaTarget.NEXT_REPLY, at)
            elif wire_type == _OUTBOUND and values.get("public"):
                if waiting is not None and at > waiting:
                    moments.append((waiting, BREACH))
                replied, waiting = True, None
            elif wire_type == _STATUS:
                status = values.get("status")
                if status == "open" and solved:
                    moments.append((at, REOPEN))
                if status == "solved" and not solved:
                    solved = True
                    if resolve_by is not None and at > resolve_by:
                        moments.append((resolve_by, BREACH))
            elif wire_type == _CSAT and values["score"] <= self.health.unhappy_csat:
                moments.append((at, UNHAPPY))
            elif wire_type == _NPS and values["score"] <= self.health.detractor_nps:
                moments.append((at, DETRACTOR))
        if moments:
            days = self.days.setdefault(ticket.account_id, {})
            for at, kind in moments:
                days.setdefault(at // DAY, [0, 0, 0, 0])[kind] += 1

    def signals(self, account_id: str, now: Instant) -> int:
        """How many of the health signals sla_breaches, reopens, unhappy and detractor the
        account's last 30 days (whole UTC days up to today) show, at the default thresholds."""
        days = self.days.get(account_id)
        if not days:
            return 0
        today = now // DAY
        for day in [day for day in days if day < today - WINDOW_DAYS]:
            del days[day]
        totals = [0, 0, 0, 0]
        for day, counts in days.items():
            if day <= today:
                for kind, count in enumerate(counts):
                    totals[kind] += count
        health = self.health
        return (
            (totals[BREACH] >= health.sla_breaches)
            + (totals[REOPEN] >= health.reopens)
            + (totals[UNHAPPY] > 0)
            + (totals[DETRACTOR] > 0)
        )
