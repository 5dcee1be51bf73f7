"""Integration-test data sets on the session stack, and the golden log moved to now.

Each run gets its own topics, consumer group and Redis key prefix, so tests share one stack
without seeing each other's data; its workers are started with ``tests.support.workers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from streams.domain.instant import Instant, format_rfc3339, parse_rfc3339
from streams.domain.policies import default_policies
from streams.live.metrics import Metrics
from streams.live.store import RedisStore
from streams.live.worker import Worker
from tests.support.workers import (
    WorkerProcess,
    iter_until,
    json_reply,
    spawn_worker,
    topic_names,
    worker_env,
)

GOLDEN = Path(__file__).parent.parent / "golden"
GOLDEN_AS_OF = parse_rfc3339("2026-11-03T12:00:00Z")


@dataclass
class Run:
    """One isolated data set: topic names, a group id and a key prefix of its own."""

    name: str
    bootstrap: str
    redis_url: str
    partitions: int = 4
    policies: Path = GOLDEN / "policies.yaml"
    log_dir: Path = Path(".")
    processes: list[WorkerProcess] = field(default_factory=list)

    @property
    def topics(self) -> dict[str, str]:
        return topic_names(self.name)

    def env(self) -> dict[str, str]:
        return worker_env(
            bootstrap=self.bootstrap,
            redis_url=self.redis_url,
            name=self.name,
            topics=self.topics,
            partitions=self.partitions,
            extra={
                "TICKETPULSE_POLICIES": str(self.policies),
                "TICKETPULSE_SCAN_INTERVAL_SECONDS": "0.2",
                "TICKETPULSE_PUBLISH_INTERVAL_SECONDS": "0.3",
                "TICKETPULSE_SESSION_TIMEOUT_SECONDS": "6",
            },
        )

    def spawn(self, log_level: str = "warning", **env: str) -> WorkerProcess:
        """Start a worker without waiting for it to be ready; ``env``: more TICKETPULSE_*
        variables."""
        log = self.log_dir / f"{self.name}-worker-{len(self.processes)}.log"
        # a worker writes nothing to its working directory: tests check it
        worker = spawn_worker({**self.env(), **env}, log, cwd=self.log_dir, log_level=log_level)
        self.processes.append(worker)
        return worker

    def start_worker(
        self, timeout: float = 60.0, log_level: str = "warning", **env: str
    ) -> WorkerProcess:
        """A worker of this run, ready; ``env``: more TICKETPULSE_* variables."""
        worker = self.spawn(log_level, **env)
        worker.wait_ready(timeout)
        return worker

    def stop_all(self) -> None:
        for worker in self.processes:
            if worker.alive():
                worker.kill()


def post_pieces(
    url: str,
    pieces: Sequence[bytes],
    content_type: str,
    *,
    announce: bool = True,
    pause: float = 0.0,
) -> tuple[int, Any]:
    """POST a body sent in ``pieces`` (``pause`` s apart): with its ``Content-Length`` when
    ``announce``, else in HTTP/1.1 chunks (each piece one chunk), as curl sends a pipe."""

    def body() -> Iterable[bytes]:
        for number, piece in enumerate(pieces):
            if number:
                time.sleep(pause)
            yield piece

    request = urllib.request.Request(url, data=body(), method="POST")
    request.add_header("Content-Type", content_type)
    if announce:
        request.add_header("Content-Length", str(sum(map(len, pieces))))
    return json_reply(request, timeout=60)


def shifted_golden(target_as_of: int) -> list[tuple[str, bytes, bytes]]:
    """The golden log as (logical topic, key, value), moved so its as_of is ``target_as_of``."""
    delta = target_as_of - GOLDEN_AS_OF
    out = []
    for line in (GOLDEN / "events.jsonl").read_bytes().splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            out.append(("tickets", b"", line))
            continue
        with contextlib.suppress(KeyError, TypeError, ValueError):
            data["occurred_at"] = format_rfc3339(parse_rfc3339(data["occurred_at"]) + delta)
        kind = str(data.get("type", "")).split(".")[0]
        topic = {"ticket": "tickets", "contact": "contacts", "survey": "surveys"}.get(
            kind, "tickets"
        )
        key = str(data.get("ticket_id", "")).encode()
        out.append((topic, key, json.dumps(data).encode()))
    return out


async def produce(run: Run, records: Sequence[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=run.bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        futures = [
            await producer.send(run.topics[topic], value, key=key or None)
            for topic, key, value in records
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()


def killed_mid_stream(run: Run, records: Sequence[tuple[str, bytes, bytes]]) -> WorkerProcess:
    """The worker that is left after kill -9 twice while ``records`` are sent in thirds: once
    after its first answer to ``GET /kpis`` (between batches, or in the middle of one), once
    right after a restart; the third worker, started for the last third, is returned."""
    worker = run.start_worker()
    third = len(records) // 3
    asyncio.run(produce(run, records[:third]))
    for _ in iter_until(10, interval=0.1):
        if worker.get("/kpis")[0] == 200:
            break
    worker.kill()  # somewhere between batches, or in the middle of one
    asyncio.run(produce(run, records[third : 2 * third]))
    worker = run.start_worker()
    worker.kill()  # again, right after start-up
    asyncio.run(produce(run, records[2 * third :]))
    return run.start_worker()


async def group_offsets(run: Run) -> dict[tuple[str, int], int]:
    """The run's consumer group's committed offsets, as an operator would read them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=run.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(run.name)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


class DropDeadletters:
    """A dead-letter sink that keeps nothing, for workers run in the test's own process."""

    async def send(self, records: Any) -> None:
        return None


def in_process_worker(client: Redis, prefix: str, now: Instant, partitions: int = 1) -> Worker:
    """A ``Worker`` on the real Redis without Kafka, its clock stopped at ``now``."""
    return Worker(
        policies=default_policies(),
        store=RedisStore(client, prefix),
        metrics=Metrics(CollectorRegistry()),
        deadletters=DropDeadletters(),
        partitions=partitions,
        clock=lambda: now / 1e6,
    )


async def read_topic(run: Run, topic: str, at_least: int, timeout: float = 30.0) -> list[Any]:
    """The JSON values of a run's topic (``run.topics`` kind) from the start: once
    ``at_least`` have come, whatever else arrives within a second more."""
    consumer = AIOKafkaConsumer(
        run.topics[topic], bootstrap_servers=run.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(found) < at_least:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                found += [json.loads(m.value) for m in messages]
        if len(found) >= at_least:
            await asyncio.sleep(1)  # one more may follow
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                found += [json.loads(m.value) for m in messages]
    finally:
        await consumer.stop()
    return found


async def partition_counts(run: Run) -> dict[str, int]:
    """The run's topics' partition counts, as the broker has them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=run.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(run.topics.values()))
    finally:
        await admin.close()
    return {str(t["topic"]): len(t["partitions"]) for t in described if t["partitions"]}
