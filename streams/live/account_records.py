"""An account's record in Redis: its accepted events, compact, as the owner caches them.

JSON ``{"v": 1, "e": [rows]}``, one row per accepted event in contract order: ``event_id``,
type (its index in ``AccountEventType``), ``occurred_at`` (µs), ``source``, ``segment``,
``manager``, ``channel``, duration (µs), MRR (millionths), ``reason``, ``voluntary`` (1 or 0),
trailing empty fields left out. The account id is the hash field's name; unknown fields a
producer added are not kept (no KPI reads them, and they would make a record unbounded).
"""

from __future__ import annotations

from typing import Any, Final

from pydantic_core import from_json, to_json

from streams.domain.account_events import AccountEvent, AccountEventType
from streams.domain.account_timeline import AccountTimeline
from streams.errors import RecordVersionError

ACCOUNT_RECORD_VERSION: Final = 1
_TYPES: Final = tuple(AccountEventType)
_INDEX: Final = {t: i for i, t in enumerate(_TYPES)}


def _row(e: AccountEvent) -> list[Any]:
    row: list[Any] = [
        e.event_id,
        _INDEX[e.type],
        e.occurred_at,
        e.source,
        e.segment,
        e.manager,
        e.channel,
        e.duration,
        e.mrr,
        e.reason,
        1 if e.voluntary else 0,
    ]
    while row[-1] is None or (len(row) == 11 and row[-1] == 1):
        row.pop()  # voluntary (the default) and trailing empty fields are left out
    return row


def encode_account(timeline: AccountTimeline) -> bytes:
    return to_json({"v": ACCOUNT_RECORD_VERSION, "e": [_row(e) for e in timeline.events]})


def decode_account(account_id: str, blob: bytes) -> AccountTimeline:
    """The account's timeline from its record (``RecordVersionError`` for an unknown version)."""
    data = from_json(blob)
    version = data.get("v")
    if version != ACCOUNT_RECORD_VERSION:
        raise RecordVersionError(account_id, version, ACCOUNT_RECORD_VERSION, "account")
    timeline = AccountTimeline(account_id)
    for row in data["e"]:
        full = [*row, *([None] * (11 - len(row)))]
        voluntary = full[10] != 0  # absent (None) or 1: voluntary
        source, segment, manager, channel, duration, mrr, reason = full[3:10]
        event = AccountEvent(
            full[0],
            _TYPES[full[1]],
            full[2],
            account_id,
            source,
            segment,
            manager,
            channel,
            duration,
            mrr,
            reason,
            voluntary,
        )
        timeline.add(event, limited=False)
    return timeline
