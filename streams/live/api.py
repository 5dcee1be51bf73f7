"""The worker's HTTP API as plain functions: inputs in, (status, JSON body) out.

``streams.live.app`` mounts them on Faust's web server; tests call them directly or over HTTP.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

from streams.domain.account_decode import decode_any
from streams.domain.account_events import AccountEvent
from streams.domain.catalog import DIMENSIONS
from streams.domain.decode import InvalidEvent, json_error
from streams.domain.events import Event
from streams.domain.instant import format_rfc3339, seconds
from streams.domain.policies import PolicySet
from streams.domain.snapshot import Snapshot
from streams.domain.ticket import TicketView, evaluate
from streams.domain.timeline import Timeline
from streams.live import placement
from streams.live.at_risk import (
    MAX_EXAMINED,
    AtRiskQuery,
    encode_cursor,
    next_entries,
    position,
    row,
)
from streams.live.records import decode_record
from streams.live.stores.protocol import Store

Reply = tuple[int, Any]
JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


def partition_of(ticket_id: str, partitions: int) -> int:
    """The partition that holds a ticket: Kafka's default partitioner over its UTF-8 id."""
    return placement.partition_of(ticket_id.encode(), partitions)


def kpis(snapshot: Snapshot | None, window: str | None, by: str | None) -> Reply:
    """``GET /kpis[?window=1h][&by=team]``: the snapshot, or a slice of it."""
    if snapshot is None:
        return 503, {"error": "no snapshot yet: the worker has not published one"}
    if window is None and by is None:
        return 200, snapshot.to_json()
    windows = snapshot.windows
    names = [window] if window else list(windows)
    unknown = [n for n in names if n not in windows]
    if unknown:
        return 400, {"error": f"window: unknown {unknown[0]!r}; one of {sorted(windows)}"}
    if by is not None and by not in DIMENSIONS:
        return 400, {"error": f"by: unknown {by!r}; one of {list(DIMENSIONS)}"}
    sliced = {name: windows[name].to_json(only=by) for name in names}
    return 200, {"as_of": format_rfc3339(snapshot.as_of), "windows": sliced}


def evaluated(
    ticket_id: str, record: bytes, policies: PolicySet, now: int
) -> tuple[Timeline, TicketView]:
    """A stored ticket as of now: its timeline and its view."""
    timeline, _ = decode_record(ticket_id, record)
    return timeline, evaluate(ticket_id, timeline.events, policies, now)


async def ticket(
    store: Store, policies: PolicySet, partitions: int, ticket_id: str, now: int
) -> Reply:
    """``GET /tickets/{id}``: the ticket's state, facts and SLA clocks as of now."""
    partition = partition_of(ticket_id, partitions)
    records = await store.load_tickets(partition, [ticket_id])
    if ticket_id not in records:
        return 404, {"error": f"ticket_id: no ticket {ticket_id!r}"}
    timeline, view = evaluated(ticket_id, records[ticket_id], policies, now)
    return 200, {
        "ticket_id": ticket_id,
        "partition": partition,
        "as_of": format_rfc3339(now),
        "status": view.status.value if view.status else None,
        "priority": view.priority,
        "team": view.team,
        "channel": view.channel,
        "assignee": view.assignee,
        "policy": view.policy,
        "created_at": format_rfc3339(view.created_at) if view.created_at else None,
        "events": len(timeline.events),
        "anomalies": view.anomalies,
        "facts": [
            {
                "kind": f.kind.value,
                "time": format_rfc3339(f.time),
                "value": f.value,
                "team": f.team,
                "channel": f.channel,
                "priority": f.priority,
                "agent": f.agent,
                "target": f.target.value if f.target else None,
            }
            for f in view.facts
        ],
        "clocks": [
            {
                "target": c.target.value,
                "phase": c.phase.value,
                "started_at": format_rfc3339(c.started_at),
                "deadline": format_rfc3339(c.deadline) if c.deadline is not None else None,
                "stopped_at": format_rfc3339(c.stopped_at) if c.stopped_at is not None else None,
                "breached_at": format_rfc3339(c.breached_at) if c.breached_at is not None else None,
                "seconds_left": seconds(c.deadline - now)
                if c.deadline is not None and c.running
                else None,
            }
            for c in view.clocks
        ],
    }


async def at_risk(
    store: Store, policies: PolicySet, partitions: int, now: int, query: AtRiskQuery
) -> Reply:
    """``GET /sla/at-risk``: breached and at-risk clocks across partitions, in the order of
    ``streams.live.at_risk``, a page at a time.

    Each round reads the indexes for at most a page of clocks (one pipeline) and the records
    of just those tickets (one pipeline) for their team, priority and assignee; only filters
    on those need more than one round, and ``MAX_EXAMINED`` entries end a page early.
    """
    until = now + policies.at_risk_within
    rows: list[dict[str, Any]] = []
    after = query.after
    examined = 0
    more = True
    while more and len(rows) < query.limit and examined < MAX_EXAMINED:
        count = query.limit - len(rows) if not query.filtered else query.limit
        wanted = query.clock_range(after, now, until, count)
        found, left = await store.sla_clocks(range(partitions), query.targets, wanted)
        entries, over = next_entries(found, after, query.states, now, until, count)
        more = left or over
        if not entries:  # nothing past ``after`` passes: ties at its deadline only
            more = False
            break
        tickets: dict[int, set[str]] = defaultdict(set)
        for entry in entries:
            tickets[entry.partition].add(entry.ticket_id)
        records = await store.load_records(tickets)
        views: dict[str, TicketView] = {}
        for number, entry in enumerate(entries, start=1):
            after, examined = position(entry), examined + 1
            record = records.get(entry.ticket_id)
            if record is None:  # gone since the index was read
                continue
            view = views.get(entry.ticket_id)
            if view is None:
                view = views[entry.ticket_id] = evaluated(entry.ticket_id, record, policies, now)[1]
            listed = row(entry, view, now) if query.matches(view) else None
            if listed is not None:
                rows.append(listed)
            if len(rows) == query.limit:
                more = more or number < len(entries)
                break
    return 200, {
        "as_of": format_rfc3339(now),
        "tickets": rows,
        "next_cursor": encode_cursor(after) if more and after is not None else None,
    }


