"""The accounts section's cost: merge and render, and the worker's publish (recount) step.

    .venv/bin/python bench/bench_account_snapshot.py [--accounts 20000] [--days 120]
        [--segments 50] [--managers 50] [--partitions 4] [--runs 20]

The accounts get the simulator's CRM lives (``account_lives``) over ``--days`` (so the 90d
window is full), spread over ``--segments`` segments and ``--managers`` managers, and are
placed on ``--partitions`` partitions as the worker places them. Measured with the domain the
worker runs (the mypyc build when it matches):

- **recount**: ``PartialCache.partial`` of each partition with every account to count (what
  a publish does when a worker takes a partition): CPU time, per account, and the longest the
  event loop was held meanwhile (the most CPU time between two turns of a 1 ms ticker task:
  the recount yields every ``RECOUNT_STEP`` accounts);
- **incremental**: the same with ``--dirty`` changed accounts (a publish between minutes);
- **as_of moves**: the publish of each of the next ``--moves`` minutes, nothing else changed;
- **snapshot**: what every publish does with the partials: decode the other partitions'
  ``{p}:acc`` blobs, ``merge_partials`` them with the own ones, ``render_section``; and the
  pure ``merge_partials`` + ``render_section`` of in-memory partials (median of ``--runs``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from account_lives import (  # beside this file: python bench/bench_account_snapshot.py
    crm_events,
    partition_states,
)
from pydantic_core import to_json

from streams import native
from streams.domain.account_partial import merge_partials, render_section
from streams.domain.instant import MICROS_PER_MINUTE, floor_minute
from streams.domain.policies import default_policies
from streams.live.account_share import PartialCache, merge_published
from streams.live.batch import PartitionState


async def held_loop(work: asyncio.Task[object]) -> float:
    """The most CPU time the process spent between two turns of a 1 ms ticker while ``work``
    runs (seconds): how long the event loop was held, whatever else the machine runs."""
    largest = 0.0
    last = time.process_time()
    while not work.done():
        await asyncio.sleep(0.001)
        now = time.process_time()
        largest = max(largest, now - last)
        last = now
    await work
    return largest


async def recount(
    cache: PartialCache, states: dict[int, PartitionState], as_of: int
) -> tuple[float, float]:
    """Publish every partition's partial; (CPU seconds, largest loop gap)."""
    health = default_policies().account_health

    async def publish_all() -> None:
        for state in states.values():
            await cache.partial(state, as_of, health)

    started = time.process_time()
    gap = await held_loop(asyncio.create_task(publish_all()))
    return time.process_time() - started, gap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=120.0)
    parser.add_argument("--segments", type=int, default=50)
    parser.add_argument("--managers", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--dirty", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--moves", type=int, default=10, help="minutes the as_of moves")
    args = parser.parse_args()
    print(f"domain: {native.status().reason}", file=sys.stderr)
    events, end = crm_events(args.accounts, args.days, 1, args.segments, args.managers)
    as_of = floor_minute(end)
    states = partition_states(events, args.partitions)
    held = sum(len(s.accounts) for s in states.values())
    print(f"{held:,} accounts, {len(events):,} events over {args.days:g} days")

    cache = PartialCache()
    cpu, gap = asyncio.run(recount(cache, states, as_of))
    print(
        f"recount of every account: {cpu * 1000:,.0f} ms CPU "
        f"({cpu / held * 1e6:.0f} µs per account); event loop held at most {gap * 1000:.1f} ms"
    )
    for state in states.values():
        state.dirty_accounts |= set(list(state.accounts)[: args.dirty // args.partitions])
    cpu, gap = asyncio.run(recount(cache, states, as_of))
    print(f"incremental, {args.dirty} changed accounts: {cpu * 1000:.1f} ms CPU")
    moves = []
    for _ in range(args.moves):
        as_of += MICROS_PER_MINUTE
        cpu, gap = asyncio.run(recount(cache, states, as_of))
        moves.append((cpu, gap))
    print(
        f"as_of moved a minute, {args.moves} times (nothing else changed): CPU median "
        f"{statistics.median(c for c, _ in moves) * 1000:.1f} ms, max "
        f"{max(c for c, _ in moves) * 1000:.1f} ms; event loop held at most "
        f"{max(g for _, g in moves) * 1000:.1f} ms"
    )

    own = [cache.held[p].total for p in states]
    blobs = [to_json(partial.to_json()) for partial in own]
    section = render_section(merge_partials(own, as_of))
    rows = {name: len(section["windows"]["90d"][f"by_{name}"]) for name in ("segment", "manager")}
    print(f"section: 90d rows {rows}; partial blobs {', '.join(f'{len(b):,}' for b in blobs)} B")
    pure, worker = [], []
    for _ in range(args.runs):
        started = time.process_time()
        render_section(merge_partials(own, as_of))
        pure.append(time.process_time() - started)
        started = time.process_time()
        render_section(merge_published(blobs[1:], own[:1], as_of))
        worker.append(time.process_time() - started)
    for name, took in (("merge_partials + render_section", pure),
                       ("decode other blobs + merge + render", worker)):  # fmt: skip
        print(
            f"{name}: median {statistics.median(took) * 1000:.1f} ms CPU, "
            f"max {max(took) * 1000:.1f} ms ({args.runs} runs)"
        )


if __name__ == "__main__":
    main()
