"""Ticket records: what the worker stores in Redis and replay keeps for closed tickets."""

from __future__ import annotations

import json

import pytest

from streams.domain.decode import decode_event
from streams.domain.events import Channel, Event
from streams.domain.records import RECORD_VERSION, decode_record, encode_record
from streams.domain.timeline import Timeline
from streams.errors import RecordVersionError

NOW = 1_794_000_000_000_000

LINES = [
    '{"event_id":"e1","type":"ticket.created","occurred_at":"2026-11-02T09:00:00Z",'
    '"ticket_id":"T-ø","channel":"chat","priority":"high","team":"Zürich-support",'
    '"account_id":"acc-1","requester_id":"req-☃","subject":"not kept"}',
    '{"event_id":"e2","type":"ticket.assigned","occurred_at":"2026-11-02T09:01:00Z",'
    '"ticket_id":"T-ø","agent_id":"ag-☃","team":"Zürich-support"}',
    '{"event_id":"e3","type":"contact.outbound","occurred_at":"2026-11-02T09:02:00.5Z",'
    '"ticket_id":"T-ø","channel":"chat","agent_id":"ag-☃","public":true}',
    '{"event_id":"e3c","type":"contact.outbound","occurred_at":"2026-11-02T09:02:30Z",'
    '"ticket_id":"T-ø","channel":"phone","agent_id":"ag-☃","duration_seconds":312.5}',
    '{"event_id":"e4","type":"ticket.status_changed","occurred_at":"2026-11-02T09:03:00Z",'
    '"ticket_id":"T-ø","status":"solved"}',
    '{"event_id":"e5","type":"survey.csat","occurred_at":"2026-11-02T10:00:00Z",'
    '"ticket_id":"T-ø","score":4}',
]


def timeline() -> Timeline:
    result = Timeline("T-ø")
    for line in LINES:
        event = decode_event(line)
        assert isinstance(event, Event), event
        result.add(event)
    return result


def test_a_record_gives_back_the_timeline_and_its_instant() -> None:
    original = timeline()
    restored, evaluated_at = decode_record("T-ø", encode_record(original, NOW))
    assert evaluated_at == NOW
    assert restored.events == original.events
    assert "Zürich-support".encode() in encode_record(original, NOW)  # UTF-8, not \\u escapes


def test_records_written_by_earlier_versions_still_decode() -> None:
    """Before pydantic-core, records were json.dumps output: non-ASCII as \\u escapes."""
    original = timeline()
    earlier = json.dumps(json.loads(encode_record(original, NOW)), separators=(",", ":"))
    assert "\\u00fc" in earlier
    restored, evaluated_at = decode_record("T-ø", earlier.encode())
    assert (restored.events, evaluated_at) == (original.events, NOW)


def test_a_call_keeps_its_duration_and_records_without_durations_still_load() -> None:
    """Handle time needs a call's duration_seconds; a record written before durations were
    kept (rows of at most 10 fields) loads with no durations: its calls give no sample."""
    original = timeline()
    restored, _ = decode_record("T-ø", encode_record(original, NOW))
    assert [e.duration_seconds for e in restored.events] == [None, None, None, 312.5, None, None]
    data = json.loads(encode_record(original, NOW))
    assert [len(row) for row in data["e"]] == [13, 9, 9, 11, 9, 10]  # the call, the creation
    del data["v"]
    data["e"] = [row[:10] for row in data["e"]]  # the row of an earlier version
    restored, evaluated_at = decode_record("T-ø", json.dumps(data).encode())
    assert evaluated_at == NOW
    assert [e.event_id for e in restored.events] == [e.event_id for e in original.events]
    assert all(e.duration_seconds is None for e in restored.events)
    assert restored.events[3].channel is Channel.PHONE and restored.events[3].public


# Version 1 records, as earlier versions wrote them (no "v"): rows of 10 fields (before
# durations), 11 (a call's duration) and 12 (then the account id).
V1_ROWS_10 = (
    '{"n":1794000000000000,"e":[["e1",0,1793610000000000,"chat","high","ops"],'
    '["e3",5,1793610120500000,"chat",null,null,"ag-1",null,1]],"r":["e9"]}'
)
V1_ROWS_11 = (
    '{"n":1794000000000000,"e":[["e1",0,1793610000000000,"chat","high","ops"],'
    '["e3",5,1793610150000000,"phone",null,null,"ag-1",null,1,null,312.5]]}'
)
V1_ROWS_12 = (
    '{"n":1794000000000000,"e":[["e1",0,1793610000000000,"chat","high","ops",'
    'null,null,1,null,null,"acc-1"],["e5",6,1793613600000000,null,null,null,null,null,1,4]]}'
)


@pytest.mark.parametrize("blob", [V1_ROWS_10, V1_ROWS_11, V1_ROWS_12])
def test_version_1_records_of_every_row_width_read_as_before(blob: str) -> None:
    restored, evaluated_at = decode_record("T1", blob.encode())
    assert evaluated_at == NOW
    created = restored.events[0]
    assert (created.event_id, created.type.value, created.team) == ("e1", "ticket.created", "ops")
    assert created.requester_id is None  # version 1 never kept it
    assert created.account_id == ("acc-1" if blob is V1_ROWS_12 else None)
    second = restored.events[1]
    assert second.duration_seconds == (312.5 if blob is V1_ROWS_11 else None)
    assert second.score == (4 if blob is V1_ROWS_12 else None)
    assert restored.event_ids >= {"e1", second.event_id}
    # rewritten, it is a version 2 record of the same events
    rewritten = json.loads(encode_record(restored, NOW))
    assert rewritten["v"] == RECORD_VERSION == 2
    assert decode_record("T1", encode_record(restored, NOW))[0].events == restored.events


def test_a_version_1_record_keeps_its_refused_ids() -> None:
    restored, _ = decode_record("T1", V1_ROWS_10.encode())
    assert "e9" in restored.event_ids and len(restored.events) == 2


def test_every_record_carries_its_version_and_every_contract_field_but_the_key() -> None:
    """Version 2 keeps requester_id (and account_id, duration_seconds): every field of the
    event contract the KPIs may read; unknown fields (``extra``) are deliberately left out."""
    original = timeline()
    blob = encode_record(original, NOW)
    assert json.loads(blob)["v"] == RECORD_VERSION
    assert b"not kept" not in blob
    restored, _ = decode_record("T-ø", blob)
    created = restored.events[0]
    assert (created.account_id, created.requester_id) == ("acc-1", "req-☃")
    assert created.extra == {} and original.events[0].extra == {"subject": "not kept"}
    fields = [n for n in created._NAMES if n != "ticket_id"]
    for old, new in zip(original.events, restored.events, strict=True):
        assert [getattr(new, n) for n in fields] == [getattr(old, n) for n in fields]


@pytest.mark.parametrize("version", [3, 99, "2", None])
def test_a_record_of_an_unknown_version_is_a_clear_error(version: object) -> None:
    data = json.loads(encode_record(timeline(), NOW))
    data["v"] = version
    with pytest.raises(RecordVersionError, match=r"T-ø.*record version .* not known"):
        decode_record("T-ø", json.dumps(data).encode())


def test_a_row_wider_than_its_version_is_refused_not_misread() -> None:
    """A version 1 record cannot hold a 13th field: reading one as a requester id would be a
    silent misread."""
    data = json.loads(V1_ROWS_12)
    data["e"][0].append("req-1")
    with pytest.raises(ValueError, match="13 fields"):
        decode_record("T1", json.dumps(data).encode())
