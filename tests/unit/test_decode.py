"""Decoding wire events: every type, every defect class, and properties over arbitrary input."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.decode import (
    MAX_DEPTH,
    MAX_DURATION_SECONDS,
    TOO_DEEP,
    InvalidEvent,
    deadletter_record,
    decode_event,
    nested_deeper_than,
    parse_timestamp,
)
from streams.domain.events import Channel, Event, EventType, Priority, Status
from streams.domain.instant import parse_rfc3339

T0 = "2026-11-02T09:15:00Z"
I0 = parse_rfc3339(T0)
ERROR_FORMAT = re.compile(r"^(\((event|json|utf-8)\)|[a-z_]+): \S.*$", re.DOTALL)

VALID: dict[EventType, dict[str, Any]] = {
    EventType.TICKET_CREATED: {"channel": "email", "priority": "high", "team": "billing"},
    EventType.TICKET_ASSIGNED: {"agent_id": "ag-7"},
    EventType.TICKET_PRIORITY_CHANGED: {"priority": "urgent"},
    EventType.TICKET_STATUS_CHANGED: {"status": "on_hold"},
    EventType.CONTACT_INBOUND: {"channel": "chat"},
    EventType.CONTACT_OUTBOUND: {"agent_id": "ag-7", "channel": "phone"},
    EventType.SURVEY_CSAT: {"score": 4},
    EventType.SURVEY_NPS: {"score": 9},
}


def wire(event_type: EventType = EventType.SURVEY_CSAT, **changes: Any) -> dict[str, Any]:
    """A valid wire event of the type; ``changes`` set fields, ``...`` removes one."""
    value: dict[str, Any] = {
        "event_id": "e-1",
        "type": event_type.value,
        "occurred_at": T0,
        "ticket_id": "T-1",
        **VALID[event_type],
    }
    for name, new in changes.items():
        if new is ...:
            del value[name]
        else:
            value[name] = new
    return value


def decoded(value: Any) -> Event:
    result = decode_event(value)
    assert isinstance(result, Event), result
    return result


def error_of(value: Any, **options: Any) -> str:
    result = decode_event(value, **options)
    assert isinstance(result, InvalidEvent), result
    return result.error


# --- valid events ---------------------------------------------------------------------------


def test_every_type_decodes_with_its_fields() -> None:
    created = decoded(wire(EventType.TICKET_CREATED, account_id="acc-1", requester_id="r-1"))
    assert (created.channel, created.priority, created.team) == (
        Channel.EMAIL,
        Priority.HIGH,
        "billing",
    )
    assert (created.account_id, created.requester_id) == ("acc-1", "r-1")
    assigned = decoded(wire(EventType.TICKET_ASSIGNED, team="tech"))
    assert (assigned.agent_id, assigned.team) == ("ag-7", "tech")
    assert decoded(wire(EventType.TICKET_ASSIGNED)).team is None
    assert decoded(wire(EventType.TICKET_PRIORITY_CHANGED)).priority is Priority.URGENT
    assert decoded(wire(EventType.TICKET_STATUS_CHANGED)).status is Status.ON_HOLD
    inbound = decoded(wire(EventType.CONTACT_INBOUND))
    assert (inbound.channel, inbound.public) == (Channel.CHAT, True)
    note = decoded(wire(EventType.CONTACT_OUTBOUND, public=False, duration_seconds=95))
    assert (note.agent_id, note.channel, note.public) == ("ag-7", Channel.PHONE, False)
    assert note.duration_seconds == 95.0 and isinstance(note.duration_seconds, float)
    assert not note.is_touch
    assert decoded(wire(EventType.CONTACT_OUTBOUND)).is_touch
    assert decoded(wire(EventType.SURVEY_CSAT)).score == 4
    nps = decoded(wire(EventType.SURVEY_NPS, account_id="acc-2"))
    assert (nps.score, nps.account_id) == (9, "acc-2")


@pytest.mark.parametrize("event_type", list(EventType))
def test_common_fields_and_input_forms(event_type: EventType) -> None:
    value = wire(event_type)
    expected = decoded(value)
    assert (expected.event_id, expected.type, expected.occurred_at, expected.ticket_id) == (
        "e-1",
        event_type,
        I0,
        "T-1",
    )
    text = json.dumps(value)
    for form in (text, text.encode(), bytearray(text.encode()), MappingProxyType(value)):
        assert decode_event(form) == expected


@pytest.mark.parametrize(
    ("event_type", "name", "values"),
    [
        (EventType.SURVEY_CSAT, "score", [1, 5]),
        (EventType.SURVEY_NPS, "score", [0, 10]),
        (EventType.CONTACT_OUTBOUND, "duration_seconds", [0, 0.0, 12.5, 10**6, 31_536_000]),
        (EventType.TICKET_CREATED, "channel", [c.value for c in Channel]),
        (EventType.TICKET_CREATED, "priority", [p.value for p in Priority]),
        (EventType.TICKET_STATUS_CHANGED, "status", [s.value for s in Status]),
    ],
)
def test_boundary_and_enum_values_are_accepted(
    event_type: EventType, name: str, values: list[Any]
) -> None:
    for value in values:
        result = decoded(wire(event_type, **{name: value}))
        got = getattr(result, name)
        assert got == value and (not isinstance(value, str) or got.value == value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-02T10:15:00+01:00", I0),
        ("2026-11-02T04:15:00-05:00", I0),
        ("2026-11-02t09:15:00z", I0),
        ("2026-11-02 09:15:00Z", I0),
        ("2026-11-02T09:15:00.25Z", I0 + 250_000),
        ("2026-11-02T09:15:00.123456789Z", I0 + 123_456),
        ("2000-01-01T00:00:00Z", parse_rfc3339("2000-01-01T00:00:00Z")),
        ("2100-12-31T23:59:59.999999Z", parse_rfc3339("2101-01-01T00:00:00Z") - 1),
    ],
)
def test_timestamps_are_normalised_to_utc_micros(text: str, expected: int) -> None:
    assert decoded(wire(occurred_at=text)).occurred_at == expected


def test_unknown_and_foreign_fields_are_kept_as_extra() -> None:
    value = wire(
        EventType.TICKET_CREATED,
        subject="Lieferung fehlt \u2013 bitte prüfen 📦",
        tags=["vip", "ß"],
        score=3,  # a field of another type: not this type's, so extra
        account_id=None,  # a null optional field counts as absent
    )
    event = decoded(json.dumps(value, ensure_ascii=False).encode())
    assert event.extra == {
        "subject": "Lieferung fehlt \u2013 bitte prüfen 📦",
        "tags": ["vip", "ß"],
        "score": 3,
    }
    assert event.score is None and event.account_id is None
    assert event.to_json()["subject"] == value["subject"]
    assert decoded(wire()).extra == {}


def test_unicode_ids_and_names() -> None:
    value = wire(EventType.TICKET_CREATED, ticket_id="チケット-1", team="Kundendienst Zürich")
    event = decoded(json.dumps(value, ensure_ascii=True))
    assert (event.ticket_id, event.team) == ("チケット-1", "Kundendienst Zürich")


# --- defects ----------------------------------------------------------------------------------

MISSING = ...
BAD_TIME = "occurred_at: not an RFC 3339 timestamp with an offset"
OUT_OF_RANGE = "occurred_at: outside the years 2000 to 2100"
BAD_DURATION = "duration_seconds: must be a non-negative number"
TOO_LONG = "duration_seconds: must be at most 31536000 (a year)"
CSAT = "score: must be an integer from 1 to 5"
NPS = "score: must be an integer from 0 to 10"
CASES: list[tuple[dict[str, Any], str]] = [
    (wire(event_id=MISSING), "event_id: required"),
    (wire(event_id=None), "event_id: required"),
    (wire(event_id=""), "event_id: must be a non-empty string"),
    (wire(event_id="  \t"), "event_id: must be a non-empty string"),
    (wire(event_id=17), "event_id: must be a non-empty string"),
    (wire(type=MISSING), "type: required"),
    (wire(type=3), "type: must be a string"),
    (wire(type="x"), "type: unknown event type 'x'"),
    (wire(type="Ticket.Created"), "type: unknown event type 'Ticket.Created'"),
    (wire(type="y" * 100), f"type: unknown event type '{'y' * 40}...'"),
    (wire(occurred_at=MISSING), "occurred_at: required"),
    (wire(occurred_at="2026-11-02T09:15:00"), BAD_TIME),
    (wire(occurred_at="02/11/2026 09:15"), BAD_TIME),
    (wire(occurred_at=1793610900), BAD_TIME),
    (wire(occurred_at="2026-02-30T09:15:00Z"), BAD_TIME),
    (wire(occurred_at="2026-11-02T24:00:00Z"), BAD_TIME),
    (wire(occurred_at="2026-11-02T09:15:60Z"), BAD_TIME),
    (wire(occurred_at="2026-11-02T09:15:00Z\n"), BAD_TIME),
    (wire(occurred_at="\uff12\uff10\uff12\uff16-11-02T09:15:00Z"), BAD_TIME),
    (wire(occurred_at="1970-01-01T00:00:00Z"), OUT_OF_RANGE),
    (wire(occurred_at="2000-01-01T00:30:00+01:00"), OUT_OF_RANGE),
    (wire(occurred_at="2101-01-01T00:00:00Z"), OUT_OF_RANGE),
    (wire(occurred_at="9999-12-31T23:59:59Z"), OUT_OF_RANGE),
    (wire(ticket_id=MISSING), "ticket_id: required"),
    (wire(ticket_id=""), "ticket_id: must be a non-empty string"),
    (wire(ticket_id=["T-1"]), "ticket_id: must be a non-empty string"),
    (wire(ticket_id="T-\ud800"), "ticket_id: must be valid Unicode (it holds a lone surrogate)"),
    (wire(EventType.TICKET_CREATED, channel=MISSING), "channel: required"),
    (
        wire(EventType.TICKET_CREATED, channel="fax"),
        "channel: must be one of email, chat, phone, web, social, api",
    ),
    (
        wire(EventType.TICKET_CREATED, priority="URGENT"),
        "priority: must be one of low, normal, high, urgent",
    ),
    (wire(EventType.TICKET_CREATED, priority=MISSING), "priority: required"),
    (wire(EventType.TICKET_CREATED, team=MISSING), "team: required"),
    (wire(EventType.TICKET_CREATED, team=""), "team: must be a non-empty string"),
    (wire(EventType.TICKET_CREATED, account_id=7), "account_id: must be a non-empty string"),
    (wire(EventType.TICKET_CREATED, requester_id=""), "requester_id: must be a non-empty string"),
    (wire(EventType.TICKET_ASSIGNED, agent_id=MISSING), "agent_id: required"),
    (wire(EventType.TICKET_ASSIGNED, agent_id=42), "agent_id: must be a non-empty string"),
    (wire(EventType.TICKET_ASSIGNED, team=" "), "team: must be a non-empty string"),
    (wire(EventType.TICKET_PRIORITY_CHANGED, priority=MISSING), "priority: required"),
    (wire(EventType.TICKET_STATUS_CHANGED, status=MISSING), "status: required"),
    (
        wire(EventType.TICKET_STATUS_CHANGED, status="archived"),
        "status: must be one of new, open, pending, on_hold, solved, closed",
    ),
    (wire(EventType.CONTACT_INBOUND, channel=MISSING), "channel: required"),
    (wire(EventType.CONTACT_INBOUND, public="yes"), "public: must be true or false"),
    (wire(EventType.CONTACT_INBOUND, public=1), "public: must be true or false"),
    (wire(EventType.CONTACT_OUTBOUND, agent_id=MISSING), "agent_id: required"),
    (wire(EventType.CONTACT_OUTBOUND, channel=MISSING), "channel: required"),
    (wire(EventType.CONTACT_OUTBOUND, duration_seconds=-1), BAD_DURATION),
    (wire(EventType.CONTACT_OUTBOUND, duration_seconds="60"), BAD_DURATION),
    (wire(EventType.CONTACT_OUTBOUND, duration_seconds=True), BAD_DURATION),
    (wire(EventType.CONTACT_OUTBOUND, duration_seconds=float("inf")), BAD_DURATION),
    # a handle-time sample summed in 64-bit counters: longer than a year is junk
    (wire(EventType.CONTACT_OUTBOUND, duration_seconds=31_536_000.5), TOO_LONG),
    (wire(EventType.CONTACT_OUTBOUND, duration_seconds=1e300), TOO_LONG),
    (wire(EventType.CONTACT_OUTBOUND, duration_seconds=10**400), TOO_LONG),
    (wire(EventType.SURVEY_CSAT, score=MISSING), "score: required"),
    (wire(EventType.SURVEY_CSAT, score=0), CSAT),
    (wire(EventType.SURVEY_CSAT, score=6), CSAT),
    (wire(EventType.SURVEY_CSAT, score=4.0), CSAT),
    (wire(EventType.SURVEY_CSAT, score=True), CSAT),
    (wire(EventType.SURVEY_CSAT, score="5"), CSAT),
    (wire(EventType.SURVEY_NPS, score=-1), NPS),
    (wire(EventType.SURVEY_NPS, score=11), NPS),
    (wire(EventType.SURVEY_NPS, score=False), NPS),
    (wire(EventType.SURVEY_NPS, account_id=""), "account_id: must be a non-empty string"),
    # The first defect in field order is the one reported.
    (wire(event_id="", type="x", ticket_id=""), "event_id: must be a non-empty string"),
    (wire(EventType.SURVEY_CSAT, occurred_at="never", score=9), BAD_TIME),
]


@pytest.mark.parametrize(("value", "error"), CASES)
def test_field_defects(value: dict[str, Any], error: str) -> None:
    result = decode_event(value)
    assert result == InvalidEvent(error, value)
    assert ERROR_FORMAT.match(error)
    try:  # the same defect sent as JSON text, where JSON text can express it
        text = json.dumps(value, allow_nan=False, ensure_ascii=False).encode()
    except (ValueError, UnicodeEncodeError):
        return
    assert decode_event(text) == InvalidEvent(error, value)


@pytest.mark.parametrize(
    ("raw", "error", "kept"),
    [
        (b"{", "(json): invalid JSON: ", "{"),
        ("", "(json): invalid JSON: ", ""),
        ('{"a": 1} x', "(json): invalid JSON: ", '{"a": 1} x'),
        ('{"score": NaN}', "(json): invalid JSON: ", '{"score": NaN}'),
        ("[" * 5000, TOO_DEEP, "[" * 5000),  # the parser stops at its depth limit first
        ("[1, 2]", "(event): must be a JSON object", [1, 2]),
        ("null", "(event): must be a JSON object", None),
        ('"text"', "(event): must be a JSON object", "text"),
        (b"\xff\xfe{}", "(utf-8): invalid start byte at byte 0", "\ufffd\ufffd{}"),
        (b'{"a": "\xc3"}', "(utf-8): invalid continuation byte at byte 7", '{"a": "\ufffd"}'),
        ('{"a": "\ud800"}', "(utf-8): surrogates not allowed at character 7", '{"a": "\ud800"}'),
        ('{"a": "\\ud800"}', "(json): invalid JSON: ", '{"a": "\\ud800"}'),
        (42, "(event): must be a JSON object", 42),
        (None, "(event): must be a JSON object", None),
    ],
)
def test_value_defects(raw: Any, error: str, kept: Any) -> None:
    result = decode_event(raw)
    assert isinstance(result, InvalidEvent)
    assert result.error.startswith(error)
    assert result.raw == kept


TEXT_FIELDS = [
    (EventType.SURVEY_CSAT, "event_id"),
    (EventType.SURVEY_CSAT, "ticket_id"),
    (EventType.TICKET_CREATED, "team"),
    (EventType.TICKET_CREATED, "account_id"),
    (EventType.TICKET_CREATED, "requester_id"),
    (EventType.TICKET_ASSIGNED, "agent_id"),
    (EventType.TICKET_ASSIGNED, "team"),
    (EventType.CONTACT_OUTBOUND, "agent_id"),
    (EventType.SURVEY_NPS, "account_id"),
]


@pytest.mark.parametrize(("event_type", "name"), TEXT_FIELDS)
@pytest.mark.parametrize("letter", ["x", "ü", "\N{CHEQUERED FLAG}"])
def test_text_fields_are_limited_to_200_characters(
    event_type: EventType, name: str, letter: str
) -> None:
    """Characters, not bytes: 200 flags (800 UTF-8 bytes) pass, 201 ASCII letters do not."""
    at_limit = wire(event_type, **{name: letter * 200})
    assert getattr(decoded(at_limit), name) == letter * 200
    over = wire(event_type, **{name: letter * 201})
    error = f"{name}: longer than 200 characters"
    assert decode_event(over) == InvalidEvent(error, over)
    assert decode_event(json.dumps(over).encode()) == InvalidEvent(error, over)


def test_size_limit() -> None:
    text = json.dumps(wire(subject="x" * 200))
    assert isinstance(decode_event(text, max_bytes=len(text)), Event)
    for raw in (text + " ", (text + " ").encode()):
        result = decode_event(raw, max_bytes=len(text))
        assert result == InvalidEvent(f"(event): larger than {len(text)} bytes", text)
    # Characters count by their UTF-8 size: 100 'é' are 200 bytes.
    accented = json.dumps(wire(subject="é" * 100), ensure_ascii=False)
    limit = len(accented) + 50
    assert decode_event(accented, max_bytes=limit).error.startswith("(event): larger than")  # type: ignore[union-attr]
    assert isinstance(decode_event(accented), Event)


def nested(depth: int) -> Any:
    """A value whose arrays and objects nest ``depth`` levels (0: a scalar)."""
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_nesting_depth_limit() -> None:
    # the event is level 1, so its extra field may nest MAX_DEPTH - 1 levels
    assert isinstance(decode_event(wire(subject=nested(MAX_DEPTH - 1))), Event)
    deep = wire(subject=nested(MAX_DEPTH))
    assert decode_event(deep) == InvalidEvent(TOO_DEEP, deep)
    # flat extra fields before and after the deep one do not hide it
    deep_among_flat = wire(aa_note="flat", subject=nested(MAX_DEPTH), zz_tag=3)
    assert decode_event(deep_among_flat) == InvalidEvent(TOO_DEEP, deep_among_flat)
    assert isinstance(decode_event(wire(aa_note="flat", zz_tag=[1, {"k": 2}])), Event)
    assert TOO_DEEP == "(event): nested deeper than 32 levels"
    # from bytes, below and beyond the JSON parser's own limit (200): the same reason
    for depth in (MAX_DEPTH, 300, 10_000):
        text = json.dumps(wire(subject=0))[:-2] + "[" * depth + "]" * depth + "}"
        result = decode_event(text.encode(), max_bytes=10**6)
        assert result == InvalidEvent(TOO_DEEP, json.loads(text) if depth < 100 else text)
    # a bare deep array is refused whole, never a RecursionError
    assert error_of(b"[" * 10_000 + b"]" * 10_000, max_bytes=10**6) == TOO_DEEP


def test_nested_deeper_than() -> None:
    assert not nested_deeper_than(1, 0)
    assert not nested_deeper_than({}, 1) and nested_deeper_than({}, 0)
    assert not nested_deeper_than({"a": [1, {"b": 2}]}, 3)
    assert nested_deeper_than({"a": [1, {"b": []}]}, 3)
    assert nested_deeper_than(nested(100_000), 50)  # iterative: no RecursionError
    assert not nested_deeper_than(nested(100_000), 100_000)


def test_deadletter_record() -> None:
    invalid = decode_event(json.dumps(wire(score=9)))
    assert isinstance(invalid, InvalidEvent)
    record = deadletter_record(invalid, source_topic="support.surveys", partition=2, offset=41)
    assert record == {
        "error": CSAT,
        "event": wire(score=9),
        "source_topic": "support.surveys",
        "partition": 2,
        "offset": 41,
    }
    broken = deadletter_record(
        decode_event(b"{oops"),  # type: ignore[arg-type]
        source_topic=None,
        partition=None,
        offset=None,
    )
    assert broken["event"] == "{oops" and broken["error"].startswith("(json): ")
    assert json.loads(json.dumps(broken)) == broken
    proxied = decode_event(MappingProxyType(wire(score=0)))
    assert isinstance(proxied, InvalidEvent)
    event = deadletter_record(proxied, source_topic=None, partition=None, offset=None)["event"]
    assert type(event) is dict and event == wire(score=0)


# --- properties ----------------------------------------------------------------------------

FIELD_NAMES = frozenset(
    ("event_id", "type", "occurred_at", "ticket_id", "channel", "priority", "team", "agent_id",
     "status", "public", "score", "account_id", "requester_id", "duration_seconds")
)  # fmt: skip
texts = st.text(min_size=1, max_size=12).filter(lambda text: not text.isspace())
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
instants = st.integers(
    parse_rfc3339("2000-01-01T00:00:00Z"), parse_rfc3339("2101-01-01T00:00:00Z") - 1
)
optional_texts = st.none() | texts


@st.composite
def events(draw: st.DrawFn) -> Event:
    event_type = draw(st.sampled_from(list(EventType)))
    fields: dict[str, Any] = {}
    if event_type is EventType.TICKET_CREATED:
        fields.update(
            channel=draw(st.sampled_from(list(Channel))),
            priority=draw(st.sampled_from(list(Priority))),
            team=draw(texts),
            account_id=draw(optional_texts),
            requester_id=draw(optional_texts),
        )
    elif event_type is EventType.TICKET_ASSIGNED:
        fields.update(agent_id=draw(texts), team=draw(optional_texts))
    elif event_type is EventType.TICKET_PRIORITY_CHANGED:
        fields.update(priority=draw(st.sampled_from(list(Priority))))
    elif event_type is EventType.TICKET_STATUS_CHANGED:
        fields.update(status=draw(st.sampled_from(list(Status))))
    elif event_type is EventType.CONTACT_INBOUND:
        fields.update(channel=draw(st.sampled_from(list(Channel))), public=draw(st.booleans()))
    elif event_type is EventType.CONTACT_OUTBOUND:
        fields.update(
            agent_id=draw(texts),
            channel=draw(st.sampled_from(list(Channel))),
            public=draw(st.booleans()),
            duration_seconds=draw(
                st.none() | st.floats(min_value=0, max_value=MAX_DURATION_SECONDS)
            ),
        )
    elif event_type is EventType.SURVEY_CSAT:
        fields.update(score=draw(st.integers(1, 5)))
    else:
        fields.update(score=draw(st.integers(0, 10)), account_id=draw(optional_texts))
    extra_keys = st.text(max_size=10).filter(lambda key: key not in FIELD_NAMES)
    extra = draw(st.dictionaries(extra_keys, json_values, max_size=3))
    return Event(
        event_id=draw(texts),
        type=event_type,
        occurred_at=draw(instants),
        ticket_id=draw(texts),
        extra=extra,
        **fields,
    )


@given(events())
def test_round_trip(event: Event) -> None:
    value = event.to_json()
    for form in (value, json.dumps(value), json.dumps(value, ensure_ascii=False).encode()):
        result = decode_event(form)
        assert result == event
        assert isinstance(result, Event) and result.extra == event.extra


def assert_well_formed(result: Event | InvalidEvent) -> None:
    assert isinstance(result, Event | InvalidEvent)
    if isinstance(result, InvalidEvent):
        assert ERROR_FORMAT.match(result.error), result.error


@given(st.binary(max_size=300))
def test_never_raises_on_bytes(raw: bytes) -> None:
    assert_well_formed(decode_event(raw))


@given(st.text(max_size=300))
def test_never_raises_on_text(raw: str) -> None:
    assert_well_formed(decode_event(raw))


@given(json_values)
def test_never_raises_on_json(value: Any) -> None:
    assert_well_formed(decode_event(json.dumps(value)))
    if isinstance(value, Mapping):
        assert_well_formed(decode_event(value))


@given(events(), st.sampled_from(sorted(FIELD_NAMES)), json_values)
def test_never_raises_on_damaged_events(event: Event, name: str, value: Any) -> None:
    damaged = event.to_json()
    damaged[name] = value
    result = decode_event(json.dumps(damaged))
    assert_well_formed(result)
    if isinstance(result, Event):  # whatever passed holds the contract's types
        assert result.type.value == damaged["type"]
        assert isinstance(result.event_id, str) and result.event_id.strip()
        assert result.score is None or type(result.score) is int


TIMESTAMP_LIKE = (
    r"\A\d{4}-[01]\d-[0-3]\d[Tt ][0-2]\d:[0-6]\d:[0-6]\d(\.\d{1,10})?"
    r"([Zz]|[+-][0-2]\d:[0-5]\d)\Z"
)


@given(st.from_regex(TIMESTAMP_LIKE))
def test_timestamp_fast_path_agrees_with_parse_rfc3339(text: str) -> None:
    try:
        expected: int | type[Exception] = parse_rfc3339(text)
    except ValueError:
        expected = ValueError
    with contextlib.suppress(ValueError):  # the minute seen before: the cached-minute path
        parse_timestamp(text[:16] + ":00Z")
    for _ in range(2):  # the second time, a canonical minute comes from the cache
        try:
            got: int | type[Exception] = parse_timestamp(text)
        except ValueError:
            got = ValueError
        assert got == expected


@given(instants)
def test_timestamp_fast_path_on_canonical_forms(instant: int) -> None:
    from streams.domain.instant import format_rfc3339

    text = format_rfc3339(instant)
    assert parse_timestamp(text) == parse_rfc3339(text) == instant


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-02T09:15:60Z",
        "2026-11-02T09:15:69.5Z",
        "2026-11-02T09:15:5Z",
        "2026-11-02T09:15:05.Z",
        "2026-11-02T09:15:05.1234567890Z",
        "2026-11-02T09:15:0\u0665Z",  # an Arabic-Indic digit
        "2026-11-02T09:15:05+Z",
        "2026-11-02T09:15:05.12a4Z",
        "2026-11-02T09:15:05.000001Z",
        "2026-11-02T09:15:59.999999999Z",
    ],
)
def test_timestamp_with_a_cached_minute_agrees_with_parse_rfc3339(text: str) -> None:
    parse_timestamp("2026-11-02T09:15:00Z")  # caches the minute
    try:
        expected: int | type[Exception] = parse_rfc3339(text)
    except ValueError:
        expected = ValueError
    try:
        got: int | type[Exception] = parse_timestamp(text)
    except ValueError:
        got = ValueError
    assert got == expected
