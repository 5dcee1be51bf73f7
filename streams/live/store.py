"""The live pipeline's state in Redis: one partition's keys, written in one MULTI/EXEC per batch.

Every key of partition ``p`` starts with the hash tag ``{<prefix>:p<p>}``, so a batch's
transaction touches one Redis Cluster slot. The key layout is in ``docs/architecture.md`` and
``docs/redis.md``. Connection failures become ``TransientError``: the worker retries the batch
with backoff and does not commit its Kafka offsets. On a Redis Cluster (a ``redis+cluster://``
URL) each partition's transaction goes to its slot's master (``streams.live.redis_cluster``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic_core import to_json
from redis import exceptions as redis_errors
from redis.asyncio import ConnectionPool, Redis, RedisCluster
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.typing import EncodableT, FieldT

from streams.domain.facts import SlaTarget
from streams.domain.instant import Instant, Micros
from streams.errors import TransientError
from streams.live.redis_cluster import SlotMasters, is_cluster_url, parse_cluster_url
from streams.live.redis_packing import with_hiredis_packing
from streams.live.stores.protocol import (
    DEFAULT_TTL_SECONDS,
    ClockEntry,
    ClockRange,
    PartitionCheck,
    StaleOffsets,
    Store,
)
from streams.live.writes import PartitionWrites, link_field

__all__ = ["DEFAULT_TTL_SECONDS", "RedisSettings", "RedisStore", "StaleOffsets"]

# ``{p}:epoch``: the state guard's marker (``streams.live.recovery``), never written by a batch.
MARKER = "epoch"
# A partition with any state has at least one of these (offsets, counters, indexes).
_ALWAYS_WRITTEN = ("off", "writes", "minutes", "backlog", "wake", "tx", "win", "acc")

_LOAD_CHUNK = 1000


# A counter delta is not idempotent: when a transaction is sent again because its EXEC reply
# was lost (redis-py's own retry, or the worker retrying the same writes), the batch's token
# makes the second run skip the increments. Every other command of the transaction sets an
# absolute value, so running it twice is harmless.
# A field that reaches 0 is deleted: a by_* map holds only keys with at least one fact.
# Deletes the outbox fields (ARGV: field, value, ...) that still hold the value sent.
_CLEAR_LUA = """
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 0
"""

_COUNTERS_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
local ttl = ARGV[2]
local function add(key, deltas)
  for name, delta in pairs(cjson.decode(deltas)) do
    if redis.call('HINCRBY', key, name, delta) == 0 then
      redis.call('HDEL', key, name)
    end
  end
end
add(KEYS[3], ARGV[3])
for k = 4, #KEYS do
  local minute = ARGV[2 * k - 4]
  add(KEYS[k], ARGV[2 * k - 3])
  if redis.call('EXISTS', KEYS[k]) == 1 then
    redis.call('EXPIRE', KEYS[k], ttl)
    redis.call('ZADD', KEYS[2], minute, minute)
  else
    redis.call('ZREM', KEYS[2], minute)
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('EXPIRE', KEYS[2], ttl)
end
return 1
"""


def _json_object(deltas: dict[str, int]) -> bytes:
    # cjson decodes [] for an empty object; {} keeps the script's pairs() loop trivial.
    # pydantic-core's encoder: the compact JSON of json.dumps, about 2x faster per batch.
    return to_json(deltas) if deltas else b"{}"


# Drops index entries whose bucket has expired, unless a batch has written it again meanwhile.
_PRUNE_LUA = """
for k = 2, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 0 then
    redis.call('ZREM', KEYS[1], ARGV[k - 1])
  end
end
return 0
"""

_TRANSIENT: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a failover in progress
    redis_errors.TryAgainError,
    redis_errors.ClusterDownError,
    redis_errors.OutOfMemoryError,  # frees up as buckets and closed tickets expire
    # A cluster's transaction sent to a node that no longer serves the slot (MOVED, ASK,
    # also behind EXECABORT): nothing of it ran; resent after the slot map is refreshed.
    redis_errors.AskError,
    redis_errors.SlotNotCoveredError,
    redis_errors.RedisClusterUnreachableError,  # no node answered the slot map's refresh
)
# Subclasses of ConnectionError that retrying does not cure: wrong credentials or ACL.
_NOT_TRANSIENT: tuple[type[Exception], ...] = (
    redis_errors.AuthenticationError,
    redis_errors.AuthorizationError,
)


