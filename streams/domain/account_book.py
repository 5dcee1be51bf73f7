"""All accounts in memory and the report of them (replay).

Replay feeds it the account events. The tickets' side comes in when the report is made:
every ticket's support facts (``account_support.ticket_support``), grouped by account
(``by_account``). ``report`` evaluates each account at as_of and builds the snapshot's
``accounts`` section and the views V.
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.domain.account import AccountView, evaluate_account
from streams.domain.account_events import AccountEvent
from streams.domain.account_partial import AccountsReport
from streams.domain.account_support import SupportFact
from streams.domain.account_thresholds import HealthThresholds
from streams.domain.account_timeline import AccountTimeline
from streams.domain.instant import Instant
from streams.domain.timeline import Arrival


class AccountBook:
    """Account timelines by id."""

    __slots__ = ("events", "timelines")

    def __init__(self) -> None:
        self.timelines: dict[str, AccountTimeline] = {}
        self.events = 0  # account events accepted

    def ingest(self, event: AccountEvent) -> Arrival:
        timeline = self.timelines.get(event.account_id)
        if timeline is None:
            timeline = self.timelines[event.account_id] = AccountTimeline(event.account_id)
        arrival = timeline.add(event)
        if arrival is Arrival.ACCEPTED:
            self.events += 1
        return arrival

    def views(self, now: Instant) -> dict[str, AccountView]:
        return {a: evaluate_account(a, t.events, now) for a, t in self.timelines.items()}

    def report(
        self,
        support: dict[str, list[SupportFact]],
        as_of: Instant,
        health: HealthThresholds,
    ) -> tuple[AccountsReport, int]:
        """The accounts as of ``as_of`` with the tickets' ``support`` facts by account
        (``by_account``), and the accounts' anomalies."""
        views = self.views(as_of)
        anomalies = sum(view.anomalies for view in views.values())
        return AccountsReport(as_of, views, support, health), anomalies


def by_account(tickets: Iterable[Iterable[SupportFact]]) -> dict[str, list[SupportFact]]:
    """Support facts of tickets, grouped by the account each counts for."""
    out: dict[str, list[SupportFact]] = {}
    for facts in tickets:
        for fact in facts:
            out.setdefault(fact.account_id, []).append(fact)
    return out
