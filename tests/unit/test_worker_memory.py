"""The live worker over the in-memory store: its snapshot equals replay of the same events.

The worker runs unchanged (decode, plan, apply, breach scans, publish) with
``MemoryStore`` in Redis's place, as ``bench/bench_worker_handle.py`` feeds it without Kafka.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from streams.domain.facts import SlaTarget
from streams.domain.instant import MICROS_PER_SECOND, parse_rfc3339
from streams.domain.policies import default_policies
from streams.live import api
from streams.live.at_risk import AT_RISK, BREACHED, AtRiskQuery
from streams.live.batch import Message
from streams.live.metrics import Metrics
from streams.live.paging import MAX_LIMIT
from streams.live.stores.memory import MemoryStore
from streams.live.worker import Worker
from streams.replay import replay_lines
from streams.simulator.simulation import SimulationConfig, generate, take

START = parse_rfc3339("2026-11-03T08:00:00Z")
# The worker's clock just before 12:00, whose snapshot is as of 12:00 (the minute's end), as
# replay's: both have evaluated every deadline before 12:00.
AS_OF = parse_rfc3339("2026-11-03T12:00:00Z")
NOW = AS_OF - 1
PARTITIONS = 3


class Drop:
    async def send(self, records: Sequence[dict[str, Any]]) -> None:
        return None


def worker(store: MemoryStore) -> Worker:
    return Worker(
        policies=default_policies(),
        store=store,
        metrics=Metrics(CollectorRegistry()),
        deadletters=Drop(),
        partitions=PARTITIONS,
        clock=lambda: NOW / MICROS_PER_SECOND,
    )


async def test_the_worker_over_memory_equals_replay() -> None:
    emitted = list(
        take(generate(SimulationConfig(seed=7, events_per_second=1.0), START), count=3000)
    )
    lines = [e.line().encode() for e in emitted]
    offsets = [0] * PARTITIONS
    messages = []
    for e, line in zip(emitted, lines, strict=True):
        partition = zlib.crc32(e.key.encode()) % PARTITIONS
        messages.append(Message("t.tickets", partition, offsets[partition], line))
        offsets[partition] += 1

    store = MemoryStore()
    live = worker(store)
    for start in range(0, len(messages), 500):
        await live.handle(messages[start : start + 500])
    while await live.scan():
        pass
    snapshot = (await live.publish()).to_json()

    want = replay_lines(iter(lines), default_policies(), AS_OF).snapshot
    assert snapshot["windows"]["24h"]["overall"]["tickets_created"] > 100
    assert snapshot["sla_now"]["breached_running"]["first_reply"] > 0
    assert snapshot == want
    # another worker adopts the partitions from the store: redelivered, nothing counts twice
    again = worker(store)
    for start in range(0, len(messages), 500):
        await again.handle(messages[start : start + 500])
    assert (await again.publish()).to_json() == want
    assert await store.read_snapshot() is not None


async def test_the_at_risk_api_over_memory_lists_what_sla_now_counts() -> None:
    """``GET /sla/at-risk`` reads the store through the protocol alone: over the memory
    store it lists, per target and state, as many clocks as the snapshot's ``sla_now``."""
    emitted = list(
        take(generate(SimulationConfig(seed=11, events_per_second=1.0), START), count=2000)
    )
    offsets = [0] * PARTITIONS
    messages = []
    for e in emitted:
        partition = zlib.crc32(e.key.encode()) % PARTITIONS
        messages.append(Message("t.tickets", partition, offsets[partition], e.line().encode()))
        offsets[partition] += 1
    store = MemoryStore()
    live = worker(store)
    await live.handle(messages)
    while await live.scan():
        pass
    sla_now = (await live.publish()).sla_now

    status, page = await api.at_risk(
        store, default_policies(), PARTITIONS, NOW, AtRiskQuery(limit=MAX_LIMIT)
    )
    assert status == 200 and page["next_cursor"] is None
    listed = Counter((row["state"], row["target"]) for row in page["tickets"])
    assert sum(sla_now.breached_running.values()) > 0 and sum(sla_now.at_risk.values()) > 0
    for target in SlaTarget:
        assert listed[(BREACHED, target.value)] == sla_now.breached_running[target.value]
        assert listed[(AT_RISK, target.value)] == sla_now.at_risk[target.value]