@contextmanager
def _transient(operation: str) -> Iterator[None]:
    try:
        yield
    except _NOT_TRANSIENT:
        raise
    except _TRANSIENT as err:
        raise TransientError(f"redis {operation}: {err}") from err


class _ReplicatedPipeline(Pipeline):
    """A transaction followed by ``WAIT`` on the same connection: ``WAIT`` counts the replicas
    that acknowledged the connection's own last write, so it must follow ``EXEC`` there."""

    def __init__(self, client: Redis, replicas: int, timeout_ms: int) -> None:
        super().__init__(client.connection_pool, client.response_callbacks, True, None)
        self.replicas = replicas
        self.timeout_ms = timeout_ms
        self.acknowledged = 0

    async def _execute_transaction(
        self, connection: Connection, commands: Any, raise_on_error: Any
    ) -> Any:
        result = await super()._execute_transaction(connection, commands, raise_on_error)
        await connection.send_command("WAIT", self.replicas, self.timeout_ms)
        self.acknowledged = int(await connection.read_response())
        return result


@dataclass(frozen=True, slots=True)
class _Unconfirmed:
    """A batch whose ``apply`` failed: its token, and whether its ``EXEC`` is known to have
    run (only the replicas' acknowledgement was missing)."""

    writes: PartitionWrites
    token: str
    landed: bool


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """Where the state lives and how long expiring keys last.

    ``username``/``password`` are used when the URL carries none (an ACL user needs the
    key pattern ``{<prefix>:p*}:*`` and ``<prefix>:snapshot``; see docs/redis.md).
    ``wait_replicas`` > 0: each batch's transaction is followed by ``WAIT wait_replicas
    wait_timeout_ms``, and ``apply`` returns only once that many replicas have it.
    """

    url: str
    prefix: str = "tp"
    password: str | None = field(default=None, repr=False)
    username: str | None = None
    bucket_ttl_seconds: int = DEFAULT_TTL_SECONDS
    closed_ticket_ttl_seconds: int = DEFAULT_TTL_SECONDS
    timeout_seconds: float = 5.0
    wait_replicas: int = 0
    wait_timeout_ms: int = 1000

    def client(self) -> Redis | RedisCluster:
        """A client that fails fast: one immediate reconnect, then the worker's backoff.

        A ``redis+cluster://`` URL gives a ``RedisCluster`` started from its nodes.
        """
        if is_cluster_url(self.url):
            address = parse_cluster_url(self.url)
            return RedisCluster(
                startup_nodes=[ClusterNode(host, port) for host, port in address.nodes],
                username=address.username or self.username,
                password=address.password or self.password,
                ssl=address.tls,
                **self._connection_options(),
            )
        client = Redis.from_url(
            self.url, username=self.username, password=self.password, **self._connection_options()
        )
        return with_hiredis_packing(client)

    def _connection_options(self) -> dict[str, Any]:
        return {
            "socket_timeout": self.timeout_seconds,
            "socket_connect_timeout": self.timeout_seconds,
            "retry": Retry(NoBackoff(), 1),
            "decode_responses": False,
        }


