"""The Redis store against a real redis-server: every key it writes, read back.

What any store must do is the contract (``tests/stores/contract.py``, run here by
``test_store_contract_redis.py``); these tests hold what is Redis's own: the key layout,
TTLs, one MULTI/EXEC, the counters script's idempotence, connection errors and ACLs.

Each test works under its own key prefix, so tests share the session's Redis without
seeing each other's keys.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.exceptions import AuthenticationError, NoPermissionError

from streams.domain.facts import SlaTarget
from streams.domain.instant import (
    MICROS_PER_MINUTE,
    MICROS_PER_SECOND,
    format_rfc3339,
    parse_rfc3339,
)
from streams.errors import TransientError
from streams.live.batch import Message
from streams.live.redis_packing import with_hiredis_packing
from streams.live.store import RedisSettings, RedisStore
from streams.live.stores.protocol import ClockEntry, ClockRange
from streams.live.writes import BucketValues, PartitionWrites, backlog_field, bucket_field
from streams.stack.ports import HOST, free_ports
from tests.integration.workers import in_process_worker

pytestmark = pytest.mark.integration

T0 = parse_rfc3339("2026-11-02T09:00:00Z")
MIN = MICROS_PER_MINUTE
SEC = MICROS_PER_SECOND
FR, NR, RES = SlaTarget.FIRST_REPLY, SlaTarget.NEXT_REPLY, SlaTarget.RESOLUTION
CREATED_EMAIL = bucket_field("channel", "email", "tickets_created")
CREATED_BILLING = bucket_field("team", "billing", "tickets_created")
OPEN_HIGH = backlog_field("open", "high", "billing")
NEW_LOW = backlog_field("new", "low", "support")


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    connection = with_hiredis_packing(aioredis.Redis.from_url(redis_url))  # as the worker's
    yield connection
    await connection.aclose()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(client: aioredis.Redis, prefix: str) -> RedisStore:
    return RedisStore(client, prefix)


async def keys_of(client: aioredis.Redis, prefix: str) -> set[str]:
    found = set()
    for pattern in (f"{{{prefix}:p*", f"{prefix}:*"):
        async for key in client.scan_iter(match=pattern, count=1000):
            found.add(key.decode())
    return found


async def exec_calls(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_exec", {}).get("calls", 0))


def full_writes(partition: int = 3) -> PartitionWrites:
    return PartitionWrites(
        partition=partition,
        tickets={"T-1": b'{"n":1,"e":[]}', "T-2": b'{"n":2,"e":[]}'},
        closed={"T-2"},
        buckets={T0: {CREATED_EMAIL: 2, CREATED_BILLING: 1}, T0 + MIN: {CREATED_EMAIL: 1}},
        backlog={OPEN_HIGH: 1, NEW_LOW: 3},
        due={FR: {"T-1": T0 + 15 * MIN}, RES: {"T-1": T0 + 4 * 60 * MIN}},
        breached={NR: {"T-2": T0 - 5 * MIN}},
        wake={"T-1": T0 + 15 * MIN, "T-2": T0 + 5 * MIN},
        offsets={"support.tickets": 41, "support.contacts": 7},
    )


def negated(writes: PartitionWrites) -> PartitionWrites:
    return PartitionWrites(
        partition=writes.partition,
        buckets={m: {f: -v for f, v in fields.items()} for m, fields in writes.buckets.items()},
        backlog={k: -v for k, v in writes.backlog.items()},
    )


async def test_apply_writes_every_key(
    store: RedisStore, client: aioredis.Redis, prefix: str
) -> None:
    await store.apply(full_writes())
    k = f"{{{prefix}:p3}}"

    assert await client.get(f"{k}:t:T-1") == b'{"n":1,"e":[]}'
    assert await client.get(f"{k}:t:T-2") == b'{"n":2,"e":[]}'
    assert await client.hgetall(f"{k}:b:{T0}") == {
        CREATED_EMAIL.encode(): b"2",
        CREATED_BILLING.encode(): b"1",
    }
    assert await client.hgetall(f"{k}:b:{T0 + MIN}") == {CREATED_EMAIL.encode(): b"1"}
    assert await client.hgetall(f"{k}:backlog") == {
        OPEN_HIGH.encode(): b"1",
        NEW_LOW.encode(): b"3",
    }
    assert await client.zrange(f"{k}:due:first_reply", 0, -1, withscores=True) == [
        (b"T-1", float(T0 + 15 * MIN))
    ]
    assert await client.zscore(f"{k}:due:resolution", "T-1") == T0 + 4 * 60 * MIN
    assert await client.smembers(f"{k}:breached:next_reply") == {b"T-2"}
    assert await client.zrange(f"{k}:late:next_reply", 0, -1, withscores=True) == [
        (b"T-2", float(T0 - 5 * MIN))
    ]
    assert await client.zrange(f"{k}:wake", 0, -1, withscores=True) == [
        (b"T-2", float(T0 + 5 * MIN)),
        (b"T-1", float(T0 + 15 * MIN)),
    ]
    assert await client.hgetall(f"{k}:off") == {
        b"support.tickets": b"41",
        b"support.contacts": b"7",
    }
    assert await client.zrange(f"{k}:minutes", 0, -1) == [str(T0).encode(), str(T0 + MIN).encode()]
    assert await client.get(f"{k}:writes") == b"1"  # the transactions applied: for the fence
    assert await keys_of(client, prefix) == {
        f"{k}:{suffix}"
        for suffix in (
            "t:T-1",
            "t:T-2",
            f"b:{T0}",
            f"b:{T0 + MIN}",
            "minutes",
            "backlog",
            "due:first_reply",
            "due:resolution",
            "breached:next_reply",
            "late:next_reply",
            "wake",
            "off",
            "writes",
            "tx",
        )
    }


async def test_bucket_values_set_fields_drop_zeros_and_keep_the_index_and_ttls(
    client: aioredis.Redis, prefix: str
) -> None:
    store = RedisStore(client, prefix, bucket_ttl=5000)
    k = f"{{{prefix}:p5}}"
    first = PartitionWrites(
        5,
        bucket_values={
            T0: BucketValues({CREATED_EMAIL: 4, CREATED_BILLING: 1}),
            T0 + MIN: BucketValues({CREATED_EMAIL: 2}),
        },
    )
    await store.apply(first)
    await store.apply(first)  # values, not increments: twice is once
    assert await store.load_buckets(5, 0) == {
        T0: {CREATED_EMAIL: 4, CREATED_BILLING: 1},
        T0 + MIN: {CREATED_EMAIL: 2},
    }

    # one field set, one dropped, one bucket emptied; a minute with increments beside them
    second = PartitionWrites(
        5,
        buckets={T0 + 2 * MIN: {CREATED_EMAIL: 3}},
        bucket_values={
            T0: BucketValues({CREATED_EMAIL: 7}, [CREATED_BILLING]),
            T0 + MIN: BucketValues(removed=[CREATED_EMAIL], empty=True),
        },
    )
    await store.apply(second)
    assert await store.load_buckets(5, 0) == {
        T0: {CREATED_EMAIL: 7},
        T0 + 2 * MIN: {CREATED_EMAIL: 3},
    }
    assert await client.zrange(f"{k}:minutes", 0, -1, withscores=True) == [
        (str(T0).encode(), float(T0)),
        (str(T0 + 2 * MIN).encode(), float(T0 + 2 * MIN)),
    ]
    assert f"{k}:b:{T0 + MIN}" not in await keys_of(client, prefix)
    for key in (f"{k}:b:{T0}", f"{k}:minutes"):
        assert 4900 < await client.ttl(key) <= 5000, key

    await store.apply(PartitionWrites(5, bucket_values={T0: BucketValues(empty=True)}))
    await store.apply(PartitionWrites(5, buckets={T0 + 2 * MIN: {CREATED_EMAIL: -3}}))
    assert await store.load_buckets(5, 0) == {}
    assert not {f"{k}:b:{T0}", f"{k}:minutes"} & await keys_of(client, prefix)


async def test_negation_leaves_no_field_bucket_or_index_entry(
    store: RedisStore, client: aioredis.Redis, prefix: str
) -> None:
    writes = full_writes()
    await store.apply(writes)
    await store.apply(negated(writes))

    assert await store.load_buckets(3, 0) == {}
    assert await store.backlog(3) == {}
    k = f"{{{prefix}:p3}}"
    remaining = await keys_of(client, prefix)
    assert not {f"{k}:b:{T0}", f"{k}:b:{T0 + MIN}", f"{k}:backlog", f"{k}:minutes"} & remaining


async def test_ttls_on_buckets_closed_tickets_and_none_on_open_tickets(
    client: aioredis.Redis, prefix: str
) -> None:
    store = RedisStore(client, prefix, bucket_ttl=5000, closed_ticket_ttl=3000)
    await store.apply(full_writes())
    k = f"{{{prefix}:p3}}"

    for key in (f"{k}:b:{T0}", f"{k}:b:{T0 + MIN}", f"{k}:minutes"):
        assert 4900 < await client.ttl(key) <= 5000, key
    assert 2900 < await client.ttl(f"{k}:t:T-2") <= 3000
    for key in (f"{k}:t:T-1", f"{k}:backlog", f"{k}:off", f"{k}:wake", f"{k}:due:first_reply"):
        assert await client.ttl(key) == -1, key

    # a record written again without being closed persists; closing it alone sets the TTL
    await store.apply(PartitionWrites(3, tickets={"T-2": b"reopened?"}))
    assert await client.ttl(f"{k}:t:T-2") == -1
    await store.apply(PartitionWrites(3, closed={"T-1"}))
    assert 2900 < await client.ttl(f"{k}:t:T-1") <= 3000
    assert await client.get(f"{k}:t:T-1") == b'{"n":1,"e":[]}'


async def test_deleting_records_and_clock_entries(
    store: RedisStore, client: aioredis.Redis, prefix: str
) -> None:
    await store.apply(full_writes())
    await store.apply(
        PartitionWrites(
            3,
            tickets={"T-2": None},
            due={FR: {"T-1": None}, RES: {"T-1": T0 + 5 * 60 * MIN}},
            breached={NR: {"T-2": None}, FR: {"T-1": T0 - MIN}},
            wake={"T-2": None},
        )
    )
    k = f"{{{prefix}:p3}}"

    assert await store.load_tickets(3, ["T-1", "T-2"]) == {"T-1": b'{"n":1,"e":[]}'}
    assert not await client.exists(f"{k}:due:first_reply")
    assert await client.zscore(f"{k}:due:resolution", "T-1") == T0 + 5 * 60 * MIN
    assert await client.smembers(f"{k}:breached:next_reply") == set()
    assert await client.smembers(f"{k}:breached:first_reply") == {b"T-1"}
    assert not await client.exists(f"{k}:late:next_reply")
    assert await client.zscore(f"{k}:late:first_reply", "T-1") == T0 - MIN
    assert await store.due_for_wake(3, T0 + 60 * MIN) == ["T-1"]


async def test_sla_clocks_read_a_breached_clock_without_deadline_first(
    store: RedisStore, client: aioredis.Redis, prefix: str
) -> None:
    """The ranges and ties of ``sla_clocks`` are the contract's (tests/stores/contract.py);
    a breached clock without a ``late`` entry (written before that index existed) is Redis
    state only."""
    now = T0
    await store.apply(PartitionWrites(1, breached={FR: {"b1": now - MIN}}))
    await store.apply(PartitionWrites(2, tickets={"old": b"two"}, due={FR: {"overdue": now - 1}}))
    await client.sadd(f"{{{prefix}:p2}}:breached:first_reply", "old")

    found, more = await store.sla_clocks([1, 2], [FR], ClockRange(count=10, due_until=now))
    assert sorted(found) == [
        ClockEntry(0, "old", FR, 2, True),
        ClockEntry(now - MIN, "b1", FR, 1, True),
        ClockEntry(now - 1, "overdue", FR, 2, False),
    ]
    assert not more
    # read from a start on, it is not listed again
    found, _ = await store.sla_clocks([2], [FR], ClockRange(count=10, start=now - MIN))
    assert found == []


async def test_a_partitions_keys_share_one_cluster_slot(
    store: RedisStore, client: aioredis.Redis, prefix: str
) -> None:
    for partition in (0, 7):
        await store.apply(full_writes(partition))
        await store.publish_window_sums(partition, b"{}")
    keys = await keys_of(client, prefix)

    for partition in (0, 7):
        tag = f"{{{prefix}:p{partition}}}"
        mine = [key for key in keys if key.startswith(tag)]
        assert len(mine) == 15  # every kind of key (docs/redis.md), the late index too
        assert {key_slot(key.encode()) for key in mine} == {
            key_slot(f"{prefix}:p{partition}".encode())
        }
    slots = {key_slot(store.key(p, "off").encode()) for p in range(16)}
    assert len(slots) > 1  # partitions spread over the cluster


async def test_prefix_is_configurable_and_isolates(client: aioredis.Redis, prefix: str) -> None:
    ours, theirs = RedisStore(client, prefix), RedisStore(client, prefix + "x")
    assert ours.key(7, "t", "a:b") == f"{{{prefix}:p7}}:t:a:b"
    await ours.apply(full_writes())
    await ours.write_snapshot(b"ours")

    assert await theirs.load_offsets(3) == {}
    assert await theirs.read_snapshot() is None
    assert await ours.read_snapshot() == b"ours"
    assert all(
        k.startswith((f"{{{prefix}:p3}}:", f"{prefix}:")) for k in await keys_of(client, prefix)
    )
    for bad in ("", "a{b", "a}"):
        with pytest.raises(ValueError):
            RedisStore(client, bad)


async def test_apply_is_one_transaction_and_empty_writes_send_nothing(
    store: RedisStore, client: aioredis.Redis
) -> None:
    before = await exec_calls(client)
    await store.apply(full_writes())
    assert await exec_calls(client) == before + 1
    await store.apply(PartitionWrites(3))
    assert await exec_calls(client) == before + 1


async def test_no_partial_batch_is_visible_to_a_concurrent_reader(
    redis_url: str, prefix: str
) -> None:
    """Writers each set every record and the offset to their number; a reader never sees a mix.

    Half the records expire (one SET each), half do not (one MSET), and the records are large,
    so a batch spans many socket reads: without MULTI/EXEC, Redis would interleave the writers.
    """
    rounds, writers, tickets = 3, 16, [f"T-{i}" for i in range(40)]
    client = aioredis.Redis.from_url(redis_url, max_connections=writers + 2)
    store = RedisStore(client, prefix)

    def batch(number: int) -> PartitionWrites:
        record = f"{number:04d}".encode() + b"x" * 6000
        return PartitionWrites(
            9,
            tickets=dict.fromkeys(tickets, record),
            closed=set(tickets[::2]),
            buckets={T0: {CREATED_EMAIL: 1}},
            backlog={OPEN_HIGH: 1},
            offsets={"support.tickets": number},
        )

    seen: list[tuple[set[bytes], int, int]] = []
    done = asyncio.Event()

    async def read() -> None:
        keys = [store.key(9, "t", t) for t in tickets]
        while not done.is_set():
            pipe = client.pipeline(transaction=True)
            pipe.mget(keys)
            pipe.hget(store.key(9, "off"), "support.tickets")
            pipe.hget(store.key(9, "b", str(T0)), CREATED_EMAIL)
            pipe.hget(store.key(9, "backlog"), OPEN_HIGH)
            records, offset, bucket, backlog = await pipe.execute()
            if offset is not None:
                assert bucket == backlog
                seen.append(({r[:4] for r in records}, int(offset), int(bucket)))
            await asyncio.sleep(0)

    async def write() -> None:
        for round_start in range(0, rounds * writers, writers):
            numbers = range(round_start + 1, round_start + writers + 1)
            await asyncio.gather(*(store.apply(batch(n)) for n in numbers))
        done.set()

    try:
        await asyncio.gather(read(), write())
        assert seen
        for versions, offset, _ in seen:
            assert versions == {f"{offset:04d}".encode()}
        assert await store.load_buckets(9, T0) == {T0: {CREATED_EMAIL: rounds * writers}}
    finally:
        await client.aclose()


class LoseFirstExecReply:
    """A TCP proxy to Redis that cuts the connection instead of passing on the first EXEC reply.

    Redis has run the transaction by then; the client only cannot know it.
    """

    def __init__(self, redis_port: int) -> None:
        self.redis_port = redis_port
        self.cut = False
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, HOST, 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(HOST, self.redis_port)
        exec_sent = asyncio.Event()

        async def pump(
            source: asyncio.StreamReader,
            sink: asyncio.StreamWriter,
            before_write: Callable[[bytes], Awaitable[bool]],
        ) -> None:
            while data := await source.read(65536):
                if not await before_write(data):
                    writer.close()
                    up_writer.close()
                    return
                sink.write(data)
                await sink.drain()

        async def upstream(data: bytes) -> bool:
            if b"$4\r\nEXEC\r\n" in data:
                exec_sent.set()
            return True

        async def downstream(data: bytes) -> bool:
            if exec_sent.is_set() and not self.cut:
                self.cut = True
                return False
            return True

        await asyncio.gather(
            pump(reader, up_writer, upstream),
            pump(up_reader, writer, downstream),
            return_exceptions=True,
        )


@pytest.fixture
async def lossy_url(redis_url: str) -> AsyncIterator[tuple[str, LoseFirstExecReply]]:
    proxy = LoseFirstExecReply(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    port = await proxy.start()
    yield f"redis://{HOST}:{port}/0", proxy
    await proxy.stop()


def counting_writes() -> PartitionWrites:
    return PartitionWrites(
        4,
        tickets={"T-1": b"r1"},
        buckets={T0: {CREATED_EMAIL: 1}},
        backlog={OPEN_HIGH: 1},
        offsets={"support.tickets": 10},
    )


async def test_a_transaction_resent_by_the_client_adds_its_counters_once(
    lossy_url: tuple[str, LoseFirstExecReply], client: aioredis.Redis, prefix: str
) -> None:
    url, proxy = lossy_url
    retrying = aioredis.Redis.from_url(url, retry=Retry(NoBackoff(), 1))
    store = RedisStore(retrying, prefix)
    before = await exec_calls(client)
    try:
        await store.apply(counting_writes())
    finally:
        await retrying.aclose()

    assert proxy.cut
    assert await exec_calls(client) == before + 2  # both transactions ran
    reader = RedisStore(client, prefix)
    assert await reader.load_buckets(4, T0) == {T0: {CREATED_EMAIL: 1}}
    assert await reader.backlog(4) == {OPEN_HIGH: 1}
    assert await reader.load_tickets(4, ["T-1"]) == {"T-1": b"r1"}


async def test_applying_the_same_writes_after_a_transient_error_adds_counters_once(
    lossy_url: tuple[str, LoseFirstExecReply], client: aioredis.Redis, prefix: str
) -> None:
    url, proxy = lossy_url
    store = RedisStore(aioredis.Redis.from_url(url, retry=Retry(NoBackoff(), 0)), prefix)
    writes = counting_writes()
    try:
        with pytest.raises(TransientError):
            await store.apply(writes)
        assert proxy.cut
        await store.apply(writes)  # what the worker's retry does
        assert await store.load_buckets(4, T0) == {T0: {CREATED_EMAIL: 1}}
        assert await store.backlog(4) == {OPEN_HIGH: 1}
        await store.apply(counting_writes())  # a new batch with the same deltas does count
        assert await store.load_buckets(4, T0) == {T0: {CREATED_EMAIL: 2}}
    finally:
        await store.aclose()


async def test_an_expired_bucket_leaves_the_minute_index(
    store: RedisStore, client: aioredis.Redis
) -> None:
    await store.apply(full_writes())
    await client.delete(store.key(3, "b", str(T0)))  # what its TTL does

    assert await store.load_buckets(3, 0) == {T0 + MIN: {CREATED_EMAIL: 1}}
    assert await client.zrange(store.key(3, "minutes"), 0, -1) == [str(T0 + MIN).encode()]


async def test_redis_down_is_a_transient_error() -> None:
    (port,) = free_ports(1)
    store = RedisStore.from_settings(RedisSettings(f"redis://{HOST}:{port}/0", timeout_seconds=1))
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.load_offsets(0),
        lambda: store.load_tickets(0, ["T-1"]),
        lambda: store.apply(full_writes()),
        lambda: store.due_for_wake(0, T0),
        lambda: store.load_buckets(0, T0),
        lambda: store.sla_counts(0, T0, MIN),
        lambda: store.backlog(0),
        lambda: store.publish_window_sums(0, b"{}"),
        lambda: store.read_window_sums([0, 1]),
        lambda: store.write_snapshot(b"{}"),
        lambda: store.read_snapshot(),
        lambda: store.sla_clocks([0, 1], list(SlaTarget), ClockRange(count=10)),
        lambda: store.load_records({0: ["T-1"], 1: ["T-2"]}),
        lambda: store.has_marker(0),
        lambda: store.set_marker(0, "w"),
        lambda: store.has_state(0),
        lambda: store.wipe(0),
        lambda: store.check(0),
    ]
    try:
        assert await store.ping() is False
        for call in calls:
            with pytest.raises(TransientError) as caught:
                await call()
            assert caught.value.__cause__ is not None
    finally:
        await store.aclose()


async def test_settings_connect_as_an_acl_user_limited_to_its_prefix(
    redis_url: str, client: aioredis.Redis, prefix: str
) -> None:
    """The ACL rule docs/redis.md recommends is enough for every store call, and no more."""
    user, password = f"u{prefix}", uuid.uuid4().hex
    await client.acl_setuser(
        user,
        enabled=True,
        passwords=[f"+{password}"],
        keys=[f"{{{prefix}:p*}}:*", f"{prefix}:snapshot"],
        categories=["+@read", "+@write", "+@scripting", "+@transaction", "+@connection"],
    )
    store = RedisStore.from_settings(
        RedisSettings(redis_url, prefix=prefix, username=user, password=password)
    )
    outsider = RedisStore.from_settings(
        RedisSettings(redis_url, prefix="other", username=user, password=password)
    )
    try:
        assert await store.ping() is True
        await store.apply(full_writes())
        await store.publish_window_sums(3, b"{}")
        await store.write_snapshot(b"{}")
        assert await store.load_buckets(3, T0) == {
            T0: {CREATED_EMAIL: 2, CREATED_BILLING: 1},
            T0 + MIN: {CREATED_EMAIL: 1},
        }
        assert (await store.sla_counts(3, T0, MIN))[0]["first_reply"] == 0
        clocks, _ = await store.sla_clocks([3], [NR], ClockRange(count=5, due_until=T0))
        assert [c.ticket_id for c in clocks] == ["T-2"]  # late and ZDIFF: both @read
        assert await store.load_records({3: ["T-1"]}) == {"T-1": b'{"n":1,"e":[]}'}
        assert await store.read_window_sums([3]) == {3: b"{}"}
        assert await store.read_snapshot() == b"{}"
        await store.set_marker(3, "w")  # the state guard's calls
        assert (await store.check(3)).marker
        assert await store.has_state(3)
        assert await store.wipe(3) > 0
        with pytest.raises(NoPermissionError):  # a refusal is not worth retrying
            await outsider.load_offsets(3)
    finally:
        await store.aclose()
        await outsider.aclose()
        await client.acl_deluser(user)


async def test_a_wrong_password_is_not_transient(redis_url: str) -> None:
    store = RedisStore.from_settings(RedisSettings(redis_url, username="nobody", password="x"))
    try:
        with pytest.raises(AuthenticationError):
            await store.load_offsets(0)
        assert await store.ping() is False
    finally:
        await store.aclose()


async def test_the_store_needs_a_client_that_returns_bytes(redis_url: str) -> None:
    text_client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="bytes"):
            RedisStore(text_client)
    finally:
        await text_client.aclose()


async def test_a_ticket_never_created_expires_and_is_forgotten_as_redis_forgets_it(
    client: aioredis.Redis, prefix: str
) -> None:
    """Through the worker's planner: the records a batch writes, and their TTLs in Redis."""
    worker = in_process_worker(client, prefix, T0 + 60 * MIN)

    def message(topic: str, offset: int, ticket: str, n: int, **event: str) -> Message:
        at = format_rfc3339(T0 + n * MIN)
        body = {"event_id": f"{ticket}-{n}", "ticket_id": ticket, "occurred_at": at, **event}
        return Message(f"t.{topic}", 0, offset, json.dumps(body).encode())

    created = {"type": "ticket.created", "channel": "chat", "priority": "low", "team": "ops"}
    reply = {"type": "contact.outbound", "channel": "chat", "agent_id": "a1"}
    await worker.handle(
        [
            message("contacts", 0, "O", 2, **reply),  # O's creation has not arrived
            message("tickets", 0, "C", 0, **created),
            message("contacts", 1, "C", 1, **reply),
        ]
    )
    k = f"{{{prefix}:p0}}"
    assert 0 < await client.ttl(f"{k}:t:O") <= 8 * 86400
    assert await client.ttl(f"{k}:t:C") == -1
    awaiting = "ticketpulse_events_awaiting_creation_total"
    assert worker.metrics.registry.get_sample_value(awaiting) == 1

    # O's record expires (8 days on); its creation, arriving after that, starts it afresh on
    # this worker too, as on a worker that never saw O's reply
    await client.delete(f"{k}:t:O")
    await worker.handle([message("tickets", 1, "O", 0, **created)])
    assert await client.ttl(f"{k}:t:O") == -1  # created: persists
    assert [row[0] for row in json.loads(await client.get(f"{k}:t:O"))["e"]] == ["O-0"]


