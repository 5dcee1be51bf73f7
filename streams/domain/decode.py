"""Decoding and validating wire events (spec section 1).

Decoding never raises: anything that is not a valid event becomes an ``InvalidEvent`` whose
``error`` reads ``"<field>: <reason>"``. Defects that belong to no field use a name in
parentheses: ``(event)`` for the value as a whole (too large, nested too deep, not a JSON
object),
``(utf-8)`` for input that is not UTF-8, ``(json)`` for text that is not JSON, and
``(internal)`` for a decoder bug (a safety net; tests prove fuzzed input never reaches it).

Fields are checked in a fixed order (event_id, type, occurred_at, ticket_id, then the type's
own fields in the order of the spec's table) and the first defect is reported.

Decoding sits on the hot path of every agent and of replay, so it is written for speed:
pydantic-core's JSON parser (about 3x ``json.loads``), hand-written checks instead of a
schema model, a cache of parsed minutes for canonical UTC timestamps, and positional
construction of ``Event`` (keyword construction of the 15-field frozen dataclass costs
more than parsing the JSON).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

from streams.domain.events import Channel, Event, EventType, Priority, Status
from streams.domain.instant import Instant, parse_rfc3339

DEFAULT_MAX_BYTES = 64 * 1024
# Ids, teams and agents longer than this are junk, not names: each distinct value becomes a
# dimension key (a snapshot entry, a Prometheus label value), so its size is bounded here.
MAX_TEXT_CHARS = 200

# Objects and arrays nest at most this deep in an event (the event itself is level 1): real
# events are flat, and a deeper value would only cost recursion further down (JSON encoders).
MAX_DEPTH = 32
TOO_DEEP = f"(event): nested deeper than {MAX_DEPTH} levels"

# Timestamps outside these years are typos or zero values, not events: invalid.
MIN_YEAR = 2000
MAX_YEAR = 2100
_MIN_INSTANT = parse_rfc3339(f"{MIN_YEAR}-01-01T00:00:00Z")
_END_INSTANT = parse_rfc3339(f"{MAX_YEAR + 1}-01-01T00:00:00Z")

# A call's duration_seconds is a handle-time sample in microseconds, summed in Redis's 64-bit
# counters: a call longer than a year (or a 1e300) is junk, not a call, and is invalid.
MAX_DURATION_SECONDS = 365 * 86_400

_REPR_LIMIT = 40
_BAD_TIMESTAMP = "occurred_at: not an RFC 3339 timestamp with an offset"


@dataclass(frozen=True, slots=True)
class InvalidEvent:
    """An event that failed validation; it goes to the dead-letter topic.

    ``raw`` is what the dead-letter record carries as ``event``: the parsed JSON value when
    the text was JSON, the object itself when a mapping was given, otherwise the text
    (bytes that are not UTF-8 decoded with U+FFFD replacement characters; an input over the
    size limit cut to its first ``max_bytes`` bytes, so a dead letter stays small).
    """

    error: str
    raw: Any


def decode_event(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Event | InvalidEvent:
    """Validate one event given as UTF-8 bytes, JSON text or an already parsed object.

    ``max_bytes`` bounds the UTF-8 size of bytes and text input; a mapping is already
    parsed and is not measured.
    """
    try:
        return _decode(raw, max_bytes)
    except Exception as error:  # the stream must never stop on one bad event
        return InvalidEvent(f"(internal): {type(error).__name__}: {error}", raw)


def deadletter_record(
    invalid: InvalidEvent,
    *,
    source_topic: str | None,
    partition: int | None,
    offset: int | None,
) -> dict[str, Any]:
    """The dead-letter value of spec section 1, with where the event came from if known."""
    event = invalid.raw
    if isinstance(event, Mapping) and not isinstance(event, dict):
        event = dict(event)
    return {
        "error": invalid.error,
        "event": event,
        "source_topic": source_topic,
        "partition": partition,
        "offset": offset,
    }


def _decode(raw: object, max_bytes: int) -> Event | InvalidEvent:
    if type(raw) is bytes:
        data = raw
    elif isinstance(raw, str):
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError as error:
            return InvalidEvent(f"(utf-8): {error.reason} at character {error.start}", raw)
    elif isinstance(raw, bytes | bytearray | memoryview):
        data = bytes(raw)
    elif isinstance(raw, Mapping):
        return _from_object(raw)
    else:
        return InvalidEvent("(event): must be a JSON object", raw)
    if len(data) > max_bytes:
        text = data[:max_bytes].decode("utf-8", "replace")
        return InvalidEvent(f"(event): larger than {max_bytes} bytes", text)
    try:
        value = from_json(data, allow_inf_nan=False, cache_strings=False)
    except ValueError as error:
        return _not_json(data, error)
    if not isinstance(value, dict):
        return InvalidEvent("(event): must be a JSON object", value)
    return _from_object(value)


def _not_json(data: bytes, error: ValueError) -> InvalidEvent:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as bad:
        reason = f"(utf-8): {bad.reason} at byte {bad.start}"
        return InvalidEvent(reason, data.decode("utf-8", "replace"))
    return InvalidEvent(json_error(error), text)


def json_error(error: ValueError) -> str:
    """The reason for text pydantic-core's parser refused: nested too deep (its own limit,
    200 levels, is above ours) or not JSON."""
    return TOO_DEEP if "recursion limit" in str(error) else f"(json): invalid JSON: {error}"


def nested_deeper_than(value: object, levels: int) -> bool:
    """Whether objects and arrays nest more than ``levels`` deep in ``value`` (itself level 1
    if it is one); iterative, so no depth makes it recurse."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: list[Any] = list(item.values())
        elif isinstance(item, list | tuple):
            children = list(item)
        else:
            continue
        if depth > levels:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class _Bad(Exception):
    """A defect found while building an event; its text is the whole error."""