class RedisStore:
    """The partitions' keys in Redis (``streams.live.stores.protocol.Store``); a call is one
    round trip, never one per ticket.

    ``load_buckets`` and ``wipe`` are the exceptions: the index, then the buckets in chunks
    (on assignment); a ``SCAN`` of the partition's keys (a partition that lost its marker).
    """

    def __init__(
        self,
        client: Redis | RedisCluster,
        prefix: str = "tp",
        *,
        bucket_ttl: int = DEFAULT_TTL_SECONDS,
        closed_ticket_ttl: int = DEFAULT_TTL_SECONDS,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 1000,
    ) -> None:
        if wait_replicas < 0 or wait_timeout_ms <= 0:
            raise ValueError("redis WAIT: replicas must be >= 0 and the timeout positive")
        if not prefix or any(c in prefix for c in "{}"):
            raise ValueError(f"redis key prefix {prefix!r}: must be non-empty, without braces")
        if bucket_ttl <= 0 or closed_ticket_ttl <= 0:
            raise ValueError("redis TTLs must be positive seconds")
        options = (
            client.get_connection_kwargs()
            if isinstance(client, RedisCluster)
            else client.connection_pool.connection_kwargs
        )
        if options.get("decode_responses"):
            raise ValueError("the redis client must return bytes (decode_responses=False)")
        self.client = client
        # On a cluster, a partition's transactions go to its slot's master directly.
        self._masters = (
            SlotMasters(client, _master_client) if isinstance(client, RedisCluster) else None
        )
        self.prefix = prefix
        self.bucket_ttl = bucket_ttl
        self.closed_ticket_ttl = closed_ticket_ttl
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        # The writes whose transaction failed with an unknown outcome, or that landed on
        # fewer replicas than ``wait_replicas``.
        self._unconfirmed: dict[int, _Unconfirmed] = {}
        self._tags: dict[int, str] = {}  # partition -> its keys' hash tag, ``{tp:p7}``

    @classmethod
    def from_settings(cls, settings: RedisSettings) -> RedisStore:
        return cls(
            settings.client(),
            settings.prefix,
            bucket_ttl=settings.bucket_ttl_seconds,
            closed_ticket_ttl=settings.closed_ticket_ttl_seconds,
            wait_replicas=settings.wait_replicas,
            wait_timeout_ms=settings.wait_timeout_ms,
        )

    async def aclose(self) -> None:
        if self._masters is not None:
            await self._masters.aclose()  # the cluster client too
        else:
            await self.client.aclose()

    async def _transactions(self, partition: int) -> Redis:
        """The client that runs the partition's MULTI/EXEC: the one Redis, or the master of
        the partition's slot."""
        if self._masters is None:
            assert isinstance(self.client, Redis)
            return self.client
        return await self._masters.client_for(self.key(partition, "off"))

    @asynccontextmanager
    async def _routed(self, operation: str) -> AsyncIterator[None]:
        """``_transient`` for a partition's transaction; on a cluster, a failure also makes
        the slot map be read again (the slot may have moved, its master may be gone)."""
        try:
            with _transient(operation):
                yield
        except TransientError:
            if self._masters is not None:
                await self._masters.refresh()
            raise

    def key(self, partition: int, *parts: str) -> str:
        """``{tp:p7}:t:<id>``: the braces are the hash tag that pins a partition to one slot."""
        tag = self._tags.get(partition)
        if tag is None:
            tag = self._tags[partition] = f"{{{self.prefix}:p{partition}}}"
        return f"{tag}:{':'.join(parts)}" if parts else tag

    def _ticket_keys(self, partition: int) -> str:
        """What every ticket record key of a partition starts with: a batch's many record keys
        are this plus the ticket id, without a ``key`` call each."""
        return self.key(partition, "t", "")

    def snapshot_key(self) -> str:
        return f"{self.prefix}:snapshot"

    async def ping(self) -> bool:
        """Whether Redis answers; for health checks, so it never raises a connection error."""
        try:
            return bool(await self.client.ping())
        except (*_TRANSIENT, *_NOT_TRANSIENT):
            return False

    async def load_offsets(self, partition: int) -> dict[str, int]:
        with _transient("load offsets"):
            raw = await self.client.hgetall(self.key(partition, "off"))
        return {_text(topic): int(offset) for topic, offset in raw.items()}

    async def load_writes(self, partition: int) -> int:
        """How many transactions the partition's batches and scans applied (the fence's count)."""
        with _transient("load writes"):
            return int(await self.client.get(self.key(partition, "writes")) or 0)

    async def load_missed(self, partition: int) -> dict[str, int]:
        """Topic -> offsets never received that the partition's batches recorded."""
        with _transient("load missed offsets"):
            raw = await self.client.hgetall(self.key(partition, "missed"))
        return {_text(topic): int(count) for topic, count in raw.items()}

    async def load_tickets(self, partition: int, ticket_ids: Collection[str]) -> dict[str, bytes]:
        """The stored records of ``ticket_ids``; a ticket without a record is left out."""
        ids = list(ticket_ids)
        if not ids:
            return {}
        with _transient("load tickets"):
            prefix = self._ticket_keys(partition)
            values = await self.client.mget([prefix + t for t in ids])
        return {t: _bytes(v) for t, v in zip(ids, values, strict=True) if v is not None}

    async def load_accounts(self, partition: int) -> dict[str, bytes]:
        """Every account record of the partition: the hash ``{p}:accounts``."""
        return await self._hash_of(partition, "accounts")

    async def load_account(self, partition: int, account_id: str) -> bytes | None:
        with _transient("load account"):
            value = await self.client.hget(self.key(partition, "accounts"), account_id)
        return None if value is None else _bytes(value)

    async def load_account_links(self, partition: int, account_id: str) -> dict[str, bytes]:
        """``HSCAN … MATCH <account>\x1f*`` of the links: for the API, not the hot path."""
        prefix = link_field(account_id, "")
        pattern = _glob_escape(prefix) + "*"
        out: dict[str, bytes] = {}
        with _transient("load account links"):
            async for field, blob in self.client.hscan_iter(
                self.key(partition, "links"), match=pattern, count=1000
            ):
                out[_text(field)[len(prefix) :]] = _bytes(blob)
        return out

    async def load_links(self, partition: int) -> dict[str, bytes]:
        return await self._hash_of(partition, "links")

    async def load_link_seq(self, partition: int) -> int:
        with _transient("load link sequence"):
            return int(await self.client.get(self.key(partition, "linkseq")) or 0)

    async def load_outbox(self, partition: int) -> dict[str, bytes]:
        return await self._hash_of(partition, "outbox")

    async def clear_outbox(self, partition: int, sent: Mapping[str, bytes]) -> None:
        """One script: a field replaced since (a later batch's link) stays for its sender."""
        if not sent:
            return
        pairs = [item for name, blob in sent.items() for item in (name, blob)]
        with _transient("clear outbox"):
            await self.client.eval(_CLEAR_LUA, 1, self.key(partition, "outbox"), *pairs)

    async def _hash_of(self, partition: int, name: str) -> dict[str, bytes]:
        """A partition's hash of records, whole."""
        with _transient(f"load {name}"):
            raw = await self.client.hgetall(self.key(partition, name))
        return {_text(field): _bytes(record) for field, record in raw.items()}

    async def apply(
        self,
        writes: PartitionWrites,
        expected_offsets: Mapping[str, int] | None = None,
        expected_writes: int = 0,
    ) -> None:
        """Write one batch's changes in a single MULTI/EXEC, or nothing when there are none.

        With ``expected_offsets`` the transaction is fenced: it runs only if the partition's
        applied offsets in Redis are exactly those and its count of applied transactions
        (``{p}:writes``, which every transaction increments) is ``expected_writes`` (``WATCH``
        on both), else ``StaleOffsets`` and nothing is written. The count also catches a Redis
        gone back past writes that moved no offset (breach scans). A worker whose view of the
        partition is stale (another worker applied batches meanwhile, around a rebalance, or
        Redis went back) then reloads instead of applying events twice or on a wrong base.

        After a ``TransientError`` the batch may or may not be in Redis; calling ``apply``
        again with the same ``writes`` object is safe either way (counters are added once;
        fenced, a batch that did land is refused as stale).

        With ``wait_replicas``, a batch that landed on fewer replicas within the timeout is a
        ``TransientError`` too, and its Kafka offsets are not committed. Called again with the
        same ``writes``, ``apply`` checks (fenced) that the batch is still in Redis, writes only
        its token again, and waits for the replicas again; a Redis that lost the batch
        meanwhile (a failover to a replica without it) refuses it as stale.
        """
        if not writes and not writes.closed:
            return
        p = writes.partition
        previous = self._unconfirmed.pop(p, None)
        resent = previous is not None and previous.writes is writes
        token = previous.token if previous is not None and resent else os.urandom(8).hex()
        landed = previous is not None and resent and previous.landed
        try:
            async with self._routed("apply"):
                client = await self._transactions(p)
                async with self._pipeline(client) as pipe:
                    if landed:
                        if expected_offsets is not None:
                            after = {**expected_offsets, **writes.offsets}
                            await self._fence(pipe, p, after, expected_writes + 1)
                        pipe.set(self.key(p, "tx"), token)  # a write for WAIT to wait for
                    else:
                        if expected_offsets is not None:
                            await self._fence(pipe, p, expected_offsets, expected_writes)
                        self._queue_writes(pipe, writes, token)
                    await pipe.execute()
        except redis_errors.WatchError as error:
            raise StaleOffsets(f"partition {p}: applied offsets changed") from error
        except TransientError:
            self._unconfirmed[p] = _Unconfirmed(writes, token, landed)
            raise
        if isinstance(pipe, _ReplicatedPipeline) and pipe.acknowledged < self.wait_replicas:
            self._unconfirmed[p] = _Unconfirmed(writes, token, landed=True)
            raise TransientError(
                f"redis apply: partition {p}'s batch reached {pipe.acknowledged} of "
                f"{self.wait_replicas} replicas within {self.wait_timeout_ms} ms (WAIT)"
            )

    def _pipeline(self, client: Redis) -> Pipeline:
        """A transaction; followed by ``WAIT`` when batches must reach replicas."""
        if self.wait_replicas:
            return _ReplicatedPipeline(client, self.wait_replicas, self.wait_timeout_ms)
        return client.pipeline(transaction=True)

    async def _fence(
        self, pipe: Pipeline, partition: int, expected: Mapping[str, int], writes: int
    ) -> None:
        offsets_key, writes_key = self.key(partition, "off"), self.key(partition, "writes")
        await pipe.watch(offsets_key, writes_key)
        raw = await pipe.hgetall(offsets_key)
        stored = {_text(topic): int(offset) for topic, offset in raw.items()}
        stored_writes = int(await pipe.get(writes_key) or 0)
        if stored != dict(expected) or stored_writes != writes:
            raise StaleOffsets(
                f"partition {partition}: Redis has {stored} after {stored_writes} writes, "
                f"expected {expected} after {writes}"
            )
        pipe.multi()  # type: ignore[no-untyped-call]

    def _queue_writes(self, pipe: Pipeline, writes: PartitionWrites, token: str) -> None:
        counters = self._counters_call(writes, token)
        if counters:
            pipe.eval(_COUNTERS_LUA, *counters)
        self._queue_bucket_values(pipe, writes)
        self._queue_tickets(pipe, writes)
        self._queue_clocks(pipe, writes)
        links = {f: r for f, r in writes.links.items() if r is not None}
        for name, records in (
            ("accounts", writes.accounts),
            ("links", links),
            ("outbox", writes.outbox),
        ):
            if records:
                mapping: dict[FieldT, EncodableT] = {f: r for f, r in records.items()}
                pipe.hset(self.key(writes.partition, name), mapping=mapping)
        forgotten = [f for f, r in writes.links.items() if r is None]
        if forgotten:
            pipe.hdel(self.key(writes.partition, "links"), *forgotten)
        if writes.link_seq is not None:
            pipe.set(self.key(writes.partition, "linkseq"), writes.link_seq)
        if writes.offsets:
            offsets: dict[FieldT, EncodableT] = {t: o for t, o in writes.offsets.items()}
            pipe.hset(self.key(writes.partition, "off"), mapping=offsets)
        for topic, count in writes.missed.items():  # fenced: a batch that landed is refused
            pipe.hincrby(self.key(writes.partition, "missed"), topic, count)
        pipe.incr(self.key(writes.partition, "writes"))

    def _counters_call(self, writes: PartitionWrites, token: str) -> list[Any]:
        """``numkeys, *keys, *args`` of the counters script; empty when no counter changes.

        Each hash's deltas travel as one JSON object (decoded by the script's cjson): one
        argument per key instead of two per field keeps redis-py's command packing off the
        hot path. Deltas are integers below 2**53, exact through Lua's doubles.
        """
        if not writes.buckets and not writes.backlog:
            return []
        p = writes.partition
        keys = [self.key(p, "tx"), self.key(p, "minutes"), self.key(p, "backlog")]
        args: list[Any] = [token, self.bucket_ttl, _json_object(writes.backlog)]
        for minute, deltas in writes.buckets.items():
            keys.append(self.key(p, "b", str(minute)))
            args += (minute, _json_object(deltas))
        return [len(keys), *keys, *args]

    def _queue_bucket_values(self, pipe: Pipeline, writes: PartitionWrites) -> None:
        """The buckets the worker holds exactly, with plain commands that may run twice.

        The counters script's per-field ``HINCRBY`` in Lua took Redis about three times as
        long as ``HSET`` of the same fields (``make bench`` F, 300k events: 9.6 s of
        ``EVAL`` against 2.9 s of ``HSET``); draining a backlog changes a dozen bucket fields
        per event.
        """
        if not writes.bucket_values:
            return
        p = writes.partition
        index = self.key(p, "minutes")
        kept: dict[str, Instant] = {}
        gone: list[Instant] = []
        for minute, change in writes.bucket_values.items():
            key = self.key(p, "b", str(minute))
            if change.empty:
                pipe.delete(key)
                gone.append(minute)
                continue
            if change.values:
                pipe.hset(key, mapping=cast(Mapping[FieldT, EncodableT], change.values))
            if change.removed:
                pipe.hdel(key, *change.removed)
            pipe.expire(key, self.bucket_ttl)
            kept[str(minute)] = minute
        if gone:
            pipe.zrem(index, *(str(minute) for minute in gone))
        if kept:
            pipe.zadd(index, kept)
            pipe.expire(index, self.bucket_ttl)

    def _queue_tickets(self, pipe: Pipeline, writes: PartitionWrites) -> None:
        prefix = self._ticket_keys(writes.partition)
        persistent: dict[str, bytes] = {}
        deleted: list[str] = []
        for ticket, record in writes.tickets.items():
            key = prefix + ticket
            if record is None:
                deleted.append(key)
            elif ticket in writes.closed:
                pipe.set(key, record, ex=self.closed_ticket_ttl)
            else:
                persistent[key] = record  # SET/MSET drops any TTL: an open ticket never expires
        if persistent:
            pipe.mset(persistent)
        if deleted:
            pipe.delete(*deleted)
        for ticket in writes.closed:
            if ticket not in writes.tickets:
                pipe.expire(prefix + ticket, self.closed_ticket_ttl)

    def _queue_clocks(self, pipe: Pipeline, writes: PartitionWrites) -> None:
        p = writes.partition
        for target, deadlines in writes.due.items():
            _queue_zset(pipe, self.key(p, "due", target.value), deadlines)
        for target, deadlines in writes.breached.items():
            key = self.key(p, "breached", target.value)
            added = [t for t, deadline in deadlines.items() if deadline is not None]
            removed = [t for t, deadline in deadlines.items() if deadline is None]
            if added:
                pipe.sadd(key, *added)
            if removed:
                pipe.srem(key, *removed)
            _queue_zset(pipe, self.key(p, "late", target.value), deadlines)
        _queue_zset(pipe, self.key(p, "wake"), writes.wake)

    async def due_for_wake(self, partition: int, now: Instant, limit: int = 1000) -> list[str]:
        """Tickets whose wake-up time is at or before ``now``, the longest overdue first."""
        with _transient("due for wake"):
            members = await self.client.zrangebyscore(
                self.key(partition, "wake"), "-inf", now, start=0, num=limit
            )
        return [_text(m) for m in _plain(members)]

    async def load_buckets(
        self, partition: int, since_minute: Instant
    ) -> dict[Instant, dict[str, int]]:
        """Every minute bucket from ``since_minute`` on, found through the minute index.

        Index entries of buckets that have expired are removed on the way.
        """
        index = self.key(partition, "minutes")
        with _transient("load buckets"):
            members = await self.client.zrangebyscore(index, since_minute, "+inf")
            minutes = [int(m) for m in _plain(members)]
            buckets: dict[Instant, dict[str, int]] = {}
            expired: list[Instant] = []
            for start in range(0, len(minutes), _LOAD_CHUNK):
                chunk = minutes[start : start + _LOAD_CHUNK]
                pipe = self.client.pipeline(transaction=False)
                for minute in chunk:
                    pipe.hgetall(self.key(partition, "b", str(minute)))
                for minute, raw in zip(chunk, await pipe.execute(), strict=True):
                    if raw:
                        buckets[minute] = {_text(f): int(v) for f, v in raw.items()}
                    else:
                        expired.append(minute)
            if expired:
                keys = [self.key(partition, "b", str(m)) for m in expired]
                await self.client.eval(_PRUNE_LUA, 1 + len(keys), index, *keys, *expired)
        return buckets

    async def sla_counts(
        self, partition: int, now: Instant, within: Micros
    ) -> tuple[dict[str, int], dict[str, int]]:
        """(at_risk, breached_running) per target, read in one consistent transaction.

        at_risk: deadline in [now, now + within]; breached_running: the breached-running set
        plus indexed deadlines before ``now`` that the scanner has not yet recorded.
        """
        async with self._routed("sla counts"):
            pipe = (await self._transactions(partition)).pipeline(transaction=True)
            for target in SlaTarget:
                due = self.key(partition, "due", target.value)
                pipe.zcount(due, now, now + within)
                pipe.scard(self.key(partition, "breached", target.value))
                pipe.zcount(due, "-inf", f"({now}")
            counts = [int(c) for c in await pipe.execute()]
        at_risk: dict[str, int] = {}
        breached: dict[str, int] = {}
        for i, target in enumerate(SlaTarget):
            risk, in_set, overdue = counts[3 * i : 3 * i + 3]
            at_risk[target.value] = risk
            breached[target.value] = in_set + overdue
        return at_risk, breached

    async def sla_clocks(
        self, partitions: Iterable[int], targets: Sequence[SlaTarget], wanted: ClockRange
    ) -> tuple[list[ClockEntry], bool]:
        """The indexed clocks of ``wanted`` (unsorted) in one pipeline, and whether any key
        may hold more after them (a read reached ``count``)."""
        pipe = self.client.pipeline(transaction=False)
        reads: list[tuple[int, SlaTarget, bool, bool]] = []  # partition, target, late, limited
        start = wanted.start
        for partition in partitions:
            for target in targets:
                keys: list[tuple[str, bool, Instant | None, Instant | str]] = []
                if wanted.late:
                    keys.append((self.key(partition, "late", target.value), True, None, "+inf"))
                if wanted.due_until is not None:
                    due = self.key(partition, "due", target.value)
                    keys.append((due, False, wanted.due_from, wanted.due_until))
                for key, late, low, high in keys:
                    if start is not None:
                        pipe.zrangebyscore(key, start, start, withscores=True)
                        reads.append((partition, target, late, False))
                    lower: Instant | str = "-inf" if low is None else low
                    if start is not None and (low is None or low <= start):
                        lower = f"({start}"
                    pipe.zrangebyscore(key, lower, high, start=0, num=wanted.count, withscores=True)
                    reads.append((partition, target, late, True))
                if wanted.late and not start:  # breached without a deadline sort first
                    pipe.zdiff(
                        [
                            self.key(partition, "breached", target.value),
                            self.key(partition, "late", target.value),
                        ]
                    )
                    reads.append((partition, target, True, False))
        with _transient("sla clocks"):
            answers = await pipe.execute() if reads else []
        entries: list[ClockEntry] = []
        more = False
        for (partition, target, late, limited), members in zip(reads, answers, strict=True):
            more = more or (limited and len(members) >= wanted.count)
            for member in members:
                name, score = member if isinstance(member, list | tuple) else (member, 0)
                entry = ClockEntry(int(score), _text(name), target, partition, late)
                entries.append(entry)
        return entries, more

    async def load_records(self, wanted: Mapping[int, Collection[str]]) -> dict[str, bytes]:
        """The stored records of tickets in several partitions: one MGET per partition (a
        partition is one cluster slot), all in one pipeline."""
        asked = [(p, list(ids)) for p, ids in wanted.items() if ids]
        if not asked:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for partition, ids in asked:
            # MGET of one slot's keys; redis-py's cluster pipeline blocks its ``mget`` method
            # (meant for keys of any slot), not the command.
            prefix = self._ticket_keys(partition)
            pipe.execute_command("MGET", *(prefix + t for t in ids))
        with _transient("load records"):
            answers = await pipe.execute()
        return {
            t: _bytes(v)
            for (_, ids), values in zip(asked, answers, strict=True)
            for t, v in zip(ids, values, strict=True)
            if v is not None
        }

    async def backlog(self, partition: int) -> dict[str, int]:
        with _transient("backlog"):
            raw = await self.client.hgetall(self.key(partition, "backlog"))
        return {_text(f): int(v) for f, v in raw.items()}

    async def publish_window_sums(self, partition: int, blob: bytes) -> None:
        with _transient("publish window sums"):
            await self.client.set(self.key(partition, "win"), blob)

    async def read_window_sums(self, partitions: Iterable[int]) -> dict[int, bytes]:
        """Each partition's published window sums; partitions that published none are left out."""
        return await self._read_each(partitions, "win", "read window sums")

    async def publish_account_partial(self, partition: int, blob: bytes) -> None:
        with _transient("publish accounts partial"):
            await self.client.set(self.key(partition, "acc"), blob)

    async def read_account_partials(self, partitions: Iterable[int]) -> dict[int, bytes]:
        return await self._read_each(partitions, "acc", "read accounts partials")

    async def publish_account_risk(self, partition: int, blob: bytes) -> None:
        with _transient("publish accounts at risk"):
            await self.client.set(self.key(partition, "risk"), blob)

    async def read_account_risks(self, partitions: Iterable[int]) -> dict[int, bytes]:
        return await self._read_each(partitions, "risk", "read accounts at risk")

    async def _read_each(
        self, partitions: Iterable[int], name: str, operation: str
    ) -> dict[int, bytes]:
        """One key of each partition, those that exist; one GET per partition in a plain
        pipeline: the keys live in different cluster slots."""
        wanted = list(partitions)
        if not wanted:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for p in wanted:
            pipe.get(self.key(p, name))
        with _transient(operation):
            blobs = await pipe.execute()
        return {p: _bytes(b) for p, b in zip(wanted, blobs, strict=True) if b is not None}

    async def write_snapshot(self, snapshot_json: bytes) -> None:
        with _transient("write snapshot"):
            await self.client.set(self.snapshot_key(), snapshot_json)

    async def read_snapshot(self) -> bytes | None:
        with _transient("read snapshot"):
            value = await self.client.get(self.snapshot_key())
        return None if value is None else _bytes(value)

    async def has_marker(self, partition: int) -> bool:
        with _transient("read marker"):
            return bool(await self.client.exists(self.key(partition, MARKER)))

    async def set_marker(self, partition: int, token: str) -> None:
        with _transient("set marker"):
            await self.client.set(self.key(partition, MARKER), token)

    async def has_state(self, partition: int) -> bool:
        """Whether any key that every batch, scan or publish writes exists: else there is
        nothing to wipe, and the keyspace ``SCAN`` (slow on a large Redis) is skipped."""
        keys = [self.key(partition, name) for name in _ALWAYS_WRITTEN]
        with _transient("has state"):
            return bool(await self.client.exists(*keys))

    async def wipe(self, partition: int) -> int:
        pattern = self.key(partition, "*")
        deleted = 0
        batch: list[bytes] = []
        with _transient("wipe"):
            async for key in self.client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += await self.client.delete(*batch)
                    batch = []
            if batch:
                deleted += await self.client.delete(*batch)
        return deleted

    async def check(self, partition: int) -> PartitionCheck:
        pipe = self.client.pipeline(transaction=False)
        pipe.exists(self.key(partition, MARKER))
        pipe.hgetall(self.key(partition, "off"))
        pipe.get(self.key(partition, "writes"))
        pipe.hgetall(self.key(partition, "missed"))
        with _transient("check"):
            marker, offsets, writes, missed = await pipe.execute()
        return PartitionCheck(
            marker=bool(marker),
            offsets={_text(k): int(v) for k, v in offsets.items()},
            writes=int(writes or 0),
            missed={_text(k): int(v) for k, v in missed.items()},
        )


def _master_client(node: ClusterNode) -> Redis:
    """A plain client to one master, connecting as the cluster client's own connections do
    (credentials, timeouts, TLS)."""
    pool = ConnectionPool(connection_class=node.connection_class, **node.connection_kwargs)
    return with_hiredis_packing(Redis(connection_pool=pool))


def _glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis glob pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _queue_zset(pipe: Pipeline, key: str, scores: dict[str, Instant | None]) -> None:
    added = {member: score for member, score in scores.items() if score is not None}
    removed = [member for member, score in scores.items() if score is None]
    if added:
        pipe.zadd(key, added)
    if removed:
        pipe.zrem(key, *removed)


def _plain(members: object) -> list[bytes]:
    """The members of a ZRANGE read without scores (redis-py types them with the scored form)."""
    return cast(list[bytes], members)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


_IS_A_STORE: type[Store] = RedisStore  # mypy checks the protocol here
