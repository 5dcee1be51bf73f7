"""One fetched batch of one partition, planned without I/O.

The worker decodes a batch (``decode_batch``), makes sure the records of its tickets are in
the partition's cache, and calls ``plan``; the returned ``PartitionWrites`` goes to Redis in one
MULTI/EXEC. The breach scanner calls ``plan`` with no messages and the tickets whose wake-up
time has passed. Nothing here talks to Kafka or Redis, so every rule is tested in memory.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.domain.account_events import AccountEvent
from streams.domain.account_links import Link
from streams.domain.account_support import SupportFact, ticket_support
from streams.domain.account_timeline import AccountTimeline
from streams.domain.decode import InvalidEvent, deadletter_record, decode_event
from streams.domain.events import TEXT, TOPIC_OF, Event, EventType, Status
from streams.domain.facts import Fact, FactDiff, SlaTarget, diff_facts
from streams.domain.instant import Instant
from streams.domain.policies import PolicySet
from streams.domain.ticket import TicketView, Walk, evaluate_on
from streams.domain.timeline import CLOSED_REASON, Arrival, Timeline, refusal
from streams.domain.windows import MinuteDeltas, Windows, add_bucket_deltas, drop_zeros
from streams.live.placement import Placement
from streams.live.records import decode_record, encode_record
from streams.live.writes import (
    PartitionWrites,
    backlog_field,
    bucket_field_prefix,
    bucket_values,
)
from streams.topic_names import DEFAULT_TOPICS, TopicNames

# Tickets whose record expires (closed, or not created yet) leave the cache, as Redis may drop
# them; this many of the last of them are kept aside with the record written for them, and
# taken back when Redis still holds exactly that record (a ticket's contacts often arrive
# before its ticket.created, each of them reading its record back otherwise).
RETIRED_LIMIT = 4096
TARGETS = tuple(SlaTarget)  # iterating the enum itself runs Python code each time
# an arrival's text by lookup, as ``events.TEXT`` (``.value`` is a Python-level property)
_ARRIVAL_TEXT: dict[Arrival, str] = {a: a.value for a in Arrival}
# the outcome of an event accepted, then withdrawn by a close that arrived after it
WITHDRAWN = "withdrawn"


@dataclass(slots=True)
class Message:
    """A Kafka record as the planner needs it (never changed once made: not frozen, as a
    frozen dataclass is not compiled to a native class and costs a microsecond to make)."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None


@dataclass(slots=True)
class TicketState:
    timeline: Timeline
    view: TicketView
    # its support facts as of ``view`` (what its accounts were last sent), when linking
    support: tuple[SupportFact, ...] = ()
    # its walk over the events ``view`` was evaluated from, to go on from (``evaluate_on``)
    walk: Walk | None = None


