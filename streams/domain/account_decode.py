"""Decoding account events, through the same decoder as every other event.

``decode_any`` is ``decode_event`` (size, UTF-8, JSON, the common fields, the ticket types)
extended with the ``account.*`` types: a value whose ``type`` is an account type is built
here from the object the ticket decoder has already parsed, with the same field checks and
the same ``"<field>: <reason>"`` errors. Fields are checked in a fixed order (event_id, type,
occurred_at, account_id, then the type's own fields in the contract's order) and the first
defect is reported. Ticket events pay one type check on top of ``decode_event``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from streams.domain.account_events import (
    ACCOUNT_TYPES,
    MONEY_UNITS,
    AccountEvent,
    AccountEventType,
    LeadSource,
    MrrReason,
    TouchChannel,
)
from streams.domain.decode import (
    DEFAULT_MAX_BYTES,
    InvalidEvent,
    _Bad,
    _boolean,
    _Converter,
    _duration,
    _enum_converter,
    _required_text,
    _text,
    _timestamp,
    decode_event,
    read_fields,
)
from streams.domain.events import Event
from streams.domain.instant import MICROS_PER_SECOND

_UNKNOWN_TYPE: Final = "type: unknown event type"


def decode_any(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Event | AccountEvent | InvalidEvent:
    """Validate one ticket, contact, survey or account event (``decode_event``'s input)."""
    decoded = decode_event(raw, max_bytes=max_bytes)
    if type(decoded) is not InvalidEvent or not decoded.error.startswith(_UNKNOWN_TYPE):
        return decoded
    obj = decoded.raw
    if not isinstance(obj, Mapping) or obj.get("type") not in ACCOUNT_TYPES:
        return decoded
    try:
        return _build(obj)
    except _Bad as bad:
        return InvalidEvent(str(bad), obj)
    except Exception as error:  # the stream must never stop on one bad event
        return InvalidEvent(f"(internal): {type(error).__name__}: {error}", obj)


def _build(obj: Mapping[Any, Any]) -> AccountEvent:
    event_id = _required_text(obj, "event_id")
    event_type = ACCOUNT_TYPES[obj["type"]]
    occurred_at = _timestamp(obj.get("occurred_at"))
    account_id = _required_text(obj, "account_id")
    values: list[Any] = [None, None, None, None, None, None, None, True, {}]
    read_fields(obj, _FIELDS[event_type], _KNOWN[event_type], values)
    return AccountEvent(event_id, event_type, occurred_at, account_id, *values)


# An account's MRR at most: far above any real one, and a bound that keeps its millionths an
# exact integer (an absurd amount would overflow converting to them).
MAX_MRR: Final = 1_000_000_000


def _money(value: Any, values: list[Any], slot: int) -> str | None:
    # comparisons, not math.isfinite, which raises for an integer too large for a float
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value < math.inf  # NaN compares false
    ):
        return "must be a non-negative number"
    if value > MAX_MRR:
        return f"must be at most {MAX_MRR}"
    values[slot] = round(value * MONEY_UNITS)
    return None


def _micros(value: Any, values: list[Any], slot: int) -> str | None:
    reason = _duration(value, values, slot)
    if reason is None:
        values[slot] = round(values[slot] * MICROS_PER_SECOND)
    return reason


_source = _enum_converter({m.value: m.value for m in LeadSource})
_channel = _enum_converter({m.value: m.value for m in TouchChannel})
_mrr_reason = _enum_converter({m.value: m.value for m in MrrReason})

# The optional fields of AccountEvent after the four every event has, in its __init__ order.
_SLOT: Final = {
    "source": 0,
    "segment": 1,
    "manager": 2,
    "channel": 3,
    "duration_seconds": 4,
    "mrr": 5,
    "reason": 6,
    "voluntary": 7,
}
_COMMON: Final = ("event_id", "type", "occurred_at", "account_id")

# Per type, in the contract's order: field, converter, required. A null optional field counts
# as absent. Fields a type does not carry are extra fields: kept and ignored.
_SPEC: Final[dict[AccountEventType, tuple[tuple[str, _Converter, bool], ...]]] = {
    AccountEventType.LEAD_CREATED: (
        ("source", _source, True),
        ("segment", _text, False),
        ("manager", _text, False),
    ),
    AccountEventType.ASSIGNED: (("manager", _text, True), ("segment", _text, False)),
    AccountEventType.TOUCHED: (
        ("channel", _channel, True),
        ("manager", _text, False),
        ("duration_seconds", _micros, False),
    ),
    AccountEventType.CONVERTED: (("mrr", _money, True), ("segment", _text, False)),
    AccountEventType.MRR_CHANGED: (("mrr", _money, True), ("reason", _mrr_reason, True)),
    AccountEventType.CHURNED: (("voluntary", _boolean, False), ("reason", _text, False)),
}
_FIELDS: Final = {
    event_type: tuple((name, _SLOT[name], convert, required) for name, convert, required in spec)
    for event_type, spec in _SPEC.items()
}
_KNOWN: Final = {
    event_type: frozenset((*_COMMON, *(name for name, _, _ in spec)))
    for event_type, spec in _SPEC.items()
}
