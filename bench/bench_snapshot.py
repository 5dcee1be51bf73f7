"""Snapshot build time and bucket memory over a full 7 days of minute buckets.

    .venv/bin/python bench/bench_snapshot.py [--facts 1000000] [--seed 7] [--minutes 30]

A synthetic but realistic week: 50 teams, 6 channels, 4 priorities, 200 agents, tickets
created uniformly over the week, each yielding the usual facts (first reply, next replies,
solve with touches, close, reopen, surveys, SLA outcomes) with log-normal durations. Facts
are applied one ticket at a time (``Windows.apply`` of its fact diff). Measured:

- load: applying every ticket's facts to the minute buckets;
- memory: a deep size of the buckets (dicts and ints; shared names and keys counted once)
  and the process RSS growth while loading;
- first snapshot: all three windows summed from scratch (startup, or a jump of as_of);
- steady snapshot: ``build_snapshot`` for all three windows at an as_of already read;
- live minute: a minute of new facts arrives, as_of moves one minute, then the snapshot
  (window moves + rendering), repeated for ``--minutes`` minutes. Target: <= 50 ms.

Times are process CPU time, so that other work on a shared machine does not count.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from streams.domain.facts import Fact, FactDiff, FactKind, SlaTarget
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.domain.snapshot import Backlog, SlaNow, build_snapshot, dumps_snapshot
from streams.domain.windows import WINDOWS, Windows

SECOND = 1_000_000
HOUR = 3600 * SECOND
WEEK = WINDOWS["7d"]
AS_OF = parse_rfc3339("2026-11-09T12:00:00Z")
TEAMS = [f"team-{i:02d}" for i in range(50)]
CHANNELS = ["email", "chat", "phone", "web", "social", "api"]
PRIORITIES = ["low", "normal", "high", "urgent"]
AGENTS = [f"agent-{i:03d}" for i in range(200)]
FACTS_PER_TICKET = 9.5  # the mean of ticket_facts below, to size the week


def lognormal(rng: random.Random, median: float, sigma: float) -> int:
    return max(1, round(rng.lognormvariate(0, sigma) * median))


def ticket_facts(rng: random.Random, created: int) -> Iterator[Fact]:
    team, channel, priority = rng.choice(TEAMS), rng.choice(CHANNELS), rng.choice(PRIORITIES)
    agent = rng.choice(AGENTS)

    def make(
        at: int,
        kind: FactKind,
        value: int = 0,
        who: str | None = agent,
        target: SlaTarget | None = None,
    ) -> Fact:
        return Fact(at, kind, value, team, channel, priority, who, target)

    yield make(created, FactKind.CREATED, who=agent if rng.random() < 0.3 else None)
    touches = 0
    at = created
    if rng.random() < 0.9:
        wait = lognormal(rng, 0.5 * HOUR, 1.2)
        at = created + wait
        touches = 1
        yield make(at, FactKind.FIRST_REPLY, wait)
        yield make(at, FactKind.REPLY, wait)
        met = wait <= 4 * HOUR
        yield make(
            at, FactKind.SLA_MET if met else FactKind.SLA_BREACHED, target=SlaTarget.FIRST_REPLY
        )
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            wait = lognormal(rng, HOUR, 1.3)
            at += wait + lognormal(rng, 2 * HOUR, 1.0)
            touches += 1
            yield make(at, FactKind.REPLY, wait)
            met = wait <= 8 * HOUR
            yield make(
                at, FactKind.SLA_MET if met else FactKind.SLA_BREACHED, target=SlaTarget.NEXT_REPLY
            )
    if rng.random() < 0.8:
        solved = at + lognormal(rng, 6 * HOUR, 1.5)
        yield make(solved, FactKind.RESOLUTION, solved - created)
        yield make(solved, FactKind.TOUCHES_TO_CLOSE, touches)
        met = solved - created <= 72 * HOUR
        yield make(
            solved, FactKind.SLA_MET if met else FactKind.SLA_BREACHED, target=SlaTarget.RESOLUTION
        )
        if rng.random() < 0.05:
            yield make(solved + lognormal(rng, 12 * HOUR, 1.0), FactKind.REOPEN)
        if rng.random() < 0.25:
            yield make(
                solved + lognormal(rng, 3 * HOUR, 1.0),
                FactKind.CSAT,
                rng.choice([1, 2, 3, 4, 4, 5, 5, 5]),
            )
        if rng.random() < 0.12:
            yield make(solved + lognormal(rng, 6 * HOUR, 1.0), FactKind.NPS, rng.randint(0, 10))
        if rng.random() < 0.75:
            closed = solved + lognormal(rng, 48 * HOUR, 0.5)
            yield make(closed, FactKind.FULL_RESOLUTION, closed - created)


def generate(
    rng: random.Random, facts_per_week: int, live_minutes: int
) -> tuple[list[FactDiff], list[list[Fact]]]:
    """The week before AS_OF as one diff per ticket, then the facts of each live minute.

    Tickets start up to 5 days before the week so that it opens in a steady state.
    """
    start, end = AS_OF - WEEK - 5 * 86_400 * SECOND, AS_OF + live_minutes * MICROS_PER_MINUTE
    per_micro = facts_per_week / FACTS_PER_TICKET / WEEK
    week: list[FactDiff] = []
    live: list[list[Fact]] = [[] for _ in range(live_minutes)]
    for _ in range(round(per_micro * (end - start))):
        facts = list(ticket_facts(rng, rng.randrange(start, end)))
        in_week = tuple(f for f in facts if AS_OF - WEEK <= f.time < AS_OF)
        if in_week:
            week.append(FactDiff(added=in_week))
        for f in facts:
            if AS_OF <= f.time < end:
                live[(f.time - AS_OF) // MICROS_PER_MINUTE].append(f)
    return week, live


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def deep_size(buckets: object) -> tuple[int, int]:
    """Bytes of the bucket dicts and their (non-cached) ints, and the number of counters."""
    seen: set[int] = set()
    size = entries = 0
    assert isinstance(buckets, dict) or hasattr(buckets, "items")
    for bucket in buckets.values():  # type: ignore[attr-defined]
        size += sys.getsizeof(bucket)
        for dim, counters in bucket.items():
            size += sys.getsizeof(counters)
            if id(dim) not in seen:
                seen.add(id(dim))
                size += sys.getsizeof(dim)
            for name, value in counters.items():
                entries += 1
                if id(name) not in seen:
                    seen.add(id(name))
                    size += sys.getsizeof(name)
                if not -5 <= value <= 256:
                    size += sys.getsizeof(value)
    return size, entries


def timed(action: Callable[[], object]) -> float:
    """Process CPU seconds: the machine may be shared, and the work is single-threaded."""
    start = time.process_time()
    action()
    return time.process_time() - start


def snapshot(store: Windows, as_of: int) -> dict[str, object]:
    windows = {name: store.window(name, as_of) for name in WINDOWS}
    return build_snapshot(as_of, windows, Backlog(), SlaNow())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--minutes", type=int, default=30, help="live minutes to measure")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    week, live_facts = generate(rng, args.facts, args.minutes)
    facts = sum(len(diff.added) for diff in week)

    store = Windows()
    gc.collect()
    rss_before = rss_bytes()
    start = time.process_time()
    for diff in week:
        store.apply(diff)
    load = time.process_time() - start
    gc.collect()
    rss_growth = rss_bytes() - rss_before
    size, entries = deep_size(store.buckets())
    print(f"facts {facts:,} of {len(week):,} tickets in {len(store.buckets()):,} minute buckets")
    print(f"load: {load:.1f} s ({facts / load:,.0f} facts/s)")
    print(
        f"buckets: {entries:,} counters, deep size {size / 2**20:,.0f} MiB, "
        f"RSS growth {rss_growth / 2**20:,.0f} MiB"
    )

    first = timed(lambda: snapshot(store, AS_OF))
    dims = {name: len(store.window(name, AS_OF)) for name in WINDOWS}
    counters = sum(len(c) for name in WINDOWS for c in store.window(name, AS_OF).values())
    print(f"first snapshot (three windows summed from scratch): {first * 1000:,.0f} ms")
    print(f"dimension keys per window {dims}, window counters {counters:,}")

    steady = [timed(lambda: snapshot(store, AS_OF)) for _ in range(20)]
    built = snapshot(store, AS_OF)
    text = dumps_snapshot(built)
    dumps = statistics.median(timed(lambda: dumps_snapshot(built)) for _ in range(5))
    print(
        f"steady snapshot: median {statistics.median(steady) * 1000:.1f} ms, "
        f"max {max(steady) * 1000:.1f} ms"
    )
    print(f"snapshot JSON {len(text) / 1024:,.0f} KiB, dumps_snapshot {dumps * 1000:.1f} ms")

    live: list[float] = []
    as_of = AS_OF
    for minute in live_facts:
        store.apply(FactDiff(added=tuple(minute)))
        as_of += MICROS_PER_MINUTE
        live.append(timed(lambda: snapshot(store, as_of)))  # noqa: B023
        store.prune(as_of - WEEK)
    arrivals = statistics.mean(len(m) for m in live_facts)
    print(
        f"live minute (~{arrivals:.0f} new facts, as_of +1 min, then the snapshot): "
        f"median {statistics.median(live) * 1000:.1f} ms, max {max(live) * 1000:.1f} ms "
        f"over {len(live)} minutes"
    )


if __name__ == "__main__":
    main()
