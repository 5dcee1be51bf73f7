"""Redis restored from an older copy under a running worker: it consumes the lost part again.

The worker runs on the real Redis, fed from a partition log it can seek (as the Faust app
does with the consumer's ``seek``); Redis going back is a restore of every key of the
partition as ``DUMP`` saw it earlier, which is what loading an older RDB file does.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis

from streams.domain.snapshot import Snapshot
from streams.live.batch import Message
from streams.live.worker import Worker
from tests.integration.test_worker_fence import NOW, messages
from tests.integration.workers import in_process_worker

TOPIC = "t.tickets"


@dataclass
class PartitionLog:
    """A partition's records and a consumer position, fetched in batches, sought back."""

    records: list[Message]
    position: int = 0
    seeks: list[int] = field(default_factory=list)

    def fetch(self, size: int) -> list[Message]:
        batch = [m for m in self.records if m.offset >= self.position][:size]
        if batch:
            self.position = batch[-1].offset + 1
        return batch

    async def rewind(self, partition: int, applied: Mapping[str, int]) -> dict[str, int]:
        self.position = applied.get(TOPIC, -1) + 1
        self.seeks.append(self.position)
        return {TOPIC: self.position}


@dataclass
class Backup:
    """Every key of a prefix with its TTL, as ``DUMP`` saw it: what an RDB snapshot holds."""

    client: aioredis.Redis
    prefix: str
    keys: dict[bytes, tuple[bytes, int]] = field(default_factory=dict)

    async def take(self) -> None:
        async for key in self.client.scan_iter(match=f"{{{self.prefix}:*"):
            self.keys[key] = (await self.client.dump(key), await self.client.pttl(key))

    async def restore(self) -> None:
        async for key in self.client.scan_iter(match=f"{{{self.prefix}:*"):
            await self.client.delete(key)
        for key, (value, ttl) in self.keys.items():
            await self.client.restore(key, max(ttl, 0), value)


@pytest.fixture
async def client(redis_url: str) -> Any:
    connection = aioredis.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


def seeking_worker(client: aioredis.Redis, prefix: str, log: PartitionLog) -> Worker:
    worker = in_process_worker(client, prefix, NOW)
    worker.rewind = log.rewind
    return worker


async def drain(worker: Worker, log: PartitionLog, size: int = 500) -> None:
    while batch := log.fetch(size):
        await worker.handle(batch)


async def expected(client: aioredis.Redis, records: list[Message]) -> Snapshot:
    alone = in_process_worker(client, f"a{uuid.uuid4().hex[:8]}", NOW)
    await alone.handle(records)
    return await alone.publish()


def sample(worker: Worker, name: str, **labels: str) -> float | None:
    return worker.metrics.registry.get_sample_value(name, labels)


async def test_batches_past_a_restored_redis_are_consumed_again(client: aioredis.Redis) -> None:
    records = messages(3000)
    log = PartitionLog(records)
    prefix = f"r{uuid.uuid4().hex[:8]}"
    worker = seeking_worker(client, prefix, log)
    await worker.handle(log.fetch(1000))
    backup = Backup(client, prefix)
    await backup.take()  # Redis saves: offsets up to 999
    await worker.handle(log.fetch(1000))
    await backup.restore()  # ...and comes back from that file: 1000..1999 are gone
    await drain(worker, log)

    assert log.seeks == [1000]  # the next batch (2000..) was refused and re-consumed
    assert await worker.store.load_offsets(0) == {TOPIC: 2999}
    want = await expected(client, records)
    assert want.windows["24h"].overall.tickets_created > 100
    assert await worker.publish() == want
    assert sample(worker, "ticketpulse_missed_offsets_total", topic=TOPIC) is None
    assert sample(worker, "ticketpulse_seek_backs_total") == 1


async def test_an_idle_partition_is_sought_back_by_resync(client: aioredis.Redis) -> None:
    """No batch arrives to notice: the once-a-second watch's ``resync`` seeks it back."""
    records = messages(2000)
    log = PartitionLog(records)
    prefix = f"i{uuid.uuid4().hex[:8]}"
    worker = seeking_worker(client, prefix, log)
    await worker.handle(log.fetch(1000))
    backup = Backup(client, prefix)
    await backup.take()
    await worker.handle(log.fetch(1000))
    await backup.restore()
    assert log.fetch(500) == []  # everything was fetched: nothing would come again
    async with worker.locks[0]:
        assert await worker.resync(0)
    assert log.seeks == [1000]
    await drain(worker, log)
    assert await worker.publish() == await expected(client, records)


async def test_a_real_gap_after_a_seek_is_applied_and_recorded_in_redis(
    client: aioredis.Redis,
) -> None:
    """Records deleted by retention before they were applied: the seek to Redis's offset
    delivers the first one still held, further on; that gap is counted, in Redis too."""
    events = messages(1500)
    records = events[:500] + events[800:]  # offsets 500..799 are no longer in the topic
    log = PartitionLog(records)
    prefix = f"g{uuid.uuid4().hex[:8]}"
    worker = seeking_worker(client, prefix, log)
    await worker.handle(log.fetch(500))
    log.position = 900  # the consumer is somewhere else: not trusted, sought back first
    await drain(worker, log)

    assert log.seeks == [500]
    assert await worker.store.load_offsets(0) == {TOPIC: 1499}
    assert sample(worker, "ticketpulse_missed_offsets_total", topic=TOPIC) == 300
    labels = {"topic": TOPIC, "partition": "0"}
    assert sample(worker, "ticketpulse_missed_offsets_recorded", **labels) == 300
    restarted = seeking_worker(client, prefix, log)  # a new process: the record stays
    await restarted.assign([0])
    assert sample(restarted, "ticketpulse_missed_offsets_recorded", **labels) == 300
    assert await restarted.publish() == await expected(client, records)


async def test_a_restore_that_loses_only_breach_scans_is_noticed(client: aioredis.Redis) -> None:
    """Redis goes back past writes that moved no offset: breaches the scanner recorded. The
    count of writes notices it; the scan records them again instead of trusting its cache."""
    records = messages(1000)
    later = (NOW + 8 * 3600 * 1_000_000) / 1e6
    prefix = f"s{uuid.uuid4().hex[:8]}"
    worker = seeking_worker(client, prefix, PartitionLog(records))
    await worker.handle(records)
    backup = Backup(client, prefix)
    await backup.take()
    worker.clock = lambda: later
    assert await worker.scan() > 0  # deadlines passed: breaches written, offsets unchanged
    await backup.restore()
    async with worker.locks[0]:
        assert await worker.resync(0)  # the once-a-second watch
    await worker.scan()

    alone = in_process_worker(client, f"a{uuid.uuid4().hex[:8]}", NOW)
    await alone.handle(records)
    alone.clock = lambda: later
    await alone.scan()
    want = await alone.publish()
    assert want.windows["24h"].overall.sla_of("first_reply").breached > 0
    assert await worker.publish() == want
