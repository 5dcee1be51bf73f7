"""An account's record in Redis: compact (version 2), read back as the timeline it was, and a
version 1 record still read."""

from __future__ import annotations

import json

import pytest

from streams.domain.account_decode import decode_any
from streams.domain.account_events import AccountEvent
from streams.domain.account_timeline import AccountTimeline
from streams.errors import RecordVersionError
from streams.live.account_records import decode_account, encode_account


def event(n: int, kind: str, at: str, **fields: object) -> AccountEvent:
    value = {
        "event_id": f"e{n}",
        "type": f"account.{kind}",
        "occurred_at": at,
        "account_id": "A1",
        **fields,
    }
    decoded = decode_any(value)
    assert isinstance(decoded, AccountEvent), decoded
    return decoded


LIFE = [
    event(1, "lead_created", "2026-11-01T10:00:00.5Z", source="referral", segment="ent",
          manager="ann"),
    event(2, "touched", "2026-11-02T10:00:00Z", channel="email", duration_seconds=1.25),
    event(3, "touched", "2026-11-02T10:00:00Z", channel="phone", manager="bob"),
    event(4, "assigned", "2026-11-03T10:00:00Z", manager="cid", segment="mid"),
    event(5, "converted", "2026-11-04T10:00:00Z", mrr=120.5, segment="mid"),
    event(6, "mrr_changed", "2026-11-05T10:00:00Z", mrr=100, reason="downgrade"),
    event(7, "churned", "2026-11-06T10:00:00Z", voluntary=False),
    event(8, "converted", "2026-11-07T10:00:00Z", mrr=90),
    event(9, "churned", "2026-11-08T10:00:00Z"),
]  # fmt: skip


def timeline(events: list[AccountEvent]) -> AccountTimeline:
    out = AccountTimeline("A1")
    for e in events:
        out.add(e)
    return out


def test_a_record_reads_back_as_the_timeline_it_was() -> None:
    blob = encode_account(timeline(LIFE))
    assert json.loads(blob)["v"] == 2
    assert decode_account("A1", blob).events == timeline(LIFE).events


def test_rows_hold_only_their_types_fields_and_times_since_the_previous_row() -> None:
    rows = json.loads(encode_account(timeline(LIFE)))["e"]
    day = 86_400_000_000
    assert rows[1] == ["e2", 2, day - 500_000, "email", 1_250_000]  # no empty slots
    assert rows[2] == ["e3", 2, 0, "phone", None, "bob"]
    assert rows[6] == ["e7", 5, day, 0]  # involuntary
    assert rows[8] == ["e9", 5, day]  # voluntary: the default, left out


def test_a_churns_free_text_reason_is_not_kept() -> None:
    churn = event(1, "churned", "2026-11-06T10:00:00Z", reason="moved to a competitor")
    (kept,) = decode_account("A1", encode_account(timeline([churn]))).events
    assert kept.reason is None
    assert kept.voluntary


def test_a_version_1_record_is_still_read() -> None:
    v1 = {
        "v": 1,
        "e": [
            ["e1", 0, 1_793_527_200_500_000, "referral", "ent", "ann"],
            ["e2", 2, 1_793_613_600_000_000, None, None, None, "email", 1_250_000],
            ["e7", 5, 1_793_959_200_000_000, None, None, None, None, None, None, None, 0],
        ],
    }
    events = decode_account("A1", json.dumps(v1).encode()).events
    assert events == [LIFE[0], LIFE[1], LIFE[6]]


def test_an_unknown_version_names_the_account() -> None:
    with pytest.raises(RecordVersionError, match="A1"):
        decode_account("A1", b'{"v": 3, "e": []}')