@dataclass(slots=True)
class PartitionState:
    """What a worker holds for a partition it owns: a cache of Redis, never the truth."""

    partition: int
    offsets: dict[str, int] = field(default_factory=dict)
    # transactions Redis applied to the partition ({p}:writes): with ``offsets``, the fence
    writes: int = 0
    tickets: dict[str, TicketState] = field(default_factory=dict)
    windows: Windows = field(default_factory=Windows)
    # From this minute on, ``windows`` holds the partition's buckets exactly as Redis does
    # (loaded at adoption, then kept by this, their only writer): a batch writes the new
    # values of those buckets' fields. Before it (pruned or never loaded) and when None,
    # it writes increments.
    exact_from: Instant | None = None
    # every account of the partition (loaded whole at adoption: the snapshot reads them all)
    accounts: dict[str, AccountTimeline] = field(default_factory=dict)
    # account id -> ticket id -> the ticket's latest link to it (its support facts)
    links: dict[str, dict[str, Link]] = field(default_factory=dict)
    # the outbox's links not yet known to be sent (``streams.live.account_outbox``)
    unsent: dict[str, bytes] = field(default_factory=dict)
    links_sent_at: float = float("-inf")  # when they were last sent (the worker's monotonic)
    link_seq: int = 0  # the sequence of the partition's latest links ({p}:linkseq)
    prune_at: Instant = 0  # when to forget links too old to count next (``prune_links``)
    # accounts whose events or links changed since their share of the snapshot was computed
    # (``streams.live.account_share``)
    dirty_accounts: set[str] = field(default_factory=set)
    # ticket id -> (the record last written for it, its state): expiring tickets no longer in
    # ``tickets``, oldest first, at most ``RETIRED_LIMIT``
    retired: dict[str, tuple[bytes, TicketState]] = field(default_factory=dict)

    def forget_before(self, minute: Instant) -> None:
        """Prune the cached buckets before ``minute``; they are no longer held exactly."""
        self.windows.prune(minute)
        if self.exact_from is not None and minute > self.exact_from:
            self.exact_from = minute

    def missing_for(self, batch: DecodedBatch, wake: Iterable[str] = ()) -> set[str]:
        """The tickets of ``batch`` and ``wake`` not in the cache (what to load first)."""
        tickets = self.tickets
        found = {e.ticket_id for _, e in batch.events if e.ticket_id not in tickets}
        found.update(t for t in wake if t not in tickets)
        return found

    def load(
        self,
        records: dict[str, bytes],
        ticket_ids: Iterable[str],
        policies: PolicySet,
        link: bool = False,
    ) -> None:
        """Put records read from Redis in the cache; tickets with no record start empty.

        A retired ticket whose record Redis still holds byte for byte comes back as it was
        cached (the record is a function of that state), without decoding and evaluating it.
        ``link``: also note each ticket's support facts as of its record (what was sent).
        """
        retired = self.retired
        for ticket_id in ticket_ids:
            blob = records.get(ticket_id)
            kept = retired.pop(ticket_id, None) if retired else None
            if blob is None:  # a new ticket: nothing to evaluate yet
                timeline = Timeline(ticket_id)
                self.tickets[ticket_id] = TicketState(timeline, TicketView(ticket_id, now=0))
            elif kept is not None and kept[0] == blob:
                self.tickets[ticket_id] = kept[1]
            else:
                timeline, at = decode_record(ticket_id, blob)
                view, walk = evaluate_on(ticket_id, timeline.events, policies, at)
                support = ticket_support(timeline.events, view) if link else ()
                self.tickets[ticket_id] = TicketState(timeline, view, support, walk)

    def retire(self, ticket_id: str, record: bytes) -> None:
        """Take an expiring ticket out of the cache, keeping it aside with its record."""
        ticket = self.tickets.pop(ticket_id)
        retired = self.retired
        retired.pop(ticket_id, None)
        if len(retired) >= RETIRED_LIMIT:
            del retired[next(iter(retired))]
        retired[ticket_id] = (record, ticket)


@dataclass(slots=True)
class DecodedBatch:
    events: list[tuple[Message, Event]] = field(default_factory=list)
    invalid: list[tuple[Message, InvalidEvent]] = field(default_factory=list)
    # valid events keyed or placed elsewhere than their ticket's (account's) partition, with
    # the reason
    misplaced: list[tuple[Message, Event | AccountEvent, str]] = field(default_factory=list)
    skipped: int = 0  # already applied according to Redis
    last_offsets: dict[str, int] = field(default_factory=dict)
    # (topic, first offset not received, how many) between what Redis applied and the next
    # message received: records the consumer never delivered (see ``decode_batch``)
    gaps: list[tuple[str, int, int]] = field(default_factory=list)
    # account events of the accounts topic (``streams.live.account_plan``)
    accounts: list[tuple[Message, AccountEvent]] = field(default_factory=list)
    # tickets' links to accounts of the account support topic, each with its bytes as sent
    # (``streams.live.account_plan``)
    links: list[tuple[Message, Link, bytes]] = field(default_factory=list)


# Decodes one message of a topic that is not a support topic into the batch.
TopicDecoder = Callable[[DecodedBatch, Message, Placement | None], None]


