"""The pure parts of ``ticketpulse deadletter``: --since, reading a record, table and summary."""

from __future__ import annotations

import json

import pytest

from streams.deadletter import DeadLetter, Table, since_instant, summarize, summary_lines
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339

NOW = parse_rfc3339("2026-11-02T12:00:00Z")


def record(error: str, event: object, *, source: str | None = "support.tickets") -> bytes:
    value = {"error": error, "event": event, "source_topic": source, "partition": 2, "offset": 7}
    return json.dumps(value).encode()


def test_since_takes_a_duration_back_from_now_or_an_instant() -> None:
    assert since_instant("15m", NOW) == NOW - 15 * MICROS_PER_MINUTE
    assert since_instant("2h", NOW) == parse_rfc3339("2026-11-02T10:00:00Z")
    assert since_instant("2026-11-02T09:30:00+01:00", NOW) == parse_rfc3339("2026-11-02T08:30:00Z")
    with pytest.raises(ValueError, match="neither a duration like 15m or 2h nor an RFC 3339"):
        since_instant("yesterday", NOW)


def test_a_record_is_read_with_its_place_and_source() -> None:
    letter = DeadLetter.from_record(1_000, 1, 42, record("priority: must be one of", {"a": 1}))
    assert letter.at == 1_000_000
    assert (letter.error, letter.event, letter.source) == (
        "priority: must be one of",
        {"a": 1},
        "support.tickets/2@7",
    )
    assert letter.as_json()["deadletter_offset"] == 42
    assert DeadLetter.from_record(0, 0, 0, record("x: y", "raw", source=None)).source == "-"


@pytest.mark.parametrize("value", [b"\xff not json", b'{"no": "error"}', b"[]", None])
def test_a_value_that_is_no_dead_letter_is_shown_not_dropped(value: bytes | None) -> None:
    letter = DeadLetter.from_record(0, 0, 5, value)
    assert letter.error == "(deadletter): not a dead-letter record"
    assert letter.event == (value or b"").decode("utf-8", errors="replace")


def test_the_reason_leaves_out_parser_positions() -> None:
    errors = [
        "(json): invalid JSON: EOF while parsing a string at line 1 column 32",
        "(json): invalid JSON: EOF while parsing a string at line 3 column 2",
        "(utf-8): invalid start byte at byte 17",
        "type: unknown event type 'ticket.merged'",
    ]
    letters = [DeadLetter.from_record(i, 0, i, record(e, None)) for i, e in enumerate(errors)]
    counts = summarize(letters)
    assert [(c.reason, c.count) for c in counts] == [
        ("(json): invalid JSON: EOF while parsing a string", 2),
        ("(utf-8): invalid start byte", 1),
        ("type: unknown event type 'ticket.merged'", 1),
    ]
    assert summary_lines(counts)[-1].split() == ["4", "dead", "letters,", "3", "reasons"]
    assert summary_lines([]) == ["no dead letters"]


def test_a_table_row_cuts_a_long_event() -> None:
    event = {"event_id": "E-1", "comment": "x" * 200}
    letter = DeadLetter.from_record(1_793_000_000_123, 0, 0, record("score: bad", event))
    table = Table.fitting([letter])
    row = table.row(letter)
    assert row.startswith("2026-10-26T07:33:20Z  ")  # to the second
    assert "support.tickets/2@7" in row
    assert row.endswith("…")
    assert len(row.split("  ")[-1]) == 60
