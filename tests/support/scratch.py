"""KPIs computed from scratch: every ticket's whole timeline evaluated once, all in memory.

The tests' oracle for the planner and replay: no batches, no cache, no records, no store
indexes. Windows hold every fact of every view; backlog and SLA counts are read off the views'
clocks directly, not off the indexes the planner writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from streams.domain.account_book import AccountBook, by_account
from streams.domain.account_partial import AccountsReport
from streams.domain.account_support import ticket_support
from streams.domain.events import Event
from streams.domain.facts import FactDiff, SlaTarget
from streams.domain.instant import Instant
from streams.domain.policies import PolicySet
from streams.domain.snapshot import Backlog, SlaNow, Snapshot, build_snapshot
from streams.domain.ticket import TicketView, evaluate
from streams.domain.timeline import Arrival, Timeline
from streams.domain.windows import WINDOWS, Windows


class Scratch:
    """Timelines by ticket id; ``views`` and ``snapshot`` evaluate them all at ``now``."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self.timelines: dict[str, Timeline] = {}

    def ingest(self, event: Event) -> Arrival:
        timeline = self.timelines.get(event.ticket_id)
        if timeline is None:
            timeline = self.timelines[event.ticket_id] = Timeline(event.ticket_id)
        arrival = timeline.add(event)
        timeline.withdrawn.clear()
        return arrival

    def ingest_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.ingest(event)

    def views(self, now: Instant) -> dict[str, TicketView]:
        return {t: evaluate(t, tl.events, self.policies, now) for t, tl in self.timelines.items()}

    def snapshot(self, now: Instant) -> Snapshot:
        views = self.views(now).values()
        windows = Windows()
        for view in views:
            windows.apply(FactDiff((), view.facts))
        backlog = Backlog.from_tickets(
            (view.status.value, view.priority or "", view.team or "")
            for view in views
            if view.status is not None and view.in_backlog
        )
        at_risk: Counter[SlaTarget] = Counter()
        breached: Counter[SlaTarget] = Counter()
        for view in views:
            for clock in view.clocks:
                if clock.at_risk(now, self.policies.at_risk_within):
                    at_risk[clock.target] += 1
                elif clock.breached_running():
                    breached[clock.target] += 1
        sla = SlaNow(
            at_risk={t.value: at_risk[t] for t in SlaTarget},
            breached_running={t.value: breached[t] for t in SlaTarget},
        )
        sums = {name: windows.window(name, now) for name in WINDOWS}
        return build_snapshot(now, sums, backlog, sla)

    def accounts(self, book: AccountBook, now: Instant) -> AccountsReport:
        """The accounts report of ``book`` with these tickets' support, all evaluated at now."""
        views = self.views(now)
        support = by_account(
            ticket_support(self.timelines[t].events, view) for t, view in views.items()
        )
        report, _ = book.report(support, now, self.policies.account_health)
        return report