def decode_batch(
    messages: Sequence[Message],
    applied: dict[str, int],
    placement: Placement | None = None,
    special: Mapping[str, TopicDecoder] | None = None,
) -> DecodedBatch:
    """Decode one partition's messages after the offsets Redis applied, noting gaps.

    A partition's offsets are consecutive except for records the topic no longer holds
    (retention), the offsets a consumer reading committed steps over (transaction markers,
    aborted records), or records the consumer failed to deliver. The first and the last
    lose events silently, so gaps are reported; the worker takes the second out
    (``streams.live.fetch_skips``).

    With ``placement`` (the live worker's), a valid event whose message key is not its
    ticket_id, or whose partition is not its ticket's, is ``misplaced``; without it (a
    worker fed by a bench or a test), keys and partitions are taken as they come.
    ``special`` decodes the messages of other topics than the support topics (topic ->
    decoder, ``streams.live.account_plan.special_topics``).
    """
    batch = DecodedBatch()
    last_offsets = batch.last_offsets
    for message in messages:
        topic = message.topic
        offset = message.offset
        done = applied.get(topic, -1)
        if offset <= done:
            batch.skipped += 1
            continue
        previous = last_offsets.get(topic, done)
        if offset > previous:
            if offset != previous + 1:
                batch.gaps.append((topic, previous + 1, offset - previous - 1))
            last_offsets[topic] = offset
        if special:
            decode_special = special.get(topic)
            if decode_special is not None:
                decode_special(batch, message, placement)
                continue
        decoded = decode_event(message.value)
        if isinstance(decoded, InvalidEvent):
            batch.invalid.append((message, decoded))
            continue
        if placement is not None:
            defect = placement.defect(message.key, message.partition, decoded.ticket_id)
            if defect is not None:
                batch.misplaced.append((message, decoded, defect))
                continue
        batch.events.append((message, decoded))
    return batch


@dataclass(slots=True)
class BatchResult:
    writes: PartitionWrites
    deadletters: list[dict[str, Any]] = field(default_factory=list)
    outcomes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    added_facts: list[Fact] = field(default_factory=list)
    # the touched tickets' changed facts; with ``buckets``, summed into ``window_deltas``
    diffs: list[FactDiff] = field(default_factory=list)
    window_deltas: MinuteDeltas = field(default_factory=dict)
    latest_event_time: Instant | None = None
    awaiting_creation: int = 0  # accepted events of tickets whose ticket.created is unknown
    # linking: ticket id -> (support facts before, after) of tickets whose facts changed
    support: dict[str, tuple[tuple[SupportFact, ...], tuple[SupportFact, ...]]] = field(
        default_factory=dict
    )
    # how the evaluated tickets' anomalies (``TicketView.anomalies``) changed, summed
    anomalies: int = 0
    # (the close's message, an event it withdrew): replay reports these on the close's line
    withdrawn: list[tuple[Message, Event]] = field(default_factory=list)


