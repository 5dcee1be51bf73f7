"""Business-hours calendars: how much open time lies between two instants, and its inverse.

SLA targets under a calendar count only open time (spec section 4). Open hours are local
wall-clock intervals in the calendar's time zone on each local date; holidays are closed
all day. An instant is open when its local wall-clock reading falls inside one of the open
intervals of its local date. That one rule settles daylight saving time:

- spring forward: wall times inside the gap never happen, so a shift that spans the gap is
  one hour shorter in real time, and a shift boundary inside the gap acts as the first
  instant after the gap;
- fall back: the repeated wall times happen twice and both count, so a shift that spans the
  repeated hour is one hour longer; a shift that starts inside the repeated hour is open
  from the first occurrence of its start to the end of the repeated hour, and again from
  the second occurrence of its start on.

Arithmetic walks UTC days, never minutes: the open intervals of each UTC day are computed
once per calendar (as UTC instants) and cached on the calendar.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from streams.domain.instant import MICROS_PER_MINUTE, MICROS_PER_SECOND, Instant, Micros

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY: Final = 24 * 60

_DAY: Final = 86_400 * MICROS_PER_SECOND
_HOUR: Final = 3_600 * MICROS_PER_SECOND
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
# UTC offsets stay within +-16h (in practice -12h..+14h): a local date's instants lie within
# this margin of the same date read as UTC.
_OFFSET_MARGIN: Final = 16 * _HOUR
# Offsets are sampled this often, then transitions found by bisection: zones never change
# offset twice within two hours.
_SAMPLE_STEP: Final = 2 * _HOUR
# `add` gives up after this much calendar time without enough open time.
SEARCH_LIMIT_DAYS: Final = 3_660
_CACHE_LIMIT: Final = 100_000

SHIFT_PATTERN: Final = r"^\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$"
_SHIFT = re.compile(SHIFT_PATTERN)

Interval = tuple[Instant, Instant]


class Calendar(Protocol):
    """What SLA clocks need from a calendar: open time between instants, and its inverse."""

    @property
    def name(self) -> str: ...

    def elapsed(self, start: Instant, end: Instant) -> Micros:
        """Open time inside [start, end); 0 when end <= start."""
        ...

    def add(self, start: Instant, amount: Micros) -> Instant:
        """The earliest T >= start with elapsed(start, T) == amount (amount >= 0)."""
        ...


@dataclass(frozen=True, slots=True)
class AlwaysOpen:
    """Calendar time: every instant is open."""

    name: str = "always"

    def elapsed(self, start: Instant, end: Instant) -> Micros:
        return max(0, end - start)

    def add(self, start: Instant, amount: Micros) -> Instant:
        if amount < 0:
            raise ValueError(f"cannot add a negative amount ({amount})")
        return start + amount


ALWAYS_OPEN: Final[Calendar] = AlwaysOpen()


@dataclass(frozen=True, slots=True, order=True)
class Shift:
    """One open interval of a weekday in local wall-clock minutes: [start, end)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise ValueError(f"{self} is not an interval within one day")

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


def parse_shift(text: str) -> Shift:
    """Parse ``09:00-17:00``; ``24:00`` is allowed as an end (the end of the day)."""
    match = _SHIFT.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an interval like 09:00-17:00")
    bounds = []
    for hours, minutes in ((match[1], match[2]), (match[3], match[4])):
        h, m = int(hours), int(minutes)
        if m >= 60 or h > 24 or (h == 24 and m > 0):
            raise ValueError(f"{text!r}: {hours}:{minutes} is not a time from 00:00 to 24:00")
        bounds.append(h * 60 + m)
    start, end = bounds
    if start == MINUTES_PER_DAY:
        raise ValueError(f"{text!r} starts at 24:00, the end of the day")
    if end < start:
        raise ValueError(f"{text!r} ends before it starts")
    if end == start:
        raise ValueError(f"{text!r} is empty")
    return Shift(start, end)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


_SUMS_CACHED = 1 << 16


@dataclass(frozen=True, slots=True)
class _Day:
    intervals: tuple[Interval, ...]
    total: Micros