async def test_a_version_1_record_is_read_and_rewritten_as_version_2_by_the_worker(
    client: aioredis.Redis, prefix: str
) -> None:
    """The upgrade path: a record an earlier ticketpulse stored (no ``"v"``, rows of at most
    12 fields) is read by a worker that takes the partition over, and the ticket's next
    batch writes it back in the current version with every event it held."""

    def message(topic: str, offset: int, n: int, **event: object) -> Message:
        at = format_rfc3339(T0 + n * MIN)
        body = {"event_id": f"U-{n}", "ticket_id": "U", "occurred_at": at, **event}
        return Message(f"t.{topic}", 0, offset, json.dumps(body).encode())

    created = {"type": "ticket.created", "channel": "chat", "priority": "high", "team": "ops"}
    reply = {"type": "contact.outbound", "channel": "phone", "agent_id": "a1"}
    await in_process_worker(client, prefix, T0 + 60 * MIN).handle(
        [message("tickets", 0, 0, **created, account_id="acc-1")]
    )
    key = f"{{{prefix}:p0}}:t:U"
    # what a version 1 worker wrote for the same ticket
    old = {
        "n": T0 + 60 * MIN,
        "e": [["U-0", 0, T0, "chat", "high", "ops", None, None, 1, None, None, "acc-1"]],
    }
    await client.set(key, json.dumps(old))

    upgraded = in_process_worker(client, prefix, T0 + 61 * MIN)  # loads the record from Redis
    await upgraded.handle([message("contacts", 0, 1, **reply, duration_seconds=90.0)])
    record = json.loads(await client.get(key))
    assert record["v"] == 2
    assert record["n"] == T0 + 61 * MIN
    assert record["e"][0] == old["e"][0]  # the old event, kept whole
    assert record["e"][1][:7] == ["U-1", 5, T0 + MIN, "phone", None, None, "a1"]
    assert await client.ttl(key) == -1  # still an open ticket
