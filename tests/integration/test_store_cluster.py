"""The Redis store on a real Redis Cluster (3 masters, 3 replicas): transactions go to the
slot's master, reads merge the shards, a moved slot is retried without doubling a batch."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis
from redis.asyncio import RedisCluster
from redis.crc import key_slot
from redis.exceptions import MovedError, RedisClusterException

from streams.domain.facts import SlaTarget
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.errors import TransientError
from streams.live.redis_cluster import parse_cluster_url
from streams.live.store import RedisSettings, RedisStore
from streams.live.stores.protocol import ClockRange
from streams.live.writes import PartitionWrites, backlog_field, bucket_field
from streams.stack.ports import free_ports

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
    clocks, _ = await store.sla_clocks(
        wanted, [SlaTarget.FIRST_REPLY], ClockRange(10, due_until=T0 + 10**12)
    )
    assert sorted(c.ticket_id for c in clocks) == sorted(f"T-{p}" for p in wanted)
    records = await store.load_records({p: [f"T-{p}"] for p in wanted})
    assert records == {f"T-{p}": b"r" for p in wanted}
    for p in wanted:  # each partition's transaction landed whole, on its own slot
        assert await store.load_offsets(p) == {"t": 1}
        assert await store.backlog(p) == {OPEN_HIGH: 1}
        at_risk, _ = await store.sla_counts(p, T0, 10**9)
        assert at_risk["first_reply"] == 1


def replica_of(master: tuple[str, int]) -> tuple[str, int, int]:
    """(host, port, pid) of the master's replica (one each in the test cluster)."""
    with redis.Redis(*master) as node:
        replica = node.info("replication")["slave0"]
    with redis.Redis(replica["ip"], replica["port"]) as node:
        pid = int(node.info("server")["process_id"])
    return replica["ip"], int(replica["port"]), pid


def read_replica(replica: tuple[str, int, int], key: str) -> bytes | None:
    """A key as the replica holds it (``READONLY``: a replica answers for its master's slots)."""
    with redis.Redis(replica[0], replica[1], single_connection_client=True) as node:
        node.execute_command("READONLY")
        return node.get(key)  # type: ignore[return-value]


async def test_with_wait_a_batch_is_acknowledged_only_once_the_replica_holds_it(
    redis_cluster_url: str,
) -> None:
    settings = RedisSettings(
        redis_cluster_url, f"w{uuid.uuid4().hex[:10]}", wait_replicas=1, wait_timeout_ms=300
    )
    store = RedisStore.from_settings(settings)
    try:
        await store.apply(counting(0, 1), expected_offsets={}, expected_writes=0)
        replica = replica_of(master_of(store, 0))
        assert read_replica(replica, store.key(0, "t", "T-0")) == b"r"  # there on return

        second = counting(0, 2)
        second.tickets["T-0"] = b"r2"
        os.kill(replica[2], signal.SIGSTOP)  # the replica stops acknowledging
        try:
            with pytest.raises(TransientError, match="reached 0 of 1 replicas within 300 ms"):
                await store.apply(second, expected_offsets={"t": 1}, expected_writes=1)
        finally:
            os.kill(replica[2], signal.SIGCONT)
        # The worker's retry of the same batch: it landed once, so only its replication is
        # awaited again; its counters are not added twice and the fence still holds.
        await store.apply(second, expected_offsets={"t": 1}, expected_writes=1)
        assert read_replica(replica, store.key(0, "t", "T-0")) == b"r2"
        assert await store.backlog(0) == {OPEN_HIGH: 2}
        assert await store.load_offsets(0) == {"t": 2}
        assert await store.load_writes(0) == 2
    finally:
        await store.aclose()


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


@pytest.mark.parametrize("slot_map", [True, False])
async def test_an_acl_user_limited_to_its_prefix_needs_the_slot_map_too(
    redis_cluster_url: str, slot_map: bool
) -> None:
    """docs/redis.md's ACL rule plus ``+cluster|slots``, set on every node, is enough for
    every store call on a cluster; without ``cluster|slots`` the client cannot start."""
    prefix = f"a{uuid.uuid4().hex[:8]}"
    user, password = f"u{prefix}", uuid.uuid4().hex
    rule = ["on", f">{password}", f"~{{{prefix}:p*}}:*", f"~{prefix}:snapshot"]
    rule += ["+@read", "+@write", "+@scripting", "+@transaction", "+@connection"]
    rule += ["+cluster|slots"] if slot_map else []
    nodes = parse_cluster_url(redis_cluster_url).nodes
    for host, port in nodes:
        with redis.Redis(host, port) as node:
            node.execute_command("ACL", "SETUSER", user, *rule)
    settings = RedisSettings(redis_cluster_url, prefix, username=user, password=password)
    store = RedisStore.from_settings(settings)
    try:
        if not slot_map:
            # a configuration error, not retried (the NOPERM on CLUSTER SLOTS is its cause)
            with pytest.raises(RedisClusterException, match="Cluster mode is not enabled"):
                await store.load_offsets(3)
            return
        await store.apply(counting(3, 1), expected_offsets={}, expected_writes=0)
        await store.publish_window_sums(3, b"{}")
        await store.write_snapshot(b"{}")
        assert await store.load_buckets(3, T0) == {T0: {EMAIL: 1}}
        assert (await store.sla_counts(3, T0, 10**9))[0]["first_reply"] == 1
        assert await store.load_records({3: ["T-3"]}) == {"T-3": b"r"}
        assert await store.read_window_sums([3, 4]) == {3: b"{}"}
        assert await store.read_snapshot() == b"{}"
        await store.set_marker(3, "w")
        assert (await store.check(3)).marker and await store.has_state(3)
        assert await store.wipe(3) > 0
    finally:
        await store.aclose()
        for host, port in nodes:
            with redis.Redis(host, port) as node:
                node.execute_command("ACL", "DELUSER", user)


async def test_a_cluster_no_node_of_which_answers_is_transient() -> None:
    """As a single Redis that is down: the worker retries with backoff, health says no."""
    (port,) = free_ports(1)
    store = RedisStore.from_settings(RedisSettings(f"redis+cluster://127.0.0.1:{port}"))
    try:
        assert await store.ping() is False
        with pytest.raises(TransientError, match="cannot be connected"):
            await store.load_offsets(1)
        with pytest.raises(TransientError, match="cannot be connected"):
            await store.apply(counting(1, 1), expected_offsets={}, expected_writes=0)
        with pytest.raises(TransientError):
            await store.read_window_sums([1, 2])
    finally:
        await store.aclose()
