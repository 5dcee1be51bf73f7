"""The pipeline benchmark's pure helpers: summaries, percentiles, count latencies, diffs."""

from __future__ import annotations

import math
from datetime import timedelta

from bench.pipeline.dataset import shift_delta, shift_line, shift_text
from bench.pipeline.stats import (
    Summary,
    count_latencies,
    percentile,
    ratio,
    snapshot_diff,
    summarise_profile,
    table,
)
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339


def test_summary_median_and_range() -> None:
    summary = Summary.of([3.0, 1.0, 2.0])
    assert (summary.median, summary.low, summary.high, summary.count) == (2.0, 1.0, 3.0, 3)
    assert summary.text(",.0f") == "2 (1..3)"
    assert Summary.of([1234.0]).text() == "1,234"
    assert Summary.of([]).text() == "n/a"


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 99) == 5
    assert percentile(list(range(101)), 99) == 99
    assert math.isnan(percentile([], 50))


def test_ratio_of_nothing_is_nan() -> None:
    assert ratio(1, 4) == 0.25
    assert math.isnan(ratio(1, 0))
    assert math.isnan(ratio(math.nan, 2))


def test_count_latencies_first_reading_at_or_above_k() -> None:
    produced = [10.0, 10.5, 11.0, 12.0]
    seen = [(10.2, 1), (11.4, 3), (11.5, 2), (12.9, 3)]  # a stale read drops to 2
    latencies, missing = count_latencies(produced, seen)
    assert [round(x, 3) for x in latencies] == [0.2, 0.9, 0.4]
    assert missing == 1
    later, _ = count_latencies(produced, seen, since=10.6)
    assert [round(x, 3) for x in later] == [0.4]


def test_snapshot_diff_names_paths() -> None:
    expected = {"as_of": "t", "windows": {"1h": {"n": 2, "gone": 1}}, "list": [1, 2]}
    actual = {"as_of": "t", "windows": {"1h": {"n": 3, "new": 0}}, "list": [1, 5]}
    total, lines = snapshot_diff(expected, actual)
    assert total == 4
    assert "$.windows.1h.n: expected 2, got 3" in lines
    assert any(line.startswith("$.windows.1h.gone: missing") for line in lines)
    assert any(line.startswith("$.windows.1h.new: unexpected") for line in lines)
    assert "$.list[1]: expected 2, got 5" in lines
    assert snapshot_diff(expected, expected) == (0, [])


def test_profile_own_and_inclusive_shares() -> None:
    raw = "\n".join(
        [
            "main (/w/streams/a.py:1);work (/w/streams/b.py:5);loads (json/decoder.py:3) 3",
            "main (/w/streams/a.py:1);work (/w/streams/b.py:6) 1",
            "main (/w/streams/a.py:2);select (selectors.py:9) 4",
        ]
    )
    profile = summarise_profile(raw, top=5)
    assert profile.samples == 8
    assert dict(profile.own) == {
        "select (selectors.py)": 4 / 8,
        "loads (json/decoder.py)": 3 / 8,
        "work (/w/streams/b.py)": 1 / 8,
    }
    assert "main (/w/streams/a.py)" not in dict(profile.inclusive)  # in every sample
    assert dict(profile.inclusive)["work (/w/streams/b.py)"] == 0.5


def test_table_is_markdown() -> None:
    assert table(["a", "b"], [[1, 2]]) == ["| a | b |", "|---|---|", "| 1 | 2 |"]


def test_shift_keeps_offset_style_and_whole_minutes() -> None:
    delta = timedelta(minutes=90)
    assert shift_text("2026-11-02T08:00:00Z", delta) == "2026-11-02T09:30:00Z"
    assert shift_text("2026-11-02T09:00:00.250+01:00", delta) == "2026-11-02T10:30:00.250000+01:00"
    assert shift_text("yesterday", delta) is None
    line = '{"event_id":"e","occurred_at":"2026-11-02T08:00:00Z","ticket_id":"T"}'
    assert '"occurred_at":"2026-11-02T09:30:00Z"' in shift_line(line, delta)
    assert shift_line("not json", delta) == "not json"
    latest = parse_rfc3339("2026-11-02T08:00:30Z")
    now = parse_rfc3339("2026-11-05T10:17:45Z")
    moved = latest + int(shift_delta(latest, now).total_seconds() * 1_000_000)
    assert moved == parse_rfc3339("2026-11-05T10:15:30Z")
    assert int(shift_delta(latest, now).total_seconds() * 1_000_000) % MICROS_PER_MINUTE == 0
