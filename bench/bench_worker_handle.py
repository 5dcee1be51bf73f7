"""The live worker's own cost per event, without Kafka or Faust: ``Worker.handle`` on batches.

    .venv/bin/python bench/bench_worker_handle.py --redis-url redis://127.0.0.1:6390/0 \\
        [--events 50000] [--batch 2000] [--publish-every 5] [--profile] [--default-gc] [--memory]

Simulated events (seeded, with duplicates, invalid and late ones) are cut into batches of one
partition and applied exactly as the Faust agent applies them: decode, plan, one MULTI/EXEC to
a real Redis (a fresh key prefix), dead letters to a sink that drops them, metrics. The
worker's clock follows the data (the send time of each batch's last event), and the snapshot
is published after every ``--publish-every`` batches (about once a second of the worker's
pace, as its timer does; 0: never), so the windows are read and moved as in the live worker.
Prints events per wall second and per CPU second of this process (Redis's own work is in
another process). With ``--profile``, the top functions by own time (cProfile). With
``--memory``, the in-memory store (``MemoryStore``) instead of Redis: the worker's own cost
with the store's work in this process, and no Redis needed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
import uuid
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from streams import collector
from streams.domain.instant import parse_rfc3339
from streams.domain.policies import default_policies
from streams.live.batch import Message
from streams.live.metrics import Metrics
from streams.live.store import RedisSettings, RedisStore
from streams.live.stores.memory import MemoryStore
from streams.live.stores.protocol import Store
from streams.live.worker import Worker
from streams.simulator.simulation import SimulationConfig, generate, take


class _Drop:
    async def send(self, records: Sequence[dict[str, Any]]) -> None:
        return None


Sent = tuple[Message, int]  # a message and when it was sent (microseconds)


def messages(count: int) -> list[Sent]:
    start = parse_rfc3339("2026-11-02T08:00:00Z")
    emitted = take(generate(SimulationConfig(seed=1), start), count=count)
    return [
        (Message("support.tickets", 0, i, e.line().encode()), e.emit_at)
        for i, e in enumerate(emitted)
    ]


async def run(
    redis_url: str | None, batches: list[list[Sent]], publish_every: int
) -> tuple[float, float]:
    store: Store = (
        RedisStore.from_settings(RedisSettings(redis_url, f"bench-{uuid.uuid4().hex[:8]}"))
        if redis_url
        else MemoryStore()
    )
    now = [0.0]
    worker = Worker(
        policies=default_policies(),
        store=store,
        metrics=Metrics(CollectorRegistry()),
        deadletters=_Drop(),
        partitions=1,
        clock=lambda: now[0],
    )
    wall, cpu = time.perf_counter(), time.process_time()
    for number, batch in enumerate(batches, start=1):
        now[0] = batch[-1][1] / 1e6
        await worker.handle([message for message, _ in batch])
        if publish_every and number % publish_every == 0:
            await worker.publish()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6390/0")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--publish-every", type=int, default=5, help="batches; 0: never")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--memory", action="store_true", help="the in-memory store, not Redis")
    parser.add_argument("--dump", help="with --profile: write the cProfile stats to this file")
    parser.add_argument(
        "--default-gc", action="store_true", help="Python's collector thresholds, not the worker's"
    )
    args = parser.parse_args()
    if not args.default_gc:
        collector.tune()  # as `ticketpulse worker` does
    all_messages = messages(args.events)
    batches = [all_messages[i : i + args.batch] for i in range(0, len(all_messages), args.batch)]
    profile = cProfile.Profile() if args.profile else None
    if profile:
        profile.enable()
    redis_url = None if args.memory else args.redis_url
    wall, cpu = asyncio.run(run(redis_url, batches, args.publish_every))
    if profile:
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)
        if args.dump:
            profile.dump_stats(args.dump)
    n = len(all_messages)
    print(
        f"Worker.handle ({'memory' if args.memory else 'Redis'}): {n:,} events"
        f" in batches of {args.batch}, published every"
        f" {args.publish_every}: {n / wall:,.0f} events/s wall,"
        f" {n / cpu:,.0f} events per CPU-second"
    )


if __name__ == "__main__":
    main()
