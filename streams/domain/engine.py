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

from streams.domain.events import Event, Status
from streams.domain.facts import FactDiff, SlaTarget, diff_facts
from streams.domain.instant import Instant
from streams.domain.policies import PolicySet
from streams.domain.records import decode_record, encode_record
from streams.domain.snapshot import Backlog, SlaNow, Snapshot, build_snapshot
from streams.domain.ticket import TicketView, evaluate
from streams.domain.timeline import Arrival, Timeline
from streams.domain.windows import WINDOWS, Windows


@dataclass(frozen=True, slots=True)
class Retired:
    """A closed ticket whose facts are counted, kept as its compact record only."""

    record: bytes
    evaluated_at: Instant  # the ``now`` its counted facts were computed at
    last_event: Instant
    anomalies: int


@dataclass(slots=True)
class Engine:
    policies: PolicySet
    timelines: dict[str, Timeline] = field(default_factory=dict)
    views: dict[str, TicketView] = field(default_factory=dict)
    windows: Windows = field(default_factory=Windows)
    retired: dict[str, Retired] = field(default_factory=dict)
    restored: set[str] = field(default_factory=set)
    # events a late close withdrew from their timeline (``Timeline``), for the caller to take
    withdrawn: list[Event] = field(default_factory=list)

    def ingest(self, event: Event) -> Arrival:
        """Store an event in its ticket's timeline; facts change only on ``evaluate``."""
        timeline = self.timelines.get(event.ticket_id)
        if timeline is None:
            retired = self.retired.pop(event.ticket_id, None)
            if retired is None:
                timeline = Timeline(event.ticket_id)
            else:
                timeline = self._restore(event.ticket_id, retired)
            self.timelines[event.ticket_id] = timeline
        arrival = timeline.add(event)
        if timeline.withdrawn:
            self.withdrawn.extend(timeline.withdrawn)
            timeline.withdrawn.clear()
        return arrival

    def retire(self, ticket_id: str, now: Instant) -> bool:
        """Count a closed ticket's facts as of ``now`` and keep only its compact record.

        A closed ticket runs no clock, so its facts are final but for late events (a survey,
        an event from before the close); ``ingest`` restores it for those. Open tickets are
        left as they are. Replay calls this on each close, so its memory follows the open
        tickets (plus some 400 bytes per closed one), not every ticket it has seen.
        """
        timeline = self.timelines.get(ticket_id)
        if timeline is None or not timeline.events:
            return False
        view = evaluate(ticket_id, timeline.events, self.policies, now)
        if view.status is not Status.CLOSED:
            return False
        old = self.views.pop(ticket_id, None)
        diff = diff_facts(old.facts if old else (), view.facts)
        if diff:
            self.windows.apply(diff)
        del self.timelines[ticket_id]
        self.restored.discard(ticket_id)
        last = max(e.occurred_at for e in timeline.events)
        self.retired[ticket_id] = Retired(encode_record(timeline, now), now, last, view.anomalies)
        return True

    def _restore(self, ticket_id: str, retired: Retired) -> Timeline:
        timeline, _ = decode_record(ticket_id, retired.record)
        self.views[ticket_id] = evaluate(
            ticket_id, timeline.events, self.policies, retired.evaluated_at
        )
        self.restored.add(ticket_id)
        return timeline

    def forget_before(self, before: Instant) -> None:
        """No window will reach before ``before``: its facts need not be counted (replay)."""
        self.windows.forget_before(before)

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
        """Recompute many tickets (all of them by default) and move the windows."""
        if ticket_ids is None:
            # a retired ticket with an event that one of the two ``now``s leaves out: recount it
            for ticket_id in [
                t for t, r in self.retired.items() if r.last_event >= min(now, r.evaluated_at)
            ]:
                self.timelines[ticket_id] = self._restore(ticket_id, self.retired.pop(ticket_id))
        for ticket_id in self.timelines if ticket_ids is None else ticket_ids:
            diff = self._recompute(ticket_id, now)
            if diff:
                self.windows.apply(diff)

    @property
    def anomalies(self) -> int:
        live = sum(view.anomalies for view in self.views.values())
        return live + sum(r.anomalies for r in self.retired.values())

    @property
    def ticket_count(self) -> int:
        return len(self.timelines) + len(self.retired)

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

    def snapshot(self, as_of: Instant) -> Snapshot:
        """The spec's snapshot; tickets must have been evaluated at ``as_of``."""
        windows = {name: self.windows.window(name, as_of) for name in WINDOWS}
        return build_snapshot(as_of, windows, self.backlog(), self.sla_now(as_of))
