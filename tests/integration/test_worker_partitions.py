"""A fetched batch spanning partitions: applied concurrently, the same as one at a time."""

from __future__ import annotations

import asyncio
import uuid
import zlib
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from streams.domain.instant import parse_rfc3339
from streams.live.batch import Message
from streams.live.worker import Worker
from streams.simulator.simulation import SimulationConfig, generate, take
from tests.integration.workers import in_process_worker

pytestmark = pytest.mark.integration

NOW = parse_rfc3339("2026-11-03T12:00:00Z")
PARTITIONS = 3


def messages(count: int) -> list[Message]:
    """Simulated events keyed by ticket over the partitions, offsets counted per partition."""
    config = SimulationConfig(seed=7, events_per_second=1.0)
    emitted = take(generate(config, parse_rfc3339("2026-11-03T08:00:00Z")), count=count)
    offsets = [0] * PARTITIONS
    out = []
    for e in emitted:
        partition = zlib.crc32(e.key.encode()) % PARTITIONS
        out.append(Message("t.tickets", partition, offsets[partition], e.line().encode()))
        offsets[partition] += 1
    return out


def worker(client: aioredis.Redis, prefix: str) -> Worker:
    return in_process_worker(client, prefix, NOW, PARTITIONS)


@pytest.fixture
async def client(redis_url: str) -> Any:
    connection = aioredis.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


async def test_partitions_of_one_batch_equal_them_applied_one_at_a_time(
    client: aioredis.Redis,
) -> None:
    events = messages(3000)
    together = worker(client, f"a{uuid.uuid4().hex[:8]}")
    alone = worker(client, f"b{uuid.uuid4().hex[:8]}")
    for start in range(0, len(events), 1000):
        batch = events[start : start + 1000]
        assert len({m.partition for m in batch}) == PARTITIONS
        await together.handle(batch)
        for partition in range(PARTITIONS):
            await alone.handle([m for m in batch if m.partition == partition])

    want = await alone.publish()
    assert want.windows["24h"].overall.tickets_created > 100
    assert await together.publish() == want
    for partition in range(PARTITIONS):
        applied = await together.store.load_offsets(partition)
        assert applied == await alone.store.load_offsets(partition) != {}


async def test_a_failing_partition_fails_the_batch_and_leaves_no_task_running(
    client: aioredis.Redis,
) -> None:
    prefix = f"c{uuid.uuid4().hex[:8]}"
    await client.set(f"{{{prefix}:p1}}:off", b"not a hash")  # adopting partition 1 fails
    w = worker(client, prefix)
    before = asyncio.all_tasks()
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await w.handle(messages(600))
    assert asyncio.all_tasks() == before
    assert 1 not in w.states