@dataclass(frozen=True)
class BusinessCalendar:
    """Open hours per weekday in a time zone, with holidays closed all day.

    ``hours`` has seven entries, Monday first; each is that weekday's shifts, sorted and
    not overlapping (split shifts allowed, an empty entry is a closed day). ``holidays``
    are local dates. Build one with ``BusinessCalendar.build`` from the policy-file forms.
    """

    name: str
    timezone: ZoneInfo
    hours: tuple[tuple[Shift, ...], ...]
    holidays: frozenset[date] = frozenset()
    _utc_days: dict[int, _Day] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _local_days: dict[int, tuple[Interval, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    # A ticket is evaluated again on each of its events, asking for the same deadlines.
    _sums: dict[tuple[Instant, Micros], Instant] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if len(self.hours) != len(WEEKDAYS):
            raise ValueError(f"hours must have {len(WEEKDAYS)} weekdays, got {len(self.hours)}")
        for weekday, shifts in zip(WEEKDAYS, self.hours, strict=True):
            for before, after in pairwise(shifts):
                if after.start < before.end:
                    raise ValueError(f"{weekday}: {after} overlaps or precedes {before}")
        if not any(self.hours):
            # Without open hours `add` could never reach its amount.
            raise ValueError("no open hours on any weekday")

    @classmethod
    def build(
        cls,
        name: str,
        timezone: str,
        hours: Mapping[str, Sequence[str]],
        holidays: Iterable[str | date] = (),
    ) -> BusinessCalendar:
        """A calendar from the policy-file forms: ``{"mon": ["09:00-17:00"]}``, ISO dates."""
        unknown = set(hours) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekday {sorted(unknown)[0]!r}")
        table = tuple(
            tuple(sorted(parse_shift(text) for text in hours.get(day, ()))) for day in WEEKDAYS
        )
        days = frozenset(d if isinstance(d, date) else date.fromisoformat(d) for d in holidays)
        return cls(name, ZoneInfo(timezone), table, days)

    # -- the Calendar protocol ----------------------------------------------------------------
    def elapsed(self, start: Instant, end: Instant) -> Micros:
        if end <= start:
            return 0
        first, last = start // _DAY, (end - 1) // _DAY
        if first == last:
            return _clipped(self._utc_day(first).intervals, start, end)
        total = _clipped(self._utc_day(first).intervals, start, end)
        days = self._utc_days  # the cache read inline: a call per whole day costs more
        for day in range(first + 1, last):
            utc_day = days.get(day)
            if utc_day is None:
                utc_day = self._utc_day(day)
            total += utc_day.total
        return total + _clipped(self._utc_day(last).intervals, start, end)

    def add(self, start: Instant, amount: Micros) -> Instant:
        key = (start, amount)
        cached = self._sums.get(key)
        if cached is None:
            cached = self._add(start, amount)
            if len(self._sums) >= _SUMS_CACHED:
                self._sums.clear()
            self._sums[key] = cached
        return cached

    def _add(self, start: Instant, amount: Micros) -> Instant:
        if amount < 0:
            raise ValueError(f"cannot add a negative amount ({amount})")
        if amount == 0:
            return start
        remaining = amount
        first = start // _DAY
        days = self._utc_days  # the cache read inline: a call per day costs more
        for day in range(first, first + SEARCH_LIMIT_DAYS):
            utc_day = days.get(day)
            if utc_day is None:
                utc_day = self._utc_day(day)
            if day > first and utc_day.total < remaining:
                remaining -= utc_day.total
                continue
            for lo, hi in utc_day.intervals:
                if hi <= start:
                    continue
                lo = max(lo, start)
                if hi - lo >= remaining:
                    return lo + remaining
                remaining -= hi - lo
        raise ValueError(
            f"calendar {self.name!r} has too little open time in the {SEARCH_LIMIT_DAYS} days"
            f" after {start} (holidays all the way?)"
        )

    # -- open intervals -----------------------------------------------------------------------
    def open_intervals(self, local_date: date) -> tuple[Interval, ...]:
        """The open intervals of one local date, as sorted, disjoint UTC instant ranges."""
        return self._local_day(local_date.toordinal())

    def _utc_day(self, day: int) -> _Day:
        cached = self._utc_days.get(day)
        if cached is not None:
            return cached
        lo, hi = day * _DAY, (day + 1) * _DAY
        # A UTC day meets at most the local dates one before and one after its own.
        ordinal = _EPOCH_ORDINAL + day
        pieces = [
            (max(a, lo), min(b, hi))
            for local in (ordinal - 1, ordinal, ordinal + 1)
            for a, b in self._local_day(local)
            if a < hi and b > lo
        ]
        intervals = _merge(pieces)
        result = _Day(intervals, sum(b - a for a, b in intervals))
        if len(self._utc_days) >= _CACHE_LIMIT:
            self._utc_days.clear()
        self._utc_days[day] = result
        return result

    def _local_day(self, ordinal: int) -> tuple[Interval, ...]:
        cached = self._local_days.get(ordinal)
        if cached is not None:
            return cached
        local = date.fromordinal(ordinal)
        shifts = () if local in self.holidays else self.hours[local.weekday()]
        result: tuple[Interval, ...] = ()
        if shifts:
            # Local midnight as if it were UTC: wall-clock micros of the day's first moment.
            midnight = (ordinal - _EPOCH_ORDINAL) * _DAY
            offsets = _offset_runs(
                self.timezone, midnight - _OFFSET_MARGIN, midnight + _DAY + _OFFSET_MARGIN
            )
            # An instant t is open when t + offset(t) falls inside a shift of this date.
            pieces = [
                (
                    max(run_lo, midnight + shift.start * MICROS_PER_MINUTE - offset),
                    min(run_hi, midnight + shift.end * MICROS_PER_MINUTE - offset),
                )
                for shift in shifts
                for run_lo, run_hi, offset in offsets
            ]
            result = _merge([(a, b) for a, b in pieces if a < b])
        if len(self._local_days) >= _CACHE_LIMIT:
            self._local_days.clear()
        self._local_days[ordinal] = result
        return result


def _clipped(intervals: tuple[Interval, ...], start: Instant, end: Instant) -> Micros:
    total = 0
    for lo, hi in intervals:
        lo, hi = max(lo, start), min(hi, end)
        if lo < hi:
            total += hi - lo
    return total


def _merge(intervals: list[Interval]) -> tuple[Interval, ...]:
    """Sort and join overlapping or touching intervals."""
    merged: list[Interval] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _offset(zone: ZoneInfo, instant: Instant) -> Micros:
    offset = (_EPOCH + timedelta(microseconds=instant)).astimezone(zone).utcoffset()
    assert offset is not None
    return (offset.days * 86_400 + offset.seconds) * MICROS_PER_SECOND + offset.microseconds


def _offset_runs(zone: ZoneInfo, lo: Instant, hi: Instant) -> list[tuple[Instant, Instant, Micros]]:
    """Split [lo, hi) into runs of constant UTC offset: (run start, run end, offset)."""
    runs: list[tuple[Instant, Instant, Micros]] = []
    run_start, run_offset = lo, _offset(zone, lo)
    probe = lo
    while probe < hi:
        nxt = min(probe + _SAMPLE_STEP, hi)
        offset = _offset(zone, nxt)
        if offset != run_offset:
            change = _first_change(zone, probe, nxt, run_offset)
            runs.append((run_start, change, run_offset))
            run_start, run_offset = change, offset
        probe = nxt
    runs.append((run_start, hi, run_offset))
    return runs


def _first_change(zone: ZoneInfo, lo: Instant, hi: Instant, offset: Micros) -> Instant:
    """The first whole second in (lo, hi] whose offset is not ``offset`` (there is one)."""
    lo_s, hi_s = lo // MICROS_PER_SECOND, hi // MICROS_PER_SECOND
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _offset(zone, mid * MICROS_PER_SECOND) == offset:
            lo_s = mid
        else:
            hi_s = mid
    return hi_s * MICROS_PER_SECOND
