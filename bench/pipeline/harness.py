"""What each measurement runs on: topics, offsets, workers' progress in Redis, the stack."""

from __future__ import annotations

import argparse
import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.pipeline import dataset
from bench.pipeline.common import log
from bench.pipeline.procs import ROOT, cpu_seconds
from bench.pipeline.reference import Gate, normal
from streams.stack import Stack, StackConfig, StackPaths, StackPorts
from streams.stack.component import Component
from streams.stack.kafka_broker import KafkaBroker
from streams.stack.redis_server import RedisServer
from tests.support.workers import (
    WorkerProcess,
    applied_offsets,
    spawn_worker,
    topic_names,
    worker_env,
)


@dataclass
class Measure:
    contender: str
    repeat: int
    messages: int
    seconds: float  # first to last message
    cpu: float  # CPU seconds over the same span
    rss: int
    gate: Gate | None = None
    note: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else math.nan

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.messages * 1e6 if self.messages else math.nan


@dataclass
class Topics:
    prefix: str
    partitions: int
    accounts: bool = False  # the data set has account events: the accounts topic is an input

    @property
    def names(self) -> dict[str, str]:
        return topic_names(self.prefix)

    @property
    def inputs(self) -> list[str]:
        kinds = (*dataset.TOPICS, dataset.ACCOUNTS) if self.accounts else dataset.TOPICS
        return [self.names[t] for t in kinds]


@dataclass
class Bench:
    args: argparse.Namespace
    bootstrap: str
    redis_url: str
    run_id: str
    work: Path
    redis: redis.Redis | redis.RedisCluster
    measures: list[Measure] = field(default_factory=list)
    ends: dict[tuple[str, int], int] = field(default_factory=dict)

    def end_offsets(self, topics: Topics) -> dict[tuple[str, int], int]:
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "bench-probe"})
        try:
            ends = {}
            for topic in topics.inputs:
                for p in range(topics.partitions):
                    for attempt in range(20):  # new topics: metadata may lag a moment
                        try:
                            _, high = consumer.get_watermark_offsets(
                                TopicPartition(topic, p), timeout=10
                            )
                            break
                        except KafkaException:
                            if attempt == 19:
                                raise
                            time.sleep(0.5)
                    ends[(topic, p)] = high
            return ends
        finally:
            consumer.close()

    # F ---------------------------------------------------------------------------------
    def spawn_worker(
        self, topics: Topics, name: str, log: str = "", extra: dict[str, str] | None = None
    ) -> WorkerProcess:
        """A worker called ``name`` (its Redis prefix and group) on ``topics``, just started,
        with ``extra`` settings; its output goes to ``{log or name}.log``."""
        env = worker_env(
            bootstrap=self.bootstrap,
            redis_url=self.redis_url,
            name=name,
            topics=topics.names,
            partitions=topics.partitions,
            extra={
                "TICKETPULSE_PUBLISH_INTERVAL_SECONDS": str(self.args.publish_interval),
                **(extra or {}),
            },
        )
        return spawn_worker(env, self.work / f"{log or name}.log", cwd=ROOT)

    def start_worker(self, topics: Topics, name: str) -> WorkerProcess:
        """A worker as ``spawn_worker`` makes it, returned once ``/readyz`` says ready."""
        worker = self.spawn_worker(topics, name)
        wait_ready([worker])
        return worker

    def applied(self, prefix: str, partitions: int) -> dict[tuple[str, int], int]:
        return applied_offsets(self.redis, prefix, partitions)

    def drain_workers(
        self, topics: Topics, prefix: str, workers: list[WorkerProcess], timeout: float
    ) -> tuple[float, float, float, int]:
        """Poll Redis offsets until every message is applied: (first, last, CPU s, messages).

        After ``timeout`` seconds the messages applied so far are returned (fewer than all:
        the caller reports a partial run instead of nothing).
        """
        ends = {key: end for key, end in self.ends_for(topics).items() if end > 0}
        first = 0.0
        cpu_first = 0.0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            applied = self.applied(prefix, topics.partitions)
            now = time.time()
            cpu = sum(cpu_seconds(w.pid) for w in workers)
            if applied and not first:
                first, cpu_first = now, cpu
            done = sum(min(applied.get(key, -1) + 1, end) for key, end in ends.items())
            if done >= sum(ends.values()):
                return first, now, cpu - cpu_first, done
            for w in workers:
                if not w.alive():
                    raise RuntimeError(f"worker died:\n{w.tail()}")
            time.sleep(0.05)
        log(f"  not drained in {timeout:.0f} s: {done:,} of {sum(ends.values()):,} applied")
        return first, now, cpu - cpu_first, done

    def ends_for(self, topics: Topics) -> dict[tuple[str, int], int]:
        return {k: v for k, v in self.ends.items() if k[0].startswith(topics.prefix + ".")}

    def read_snapshot(self, prefix: str) -> dict[str, Any] | None:
        blob = self.redis.get(f"{prefix}:snapshot")
        return normal(blob) if blob else None

    def total(self, topics: Topics) -> int:
        return sum(self.ends_for(topics).values())


def wait_ready(workers: list[WorkerProcess], timeout: float = 90.0) -> None:
    """Until every worker is ready; if one is not, all are stopped (none outlives the bench)."""
    try:
        for worker in workers:
            worker.wait_ready(timeout)
    except AssertionError:
        for worker in workers:
            worker.stop(15)
        raise


def kafka_and_redis(paths: StackPaths, config: StackConfig) -> list[Component]:
    return [RedisServer(paths, config), KafkaBroker(paths, config)]


@contextlib.contextmanager
def stack(args: argparse.Namespace, work: Path) -> Iterator[tuple[str, str]]:
    if args.bootstrap and args.redis_url:
        yield args.bootstrap, args.redis_url
        return
    config = StackConfig(ports=StackPorts.free(), scrape_targets=())
    running = Stack(work / "stack", config, kafka_and_redis)
    missing = running.missing()
    if missing:
        raise SystemExit(f"the bench needs: {missing} (make setup)")
    log("starting Kafka and Redis")
    running.up(timeout=180)
    try:
        yield running.addresses.bootstrap_servers, running.addresses.redis_url
    finally:
        running.down()
