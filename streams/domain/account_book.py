"""All accounts in memory and the report of them (replay).

Replay feeds it the account events. The tickets' side is read from the ticket engine only
when the report is made: every ticket's support facts (``account_support.ticket_support``)
from its view, or, for a closed ticket kept as its record, from the record evaluated again at
the instant its counted facts were computed at. So a log without account data costs nothing
more than before, and a log with it pays one more evaluation per closed ticket at the end.
``report`` evaluates each account at as_of and builds the snapshot's ``accounts`` section and
the views V. The live worker can keep the same pieces per partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from streams.domain.account import AccountView, evaluate_account
from streams.domain.account_events import AccountEvent
from streams.domain.account_partial import AccountsReport
from streams.domain.account_snapshot import HEALTH_WINDOW
from streams.domain.account_support import SupportFact, ticket_support
from streams.domain.account_thresholds import HealthThresholds
from streams.domain.account_timeline import AccountTimeline
from streams.domain.engine import Engine
from streams.domain.instant import Instant
from streams.domain.records import decode_record
from streams.domain.ticket import TicketView, evaluate
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
        self, engine: Engine, as_of: Instant, health: HealthThresholds
    ) -> tuple[AccountsReport, int]:
        """The accounts as of ``as_of`` with the support of ``engine``'s tickets (evaluated at
        ``as_of``), and the accounts' anomalies."""
        views = self.views(as_of)
        anomalies = sum(view.anomalies for view in views.values())
        support = by_account(engine_support(engine, as_of - HEALTH_WINDOW))
        return AccountsReport(as_of, views, support, health), anomalies


def by_account(tickets: Iterable[Iterable[SupportFact]]) -> dict[str, list[SupportFact]]:
    """Support facts of tickets, grouped by the account each counts for."""
    out: dict[str, list[SupportFact]] = {}
    for facts in tickets:
        for fact in facts:
            out.setdefault(fact.account_id, []).append(fact)
    return out


def engine_support(engine: Engine, since: Instant) -> Iterator[tuple[SupportFact, ...]]:
    """The support facts of every ticket of an engine whose tickets have been evaluated.

    A closed ticket kept as its record is evaluated again at the ``now`` its counted facts were
    computed at; one whose last event is before ``since`` has no fact from then on (it runs no
    clock), so only the accounts it names are needed and it is not evaluated.
    """
    for ticket_id, view in engine.views.items():
        timeline = engine.timelines.get(ticket_id)
        if timeline is not None:
            yield ticket_support(timeline.events, view)
    for ticket_id, retired in engine.retired.items():
        timeline, _ = decode_record(ticket_id, retired.record)
        now = retired.evaluated_at
        if retired.last_event < since:
            view = TicketView(ticket_id, now)  # names only: no fact of it is read
        else:
            view = evaluate(ticket_id, timeline.events, engine.policies, now)
        yield ticket_support(timeline.events, view)
