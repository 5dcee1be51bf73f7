"""Real ``ticketpulse worker`` processes for integration tests, and the golden log moved to now.

Each run gets its own topics, consumer group and Redis key prefix, so tests share one stack
without seeing each other's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from streams.domain.instant import MICROS_PER_SECOND, Instant, format_rfc3339, parse_rfc3339
from streams.domain.policies import default_policies
from streams.live.metrics import Metrics
from streams.live.store import RedisStore
from streams.live.worker import Worker
from streams.stack.ports import free_ports

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
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def topics(self) -> dict[str, str]:
        return {
            "tickets": f"{self.name}.tickets",
            "contacts": f"{self.name}.contacts",
            "surveys": f"{self.name}.surveys",
            "deadletter": f"{self.name}.deadletter",
        }

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            TICKETPULSE_KAFKA_BOOTSTRAP=self.bootstrap,
            TICKETPULSE_REDIS_URL=self.redis_url,
            TICKETPULSE_REDIS_PREFIX=self.name,
            TICKETPULSE_GROUP_ID=self.name,
            TICKETPULSE_PARTITIONS=str(self.partitions),
            TICKETPULSE_POLICIES=str(self.policies),
            TICKETPULSE_SCAN_INTERVAL_SECONDS="0.2",
            TICKETPULSE_PUBLISH_INTERVAL_SECONDS="0.3",
            TICKETPULSE_SESSION_TIMEOUT_SECONDS="6",
        )
        for kind, topic in self.topics.items():
            env[f"TICKETPULSE_TOPIC_{kind.upper()}"] = topic
        return env

    def start_worker(
        self, timeout: float = 60.0, log_level: str = "warning", **env: str
    ) -> WorkerProcess:
        """A worker of this run, ready; ``env``: more TICKETPULSE_* variables."""
        port = free_ports(1)[0]
        log = (self.log_dir / f"{self.name}-worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streams",
                "worker",
                "--web-port",
                str(port),
                "--log-level",
                log_level,
            ],
            env={**self.env(), **env},
            cwd=self.log_dir,  # a worker writes nothing to its working directory: tests check it
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        worker = WorkerProcess(process, f"http://127.0.0.1:{port}", Path(log.name))
        worker.wait_ready(timeout)
        return worker

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def metrics(self) -> dict[str, float]:
        """The samples of the worker's /metrics, as ``name{label="value",...}`` (sorted)."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:
            text = response.read().decode()
        return {
            sample.name
            + "{"
            + ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            + "}": sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited {self.process.returncode}:\n{self.tail()}")
            try:
                status, body = self.get("/readyz")
                if status == 200 and body.get("ready"):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"worker not ready in {timeout}s:\n{self.tail()}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


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
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


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


async def group_offsets(run: Run) -> dict[tuple[str, int], int]:
    """The run's consumer group's committed offsets, as an operator would read them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=run.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(run.name)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


def now_micros() -> int:
    return int(time.time() * MICROS_PER_SECOND)


def iter_until(timeout: float, interval: float = 0.3) -> Iterator[float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        yield deadline - time.monotonic()
        time.sleep(interval)


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
