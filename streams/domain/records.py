"""A ticket's record: its accepted events, compactly, when it was last evaluated, and the ids
of the events it refused (after closed).

Facts are not stored: they are a pure function of (events, policies, now), so the record is
enough to rebuild the exact view the windows hold. The live worker stores it in Redis; replay
keeps closed tickets in it, so its memory follows the open tickets.

A record is versioned (``"v"``), so that a reader never misreads a layout it does not know.
Version 2 keeps every field of the event contract but two: ``ticket_id`` (the record's key)
and ``extra``, the unknown fields a producer added (free text such as a subject: no KPI is
defined on them, and they would make a record unbounded). Version 1 (no ``"v"``) had no
``requester_id``; its rows are read as they always were.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json, to_json

from streams.domain.events import TEXT, Channel, Event, EventType, Priority, Status
from streams.domain.instant import Instant
from streams.domain.timeline import Timeline
from streams.errors import RecordVersionError

RECORD_VERSION = 2
_TYPES = list(EventType)
_TYPE_CODE = {t: i for i, t in enumerate(_TYPES)}
# the most fields a row of each version has (trailing empty fields are left out): version 1
# grew from 10 to 12 (``duration_seconds``, then ``account_id``) before it had a number
_ROW_FIELDS = {1: 12, 2: 13}


def _event_row(event: Event) -> list[Any]:
    row: list[Any] = [
        event.event_id,
        _TYPE_CODE[event.type],
        event.occurred_at,
        TEXT[event.channel] if event.channel else None,
        TEXT[event.priority] if event.priority else None,
        event.team,
        event.agent_id,
        TEXT[event.status] if event.status else None,
        1 if event.public else 0,
        event.score,
        event.duration_seconds,
        event.account_id,
        event.requester_id,
    ]
    while row[-1] is None:
        row.pop()
    return row


def _row_event(ticket_id: str, row: list[Any], width: int) -> Event:
    # trailing empty fields are left out, and a version 1 record written before durations (or
    # account ids) were kept has shorter rows: its calls simply have no duration
    if len(row) > width:
        raise ValueError(f"ticket {ticket_id!r}: a record row of {len(row)} fields: {row!r}")
    padded = row + [None] * (_ROW_FIELDS[RECORD_VERSION] - len(row))
    event_id, code, at, channel, priority, team, agent, status, public, score = padded[:10]
    duration, account_id, requester_id = padded[10:]
    return Event(
        event_id=event_id,
        type=_TYPES[code],
        occurred_at=at,
        ticket_id=ticket_id,
        channel=Channel(channel) if channel else None,
        priority=Priority(priority) if priority else None,
        team=team,
        agent_id=agent,
        status=Status(status) if status else None,
        public=public != 0,
        score=score,
        duration_seconds=None if duration is None else float(duration),
        account_id=account_id,
        requester_id=requester_id,
    )


def encode_record(timeline: Timeline, evaluated_at: Instant) -> bytes:
    rows = [_event_row(e) for e in timeline.events]
    # pydantic-core's JSON: the same compact form as json.dumps (non-ASCII text as UTF-8
    # rather than \u escapes), about 2x faster; records are written for every touched ticket
    refused = timeline.refused_ids
    if refused:  # ids of events refused after closed: a copy of one is a duplicate
        return to_json({"v": RECORD_VERSION, "n": evaluated_at, "e": rows, "r": sorted(refused)})
    return to_json({"v": RECORD_VERSION, "n": evaluated_at, "e": rows})


def decode_record(ticket_id: str, blob: bytes) -> tuple[Timeline, Instant]:
    """The timeline and the instant it was last evaluated at, from a record of any version
    up to ``RECORD_VERSION`` (``RecordVersionError`` for a later one)."""
    data = from_json(blob)
    version = data.get("v", 1)
    width = _ROW_FIELDS.get(version) if type(version) is int else None
    if width is None:
        raise RecordVersionError(ticket_id, version, RECORD_VERSION)
    timeline = Timeline(ticket_id)
    for row in data["e"]:
        timeline.add(_row_event(ticket_id, row, width), limited=False)
    timeline.event_ids.update(data.get("r", ()))
    return timeline, int(data["n"])
