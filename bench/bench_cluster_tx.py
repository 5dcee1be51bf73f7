"""A partition's transaction on a Redis Cluster: our route to the slot's master against
redis-py's own cluster transaction pipeline, and the route followed by ``WAIT 1`` (the batch
on a replica before it counts as applied), on the same real batches.

    .venv/bin/python bench/bench_cluster_tx.py [--tickets 500] [--batches 60] [--rounds 2]

Starts a throwaway Redis Cluster (3 masters, 3 replicas, ``streams.stack``) on free ports.
The batches are ``bench_store.planned``'s (the simulator's events planned as the worker
would), applied fenced as the worker applies them (``WATCH``, reads, ``MULTI``…``EXEC``),
to partitions spread over the masters. Each round applies them once through
``RedisStore`` (a plain client to the slot's master), once the same with ``WAIT 1 1000``
after each ``EXEC`` (``TICKETPULSE_REDIS_WAIT_REPLICAS=1``) and once through
``RedisCluster``'s ``pipeline(transaction=True)``, alternated; it prints wall time and this
process's CPU time per batch.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Mapping
from itertools import chain
from pathlib import Path
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterPipeline

sys.path.insert(0, str(Path(__file__).parent))
from bench_store import planned

from streams.live.store import RedisSettings, RedisStore
from streams.live.writes import PartitionWrites
from streams.stack import Stack, StackConfig, StackPorts
from streams.stack.redis_cluster import cluster_nodes

PARTITIONS = 6


class MsetPipeline(ClusterPipeline):
    """redis-py's cluster pipeline blocks its ``mset`` method (even in a transaction of one
    slot); the command itself passes."""

    def mset(self, mapping: Mapping[Any, Any]) -> Any:  # type: ignore[override]
        return self.execute_command("MSET", *chain.from_iterable(mapping.items()))


class ClusterTransactions:
    def __init__(self, cluster: RedisCluster) -> None:
        self.cluster = cluster

    def pipeline(self, transaction: bool = True) -> MsetPipeline:
        return MsetPipeline(self.cluster, transaction)


class ClusterPipelineStore(RedisStore):
    """The same store, its transactions sent through redis-py's cluster pipeline."""

    async def _transactions(self, partition: int) -> Redis:
        assert isinstance(self.client, RedisCluster)
        return ClusterTransactions(self.client)  # type: ignore[return-value]  # its pipeline


async def apply_all(store: RedisStore, writes: list[PartitionWrites]) -> tuple[float, float]:
    """(wall, CPU) seconds to apply every batch to every partition, fenced."""
    applied: dict[int, tuple[dict[str, int], int]] = {p: ({}, 0) for p in range(PARTITIONS)}
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in writes:
        for p in range(PARTITIONS):
            offsets, count = applied[p]
            mine = PartitionWrites(**{**vars_of(batch), "partition": p})
            await store.apply(mine, expected_offsets=offsets, expected_writes=count)
            applied[p] = ({**offsets, **batch.offsets}, count + 1)
    return time.perf_counter() - wall, time.process_time() - cpu


def vars_of(writes: PartitionWrites) -> dict[str, object]:
    return {name: getattr(writes, name) for name in PartitionWrites.__dataclass_fields__}


async def main(args: argparse.Namespace) -> None:
    writes = planned(args.tickets, args.batches, seed=7)
    with tempfile.TemporaryDirectory() as state:
        config = StackConfig(ports=StackPorts.free(redis_cluster=True), scrape_targets=())
        stack = Stack(Path(state), config, components=cluster_nodes)
        stack.up(timeout=60)
        try:
            url = stack.addresses.redis_url
            count = len(writes) * PARTITIONS
            print(f"{len(writes)} batches x {PARTITIONS} partitions, {args.tickets} tickets each")
            for round_ in range(args.rounds):
                for name, kind, wait in (
                    ("route to master", RedisStore, 0),
                    ("route + WAIT 1", RedisStore, 1),
                    ("RedisCluster tx", ClusterPipelineStore, 0),
                ):
                    client = RedisSettings(url).client()
                    assert isinstance(client, RedisCluster)
                    prefix = f"b{round_}{kind.__name__[:3].lower()}{wait}{int(time.time())}"
                    store = kind(client, prefix, wait_replicas=wait)
                    wall, cpu = await apply_all(store, writes)
                    await store.aclose()
                    print(
                        f"round {round_ + 1} {name:16}: {wall / count * 1000:.2f} ms wall, "
                        f"{cpu / count * 1000:.2f} ms CPU per batch"
                    )
        finally:
            stack.down()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