def _from_object(obj: Mapping[Any, Any]) -> Event | InvalidEvent:
    try:
        return _build(obj)
    except _Bad as bad:
        return InvalidEvent(str(bad), obj)


def _build(obj: Mapping[Any, Any]) -> Event:
    event_id = _required_text(obj, "event_id")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise _Bad("type: required" if kind is None else "type: must be a string")
    event_type = _TYPES.get(kind)
    if event_type is None:
        raise _Bad(f"type: unknown event type {_short_repr(kind)}")
    occurred_at = _timestamp(obj.get("occurred_at"))
    ticket_id = _required_text(obj, "ticket_id")
    values = [*_DEFAULTS, {}]  # the optional fields, then extra
    read_fields(obj, _FIELDS[event_type], _KNOWN[event_type], values)
    return Event(event_id, event_type, occurred_at, ticket_id, *values)


def _required_text(obj: Mapping[Any, Any], name: str) -> str:
    value: Any = obj.get(name)
    if (
        type(value) is str
        and value.isascii()
        and 0 < len(value) <= MAX_TEXT_CHARS
        and not value.isspace()
    ):
        return value  # the common case, without a call to _text_defect
    reason = _text_defect(value)
    if reason is not None:
        raise _Bad(f"{name}: required" if value is None else f"{name}: {reason}")
    text: str = value
    return text


def _text_defect(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value.isspace():
        return "must be a non-empty string"
    if len(value) > MAX_TEXT_CHARS:
        return f"longer than {MAX_TEXT_CHARS} characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode (it holds a lone surrogate)"
    return None


# The common canonical form, UTC with "Z": its minute is parsed once, then cached.
_CANONICAL = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}):([0-5]\d)(?:\.(\d{1,9}))?Z", re.ASCII)
_MINUTES: dict[str, Instant] = {}
_MINUTES_LIMIT = 65_536


def _timestamp(value: Any) -> Instant:
    if not isinstance(value, str):
        raise _Bad("occurred_at: required" if value is None else _BAD_TIMESTAMP)
    try:
        instant = parse_timestamp(value)
    except (ValueError, OverflowError):
        raise _Bad(_BAD_TIMESTAMP) from None
    if not _MIN_INSTANT <= instant < _END_INSTANT:
        raise _Bad(f"occurred_at: outside the years {MIN_YEAR} to {MAX_YEAR}")
    return instant


def parse_timestamp(text: str) -> Instant:
    """``parse_rfc3339`` with a fast path for ``YYYY-MM-DDTHH:MM:SS[.f]Z``; same results."""
    size = len(text)
    if 20 <= size <= 30 and text[-1] == "Z" and text[16] == ":" and text.isascii():
        # A minute seen before (only the full match below caches one): the seconds and the
        # fraction by position; isdigit on ASCII text means 0-9, as \d does with re.ASCII.
        minute = _MINUTES.get(text[:16])
        second = text[17:19]
        if minute is not None and second.isdigit() and second[0] <= "5":
            if size == 20:
                return minute + int(second) * 1_000_000
            fraction = text[20:-1]
            if text[19] == "." and fraction.isdigit():
                return minute + int(second) * 1_000_000 + int(fraction[:6].ljust(6, "0"))
    match = _CANONICAL.fullmatch(text)
    if match is None:
        return parse_rfc3339(text)
    # by index: groups() is typed Any, and an unmatched fraction is None (mypyc checks str)
    minute_text, second, fraction = match[1], match[2], match[3] or ""
    minute = _MINUTES.get(minute_text)
    if minute is None:
        minute = parse_rfc3339(minute_text + ":00Z")
        if len(_MINUTES) >= _MINUTES_LIMIT:
            _MINUTES.clear()
        _MINUTES[minute_text] = minute
    micros = int(second) * 1_000_000
    if fraction:
        micros += int(fraction[:6].ljust(6, "0"))
    return minute + micros


def _short_repr(value: str) -> str:
    if len(value) > _REPR_LIMIT:
        value = value[:_REPR_LIMIT] + "..."
    return repr(value)


# A converter stores the converted value in ``values[slot]`` and returns None, or returns
# the reason the value is wrong.
_Converter = Callable[[Any, list[Any], int], str | None]
# A type's fields: name, slot in the record's values, converter, required.
FieldSpec = tuple[tuple[str, int, _Converter, bool], ...]


