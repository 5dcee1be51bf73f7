"""Redis store throughput and memory on realistic batches of one partition.

    .venv/bin/python bench/bench_store.py [--tickets 500] [--batches 200] [--seed 7]
                                          [--url redis://host:port/0]

Without ``--url`` a throwaway ``redis-server`` (no persistence) is started on a free port.
The batches are real: the seeded simulator's events (late, duplicate and invalid ones
included) are cut into batches touching ``--tickets`` distinct tickets each and planned by
the pure batch planner, as the worker would, before any timing starts. Measured:

- apply: ``RedisStore.apply`` of each batch in turn (one MULTI/EXEC each): batches/s,
  ticket records/s, per-batch latency percentiles, and the request size of a batch;
- memory: ``MEMORY USAGE`` of every ticket record (key, value and overhead, as Redis
  counts it) and the value length alone; ``used_memory`` of the whole run per ticket;
- minute buckets: ``MEMORY USAGE`` and field count of each minute's counter hash;
- reads: ``load_tickets`` of one batch's tickets, ``load_buckets`` of everything written,
  ``sla_counts``, ``due_for_wake``, ``backlog`` (median of 5 each).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence

import redis.asyncio as aioredis

from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.domain.policies import default_policies
from streams.live.batch import Message, PartitionState, decode_batch, plan
from streams.live.store import RedisStore
from streams.live.writes import PartitionWrites
from streams.simulator.simulation import SimulationConfig, generate
from streams.stack.ports import HOST, free_ports

START = parse_rfc3339("2026-11-02T08:00:00Z")
PARTITION = 0


def batches(tickets_per_batch: int, seed: int) -> Iterator[tuple[list[Message], int]]:
    """Consecutive simulated messages, cut when a batch has touched enough tickets."""
    offsets: dict[str, int] = {}
    batch: list[Message] = []
    touched: set[str] = set()
    latest = START
    for emitted in generate(SimulationConfig(seed=seed, events_per_second=200.0), START):
        topic = emitted.topic.value
        offsets[topic] = offsets.get(topic, -1) + 1
        batch.append(Message(topic, PARTITION, offsets[topic], emitted.line().encode()))
        touched.add(emitted.key)
        latest = max(latest, emitted.emit_at)
        if len(touched) >= tickets_per_batch:
            yield batch, latest
            batch, touched = [], set()


def planned(tickets_per_batch: int, count: int, seed: int) -> list[PartitionWrites]:
    policies = default_policies()
    state = PartitionState(PARTITION)
    result: list[PartitionWrites] = []
    for messages, now in batches(tickets_per_batch, seed):
        decoded = decode_batch(messages, state.offsets)
        state.load({}, state.missing_for(decoded), policies)
        result.append(plan(state, decoded, policies, now).writes)
        if len(result) == count:
            break
    return result


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class ThrowawayRedis:
    """A redis-server without persistence on a free port, stopped on exit."""

    def __enter__(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            sys.exit("redis-server not found: `apt-get install redis-server` or pass --url")
        self.dir = tempfile.TemporaryDirectory()
        (port,) = free_ports(1)
        self.process = subprocess.Popen(
            [binary, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no",
             "--dir", self.dir.name],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return f"redis://{HOST}:{port}/0"

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.dir.cleanup()


async def wait_ready(client: aioredis.Redis) -> None:
    for _ in range(100):
        try:
            await client.ping()
            return
        except (ConnectionError, OSError, aioredis.ConnectionError):
            await asyncio.sleep(0.05)
    sys.exit("redis did not answer")


def request_bytes(writes: PartitionWrites) -> int:
    records = sum(len(r) for r in writes.tickets.values() if r is not None)
    bucket_fields = [f for fields in writes.buckets.values() for f in fields]
    counters = sum(len(f) + 12 for f in bucket_fields) + sum(len(f) + 4 for f in writes.backlog)
    return records + counters


async def run(url: str, writes: list[PartitionWrites]) -> None:
    client = aioredis.Redis.from_url(url)
    await wait_ready(client)
    prefix = f"bench{int(time.time())}"
    warmup = RedisStore(client, prefix + "w")
    for batch in writes[:3]:
        await warmup.apply(batch)
    await delete_prefix(client, warmup.prefix)
    store = RedisStore(client, prefix)
    memory_before = int((await client.info("memory"))["used_memory"])

    latencies: list[float] = []
    started = time.perf_counter()
    for batch in writes:
        t0 = time.perf_counter()
        await store.apply(batch)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started

    records = sum(len(w.tickets) for w in writes)
    print(f"apply: {len(writes)} batches, {records} ticket records written, {elapsed:.2f} s")
    print(f"  {len(writes) / elapsed:.1f} batches/s, {records / elapsed:.0f} ticket records/s")
    ms = [x * 1000 for x in latencies]
    print(
        f"  per batch: mean {statistics.mean(ms):.2f} ms, p50 {percentile(ms, 50):.2f} ms, "
        f"p99 {percentile(ms, 99):.2f} ms, max {max(ms):.2f} ms"
    )
    sizes = [request_bytes(w) for w in writes]
    fields = [sum(map(len, w.buckets.values())) + len(w.backlog) for w in writes]
    print(
        f"  per batch: {statistics.mean(len(w.tickets) for w in writes):.0f} tickets, "
        f"{statistics.mean(fields):.0f} counter deltas, ~{statistics.mean(sizes) / 1024:.0f} KiB"
    )

    ticket_ids = sorted({t for w in writes for t, r in w.tickets.items() if r is not None})
    pipe = client.pipeline(transaction=False)
    for ticket in ticket_ids:
        pipe.memory_usage(store.key(PARTITION, "t", ticket), samples=0)
        pipe.strlen(store.key(PARTITION, "t", ticket))
    answers = await pipe.execute()
    usage = [int(u) for u in answers[0::2] if u is not None]
    lengths = [int(n) for n in answers[1::2] if n]
    memory_after = int((await client.info("memory"))["used_memory"])
    print(f"memory: {len(usage)} ticket records in Redis")
    print(
        f"  MEMORY USAGE per record: mean {statistics.mean(usage):.0f} B, "
        f"p50 {percentile(usage, 50):.0f} B, p90 {percentile(usage, 90):.0f} B, max {max(usage)} B"
    )
    print(f"  record value length: mean {statistics.mean(lengths):.0f} B, max {max(lengths)} B")
    per_ticket = (memory_after - memory_before) / len(usage)
    print(f"  used_memory growth per ticket (records, indexes, buckets): {per_ticket:.0f} B")

    minutes = sorted({m for w in writes for m in w.buckets})
    pipe = client.pipeline(transaction=False)
    for minute in minutes:
        pipe.memory_usage(store.key(PARTITION, "b", str(minute)), samples=0)
        pipe.hlen(store.key(PARTITION, "b", str(minute)))
    answers = await pipe.execute()
    bucket_bytes = [int(u) for u in answers[0::2] if u is not None]
    bucket_fields = [int(n) for n in answers[1::2] if n]
    print(
        f"  minute buckets: {len(bucket_bytes)}, mean {statistics.mean(bucket_fields):.0f} fields, "
        f"mean {statistics.mean(bucket_bytes) / 1024:.0f} KiB each "
        f"({statistics.mean(bucket_bytes) / statistics.mean(bucket_fields):.0f} B per field)"
    )

    last = [t for t in writes[-1].tickets if writes[-1].tickets[t] is not None]
    now = minutes[-1]
    reads: dict[str, Callable[[], Awaitable[object]]] = {
        f"load_tickets({len(last)})": lambda: store.load_tickets(PARTITION, last),
        f"load_buckets({len(minutes)} minutes)": lambda: store.load_buckets(PARTITION, 0),
        "sla_counts": lambda: store.sla_counts(PARTITION, now, 15 * MICROS_PER_MINUTE),
        "due_for_wake": lambda: store.due_for_wake(PARTITION, now),
        "backlog": lambda: store.backlog(PARTITION),
    }
    timings = []
    for name, read in reads.items():
        spent = []
        for _ in range(5):
            t0 = time.perf_counter()
            await read()
            spent.append((time.perf_counter() - t0) * 1000)
        timings.append(f"{name} {statistics.median(spent):.2f} ms")
    print("reads (median of 5): " + "; ".join(timings))
    span = minutes[-1] - minutes[0]
    print(f"  simulated span of the facts: {span / MICROS_PER_MINUTE / 60:.1f} h")

    await delete_prefix(client, prefix)
    await client.aclose()


async def delete_prefix(client: aioredis.Redis, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=f"{{{prefix}:*", count=1000)]
    for start in range(0, len(keys), 1000):
        await client.delete(*keys[start : start + 1000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=500, help="distinct tickets per batch")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--url", help="an existing Redis (the bench deletes its own keys after)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    writes = planned(args.tickets, args.batches, args.seed)
    print(f"planned {len(writes)} batches in {time.perf_counter() - t0:.1f} s (not measured)")
    if args.url:
        asyncio.run(run(args.url, writes))
    else:
        with ThrowawayRedis() as url:
            asyncio.run(run(url, writes))


if __name__ == "__main__":
    main()
