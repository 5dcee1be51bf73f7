"""Two writers of one partition (a zombie around a rebalance) never apply an event twice."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from streams.domain.instant import parse_rfc3339
from streams.live.batch import Message
from streams.live.worker import Worker
from streams.simulator.simulation import SimulationConfig, generate, take
from tests.integration.workers import in_process_worker

NOW = parse_rfc3339("2026-11-03T12:00:00Z")


def messages(count: int) -> list[Message]:
    config = SimulationConfig(seed=5, events_per_second=1.0)
    emitted = take(generate(config, parse_rfc3339("2026-11-03T08:00:00Z")), count=count)
    return [Message("t.tickets", 0, i, e.line().encode()) for i, e in enumerate(emitted)]


def worker(client: aioredis.Redis, prefix: str) -> Worker:
    return in_process_worker(client, prefix, NOW)


@pytest.fixture
async def client(redis_url: str) -> Any:
    connection = aioredis.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


async def test_a_stale_writer_reloads_instead_of_applying_twice(client: aioredis.Redis) -> None:
    events = messages(3000)
    first, second, third = events[:1000], events[1000:2000], events[2000:]

    shared = f"f{uuid.uuid4().hex[:8]}"
    owner, zombie = worker(client, shared), worker(client, shared)
    await owner.handle(first)
    await zombie.handle(first)  # a redelivery: skipped, both now agree on offset 999
    await owner.handle(second)  # the new owner moves on; the zombie's view is now stale
    await zombie.handle([*second, *third])  # redelivered plus new: only the new may count
    await owner.handle(third)  # and the owner, stale in turn, must not count them again

    alone = worker(client, f"a{uuid.uuid4().hex[:8]}")
    for batch in (first, second, third):
        await alone.handle(batch)

    want = await alone.publish()
    assert want.windows["24h"].overall.tickets_created > 100
    assert await zombie.publish() == want  # each publishes its own cache of the partition
    assert await owner.publish() == want


async def test_offsets_never_received_are_logged_and_counted(
    client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """A record the consumer failed to deliver loses its event: say so, never hide it."""
    events = messages(40)
    w = worker(client, f"g{uuid.uuid4().hex[:8]}")
    await w.handle(events[:10])
    with caplog.at_level("WARNING", logger="streams.live.worker"):
        await w.handle(events[10:15] + events[25:])  # offsets 15..24 never arrive
    missed = w.metrics.registry.get_sample_value(
        "ticketpulse_missed_offsets_total", {"topic": "t.tickets"}
    )
    assert missed == 10
    assert "t.tickets partition 0: 10 offsets from 15 on were never received" in caplog.text
    assert (await w.store.load_offsets(0)) == {"t.tickets": 39}
