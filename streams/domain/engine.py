"""The whole KPI computation in memory: timelines, ticket views, windows, snapshot.

Replay drives it over a file; the live pipeline uses the same pieces with state in Redis.
Every change to a ticket goes through ``evaluate``: the ticket is recomputed from its
timeline and only the difference in facts reaches the windows, so late events correct
the windows that hold them and nothing is counted twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.domain.events import Event
from streams.domain.facts import FactDiff, SlaTarget, diff_facts
from streams.domain.instant import Instant
from streams.domain.policies import PolicySet
from streams.domain.snapshot import Backlog, SlaNow, build_snapshot
from streams.domain.ticket import TicketView, evaluate
from streams.domain.timeline import Arrival, Timeline
from streams.domain.windows import WINDOWS, BucketKey, Windows, add_bucket_deltas


@dataclass(slots=True)
class Engine:
    policies: PolicySet
    timelines: dict[str, Timeline] = field(default_factory=dict)
    views: dict[str, TicketView] = field(default_factory=dict)
    windows: Windows = field(default_factory=Windows)
    arrivals: Counter[Arrival] = field(default_factory=Counter)

    def ingest(self, event: Event) -> Arrival:
        """Store an event in its ticket's timeline; facts change only on ``evaluate``."""
        timeline = self.timelines.get(event.ticket_id)
        if timeline is None:
            timeline = self.timelines[event.ticket_id] = Timeline(event.ticket_id)
        arrival = timeline.add(event)
        self.arrivals[arrival] += 1
        return arrival

    def evaluate(self, ticket_id: str, now: Instant) -> FactDiff:
        """Recompute one ticket as of ``now`` and move the windows by the difference."""
        diff = self._recompute(ticket_id, now)
        if diff:
            self.windows.apply(diff)
        return diff

    def _recompute(self, ticket_id: str, now: Instant) -> FactDiff:
        timeline = self.timelines[ticket_id]
        view = evaluate(ticket_id, timeline.events, self.policies, now)
        old = self.views.get(ticket_id)
        self.views[ticket_id] = view
        return diff_facts(old.facts if old else (), view.facts)

    def apply(self, event: Event, now: Instant) -> tuple[Arrival, FactDiff]:
        """Ingest and evaluate: the live path, one event at a time."""
        arrival = self.ingest(event)
        if arrival is not Arrival.ACCEPTED:
            return arrival, FactDiff()
        return arrival, self.evaluate(event.ticket_id, now)

    def evaluate_all(self, now: Instant, ticket_ids: Iterable[str] | None = None) -> None:
        """Recompute many tickets; their differences reach the windows summed, in one pass."""
        deltas: dict[BucketKey, int] = {}
        for ticket_id in self.timelines if ticket_ids is None else ticket_ids:
            diff = self._recompute(ticket_id, now)
            if diff:
                add_bucket_deltas(diff, deltas)
        self.windows.apply_deltas(deltas)

    @property
    def anomalies(self) -> int:
        return sum(view.anomalies for view in self.views.values())

    def backlog(self) -> Backlog:
        return Backlog.from_tickets(
            (view.status.value, view.priority or "", view.team or "")
            for view in self.views.values()
            if view.status is not None and view.in_backlog
        )

    def sla_now(self, now: Instant) -> SlaNow:
        at_risk: Counter[SlaTarget] = Counter()
        breached: Counter[SlaTarget] = Counter()
        within = self.policies.at_risk_within
        for view in self.views.values():
            for clock in view.clocks:
                if clock.at_risk(now, within):
                    at_risk[clock.target] += 1
                elif clock.breached_running():
                    breached[clock.target] += 1
        return SlaNow(
            at_risk={t.value: at_risk[t] for t in SlaTarget},
            breached_running={t.value: breached[t] for t in SlaTarget},
        )

    def snapshot(self, as_of: Instant) -> dict[str, Any]:
        """The spec's snapshot; tickets must have been evaluated at ``as_of``."""
        windows = {name: self.windows.window(name, as_of) for name in WINDOWS}
        return build_snapshot(as_of, windows, self.backlog(), self.sla_now(as_of))
