"""Replay as one partition of the live pipeline: the worker's planner over the memory store.

``ticketpulse replay`` is the reference the live pipeline is checked against, so it runs the
live pipeline's own parts: lines are decoded, gathered into batches and applied by the
planner (``streams.live.batch.plan``) to a ``PartitionState``, whose writes go to a
``MemoryStore`` (the store protocol the Redis store implements). Replay never drops its
cache, so the store gets only the records of the tickets that leave it (closed, or not
created yet), as Redis's TTLs would let them go. The clock is the data's:
each batch is evaluated at the end of the minute of its latest event (or at ``as_of`` when it
is given), and at the end the tickets whose wake-up time has come are evaluated at ``as_of``,
as the worker's breach scan does. The snapshot is then assembled from the same homes the
worker reads: window sums from the partition's buckets, backlog and SLA counts from the
store's indexes (``streams.live.window_sums``).

Account events go to an ``AccountBook``; the tickets' support facts are read from the
planner's cache and the store's records when the report is made.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from streams.domain.account_book import AccountBook, by_account
from streams.domain.account_decode import decode_any
from streams.domain.account_events import AccountEvent
from streams.domain.account_partial import AccountsReport
from streams.domain.account_snapshot import HEALTH_WINDOW
from streams.domain.account_support import SupportFact, ticket_support
from streams.domain.account_timeline import OVER_LIMIT_REASON
from streams.domain.decode import InvalidEvent
from streams.domain.events import Event
from streams.domain.instant import MICROS_PER_MINUTE, Instant, ceil_minute, floor_minute
from streams.domain.policies import PolicySet
from streams.domain.records import decode_record
from streams.domain.snapshot import Snapshot
from streams.domain.ticket import TicketView, evaluate
from streams.domain.timeline import CLOSED_REASON, Arrival
from streams.domain.windows import WINDOWS
from streams.live.batch import DecodedBatch, Message, PartitionState, plan
from streams.live.stores.memory import MemoryStore
from streams.live.window_sums import add_window_sums, assemble_snapshot, empty_window_sums

T = TypeVar("T")
LONGEST = max(WINDOWS.values())
FORGET_STEP = 60 * MICROS_PER_MINUTE
# Lines per batch: a ticket touched in a batch is evaluated and its record written once per
# batch, so larger batches cost less; 100,000 decoded events wait in about 13 MB.
BATCH_LINES = 100_000
TOPIC = "replay"  # the one input topic of the replayed partition; offsets are line numbers
_ACCEPTED, _DUPLICATE = Arrival.ACCEPTED.value, Arrival.DUPLICATE.value
_REJECTED, _OVER_LIMIT = Arrival.REJECTED.value, Arrival.OVER_LIMIT.value


def withdrawn_error(event: Event) -> str:
    """The error of an event read before the close on this line, which it sorts after."""
    return f"{CLOSED_REASON} (event_id {event.event_id!r}, read earlier, sorts after this close)"


def ready(step: Coroutine[Any, Any, T]) -> T:
    """The result of a memory store call: its coroutines never wait, so no event loop."""
    try:
        step.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    step.close()
    raise RuntimeError("a memory store call waited")


@dataclass(slots=True)
class ReplayResult:
    # the snapshot's JSON object, what replay prints (``Snapshot.from_json`` types it again)
    snapshot: dict[str, Any]
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[int, str]] = field(default_factory=list)
    # every account's view V, sorted by account_id, when the snapshot has ``accounts``
    accounts: list[dict[str, Any]] | None = None


def _partition() -> PartitionState:
    return PartitionState(0)


def _never() -> float:
    return 0.0


def _store() -> MemoryStore:
    """Nothing expires: every record replay writes stays, whatever the data's time span."""
    return MemoryStore(clock=_never)


