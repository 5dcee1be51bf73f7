"""Real ``ticketpulse worker`` processes, and what is read back from Kafka and Redis about them.

Used by the integration tests (``tests/integration/workers.py``), the fault suite
(``tests/faults/harness.py``) and the pipeline benchmark (``bench/pipeline``): each keeps only
its own policy (the fault fleet's supervisor, the bench's measurements) and imports the rest.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.instant import MICROS_PER_SECOND, Instant
from streams.stack.ports import free_ports

TOPIC_KINDS = ("tickets", "contacts", "surveys", "deadletter", "accounts", "account_support")


def now_micros() -> Instant:
    return int(time.time() * MICROS_PER_SECOND)


def iter_until(timeout: float, interval: float = 0.3) -> Iterator[float]:
    """Yields the seconds left, ``interval`` s apart, until ``timeout`` s have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        yield deadline - time.monotonic()
        time.sleep(interval)


# -- starting a worker ------------------------------------------------------------------------
def topic_names(prefix: str) -> dict[str, str]:
    """The topics of a data set: ``{prefix}.tickets`` and so on, by logical kind."""
    return {kind: f"{prefix}.{kind}" for kind in TOPIC_KINDS}


def worker_env(
    *,
    bootstrap: str,
    redis_url: str,
    name: str,
    topics: Mapping[str, str],
    partitions: int,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """This process's environment plus the ``TICKETPULSE_*`` settings of a worker called
    ``name`` (its Redis key prefix and consumer group), then ``extra`` over them."""
    env = dict(os.environ)
    env.update(
        TICKETPULSE_KAFKA_BOOTSTRAP=bootstrap,
        TICKETPULSE_REDIS_URL=redis_url,
        TICKETPULSE_REDIS_PREFIX=name,
        TICKETPULSE_GROUP_ID=name,
        TICKETPULSE_PARTITIONS=str(partitions),
    )
    for kind, topic in topics.items():
        env[f"TICKETPULSE_TOPIC_{kind.upper()}"] = topic
    env.update(extra or {})
    return env


@dataclass
class WorkerProcess:
    """A started child process (a worker, or the bench's peer) with its log and HTTP address."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def get(self, path: str) -> tuple[int, Any]:
        """GET ``path``: the status and the JSON body (of an error status too)."""
        return json_reply(urllib.request.Request(self.url + path), timeout=5)

    def get_text(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            text: str = response.read().decode()
            return text

    def metrics(self) -> dict[str, float]:
        """The samples of the worker's /metrics, as ``name{label="value",...}`` (sorted)."""
        return {
            sample.name
            + "{"
            + ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            + "}": sample.value
            for family in text_string_to_metric_families(self.get_text("/metrics"))
            for sample in family.samples
        }

    def ready(self) -> bool:
        """One look at ``/readyz``; not answering yet counts as not ready."""
        try:
            status, body = self.get("/readyz")
        except (OSError, ValueError):
            return False
        return status == 200 and bool(body.get("ready"))

    def wait_ready(self, timeout: float) -> None:
        """Until ``/readyz`` says ready; fails with the log's tail if it exits or takes longer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"worker exited {self.process.returncode}:\n{self.tail()}")
            if self.ready():
                return
            time.sleep(0.2)
        raise AssertionError(f"worker not ready in {timeout:.0f}s:\n{self.tail()}")

    def kill(self) -> None:
        """kill -9, and reap it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float) -> int | None:
        """SIGTERM, then up to ``timeout`` s for the exit: its code, or None when it had to be
        killed (after SIGUSR1, on which a worker logs the stack of every thread and task)."""
        if not self.alive():
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)
            time.sleep(3)
            self.process.kill()
            self.process.wait(10)
            return None

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def spawn_worker(
    env: Mapping[str, str], log: Path, cwd: Path | None = None, log_level: str = "warning"
) -> WorkerProcess:
    """``ticketpulse worker`` on a free port, output to ``log``, just started (not yet ready)."""
    port = free_ports(1)[0]
    command = [sys.executable, "-m", "streams", "worker", "--web-port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--log-level", log_level],
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return WorkerProcess(process, f"http://127.0.0.1:{port}", log)


