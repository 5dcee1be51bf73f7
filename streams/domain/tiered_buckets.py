"""Counters in day, hour and minute buckets: exact long windows at any whole-minute ``as_of``.

A fact at t is in a window [as_of - W, as_of) when ``floor_minute(t)`` is: with whole-minute
bounds only the minute of a fact matters, so minute buckets make every window exact. For a
90-day window that is up to 129,600 minutes per row, and reading them all at each as_of
would cost as many lookups. Here every increment goes to three levels:

- its **day** bucket (the UTC day's total),
- its **hour** bucket (the UTC hour's total),
- its **minute** bucket, kept inside its hour's group (only minutes that had a fact).

A window [start, end) is read as the minutes of its partial first and last hours, the hours
of its partial first and last days, and the whole days between: at most 59 + 23 + 90 + 23 +
59 buckets for 90 days, the same sums as the minutes (property-tested against a brute-force
sum for any bounds). Storage units are days and hours (90 + 2,160 for 90 days): a minute's
detail lives in its hour's group, because exactness needs it. Every minute still to leave a
window crosses that window's start edge at some later whole-minute as_of, and only its
minute says when; no layout can forget it before the minute is older than the longest
window. A bucket is ``row -> counter -> value``; rows and counters are the caller's names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from streams.domain.instant import MICROS_PER_MINUTE, Instant

MICROS_PER_HOUR = 60 * MICROS_PER_MINUTE
MICROS_PER_DAY = 24 * MICROS_PER_HOUR

Row = tuple[str, str]
Bucket = dict[Row, dict[str, int]]
Sums = dict[Row, dict[str, int]]


def _floor(instant: Instant, unit: int) -> Instant:
    return instant - instant % unit


def _ceil(instant: Instant, unit: int) -> Instant:
    return -((-instant) // unit) * unit


def bucket_starts(time: Instant) -> tuple[Instant, Instant, Instant]:
    """The starts of the day, hour and minute buckets a fact at ``time`` is counted in: the
    keys a per-partition store (like the ticket minute buckets in Redis) writes it under."""
    minute = _floor(time, MICROS_PER_MINUTE)
    hour = _floor(minute, MICROS_PER_HOUR)
    return _floor(hour, MICROS_PER_DAY), hour, minute


def _add(bucket: Bucket, row: Row, increments: Iterable[tuple[str, int]], sign: int) -> None:
    counters = bucket.get(row)
    if counters is None:
        counters = bucket[row] = {}
    for name, value in increments:
        if not value:
            continue
        total = counters.get(name, 0) + sign * value
        if total:
            counters[name] = total
        else:
            del counters[name]
    if not counters:
        del bucket[row]


def merge_into(sums: Sums, bucket: Bucket) -> None:
    """Add a bucket's counters to ``sums`` (``dict``s: the compiled loop calls them directly)."""
    for row, counters in bucket.items():
        total = sums.get(row)
        if total is None:
            sums[row] = dict(counters)
            continue
        for name, value in counters.items():
            total[name] = total.get(name, 0) + value


class TieredBuckets:
    """Day, hour and minute buckets of counters per row (see the module docstring)."""

    __slots__ = ("_days", "_hours", "_minutes")

    def __init__(self) -> None:
        self._days: dict[Instant, Bucket] = {}
        self._hours: dict[Instant, Bucket] = {}
        # hour start -> minute start -> bucket: the minute detail, grouped by its hour
        self._minutes: dict[Instant, dict[Instant, Bucket]] = {}

    def add(
        self, time: Instant, rows: Iterable[Row], increments: Iterable[tuple[str, int]], sign: int
    ) -> None:
        """Add (``sign`` 1) or retract (-1) increments of a fact at ``time`` in each row."""
        day, hour, minute = bucket_starts(time)
        group = self._minutes.get(hour)
        if group is None:
            group = self._minutes[hour] = {}
        levels = (
            (self._days, day),
            (self._hours, hour),
            (group, minute),
        )
        pairs, keys = tuple(increments), tuple(rows)
        for store, start in levels:
            bucket = store.get(start)
            if bucket is None:
                bucket = store[start] = {}
            for row in keys:
                _add(bucket, row, pairs, sign)
            if not bucket:
                del store[start]
        if not group:
            del self._minutes[hour]

    def window(self, start: Instant, end: Instant) -> Sums:
        """The sums of the counters of facts in [start, end), both whole minutes; zeros left out."""
        if start % MICROS_PER_MINUTE or end % MICROS_PER_MINUTE:
            raise ValueError(f"window bounds must be whole UTC minutes, got {start}, {end}")
        sums: Sums = {}
        if end <= start:
            return sums
        first_hour, last_hour = _ceil(start, MICROS_PER_HOUR), _floor(end, MICROS_PER_HOUR)
        if first_hour > last_hour:  # inside one hour
            self._add_minutes(sums, start, end)
        else:
            self._add_minutes(sums, start, first_hour)
            self._add_minutes(sums, last_hour, end)
            first_day = _ceil(first_hour, MICROS_PER_DAY)
            last_day = _floor(last_hour, MICROS_PER_DAY)
            if first_day >= last_day:
                self._add_range(sums, self._hours, first_hour, last_hour, MICROS_PER_HOUR)
            else:
                self._add_range(sums, self._hours, first_hour, first_day, MICROS_PER_HOUR)
                self._add_range(sums, self._days, first_day, last_day, MICROS_PER_DAY)
                self._add_range(sums, self._hours, last_day, last_hour, MICROS_PER_HOUR)
        for row in [r for r, counters in sums.items() if not any(counters.values())]:
            del sums[row]
        for counters in sums.values():
            for name in [n for n, v in counters.items() if not v]:
                del counters[name]
        return sums

    def _add_minutes(self, sums: Sums, start: Instant, end: Instant) -> None:
        """[start, end) lies within one UTC hour (or is empty)."""
        if end <= start:
            return
        group = self._minutes.get(_floor(start, MICROS_PER_HOUR))
        if group is None:
            return
        for minute, bucket in group.items():
            if start <= minute < end:
                merge_into(sums, bucket)

    @staticmethod
    def _add_range(
        sums: Sums, store: Mapping[Instant, Bucket], start: Instant, end: Instant, unit: int
    ) -> None:
        for at in range(start, end, unit):
            bucket = store.get(at)
            if bucket is not None:
                merge_into(sums, bucket)

    def prune(self, before: Instant) -> None:
        """Forget whole days that end at or before ``before`` (nothing will read them)."""
        last = _floor(before, MICROS_PER_DAY)
        for day in [d for d in self._days if d < last]:
            del self._days[day]
        for hour in [h for h in self._hours if h < last]:
            del self._hours[hour]
        for hour in [h for h in self._minutes if h < last]:
            del self._minutes[hour]

    def stored(self) -> tuple[int, int, int]:
        """(day buckets, hour buckets, minute buckets) held: for tests and benches."""
        return (
            len(self._days),
            len(self._hours),
            sum(len(group) for group in self._minutes.values()),
        )