@dataclass(slots=True)
class PartitionReplay:
    """One partition's state, its store and what replay counts, fed batch by batch."""

    policies: PolicySet
    state: PartitionState = field(default_factory=_partition)
    store: MemoryStore = field(default_factory=_store)
    book: AccountBook = field(default_factory=AccountBook)  # the accounts' events
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[int, str]] = field(default_factory=list)
    anomalies: int = 0
    # write every touched ticket's record to the store, as the worker does (for a caller that
    # reads them); by default only those leaving the cache (``plan``'s ``records``)
    all_records: bool = False

    def apply(
        self, events: list[tuple[Message, Event]], now: Instant, wake: Iterable[str] = ()
    ) -> None:
        """Plan one batch (and the ``wake`` tickets) at ``now`` and apply it to the store."""
        state, policies = self.state, self.policies
        batch = DecodedBatch(events=events)
        woken = list(wake)
        missing = state.missing_for(batch, woken)
        if missing:
            state.load(ready(self.store.load_tickets(0, missing)), missing, policies)
        result = plan(state, batch, policies, now, woken, buckets=False, records=self.all_records)
        ready(self.store.apply(result.writes))
        windows = state.windows
        for diff in result.diffs:
            windows.apply(diff)
        self.anomalies += result.anomalies
        for (_, _, outcome), count in result.outcomes.items():
            self.outcomes[outcome] += count
        skip: set[int | None] = set()
        if result.withdrawn:  # reported on the close's line; their dead letters are not
            lines = {(e.ticket_id, e.event_id): m.offset for m, e in events}
            for closing, event in result.withdrawn:
                self.errors.append((closing.offset, withdrawn_error(event)))
                skip.add(lines.get((event.ticket_id, event.event_id)))
        for record in result.deadletters:
            offset = record["offset"]
            if not (skip and offset in skip and record["error"] == CLOSED_REASON):
                self.errors.append((offset, record["error"]))

    def wake_due(self, as_of: Instant) -> None:
        """Evaluate at ``as_of`` every ticket whose wake-up time has come (the breach scan)."""
        held = len(self.state.tickets) + len(self.store.records(0))  # at least every ticket
        due = ready(self.store.due_for_wake(0, as_of, held + 1))
        if due:
            self.apply([], as_of, due)

    def ticket_ids(self) -> set[str]:
        """Every ticket the partition holds: the cached ones and the store's others."""
        return self.state.tickets.keys() | self.store.records(0).keys()

    def snapshot(self, as_of: Instant, clocks_at: Instant | None = None) -> Snapshot:
        """The snapshot as the worker assembles it, from this one partition.

        SLA clocks are counted at ``clocks_at`` (a live worker counts them at its wall clock,
        before ``as_of``, the next whole minute), at ``as_of`` by default.
        """
        sums = empty_window_sums()
        add_window_sums(sums, {name: self.state.windows.window(name, as_of) for name in WINDOWS})
        backlog = ready(self.store.backlog(0))
        at = as_of if clocks_at is None else clocks_at
        counts = ready(self.store.sla_counts(0, at, self.policies.at_risk_within))
        return assemble_snapshot(as_of, sums, [backlog], [counts])

    def account_report(self, as_of: Instant) -> tuple[AccountsReport, int]:
        """The accounts as of ``as_of``, with every ticket's support facts, and their anomalies."""
        support = by_account(self.support(as_of - HEALTH_WINDOW))
        return self.book.report(support, as_of, self.policies.account_health)

    def support(self, since: Instant) -> Iterator[tuple[SupportFact, ...]]:
        """Every ticket's support facts, as of its last evaluation.

        A cached ticket is read from the cache (the planner writes no record for it). One out
        of the cache is read from its record and evaluated again at the instant the record
        was written; one whose last event is before ``since`` has no fact from then on (it
        runs no clock), so only the accounts it names are needed.
        """
        tickets = self.state.tickets
        for cached in tickets.values():
            yield ticket_support(cached.timeline.events, cached.view)
        for ticket_id, record in self.store.records(0).items():
            if ticket_id in tickets:
                continue
            timeline, at = decode_record(ticket_id, record)
            events = timeline.events
            if not events or events[-1].occurred_at < since:
                view = TicketView(ticket_id, at)  # names only: no fact of it is read
            else:
                view = evaluate(ticket_id, events, self.policies, at)
            yield ticket_support(events, view)