def read_fields(
    obj: Mapping[Any, Any], fields: FieldSpec, known: frozenset[str], values: list[Any]
) -> None:
    """Convert ``fields`` of ``obj`` into their ``values`` slots, and the fields its type does
    not carry into the last slot (extra: kept and ignored, never nested too deep). The four
    common fields are the caller's. Shared by every kind of event the decoder reads."""
    present = 4
    for name, slot, convert, required in fields:
        value = obj.get(name)
        if value is None:
            if required:
                raise _Bad(f"{name}: required")
            present += name in obj
            continue
        reason = convert(value, values, slot)
        if reason is not None:
            raise _Bad(f"{name}: {reason}")
        present += 1
    if len(obj) != present:
        extra = {key: value for key, value in obj.items() if key not in known}
        # only extra fields may hold containers; mostly they hold none, and need no walk
        for value in extra.values():
            if isinstance(value, dict | list | tuple):
                if nested_deeper_than(extra, MAX_DEPTH):
                    raise _Bad(TOO_DEEP)
                break
        values[-1] = extra


def _enum_converter(members: Mapping[str, Any]) -> _Converter:
    reason = "must be one of " + ", ".join(members)

    def convert(value: Any, values: list[Any], slot: int) -> str | None:
        member = members.get(value) if isinstance(value, str) else None
        if member is None:
            return reason
        values[slot] = member
        return None

    return convert


def _score_converter(low: int, high: int) -> _Converter:
    reason = f"must be an integer from {low} to {high}"

    def convert(value: Any, values: list[Any], slot: int) -> str | None:
        # bool is an int subclass and 4.0 is a float: both are rejected.
        if type(value) is not int or not low <= value <= high:
            return reason
        values[slot] = value
        return None

    return convert


def _text(value: Any, values: list[Any], slot: int) -> str | None:
    if (
        type(value) is str
        and value.isascii()
        and 0 < len(value) <= MAX_TEXT_CHARS
        and not value.isspace()
    ):
        values[slot] = value  # the common case, as in _required_text
        return None
    reason = _text_defect(value)
    if reason is None:
        values[slot] = value
    return reason


def _boolean(value: Any, values: list[Any], slot: int) -> str | None:
    if not isinstance(value, bool):
        return "must be true or false"
    values[slot] = value
    return None


def _duration(value: Any, values: list[Any], slot: int) -> str | None:
    # comparisons, not math.isfinite, which raises for an integer too large for a float
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value < math.inf  # NaN compares false
    ):
        return "must be a non-negative number"
    if value > MAX_DURATION_SECONDS:
        return f"must be at most {MAX_DURATION_SECONDS} (a year)"
    values[slot] = float(value)
    return None


# Event is built positionally (see the module docstring): the four fields every event has,
# then the optional ones, in the order of its ``__init__`` (which ``Event._NAMES`` follows).
_COMMON, _OPTIONAL = Event._NAMES[:4], Event._NAMES[4:]
_BLANK = Event("", EventType.TICKET_CREATED, 0, "")  # its optional fields hold the defaults
_DEFAULTS: tuple[Any, ...] = tuple(getattr(_BLANK, name) for name in _OPTIONAL)
_SLOT = {name: index for index, name in enumerate(_OPTIONAL)}

_TYPES = {member.value: member for member in EventType}
_channel = _enum_converter({member.value: member for member in Channel})
_priority = _enum_converter({member.value: member for member in Priority})
_status = _enum_converter({member.value: member for member in Status})

# Per type, in the spec's order: field, converter, required. A null optional field counts
# as absent. Fields a type does not carry are extra fields: kept and ignored.
_SPEC: dict[EventType, tuple[tuple[str, _Converter, bool], ...]] = {
    EventType.TICKET_CREATED: (
        ("channel", _channel, True),
        ("priority", _priority, True),
        ("team", _text, True),
        ("account_id", _text, False),
        ("requester_id", _text, False),
    ),
    EventType.TICKET_ASSIGNED: (
        ("agent_id", _text, True),
        ("team", _text, False),
    ),
    EventType.TICKET_PRIORITY_CHANGED: (("priority", _priority, True),),
    EventType.TICKET_STATUS_CHANGED: (("status", _status, True),),
    EventType.CONTACT_INBOUND: (
        ("channel", _channel, True),
        ("public", _boolean, False),
    ),
    EventType.CONTACT_OUTBOUND: (
        ("agent_id", _text, True),
        ("channel", _channel, True),
        ("public", _boolean, False),
        ("duration_seconds", _duration, False),
    ),
    EventType.SURVEY_CSAT: (("score", _score_converter(1, 5), True),),
    EventType.SURVEY_NPS: (
        ("score", _score_converter(0, 10), True),
        ("account_id", _text, False),
    ),
}
_FIELDS = {
    event_type: tuple((name, _SLOT[name], convert, required) for name, convert, required in spec)
    for event_type, spec in _SPEC.items()
}
_KNOWN = {
    event_type: frozenset((*_COMMON, *(name for name, _, _ in spec)))
    for event_type, spec in _SPEC.items()
}
