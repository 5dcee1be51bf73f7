"""The Redis store on a real Redis Cluster (3 masters, 3 replicas): transactions go to the
slot's master, reads merge the shards, a moved slot is retried without doubling a batch."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis
from redis.asyncio import RedisCluster
from redis.crc import key_slot
from redis.exceptions import MovedError

from streams.domain.facts import SlaTarget
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.errors import TransientError
from streams.live.redis_cluster import parse_cluster_url
from streams.live.store import RedisSettings, RedisStore
from streams.live.writes import PartitionWrites, backlog_field, bucket_field

pytestmark = pytest.mark.integration

T0 = parse_rfc3339("2026-11-02T09:00:00Z")
EMAIL = bucket_field("channel", "email", "tickets_created")
OPEN_HIGH = backlog_field("open", "high", "billing")
PARTITIONS = 12


@pytest.fixture
async def store(redis_cluster_url: str) -> AsyncIterator[RedisStore]:
    settings = RedisSettings(redis_cluster_url, f"k{uuid.uuid4().hex[:10]}")
    store = RedisStore.from_settings(settings)
    yield store
    await store.aclose()


def counting(partition: int, offset: int) -> PartitionWrites:
    """A batch with counter deltas (not idempotent) and a ticket with a running clock."""
    return PartitionWrites(
        partition=partition,
        tickets={f"T-{partition}": b"r"},
        buckets={T0: {EMAIL: 1}},
        backlog={OPEN_HIGH: 1},
        due={SlaTarget.FIRST_REPLY: {f"T-{partition}": T0 + partition * MICROS_PER_MINUTE}},
        offsets={"t": offset},
    )


def master_of(store: RedisStore, partition: int) -> tuple[str, int]:
    assert isinstance(store.client, RedisCluster)
    slot = key_slot(store.key(partition, "off").encode())
    node = store.client.nodes_manager.get_node_from_slot(slot)
    return node.host, int(node.port)


async def test_partitions_spread_over_the_masters_and_reads_merge_them(store: RedisStore) -> None:
    for p in range(PARTITIONS):
        await store.apply(counting(p, 1), expected_offsets={}, expected_writes=0)
        await store.publish_window_sums(p, f"w{p}".encode())
    assert len({master_of(store, p) for p in range(PARTITIONS)}) == 3

    wanted = range(PARTITIONS)
    assert await store.read_window_sums(wanted) == {p: f"w{p}".encode() for p in wanted}
    due = await store.due_before(wanted, [SlaTarget.FIRST_REPLY], T0 + 10**12, 10)
    assert sorted(ticket for ticket, _, _ in due) == sorted(f"T-{p}" for p in wanted)
    records = await store.load_records({p: [f"T-{p}"] for p in wanted})
    assert records == {f"T-{p}": b"r" for p in wanted}
    for p in wanted:  # each partition's transaction landed whole, on its own slot
        assert await store.load_offsets(p) == {"t": 1}
        assert await store.backlog(p) == {OPEN_HIGH: 1}
        at_risk, _ = await store.sla_counts(p, T0, 10**9)
        assert at_risk["first_reply"] == 1


def fail_over(url: str, master: tuple[str, int]) -> None:
    """A manual failover (``CLUSTER FAILOVER`` on a replica of ``master``): the replica takes
    the slots, the old master becomes its replica."""
    nodes = parse_cluster_url(url).nodes
    with redis.Redis(*master) as old:
        master_id = old.execute_command("CLUSTER", "MYID").decode()
    replica = None
    for host, port in nodes:
        with redis.Redis(host, port) as node:
            info = node.info("replication")
            mine = node.execute_command("CLUSTER", "MYID").decode()
            nodes_text = node.execute_command("CLUSTER", "NODES").decode()
            me = next(line for line in nodes_text.splitlines() if line.startswith(mine))
            if info["role"] == "slave" and me.split()[3] == master_id:
                replica = (host, port)
    assert replica is not None
    deadline = time.monotonic() + 60
    with redis.Redis(*replica) as node:
        asked = 0.0
        while node.info("replication")["role"] != "master":
            assert time.monotonic() < deadline, "the replica was not promoted"
            in_sync = node.info("replication").get("master_link_status") == "up"
            if in_sync and time.monotonic() - asked > 5:  # a manual failover gives up in 5 s
                node.execute_command("CLUSTER", "FAILOVER")
                asked = time.monotonic()
            time.sleep(0.05)
    with redis.Redis(*master) as old:
        while old.info("replication")["role"] != "slave":
            assert time.monotonic() < deadline, "the old master did not step down"
            time.sleep(0.05)


@pytest.mark.parametrize("fenced", [False, True])
async def test_a_batch_sent_to_a_former_master_is_retried_once_on_the_new_one(
    store: RedisStore, redis_cluster_url: str, fenced: bool
) -> None:
    await store.apply(counting(5, 1), expected_offsets={}, expected_writes=0)
    old_master = master_of(store, 5)
    fail_over(redis_cluster_url, old_master)  # the store's slot map still names the old one

    writes = counting(5, 2)
    fence = {"expected_offsets": {"t": 1}, "expected_writes": 1} if fenced else {}
    with pytest.raises(TransientError) as refused:
        await store.apply(writes, **fence)  # type: ignore[arg-type]
    assert isinstance(refused.value.__cause__, MovedError)
    assert master_of(store, 5) != old_master  # the map was read again
    await store.apply(writes, **fence)  # type: ignore[arg-type]  # the worker's retry

    assert await store.load_offsets(5) == {"t": 2}
    assert await store.load_writes(5) == 2
    assert await store.load_buckets(5, T0) == {T0: {EMAIL: 2}}  # counted once per batch
    assert await store.backlog(5) == {OPEN_HIGH: 2}