def plan(
    state: PartitionState,
    batch: DecodedBatch,
    policies: PolicySet,
    now: Instant,
    wake: Iterable[str] = (),
    topics: TopicNames = DEFAULT_TOPICS,
    link: bool = False,
    buckets: bool = True,
    records: bool = True,
) -> BatchResult:
    """Apply a decoded batch (and re-evaluate ``wake`` tickets) to the cached state.

    Every ticket of the batch and of ``wake`` must be in ``state.tickets``. The cache is
    updated in place; the result says what to write to Redis, what to dead-letter and what
    to count. ``state.windows`` is *not* moved: the caller applies ``window_deltas`` once
    Redis has accepted the writes. ``topics`` names the topic of an event withdrawn by a
    close (``Timeline``) that was read in an earlier batch. ``link``: note the tickets whose
    support facts changed (``result.support``, ``streams.live.account_outbox``).
    ``buckets=False``: the minute buckets are left out of the writes and ``window_deltas``;
    the caller applies ``result.diffs`` to windows it keeps itself (replay, which never
    reloads a partition). ``records=False``: only the records of tickets leaving the cache
    are written; the caller reads the others from the cache, which it never drops (replay).
    """
    result = BatchResult(writes=PartitionWrites(state.partition, offsets=dict(batch.last_offsets)))
    for message, invalid in batch.invalid:
        result.outcomes[(message.topic, "invalid", "invalid")] += 1
        result.deadletters.append(
            deadletter_record(
                invalid,
                source_topic=message.topic,
                partition=message.partition,
                offset=message.offset,
            )
        )
    # misplaced events may be account events too (rare: no need for the lookup table)
    for message, event, reason in batch.misplaced:
        result.outcomes[(message.topic, event.type.value, "misplaced")] += 1
        result.deadletters.append(deadletter(message, reason))
    touched: set[str] = set(wake)
    untouched: set[str] = set()  # the tickets of events that changed nothing
    read: dict[tuple[str, str], Message] | None = None  # this batch's, once one is withdrawn
    # counted in a plain dict first: a Counter's item assignment is a Python-level call
    arrivals: dict[tuple[str, EventType, Arrival], int] = {}
    for message, event in batch.events:
        ticket = state.tickets[event.ticket_id]
        timeline = ticket.timeline
        arrival = timeline.add(event)
        key = (message.topic, event.type, arrival)
        arrivals[key] = arrivals.get(key, 0) + 1
        if arrival is Arrival.REJECTED:
            result.deadletters.append(deadletter(message, CLOSED_REASON))
            touched.add(event.ticket_id)  # its record keeps the refused id: copies are dups
        elif arrival is Arrival.OVER_LIMIT:
            result.deadletters.append(deadletter(message, refusal(arrival, event)))
            untouched.add(event.ticket_id)
        elif arrival is Arrival.DUPLICATE:
            untouched.add(event.ticket_id)
        else:  # accepted
            touched.add(event.ticket_id)
            if not timeline.has_created:
                result.awaiting_creation += 1
            if result.latest_event_time is None or event.occurred_at > result.latest_event_time:
                result.latest_event_time = event.occurred_at
            if timeline.withdrawn:
                if read is None:
                    read = {(e.ticket_id, e.event_id): m for m, e in batch.events}
                _withdraw(result, message, timeline, read, state.partition, topics)
    for (topic, type_, arrival), count in arrivals.items():
        result.outcomes[(topic, TEXT[type_], _ARRIVAL_TEXT[arrival])] += count
    for ticket_id in sorted(touched):
        ticket = state.tickets[ticket_id]
        old = ticket.view
        timeline = ticket.timeline
        new, ticket.walk = evaluate_on(
            ticket_id, timeline.events, policies, now, ticket.walk, timeline.rewrites
        )
        ticket.view = new
        result.anomalies += new.anomalies - old.anomalies
        diff = diff_facts(old.facts, new.facts)
        if diff:
            result.diffs.append(diff)
            result.added_facts.extend(diff.added)
        if link:
            support = ticket_support(timeline.events, new)
            if support != ticket.support:
                result.support[ticket_id] = (ticket.support, support)
                ticket.support = support
        _index_changes(result.writes, ticket_id, old, new, timeline, now)
        expires = _expires(ticket)
        if records or expires:
            result.writes.tickets[ticket_id] = encode_record(timeline, now)
        if expires:
            result.writes.closed.add(ticket_id)
    # A record that expires is not cached either: once Redis has dropped it, this worker must
    # see it gone as a new owner of the partition would (the ticket's next event reloads it).
    for ticket_id in touched | untouched:
        if _expires(state.tickets[ticket_id]):
            record = result.writes.tickets.get(ticket_id)
            if record is None:  # not written by this batch: its record is not at hand
                del state.tickets[ticket_id]
            else:
                state.retire(ticket_id, record)
    if buckets:
        _bucket_writes(state, result)
    state.offsets.update(batch.last_offsets)
    return result


def _bucket_writes(state: PartitionState, result: BatchResult) -> None:
    """The batch's minute-bucket changes: ``window_deltas``, and the fields to write."""
    deltas: MinuteDeltas = {}
    for diff in result.diffs:
        add_bucket_deltas(diff, deltas)
    result.window_deltas = drop_zeros(deltas)
    writes = result.writes
    exact_from = state.exact_from
    windows = state.windows
    for minute, dims in result.window_deltas.items():
        if exact_from is not None and minute >= exact_from:
            writes.bucket_values[minute] = bucket_values(windows.bucket(minute), dims)
            continue
        fields = writes.buckets[minute] = {}
        for (dim, value), counters in dims.items():
            prefix = bucket_field_prefix(dim, value)
            for counter, delta in counters.items():
                fields[prefix + counter] = delta


