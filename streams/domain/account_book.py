"""All accounts in memory: their timelines and their tickets' support facts (replay).

Replay feeds it the account events and observes every ticket the engine evaluates
(``Engine.observer``); ``report`` evaluates each account at as_of and builds the snapshot's
``accounts`` section and the views V. The live worker keeps the same pieces per partition.
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.domain.account import AccountView, evaluate_account
from streams.domain.account_events import AccountEvent
from streams.domain.account_health import HealthThresholds
from streams.domain.account_snapshot import AccountsReport
from streams.domain.account_support import SupportFact, ticket_support
from streams.domain.account_timeline import AccountTimeline
from streams.domain.events import Event
from streams.domain.instant import Instant
from streams.domain.ticket import TicketView
from streams.domain.timeline import Arrival


class AccountBook:
    """Account timelines by id and support facts by ticket id."""

    __slots__ = ("events", "support", "timelines")

    def __init__(self) -> None:
        self.timelines: dict[str, AccountTimeline] = {}
        self.support: dict[str, tuple[SupportFact, ...]] = {}
        self.events = 0  # account events accepted

    def ingest(self, event: AccountEvent) -> Arrival:
        timeline = self.timelines.get(event.account_id)
        if timeline is None:
            timeline = self.timelines[event.account_id] = AccountTimeline(event.account_id)
        arrival = timeline.add(event)
        if arrival is Arrival.ACCEPTED:
            self.events += 1
        return arrival

    def observe(self, ticket_id: str, events: Sequence[Event], view: TicketView) -> None:
        """``Engine.observer``: keep the ticket's support facts as of its latest evaluation."""
        facts = ticket_support(events, view)
        if facts:
            self.support[ticket_id] = facts
        else:
            self.support.pop(ticket_id, None)

    def views(self, now: Instant) -> dict[str, AccountView]:
        return {a: evaluate_account(a, t.events, now) for a, t in self.timelines.items()}

    def support_by_account(self) -> dict[str, list[SupportFact]]:
        by_account: dict[str, list[SupportFact]] = {}
        for facts in self.support.values():
            for fact in facts:
                by_account.setdefault(fact.account_id, []).append(fact)
        return by_account

    def report(self, as_of: Instant, health: HealthThresholds) -> tuple[AccountsReport, int]:
        """The accounts as of ``as_of``, and their anomalies."""
        views = self.views(as_of)
        anomalies = sum(view.anomalies for view in views.values())
        return AccountsReport(as_of, views, self.support_by_account(), health), anomalies
