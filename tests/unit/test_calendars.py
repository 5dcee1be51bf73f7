"""Business-hours arithmetic: hand-checked cases, DST days, and invariants against a brute force.

The brute force (`_open_minutes`) asks zoneinfo for the wall-clock reading of every minute and
checks it against the open hours: slow, but independent of the day/interval machinery.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from streams.domain.calendars import (
    ALWAYS_OPEN,
    SEARCH_LIMIT_DAYS,
    WEEKDAYS,
    BusinessCalendar,
    Shift,
    parse_shift,
)
from streams.domain.instant import (
    MICROS_PER_MINUTE,
    Instant,
    from_datetime,
    parse_rfc3339,
)

MINUTE = MICROS_PER_MINUTE
HOUR = 60 * MINUTE
DAY = 24 * HOUR

WEEKDAYS_9_TO_5 = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu")}
OFFICE = BusinessCalendar.build(
    "office",
    "Europe/Berlin",
    {**WEEKDAYS_9_TO_5, "fri": ["09:00-13:00", "14:00-17:00"]},
    ["2026-12-24", "2026-12-25"],
)


def at(text: str) -> Instant:
    return parse_rfc3339(text)


def berlin(text: str) -> Instant:
    """A Berlin wall-clock time (unambiguous ones only) as an instant."""
    return from_datetime(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Berlin")))


def hours(micros: int) -> float:
    return micros / HOUR


# -- shifts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [("09:00-17:00", 540, 1020), ("00:00-24:00", 0, 1440), (" 13:30 - 14:15 ", 810, 855)],
)
def test_parse_shift(text: str, start: int, end: int) -> None:
    assert parse_shift(text) == Shift(start, end)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("17:00-09:00", "'17:00-09:00' ends before it starts"),
        ("09:00-09:00", "'09:00-09:00' is empty"),
        ("9-17", "'9-17' is not an interval like 09:00-17:00"),
        ("09:00-25:00", "'09:00-25:00': 25:00 is not a time from 00:00 to 24:00"),
        ("09:60-10:00", "'09:60-10:00': 09:60 is not a time from 00:00 to 24:00"),
        ("24:00-24:00", "'24:00-24:00' starts at 24:00, the end of the day"),
    ],
)
def test_parse_shift_rejects(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_shift(text)
    assert str(caught.value) == problem


def test_calendar_without_open_hours_is_rejected() -> None:
    with pytest.raises(ValueError, match="no open hours"):
        BusinessCalendar("closed", ZoneInfo("UTC"), ((),) * 7)


def test_overlapping_shifts_are_rejected() -> None:
    with pytest.raises(ValueError, match="overlaps"):
        BusinessCalendar.build("x", "UTC", {"mon": ["09:00-13:00", "12:00-17:00"]})


def test_touching_shifts_count_as_one_stretch() -> None:
    calendar = BusinessCalendar.build("x", "UTC", {"mon": ["09:00-13:00", "13:00-17:00"]})
    assert calendar.open_intervals(date(2026, 11, 2)) == (
        (at("2026-11-02T09:00:00Z"), at("2026-11-02T17:00:00Z")),
    )


# -- the spec's office calendar --------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected_hours"),
    [
        ("2026-11-02T10:00", "2026-11-02T12:00", 2),  # inside one shift
        ("2026-11-02T07:00", "2026-11-02T10:00", 1),  # starts before opening
        ("2026-11-02T18:00", "2026-11-03T10:00", 1),  # starts after closing
        ("2026-11-06T16:00", "2026-11-09T10:00", 2),  # over the weekend
        ("2026-11-06T12:00", "2026-11-06T15:00", 2),  # across the Friday lunch break
        ("2026-11-07T10:00", "2026-11-08T20:00", 0),  # weekend only
        ("2026-12-23T16:00", "2026-12-28T10:00", 2),  # two holidays and a weekend
        ("2026-11-02T00:00", "2026-11-09T00:00", 39),  # a whole week: 4 x 8h + 7h
    ],
)
def test_office_elapsed(start: str, end: str, expected_hours: int) -> None:
    assert OFFICE.elapsed(berlin(start), berlin(end)) == expected_hours * HOUR


@pytest.mark.parametrize(
    ("start", "amount", "expected"),
    [
        ("2026-11-02T10:00", 2 * HOUR, "2026-11-02T12:00"),
        ("2026-11-02T07:00", 1 * HOUR, "2026-11-02T10:00"),  # the clock waits for opening
        ("2026-11-02T09:00", 8 * HOUR, "2026-11-02T17:00"),  # closing time, not next morning
        ("2026-11-06T16:00", 4 * HOUR, "2026-11-09T12:00"),  # over the weekend
        ("2026-11-06T12:30", 1 * HOUR, "2026-11-06T14:30"),  # lunch does not count
        ("2026-12-23T16:00", 2 * HOUR, "2026-12-28T10:00"),  # holidays do not count
        # 3d = 72 business hours: 39h a week, so 33h into the second week.
        ("2026-11-02T09:00", 3 * DAY, "2026-11-13T10:00"),
        ("2026-11-07T10:00", 0, "2026-11-07T10:00"),  # zero: start, even when closed
    ],
)
def test_office_add(start: str, amount: int, expected: str) -> None:
    assert OFFICE.add(berlin(start), amount) == berlin(expected)


def test_add_rejects_a_negative_amount() -> None:
    with pytest.raises(ValueError):
        OFFICE.add(berlin("2026-11-02T10:00"), -1)
    with pytest.raises(ValueError):
        ALWAYS_OPEN.add(0, -1)


def test_always_open_counts_calendar_time() -> None:
    start = at("2026-11-07T10:00:00Z")
    assert ALWAYS_OPEN.elapsed(start, start + 5 * HOUR) == 5 * HOUR
    assert ALWAYS_OPEN.elapsed(start + 5 * HOUR, start) == 0
    assert ALWAYS_OPEN.add(start, 3 * DAY) == start + 3 * DAY


def test_elapsed_is_zero_for_an_empty_or_reversed_range() -> None:
    start = berlin("2026-11-02T10:00")
    assert OFFICE.elapsed(start, start) == 0
    assert OFFICE.elapsed(start + HOUR, start) == 0


def test_holiday_only_stretch_ends_the_search() -> None:
    first_monday = date(2026, 1, 5)
    mondays = [first_monday + timedelta(weeks=n) for n in range(SEARCH_LIMIT_DAYS // 7 + 2)]
    calendar = BusinessCalendar.build("rare", "UTC", {"mon": ["09:00-10:00"]}, mondays)
    with pytest.raises(ValueError, match="too little open time"):
        calendar.add(at("2026-01-01T00:00:00Z"), HOUR)


# -- daylight saving time ------------------------------------------------------------------


def test_berlin_spring_forward_gap_inside_a_shift() -> None:
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST; 01:00-05:00 local is 3 real hours.
    calendar = BusinessCalendar.build("night", "Europe/Berlin", {"sun": ["01:00-05:00"]})
    assert calendar.open_intervals(date(2026, 3, 29)) == (
        (at("2026-03-29T00:00:00Z"), at("2026-03-29T03:00:00Z")),
    )
    day = (berlin("2026-03-29T00:00"), berlin("2026-03-30T00:00"))
    assert calendar.elapsed(*day) == 3 * HOUR
    assert calendar.add(berlin("2026-03-29T00:00"), 2 * HOUR) == berlin("2026-03-29T04:00")


def test_berlin_boundaries_inside_the_gap_map_to_the_instant_after_it() -> None:
    transition = at("2026-03-29T01:00:00Z")  # 02:00 CET == 03:00 CEST
    starts_in_gap = BusinessCalendar.build("a", "Europe/Berlin", {"sun": ["02:30-04:00"]})
    ends_in_gap = BusinessCalendar.build("b", "Europe/Berlin", {"sun": ["00:00-02:30"]})
    inside_gap = BusinessCalendar.build("c", "Europe/Berlin", {"sun": ["02:00-03:00"]})
    spring = date(2026, 3, 29)
    assert starts_in_gap.open_intervals(spring) == ((transition, transition + HOUR),)
    assert ends_in_gap.open_intervals(spring) == ((transition - 2 * HOUR, transition),)
    assert inside_gap.open_intervals(spring) == ()


def test_berlin_office_hours_keep_their_wall_clock_across_spring_forward() -> None:
    friday, monday = berlin("2026-03-27T16:00"), berlin("2026-03-30T10:00")
    assert OFFICE.elapsed(friday, monday) == 2 * HOUR
    assert monday - friday == (2 * 24 + 18 - 1) * HOUR  # the weekend lost an hour
    assert OFFICE.add(friday, 2 * HOUR) == monday


def test_berlin_fall_back_repeated_hour_counts_twice() -> None:
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:00-03:00 local happens twice.
    autumn = date(2026, 10, 25)
    covering = BusinessCalendar.build("a", "Europe/Berlin", {"sun": ["00:00-04:00"]})
    repeated = BusinessCalendar.build("b", "Europe/Berlin", {"sun": ["02:00-03:00"]})
    assert covering.open_intervals(autumn) == (
        (at("2026-10-24T22:00:00Z"), at("2026-10-25T03:00:00Z")),
    )
    assert repeated.open_intervals(autumn) == (
        (at("2026-10-25T00:00:00Z"), at("2026-10-25T02:00:00Z")),
    )
    assert covering.add(at("2026-10-24T22:00:00Z"), 5 * HOUR) == at("2026-10-25T03:00:00Z")


def test_berlin_shift_starting_inside_the_repeated_hour_is_open_twice() -> None:
    calendar = BusinessCalendar.build("x", "Europe/Berlin", {"sun": ["02:30-05:00"]})
    assert calendar.open_intervals(date(2026, 10, 25)) == (
        (at("2026-10-25T00:30:00Z"), at("2026-10-25T01:00:00Z")),  # 02:30-03:00 CEST
        (at("2026-10-25T01:30:00Z"), at("2026-10-25T04:00:00Z")),  # 02:30-05:00 CET
    )


@pytest.mark.parametrize(
    ("day", "real_hours"),
    [(date(2026, 3, 8), 5), (date(2026, 11, 1), 7), (date(2026, 11, 8), 6)],
)
def test_new_york_dst_days(day: date, real_hours: int) -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
    calendar = BusinessCalendar.build("ny", "America/New_York", {"sun": ["00:00-06:00"]})
    intervals = calendar.open_intervals(day)
    assert sum(hi - lo for lo, hi in intervals) == real_hours * HOUR


def test_new_york_office_hours_across_both_transitions() -> None:
    calendar = BusinessCalendar.build(
        "ny", "America/New_York", {**WEEKDAYS_9_TO_5, "fri": ["09:00-17:00"]}
    )
    # Fri 16:00 EST -> Mon 10:00 EDT, and Fri 16:00 EDT -> Mon 10:00 EST.
    assert calendar.elapsed(at("2026-03-06T21:00:00Z"), at("2026-03-09T14:00:00Z")) == 2 * HOUR
    assert calendar.elapsed(at("2026-10-30T20:00:00Z"), at("2026-11-02T15:00:00Z")) == 2 * HOUR
    assert calendar.add(at("2026-10-30T20:00:00Z"), 2 * HOUR) == at("2026-11-02T15:00:00Z")


def test_round_the_clock_calendar_equals_real_time_across_dst() -> None:
    calendar = BusinessCalendar.build(
        "24x7", "Europe/Berlin", {day: ["00:00-24:00"] for day in WEEKDAYS}
    )
    for start, end in [("2026-03-27", "2026-04-01"), ("2026-10-23", "2026-10-28")]:
        lo, hi = at(f"{start}T05:17:00Z"), at(f"{end}T11:00:00Z")
        assert calendar.elapsed(lo, hi) == hi - lo
        assert calendar.add(lo, hi - lo) == hi


# -- invariants against a brute force -------------------------------------------------------

CALENDARS = [
    OFFICE,
    BusinessCalendar.build(
        "ny",
        "America/New_York",
        {"mon": ["08:00-12:00", "13:00-18:00"], "sat": ["00:00-02:30", "22:00-24:00"]},
        ["2026-11-02"],
    ),
    # Lord Howe moves its clocks by 30 minutes; Kolkata is +05:30 without DST.
    BusinessCalendar.build(
        "howe", "Australia/Lord_Howe", {"sun": ["01:00-03:00"], "wed": ["00:00-24:00"]}
    ),
    BusinessCalendar.build("kolkata", "Asia/Kolkata", {"tue": ["09:30-18:00"]}),
    BusinessCalendar.build("night", "Europe/Berlin", {"sun": ["01:30-02:45"]}),
]

# Minutes around the 2026 DST changes of the zones above, and some ordinary weeks.
_ANCHORS = [
    at("2026-03-27T00:00:00Z"),
    at("2026-10-23T00:00:00Z"),
    at("2026-03-06T00:00:00Z"),
    at("2026-10-30T00:00:00Z"),
    at("2026-04-03T00:00:00Z"),  # Lord Howe ends DST on 2026-04-05
    at("2026-10-02T00:00:00Z"),  # and starts it on 2026-10-04
    at("2026-12-21T00:00:00Z"),
]

calendars = st.sampled_from(CALENDARS)
minute_instants = st.builds(
    lambda anchor, minutes: anchor + minutes * MINUTE,
    st.sampled_from(_ANCHORS),
    st.integers(0, 5 * 24 * 60),
)
any_instants = st.builds(
    lambda anchor, micros: anchor + micros,
    st.sampled_from(_ANCHORS),
    st.integers(0, 14 * DAY),
)
amounts = st.integers(0, 3 * DAY)


def _open_minutes(calendar: BusinessCalendar, start: Instant, end: Instant) -> int:
    count = 0
    for minute in range(start, end, MINUTE):
        local = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=minute)).astimezone(
            calendar.timezone
        )
        if local.date() in calendar.holidays:
            continue
        wall = local.hour * 60 + local.minute
        if any(s.start <= wall < s.end for s in calendar.hours[local.weekday()]):
            count += 1
    return count


@settings(max_examples=60, deadline=None)
@given(calendars, minute_instants, st.integers(0, 4 * 24 * 60))
def test_elapsed_matches_a_minute_by_minute_count(
    calendar: BusinessCalendar, start: Instant, minutes: int
) -> None:
    end = start + minutes * MINUTE
    assert calendar.elapsed(start, end) == _open_minutes(calendar, start, end) * MINUTE


@given(calendars, any_instants, any_instants, any_instants)
def test_elapsed_is_additive(
    calendar: BusinessCalendar, first: Instant, second: Instant, third: Instant
) -> None:
    a, b, c = sorted((first, second, third))
    assert calendar.elapsed(a, c) == calendar.elapsed(a, b) + calendar.elapsed(b, c)


@given(calendars, any_instants, amounts)
def test_add_then_elapsed_gives_the_amount_back_at_the_earliest_instant(
    calendar: BusinessCalendar, start: Instant, amount: int
) -> None:
    deadline = calendar.add(start, amount)
    assert deadline >= start
    assert calendar.elapsed(start, deadline) == amount
    if amount > 0:
        assert calendar.elapsed(start, deadline - 1) < amount


@given(calendars, any_instants, any_instants)
def test_elapsed_then_add_returns_no_later_than_the_end(
    calendar: BusinessCalendar, first: Instant, second: Instant
) -> None:
    start, end = sorted((first, second))
    amount = calendar.elapsed(start, end)
    reached = calendar.add(start, amount)
    assert reached <= end
    assert calendar.elapsed(start, reached) == amount
    assume(amount > 0)
    assert calendar.elapsed(start, reached - 1) < amount


@given(calendars, any_instants, amounts, amounts)
def test_add_composes(calendar: BusinessCalendar, start: Instant, first: int, second: int) -> None:
    assert calendar.add(calendar.add(start, first), second) == calendar.add(start, first + second)


def test_long_add_is_consistent_with_elapsed() -> None:
    start = berlin("2026-01-01T00:00")
    deadline = OFFICE.add(start, 1_500 * HOUR)
    assert OFFICE.elapsed(start, deadline) == 1_500 * HOUR
    assert OFFICE.elapsed(start, deadline - 1) < 1_500 * HOUR