def _expires(ticket: TicketState) -> bool:
    """Whether the ticket's record expires in Redis (``PartitionWrites.closed``).

    Closed: kept a while for late surveys. Not created: the events of a ticket whose creation
    may never come must not pile up (it persists once created).
    """
    return ticket.view.status is Status.CLOSED or not ticket.timeline.has_created


def deadletter(message: Message, reason: str) -> dict[str, Any]:
    """The dead letter of a valid event refused for ``reason``, carrying its value as sent."""
    try:
        original: Any = json.loads(message.value)
    except ValueError:
        original = message.value.decode("utf-8", errors="replace")
    return {
        "error": reason,
        "event": original,
        "source_topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
    }


def _withdraw(
    result: BatchResult,
    closing: Message,
    timeline: Timeline,
    read: dict[tuple[str, str], Message],
    partition: int,
    topics: TopicNames,
) -> None:
    """Dead-letter the events a late close withdrew, as if they had come after it.

    One read in this batch carries its message's value, topic and offset; one read in an
    earlier batch is known only as the ticket's record keeps it: the fields the worker reads,
    its topic by type, and no offset.
    """
    for event in timeline.withdrawn:
        result.withdrawn.append((closing, event))
        message = read.get((event.ticket_id, event.event_id))
        if message is not None:
            record = deadletter(message, CLOSED_REASON)
        else:
            record = {
                "error": CLOSED_REASON,
                "event": event.to_json(),
                "source_topic": topics.name_of(TOPIC_OF[event.type]),
                "partition": partition,
                "offset": None,
            }
        result.deadletters.append(record)
        result.outcomes[(record["source_topic"], event.type.value, WITHDRAWN)] += 1
    timeline.withdrawn.clear()


def _backlog_key(view: TicketView) -> str | None:
    status = view.status
    if status is None or not view.in_backlog:
        return None
    return backlog_field(status, view.priority or "", view.team or "")  # a StrEnum is its text


def _due(view: TicketView) -> dict[SlaTarget, Instant]:
    return {
        c.target: c.deadline
        for c in view.clocks
        if c.running and not c.paused and c.breached_at is None and c.deadline is not None
    }


def _breached(view: TicketView) -> dict[SlaTarget, Instant]:
    """Breached, still running clocks -> when they breached (their deadline, or the moment a
    policy change put them past a new one; stable even if a later change moves the deadline
    or pauses the clock): ``GET /sla/at-risk`` lists the longest overdue first."""
    return {
        c.target: c.breached_at
        for c in view.clocks
        if c.breached_running() and c.breached_at is not None
    }


def wake_time(view: TicketView, timeline: Timeline, now: Instant) -> Instant | None:
    """When the ticket changes with no new event: its next deadline or a future-dated event."""
    events = timeline.events  # in time order: mostly none is in the future
    pending = None
    if events and events[-1].occurred_at >= now:
        pending = next(e.occurred_at for e in events if e.occurred_at >= now)
    candidates = [t for t in (view.next_deadline, pending) if t is not None]
    return min(candidates) if candidates else None


def _index_changes(
    writes: PartitionWrites,
    ticket_id: str,
    old: TicketView,
    new: TicketView,
    timeline: Timeline,
    now: Instant,
) -> None:
    # the backlog key follows status, priority and team only: unchanged, nothing moves
    if old.status is not new.status or old.priority != new.priority or old.team != new.team:
        before, after = _backlog_key(old), _backlog_key(new)
        if before != after:
            if before is not None:
                writes.backlog[before] = writes.backlog.get(before, 0) - 1
            if after is not None:
                writes.backlog[after] = writes.backlog.get(after, 0) + 1
    old_due, new_due = _due(old), _due(new)
    for target in TARGETS:
        if old_due.get(target) != new_due.get(target):
            writes.due.setdefault(target, {})[ticket_id] = new_due.get(target)
    old_breached, new_breached = _breached(old), _breached(new)
    for target in TARGETS:
        if old_breached.get(target) != new_breached.get(target):
            writes.breached.setdefault(target, {})[ticket_id] = new_breached.get(target)
    writes.wake[ticket_id] = wake_time(new, timeline, now)