def replay_log(
    lines: Iterable[bytes],
    policies: PolicySet,
    at: Instant | None,
    *,
    forget: bool = True,
    with_accounts: bool = False,
    batch_lines: int = BATCH_LINES,
    replay: PartitionReplay | None = None,
    batch_done: Callable[[], None] | None = None,
) -> ReplayResult:
    """Decode and apply every line; the snapshot as of ``at`` (or the data's end).

    With ``forget=False`` facts that no window will read are counted all the same: the
    reference the forgetting is tested on. ``with_accounts`` adds the ``accounts`` section
    even to a log without account events. ``replay`` is the partition to fill (a new one by
    default), for a caller that looks into it afterwards. ``batch_done`` is called after
    each batch (the command freezes what the batch left, as the worker does).
    """
    run = PartitionReplay(policies) if replay is None else replay
    book = run.book
    read = invalid = after_as_of = 0
    account_counts: Counter[str] = Counter()
    errors = run.errors
    latest: Instant | None = None
    # The snapshot's windows end at ``at``, or at the end of the latest event's minute, which
    # only moves forward: facts a week before that are never read. Moved an hour at a time
    # (pruning walks every bucket).
    forgotten = None if at is None else at - LONGEST
    if forgotten is not None and forget:
        run.state.windows.forget_before(forgotten)
    pending: list[tuple[Message, Event]] = []
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():
            continue
        read += 1
        decoded = decode_any(line)
        if isinstance(decoded, InvalidEvent):
            invalid += 1
            errors.append((number, decoded.error))
            continue
        occurred = decoded.occurred_at
        if at is not None and occurred >= at:
            after_as_of += 1
            continue
        if isinstance(decoded, AccountEvent):
            arrival = book.ingest(decoded)
            account_counts[arrival.value] += 1
            if arrival is Arrival.OVER_LIMIT:
                errors.append((number, OVER_LIMIT_REASON))
        else:
            pending.append((Message(TOPIC, 0, number, b""), decoded))  # errors need no value
        if latest is None or occurred > latest:
            latest = occurred
            if (
                forget
                and at is None
                and (forgotten is None or latest - LONGEST >= forgotten + FORGET_STEP)
            ):
                forgotten = floor_minute(latest) - LONGEST
                run.state.windows.forget_before(forgotten)
        if len(pending) >= batch_lines:
            run.apply(pending, at if at is not None else ceil_minute(latest))
            pending = []
            if batch_done is not None:
                batch_done()
    as_of = at if at is not None else ceil_minute(latest if latest is not None else 0)
    if pending:
        run.apply(pending, as_of)
    run.wake_due(as_of)
    outcomes = run.outcomes
    withdrawn = outcomes["withdrawn"]
    seen = {
        "lines": read,
        "invalid": invalid,
        "after_as_of": after_as_of,
        _ACCEPTED: outcomes[_ACCEPTED] - withdrawn + account_counts[_ACCEPTED],
        _DUPLICATE: outcomes[_DUPLICATE] + account_counts[_DUPLICATE],
        _REJECTED: outcomes[_REJECTED] + withdrawn,
        _OVER_LIMIT: outcomes[_OVER_LIMIT] + account_counts[_OVER_LIMIT],
    }
    counts = Counter({name: count for name, count in seen.items() if count})
    counts["tickets"] = len(run.ticket_ids())
    counts["anomalies"] = run.anomalies
    snapshot = run.snapshot(as_of)
    views = None
    if book.events or with_accounts:
        report, anomalies = run.account_report(as_of)
        snapshot = snapshot.with_accounts(report.section)
        views = report.views
        counts["accounts"] = len(views)
        counts["anomalies"] += anomalies
    errors.sort(key=lambda error: error[0])
    return ReplayResult(snapshot.to_json(), counts=counts, errors=errors, accounts=views)
