"""A ticket's record: its accepted events, compactly, and when it was last evaluated.

Facts are not stored: they are a pure function of (events, policies, now), so the record is
enough to rebuild the exact view the windows hold. Only fields the engine reads are kept
(and the ``account_id`` and ``duration_seconds`` an account's support experience reads),
which keeps an open ticket's record well under a kilobyte. The live worker stores it in Redis;
replay keeps closed tickets in it, so its memory follows the open tickets.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json, to_json

from streams.domain.events import Channel, Event, EventType, Priority, Status
from streams.domain.instant import Instant
from streams.domain.timeline import Timeline

_TYPES = list(EventType)
_TYPE_CODE = {t: i for i, t in enumerate(_TYPES)}


def _event_row(event: Event) -> list[Any]:
    row: list[Any] = [
        event.event_id,
        _TYPE_CODE[event.type],
        event.occurred_at,
        event.channel.value if event.channel else None,
        event.priority.value if event.priority else None,
        event.team,
        event.agent_id,
        event.status.value if event.status else None,
        1 if event.public else 0,
        event.score,
        event.account_id,
        event.duration_seconds,
    ]
    while row[-1] is None:
        row.pop()
    return row


def _row_event(ticket_id: str, row: list[Any]) -> Event:
    padded = row + [None] * (12 - len(row))
    event_id, code, at, channel, priority, team, agent, status, public, score = padded[:10]
    account_id, duration_seconds = padded[10:]
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
        account_id=account_id,
        duration_seconds=duration_seconds,
    )


def encode_record(timeline: Timeline, evaluated_at: Instant) -> bytes:
    rows = [_event_row(e) for e in timeline.events]
    # pydantic-core's JSON: the same compact form as json.dumps (non-ASCII text as UTF-8
    # rather than \u escapes), about 2x faster; records are written for every touched ticket
    return to_json({"n": evaluated_at, "e": rows})


def decode_record(ticket_id: str, blob: bytes) -> tuple[Timeline, Instant]:
    """The timeline and the instant it was last evaluated at."""
    data = from_json(blob)
    timeline = Timeline(ticket_id)
    for row in data["e"]:
        timeline.add(_row_event(ticket_id, row))
    return timeline, int(data["n"])
