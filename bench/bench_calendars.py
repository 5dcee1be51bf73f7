"""Micro-benchmark of business-time arithmetic on typical SLA inputs.

Typical calls: ``elapsed`` over a few days and ``add`` of up to 3d of business time, from
instants spread over a quarter (so the per-day cache holds ~100 days, as in a live worker).
Reported per call, warm (cache filled by a first pass) and cold (a fresh calendar per pass).

    .venv/bin/python bench/bench_calendars.py
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from streams.domain.calendars import BusinessCalendar
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339

HOUR = 60 * MICROS_PER_MINUTE
DAY = 24 * HOUR
CALLS = 20_000


def office() -> BusinessCalendar:
    nine_to_five = ["09:00-17:00"]
    return BusinessCalendar.build(
        "office",
        "Europe/Berlin",
        {
            "mon": nine_to_five,
            "tue": nine_to_five,
            "wed": nine_to_five,
            "thu": nine_to_five,
            "fri": ["09:00-13:00", "14:00-17:00"],
        },
        ["2026-12-24", "2026-12-25"],
    )


def per_call_us(run: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    rng = random.Random(7)
    base = parse_rfc3339("2026-10-01T00:00:00Z")
    starts = [base + rng.randrange(90 * DAY) for _ in range(CALLS)]
    spans = [rng.randrange(1, 4 * DAY) for _ in range(CALLS)]
    amounts = [rng.choice([15, 30, 240, 480, 4320]) * MICROS_PER_MINUTE for _ in range(CALLS)]
    pairs = list(zip(starts, spans, strict=True))
    adds = list(zip(starts, amounts, strict=True))

    calendar = office()

    def elapsed() -> None:
        for start, span in pairs:
            calendar.elapsed(start, start + span)

    def add() -> None:
        for start, amount in adds:
            calendar.add(start, amount)

    elapsed()
    add()  # fill the cache: the warm numbers are what a running worker sees
    warm_elapsed = min(per_call_us(elapsed, CALLS) for _ in range(5))
    warm_add = min(per_call_us(add, CALLS) for _ in range(5))

    cold_calls = 200

    def cold() -> None:
        fresh = office()
        for start, amount in adds[:cold_calls]:
            fresh.add(start, amount)

    cold_add = min(per_call_us(cold, cold_calls) for _ in range(3))
    print(f"elapsed over up to 4 days, warm: {warm_elapsed:6.2f} us/call")
    print(f"add of 15m..3d business time, warm: {warm_add:6.2f} us/call")
    print(f"add, cold cache ({cold_calls} calls on a fresh calendar): {cold_add:6.2f} us/call")


if __name__ == "__main__":
    main()
