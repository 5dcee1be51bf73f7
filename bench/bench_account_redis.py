"""Redis memory of the accounts: bytes per account, and the published partials' size.

    .venv/bin/python bench/bench_account_redis.py [--accounts 10000,50000] [--days 90]
        [--partitions 4]

Each account gets the simulator's CRM life over ``--days`` (``account_lives``); its accepted
events are encoded as the worker stores them (``account_records.encode_account``) and written
to a fresh ``redis-server`` (no persistence, on a free loopback port) under the worker's keys
``{bench:p<n>}:accounts`` (hash field = account_id, the partition from ``Placement``). Then,
per partition, its accounts partial and at-risk list are computed as the worker publishes
them (``account_share.PartialCache``) and written to ``{p}:acc`` and ``{p}:risk``. Measured:
``MEMORY USAGE`` of each key (what Redis holds for it, overhead included) and the
``used_memory`` delta of loading the records, per account; the record's length in events and
bytes (median, p99, max). Links (``{p}:links``) are per ticket and are not loaded here.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from account_lives import (  # beside this file: python bench/bench_account_redis.py
    crm_events,
    partition_states,
)

from streams import native
from streams.domain.policies import default_policies
from streams.live.account_records import encode_account
from streams.live.account_share import PartialCache


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], redis.Redis]:
    port = free_port()
    server = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return server, client
        except redis.ConnectionError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("redis-server did not start")


def percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(client: redis.Redis, accounts: int, days: float, partitions: int) -> None:
    client.flushall()
    events, as_of = crm_events(accounts, days)
    states = partition_states(events, partitions)
    before = int(client.info("memory")["used_memory"])
    blobs: list[int] = []
    lengths: list[int] = []
    for p, state in states.items():
        records = {a: encode_account(t) for a, t in state.accounts.items()}
        blobs += [len(b) for b in records.values()]
        lengths += [len(t.events) for t in state.accounts.values()]
        pipe = client.pipeline(transaction=False)
        items = list(records.items())
        for chunk in range(0, len(items), 1000):
            pipe.hset(f"{{bench:p{p}}}:accounts", mapping=dict(items[chunk : chunk + 1000]))
        pipe.execute()
    loaded = int(client.info("memory")["used_memory"]) - before
    held = sum(len(s.accounts) for s in states.values())
    usage = sum(
        int(client.memory_usage(f"{{bench:p{p}}}:accounts", samples=0) or 0) for p in states
    )
    health = default_policies().account_health
    cache = PartialCache()
    acc = risk = at_risk = rows = fields = bins = 0
    for p, state in states.items():
        published = asyncio.run(cache.partial(state, as_of, health))
        client.set(f"{{bench:p{p}}}:acc", published.blob)
        client.set(f"{{bench:p{p}}}:risk", published.risk)
        acc += int(client.memory_usage(f"{{bench:p{p}}}:acc", samples=0) or 0)
        risk += int(client.memory_usage(f"{{bench:p{p}}}:risk", samples=0) or 0)
        at_risk += len(published.partial.all_at_risk)
        for sums in published.partial.windows.values():
            for counters in sums.values():
                rows += 1
                fields += len(counters)
                bins += sum(1 for name in counters if ":b" in name or ":z" in name)
    print(
        f"{held:,} accounts ({len(events):,} events, {days:g} days): record events median "
        f"{statistics.median(lengths):.0f}, p99 {percentile(lengths, 0.99)}, max {max(lengths)}; "
        f"record bytes median {statistics.median(blobs):.0f}, p99 {percentile(blobs, 0.99)}, "
        f"max {max(blobs)}, mean {sum(blobs) / held:.0f}"
    )
    print(
        f"  :accounts MEMORY USAGE {usage:,} B = {usage / held:.0f} B/account; used_memory "
        f"delta {loaded:,} B = {loaded / held:.0f} B/account"
    )
    print(
        f"  :acc (partials, {partitions} partitions) {acc:,} B; :risk {risk:,} B for "
        f"{at_risk:,} at-risk customers ({(risk / at_risk) if at_risk else 0:.0f} B each)"
    )
    print(
        f"  :acc holds {rows:,} (window, row) cells, {fields:,} counters, {bins:,} of them "
        "distribution bins (bounded by the rows and the bins, not by the accounts)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", default="10000,50000")
    parser.add_argument("--days", type=float, default=90.0)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    print(f"domain: {native.status().reason}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        server, client = start_redis(Path(folder))
        try:
            for count in (int(n) for n in args.accounts.split(",")):
                measure(client, count, args.days, args.partitions)
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
