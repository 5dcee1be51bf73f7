"""Day, hour and minute buckets: any whole-minute window equals a brute-force sum of facts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.domain.tiered_buckets import (
    MICROS_PER_DAY,
    MICROS_PER_HOUR,
    Sums,
    TieredBuckets,
    bucket_starts,
)

BASE = parse_rfc3339("2026-09-01T00:00:00Z")
SPAN = 100 * MICROS_PER_DAY
ROWS = [("overall", ""), ("segment", "smb"), ("segment", "ent")]

Fact = tuple[int, tuple[tuple[str, str], ...], tuple[tuple[str, int], ...]]

facts_strategy = st.lists(
    st.tuples(
        st.one_of(
            st.integers(0, SPAN - 1),  # anywhere, to the microsecond
            # near hour and day boundaries, where the levels meet
            st.builds(
                lambda d, h, s: d * MICROS_PER_DAY + h * MICROS_PER_HOUR + s,
                st.integers(0, 99),
                st.sampled_from([0, 1, 23]),
                st.integers(-MICROS_PER_MINUTE, MICROS_PER_MINUTE),
            ).map(lambda t: min(max(t, 0), SPAN - 1)),
        ),
        st.lists(st.sampled_from(ROWS), min_size=1, max_size=3, unique=True).map(tuple),
        st.lists(
            st.tuples(st.sampled_from(["n", "m"]), st.integers(-3, 5)), min_size=1, max_size=2
        ).map(tuple),
    ),
    max_size=40,
)
minute_strategy = st.one_of(
    st.integers(0, SPAN // MICROS_PER_MINUTE),
    st.builds(
        lambda d, m: d * 24 * 60 + m, st.integers(0, 100), st.sampled_from([0, 1, 59, 60, 1439])
    ),
).map(lambda m: BASE + m * MICROS_PER_MINUTE)


def brute_force(facts: list[Fact], start: int, end: int) -> Sums:
    sums: Sums = {}
    for time, rows, increments in facts:
        if not start <= BASE + time < end:
            continue
        for row in rows:
            for name, value in increments:
                counters = sums.setdefault(row, {})
                counters[name] = counters.get(name, 0) + value
    return {
        row: {n: v for n, v in counters.items() if v}
        for row, counters in sums.items()
        if any(counters.values())
    }


def filled(facts: list[Fact]) -> TieredBuckets:
    buckets = TieredBuckets()
    for time, rows, increments in facts:
        buckets.add(BASE + time, rows, increments, 1)
    return buckets


@settings(max_examples=400, deadline=None)
@given(facts_strategy, minute_strategy, minute_strategy)
def test_any_window_equals_the_brute_force_sum(facts: list[Fact], a: int, b: int) -> None:
    start, end = min(a, b), max(a, b)
    assert filled(facts).window(start, end) == brute_force(facts, start, end)


@settings(max_examples=200, deadline=None)
@given(facts_strategy, minute_strategy, st.sampled_from([7, 30, 90]))
def test_the_contract_windows_at_any_as_of(facts: list[Fact], as_of: int, days: int) -> None:
    start = as_of - days * MICROS_PER_DAY
    assert filled(facts).window(start, as_of) == brute_force(facts, start, as_of)


@settings(max_examples=200, deadline=None)
@given(facts_strategy, facts_strategy, minute_strategy, minute_strategy)
def test_retracting_facts_leaves_the_others(
    kept: list[Fact], retracted: list[Fact], a: int, b: int
) -> None:
    buckets = filled(kept + retracted)
    for time, rows, increments in retracted:
        buckets.add(BASE + time, rows, increments, -1)
    start, end = min(a, b), max(a, b)
    assert buckets.window(start, end) == brute_force(kept, start, end)
    if not kept:
        assert buckets.stored() == (0, 0, 0)  # nothing left behind


def test_a_busy_row_keeps_days_and_hours_with_its_minutes_inside() -> None:
    stamps = [BASE + m * MICROS_PER_MINUTE for m in range(0, 90 * 24 * 60, 7)]
    buckets = TieredBuckets()
    for stamp in stamps:
        buckets.add(stamp, [ROWS[0]], [("n", 1)], 1)
    assert buckets.stored() == (90, 90 * 24, len(stamps))
    as_of = BASE + 90 * MICROS_PER_DAY - 17 * MICROS_PER_MINUTE
    start = as_of - 30 * MICROS_PER_DAY
    expected = sum(1 for stamp in stamps if start <= stamp < as_of)
    assert buckets.window(start, as_of) == {ROWS[0]: {"n": expected}}


def test_an_hour_long_window_across_an_hour_boundary() -> None:
    # [00:01, 01:01): two partial hours and no whole one (once read as one hour's minutes)
    buckets = filled([(0, (ROWS[0],), (("n", 1),))])
    start = BASE + MICROS_PER_MINUTE
    assert buckets.window(start, start + MICROS_PER_HOUR) == {}
    assert buckets.window(BASE, BASE + MICROS_PER_HOUR) == {ROWS[0]: {"n": 1}}


def test_rows_and_increments_may_be_iterators() -> None:
    buckets = TieredBuckets()
    buckets.add(BASE, iter(ROWS[:2]), iter([("n", 2)]), 1)
    assert buckets.window(BASE, BASE + MICROS_PER_MINUTE) == {ROWS[0]: {"n": 2}, ROWS[1]: {"n": 2}}
    assert buckets.window(BASE, BASE + MICROS_PER_DAY) == {ROWS[0]: {"n": 2}, ROWS[1]: {"n": 2}}
    assert bucket_starts(BASE + MICROS_PER_DAY + MICROS_PER_HOUR + 90_000_000) == (
        BASE + MICROS_PER_DAY,
        BASE + MICROS_PER_DAY + MICROS_PER_HOUR,
        BASE + MICROS_PER_DAY + MICROS_PER_HOUR + MICROS_PER_MINUTE,
    )


def test_bounds_must_be_whole_minutes() -> None:
    with pytest.raises(ValueError, match="whole UTC minutes"):
        TieredBuckets().window(BASE + 1, BASE + MICROS_PER_MINUTE)


def test_prune_forgets_whole_days_only() -> None:
    buckets = TieredBuckets()
    buckets.add(BASE + 5 * MICROS_PER_MINUTE, [ROWS[0]], [("n", 1)], 1)
    buckets.add(BASE + MICROS_PER_DAY + 5, [ROWS[0]], [("n", 1)], 1)
    buckets.prune(BASE + MICROS_PER_DAY + MICROS_PER_HOUR)
    assert buckets.window(BASE, BASE + 2 * MICROS_PER_DAY) == {ROWS[0]: {"n": 1}}