# A 400 lists the first defects only: a body of junk lines would otherwise cost more memory
# (and a larger answer) than the body itself.
MAX_ERRORS = 100
# Events in one request, at most: validating bounds a request's CPU time (4 MiB of "{}"
# would be 1.3 million objects to check); a 4 MiB body of real events holds about 20,000.
MAX_EVENTS = 25_000


# An event ready to produce: its topic ("tickets", "contacts", "surveys" or ``ACCOUNTS``),
# key, JSON value.
Encoded = tuple[str, bytes, bytes]
ACCOUNTS = "accounts"  # the topic kind of account events (``TopicNames.accounts``)


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    records: list[Encoded]  # every event, encoded, when none is rejected
    errors: list[dict[str, Any]]  # the first MAX_ERRORS
    rejected: int


def encode(event: Event | AccountEvent) -> Encoded:
    """An event as ``POST /events`` produces it: keyed by ticket (an account event by
    account, to the accounts topic), compact JSON."""
    value = json.dumps(event.to_json(), separators=(",", ":")).encode()
    if isinstance(event, AccountEvent):
        return ACCOUNTS, event.account_id.encode(), value
    return event.topic.value, event.ticket_id.encode(), value


def unsupported_type(content_type: str) -> Reply | None:
    """415 for a body that is neither JSON nor NDJSON (checked before the body is read)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in JSON_TYPES or kind in NDJSON_TYPES:
        return None
    return 415, {
        "error": f"content type {kind or '(none)'!r}: use application/json or application/x-ndjson"
    }


def parse_events_body(body: bytes, content_type: str) -> ParsedBatch | Reply:
    """A JSON object, a JSON array of objects, or NDJSON; every event (ticket, contact,
    survey or account, mixed) validated by ``decode_any``, then encoded for Kafka.

    CPU-bound (the worker runs it in a thread): ``line`` is the line of NDJSON (blank lines
    count) or the position in a JSON array, from 1.
    """
    unsupported = unsupported_type(content_type)
    if unsupported is not None:
        return unsupported
    items: Sequence[tuple[int, Any]]
    if content_type.split(";")[0].strip().lower() in JSON_TYPES:
        try:
            data = from_json(body, allow_inf_nan=False, cache_strings=False)
        except ValueError as error:
            return 400, {"error": json_error(error)}
        values = data if isinstance(data, list) else [data]
        if len(values) > MAX_EVENTS:
            return _too_many(len(values))
        items = list(enumerate(values, start=1))
    else:
        items = [(n, line) for n, line in enumerate(body.splitlines(), start=1) if line.strip()]
        if len(items) > MAX_EVENTS:
            return _too_many(len(items))
    if not items:
        return 400, {"error": "(body): no events"}
    events: list[Event | AccountEvent] = []
    errors: list[dict[str, Any]] = []
    rejected = 0
    for line, item in items:
        decoded = decode_any(item)
        if isinstance(decoded, InvalidEvent):
            rejected += 1
            if rejected <= MAX_ERRORS:
                errors.append({"line": line, "error": decoded.error})
        else:
            events.append(decoded)
    return ParsedBatch([] if rejected else [encode(e) for e in events], errors, rejected)


def _too_many(count: int) -> Reply:
    return 413, {"error": f"(body): {count} events; at most {MAX_EVENTS} a request"}


class CommitUnknown(Exception):
    """Kafka was asked to commit a ``POST /events`` body and did not answer in time."""


async def post_events(
    parsed: ParsedBatch | Reply, send: Callable[[Sequence[Encoded]], Awaitable[None]]
) -> Reply:
    """``POST /events`` once its body is parsed: all valid or nothing produced; 202 once
    Kafka committed the body's transaction, 503 when it was aborted (nothing written), 504
    when the commit was asked but not confirmed (written or not: the body may be sent
    again, as consumers skip an ``event_id`` they have seen)."""
    if not isinstance(parsed, ParsedBatch):
        return parsed
    if parsed.rejected:
        return 400, {"accepted": 0, "rejected": parsed.rejected, "errors": parsed.errors}
    try:
        await send(parsed.records)
    except CommitUnknown as error:
        return 504, {"error": f"kafka: the events may or may not be written: {error}"}
    except Exception as error:  # Kafka unreachable or refused: the transaction was aborted
        return 503, {"error": f"kafka: nothing was written: {error}"}
    return 202, {"accepted": len(parsed.records), "rejected": 0}