def json_reply(request: urllib.request.Request, timeout: float) -> tuple[int, Any]:
    """Send ``request``: the status and the JSON reply (of an error status too)."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def memory_bytes(pid: int, field: str) -> int:
    """A memory figure of ``/proc/<pid>/status`` in bytes (``VmRSS`` now, ``VmHWM`` the peak);
    0 when the process has none (it has exited)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def post(url: str, body: bytes, content_type: str | None, timeout: float = 60) -> tuple[int, Any]:
    """POST ``body``: the status and the JSON reply (of an error status too)."""
    request = urllib.request.Request(url, data=body, method="POST")
    if content_type is not None:
        request.add_header("Content-Type", content_type)
    return json_reply(request, timeout)


# -- reading back -----------------------------------------------------------------------------
@dataclass
class Topics:
    """What the topics hold: values in log order and the last offset of each partition."""

    values: list[bytes]
    last_offsets: dict[tuple[str, int], int]
    entries: list[tuple[str, int, int, bytes]] = field(default_factory=list)

    @property
    def latest_event_time(self) -> int:
        latest = 0
        for value in self.values:
            decoded = decode_event(value)
            if not isinstance(decoded, InvalidEvent):
                latest = max(latest, decoded.occurred_at)
        return latest


async def read_topics(
    bootstrap: str, topics: Sequence[str], options: Mapping[str, Any] | None = None
) -> Topics:
    """Every record the topics hold now (committed ones only), read from the beginning."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        **(options or {}),
    )
    await consumer.start()
    try:
        partitions = []
        for topic in topics:
            found = consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        by_tp: dict[TopicPartition, list[tuple[int, bytes]]] = {tp: [] for tp in partitions}
        remaining = {tp for tp in partitions if ends[tp] > 0}
        deadline = time.monotonic() + 120
        while remaining and time.monotonic() < deadline:
            for tp, messages in (await consumer.getmany(timeout_ms=500)).items():
                by_tp[tp] += [(m.offset, m.value or b"") for m in messages]
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        assert not remaining, f"could not read back {sorted(map(str, remaining))}"
    finally:
        await consumer.stop()
    values = [value for tp in partitions for _, value in by_tp[tp]]
    last = {(tp.topic, tp.partition): by_tp[tp][-1][0] for tp in partitions if by_tp[tp]}
    entries = [(tp.topic, tp.partition, o, v) for tp in partitions for o, v in by_tp[tp]]
    return Topics(values, last, entries)


async def read_topics_until(
    bootstrap: str,
    topics: Sequence[str],
    until: Callable[[Topics], bool],
    options: Mapping[str, Any] | None = None,
    timeout: float = 30.0,
) -> Topics:
    """``read_topics`` again until ``until`` holds of what it read, or the last read after
    ``timeout`` s: a transaction's records become readable moments after its commit is
    confirmed (Kafka writes the commit markers to the partitions after answering)."""
    deadline = time.monotonic() + timeout
    while True:
        read = await read_topics(bootstrap, topics, options)
        if until(read) or time.monotonic() > deadline:
            return read
        await asyncio.sleep(0.2)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        await consumer._client.force_metadata_update()  # a topic made moments ago
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await asyncio.sleep(0.1)
    raise AssertionError(f"topic {topic} has no partitions")


def applied_offsets(
    client: redis.Redis, prefix: str, partitions: int
) -> dict[tuple[str, int], int]:
    """The last offset the workers applied, by (topic, partition): the ``off`` hashes that
    each partition's transaction writes with its state (docs/redis.md)."""
    pipe = client.pipeline(transaction=False)
    for p in range(partitions):
        pipe.hgetall(f"{{{prefix}:p{p}}}:off")
    out: dict[tuple[str, int], int] = {}
    for p, offsets in enumerate(pipe.execute()):
        for topic, offset in offsets.items():
            out[(topic.decode(), p)] = int(offset)
    return out


def wait_applied(
    client: redis.Redis,
    prefix: str,
    partitions: int,
    last_offsets: Mapping[tuple[str, int], int],
    timeout: float,
    between: Callable[[], None] = lambda: None,
) -> None:
    """Until Redis says every offset up to ``last_offsets`` has been applied (``between``
    runs before each look, e.g. to check the workers); fails with what is still behind."""
    deadline = time.monotonic() + timeout
    behind: dict[tuple[str, int], tuple[int, int]] = {}
    while time.monotonic() < deadline:
        between()
        try:
            applied = applied_offsets(client, prefix, partitions)
        except redis.RedisError:
            applied = {}
        behind = {
            tp: (applied.get(tp, -1), last)
            for tp, last in last_offsets.items()
            if applied.get(tp, -1) < last
        }
        if not behind:
            return
        time.sleep(0.3)
    raise AssertionError(f"not drained in {timeout}s: (applied, last) {behind}")
