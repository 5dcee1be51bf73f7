"""An account's record in Redis: its accepted events, compact, as the owner caches them.

Version 2, JSON ``{"v": 2, "e": [rows]}``, one row per accepted event in contract order:
``event_id``, type (its index in ``AccountEventType``), ``occurred_at`` (µs; after the first
row, µs since the previous row's: the rows are in time order), then only the fields its type
carries (``_LAYOUT``), trailing empty ones left out: ``voluntary`` is kept only when false
(0). Durations are in µs, MRR in millionths. A churn's free-text ``reason`` and the unknown
fields a producer added are not kept: no KPI reads them, and they would make a record
unbounded. The account id is the hash field's name.

Version 1 (one row of every field: ``event_id``, type, ``occurred_at``, ``source``,
``segment``, ``manager``, ``channel``, duration, MRR, ``reason``, ``voluntary``) is read as it
was written; the account's next change writes it again as version 2.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic_core import from_json, to_json

from streams.domain.account_events import AccountEvent, AccountEventType
from streams.domain.account_timeline import AccountTimeline
from streams.errors import RecordVersionError

ACCOUNT_RECORD_VERSION: Final = 2
_TYPES: Final = tuple(AccountEventType)
_INDEX: Final = {t: i for i, t in enumerate(_TYPES)}
# AccountEvent's optional fields, in its __init__ order (a version 1 row's, after the time)
_FIELDS: Final = ("source", "segment", "manager", "channel", "duration", "mrr", "reason")
_VOLUNTARY: Final = len(_FIELDS)  # the slot of ``voluntary`` after them
# version 2: the slots a type's row holds after its time, the likely empty ones last
_LAYOUT: Final[dict[AccountEventType, tuple[int, ...]]] = {
    AccountEventType.LEAD_CREATED: (0, 1, 2),
    AccountEventType.ASSIGNED: (2, 1),
    AccountEventType.TOUCHED: (3, 4, 2),
    AccountEventType.CONVERTED: (5, 1),
    AccountEventType.MRR_CHANGED: (5, 6),
    AccountEventType.CHURNED: (_VOLUNTARY,),
}


def _slots(e: AccountEvent) -> list[Any]:
    """The event's optional fields by slot, ``voluntary`` as 0 when false, else None."""
    voluntary = None if e.voluntary else 0
    return [e.source, e.segment, e.manager, e.channel, e.duration, e.mrr, e.reason, voluntary]


def encode_account(timeline: AccountTimeline) -> bytes:
    rows: list[list[Any]] = []
    previous = 0
    for e in timeline.events:
        slots = _slots(e)
        row: list[Any] = [e.event_id, _INDEX[e.type], e.occurred_at - previous]
        row += [slots[s] for s in _LAYOUT[e.type]]
        while row[-1] is None:
            row.pop()
        rows.append(row)
        previous = e.occurred_at
    return to_json({"v": ACCOUNT_RECORD_VERSION, "e": rows})


def decode_account(account_id: str, blob: bytes) -> AccountTimeline:
    """The account's timeline from its record (``RecordVersionError`` for an unknown version)."""
    data = from_json(blob)
    version = data.get("v")
    if version not in (1, ACCOUNT_RECORD_VERSION):
        raise RecordVersionError(account_id, version, ACCOUNT_RECORD_VERSION, "account")
    timeline = AccountTimeline(account_id)
    previous = 0
    for row in data["e"]:
        event_type = _TYPES[row[1]]
        if version == 1:
            slots = [*row[3:], *([None] * (11 - len(row)))]
            occurred_at = row[2]
        else:
            slots = [None] * (_VOLUNTARY + 1)
            for slot, value in zip(_LAYOUT[event_type], row[3:], strict=False):
                slots[slot] = value
            occurred_at = previous + row[2]
            previous = occurred_at
        source, segment, manager, channel, duration, mrr, reason = slots[:_VOLUNTARY]
        event = AccountEvent(
            row[0],
            event_type,
            occurred_at,
            account_id,
            source,
            segment,
            manager,
            channel,
            duration,
            mrr,
            reason,
            slots[_VOLUNTARY] != 0,  # absent (None) or 1: voluntary
        )
        timeline.add(event, limited=False)
    return timeline
