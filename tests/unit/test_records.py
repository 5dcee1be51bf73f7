"""Ticket records: what the worker stores in Redis and replay keeps for closed tickets."""

from __future__ import annotations

import json

from streams.domain.decode import decode_event
from streams.domain.events import Channel, Event
from streams.domain.records import decode_record, encode_record
from streams.domain.timeline import Timeline

NOW = 1_794_000_000_000_000

LINES = [
    '{"event_id":"e1","type":"ticket.created","occurred_at":"2026-11-02T09:00:00Z",'
    '"ticket_id":"T-ø","channel":"chat","priority":"high","team":"Zürich-support"}',
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
    assert [len(row) for row in data["e"]] == [9, 9, 9, 11, 9, 10]  # only the call grew
    data["e"] = [row[:10] for row in data["e"]]  # the row of an earlier version
    restored, evaluated_at = decode_record("T-ø", json.dumps(data).encode())
    assert evaluated_at == NOW
    assert [e.event_id for e in restored.events] == [e.event_id for e in original.events]
    assert all(e.duration_seconds is None for e in restored.events)
    assert restored.events[3].channel is Channel.PHONE and restored.events[3].public
