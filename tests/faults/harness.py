"""The fault suite's machinery: simulated load, supervised workers and the independent checker.

- ``simulated_load``: a seeded simulator stream (late, duplicate and invalid events included)
  whose event times end about when producing it ends, so SLA deadlines fall while it runs.
- ``LoadProducer``: produces records in a background thread at a steady rate (idempotent,
  acks=all), retrying through broker outages; what counts is what Kafka holds afterwards.
- ``Fleet``: ``ticketpulse worker`` processes under a supervisor thread that restarts any
  worker that dies (kill -9 by the test, or an exit of its own), like systemd or Kubernetes.
- ``Checker``: reads back exactly the records the topics hold, waits until the worker has
  applied all of them (the ``off`` hashes in Redis), then compares the snapshot in Redis and
  ``GET /kpis`` with ``replay`` of those records at the live snapshot's own ``as_of``, and on
  request every account's ``GET /accounts/{id}`` with replay's view of it.

Starting, stopping and reading back workers is ``tests.support.workers``' (shared with the
integration tests and the bench); what is here is the fault suite's own policy.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import threading
import time
import urllib.error
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from aiokafka import AIOKafkaProducer

from streams.domain.instant import MICROS_PER_SECOND, ceil_minute, parse_rfc3339
from streams.domain.policies import load_policies
from streams.live.partition_replay import ReplayResult
from streams.live.placement import partition_of
from streams.replay import replay_lines
from streams.simulator.accounts import EVENTS_PER_ACCOUNT_MONTH, MONTH
from streams.simulator.kafka_sink import TokenBucket
from streams.simulator.simulation import Shift, SimulationConfig, generate, take
from tests.integration.workers import Run
from tests.support.workers import (
    Topics,
    WorkerProcess,
    memory_bytes,
    now_micros,
    read_topics,
    wait_applied,
)

HERE = Path(__file__).parent
POLICIES = HERE / "policies.yaml"
SOAK = os.environ.get("TICKETPULSE_SOAK", "") not in ("", "0", "false", "no")
SETTLE_MICROS = 13 * MICROS_PER_SECOND  # the longest "fast" target (12 s) and a second
Record = tuple[str, bytes, bytes]  # (logical topic, key, value)


def soak(normal: int, longer: int) -> int:
    """``normal`` in the test suite, ``longer`` under ``make soak``."""
    return longer if SOAK else normal


# -- load -------------------------------------------------------------------------------------
ROUND_THE_CLOCK = (Shift("all day", 0, 24, (0, 1, 2, 3, 4, 5, 6)),)


def simulated_load(
    count: int,
    rate: float,
    *,
    seed: int,
    history_seconds: float = 3600.0,
    invalid_share: float = 0.01,
    duplicate_share: float = 0.01,
    late_share: float = 0.03,
    accounts: int = 0,
) -> list[Record]:
    """About ``count`` simulated records spread over ``history_seconds`` of event time.

    The history ends ``count / rate`` seconds from now, when producing at ``rate`` ends: the
    oldest events are an hour late, the newest arrive about in real time, so "fast" SLA
    deadlines pass during the run (the breach scanner's work) and before it (batch work).
    With ``accounts`` a CRM of about that many accounts runs beside the tickets (which name
    them): their book (leads, conversions, assignments, backdated) is sent over the hour.
    """
    produce_seconds = count / rate
    end = now_micros() + int(produce_seconds * MICROS_PER_SECOND)
    start = end - int(history_seconds * MICROS_PER_SECOND)
    events_per_second = count / history_seconds
    config = SimulationConfig(
        seed=seed,
        events_per_second=events_per_second,
        accounts_rate=accounts_rate_for(accounts, events_per_second),
        daily_cycle=False,
        # agents round the clock: with the default shifts (06-22 UTC on weekdays) a run at
        # night or on a weekend saw no reply within its SLA, and assert_substantial failed
        shifts=ROUND_THE_CLOCK,
        invalid_share=invalid_share,
        duplicate_share=duplicate_share,
        late_share=late_share,
    )
    out: list[Record] = []
    for emitted in take(generate(config, start), count=count, until=end):
        out.append((str(emitted.topic), emitted.key.encode(), emitted.line().encode()))
    return out


def accounts_rate_for(accounts: int, events_per_second: float) -> float:
    """The simulator's ``accounts_rate`` whose population is about ``accounts`` (the inverse
    of ``streams.simulator.accounts.population``)."""
    per_month = events_per_second * MONTH / MICROS_PER_SECOND
    return accounts * EVENTS_PER_ACCOUNT_MONTH / per_month


@dataclass
class LoadProducer:
    """Produces ``records`` at ``rate`` per second from a thread; survives broker outages."""

    bootstrap: str
    topics: Mapping[str, str]
    records: Sequence[Record]
    rate: float
    options: Mapping[str, Any] = field(default_factory=dict)
    sent: int = 0
    acked: int = 0
    errors: list[str] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self) -> LoadProducer:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"producer still running after {timeout}s"

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def wait_sent(self, count: int, timeout: float = 300.0) -> None:
        """Until ``count`` records are sent: a point of the stream for the next fault."""
        deadline = time.monotonic() + timeout
        while self.sent < count and not self.done:
            assert time.monotonic() < deadline, f"{self.sent} of {count} sent in {timeout} s"
            time.sleep(0.1)

    async def _main(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=10,
            request_timeout_ms=120_000,
            **self.options,
        )
        await producer.start()
        bucket = TokenBucket(self.rate, burst=max(1.0, self.rate / 20))
        pending: list[asyncio.Future[Any]] = []
        try:
            for topic, key, value in self.records:
                await bucket.wait()
                while True:
                    try:
                        pending.append(await producer.send(self.topics[topic], value, key=key))
                        break
                    except Exception as error:  # broker gone: wait and send it again
                        self.errors.append(repr(error))
                        await asyncio.sleep(0.5)
                self.sent += 1
                if len(pending) >= 1000:
                    await self._settle(pending)
            await self._settle(pending)
        finally:
            await producer.stop()

    async def _settle(self, pending: list[asyncio.Future[Any]]) -> None:
        for outcome in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(outcome, BaseException):
                self.errors.append(repr(outcome))
            else:
                self.acked += 1
        pending.clear()


# -- workers ----------------------------------------------------------------------------------
@dataclass
class FaultRun(Run):
    """A ``Run`` with the fault policies and extra ``TICKETPULSE_*`` settings."""

    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(TICKETPULSE_BATCH_MAX="1000", **self.extra_env)
        return env


@dataclass
class Exit:
    slot: int
    returncode: int
    log_tail: str


class Fleet:
    """``size`` worker slots; a supervisor thread restarts the worker of a slot when it dies."""

    def __init__(self, run: FaultRun, size: int = 1) -> None:
        self.run = run
        self.workers: dict[int, WorkerProcess] = {}
        self.exits: list[Exit] = []
        self.starts = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        for slot in range(size):
            self._start(slot)
        self._thread = threading.Thread(target=self._supervise, daemon=True)
        self._thread.start()

    def _start(self, slot: int) -> WorkerProcess:
        worker = self.run.spawn()
        self.workers[slot] = worker
        self.starts += 1
        return worker

    def _supervise(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                for slot, worker in list(self.workers.items()):
                    if not worker.alive():
                        self.exits.append(Exit(slot, worker.process.returncode, worker.tail(15)))
                        self._start(slot)

    def kill(self, slot: int = 0) -> None:
        """kill -9; the supervisor starts a new worker in the slot within 0.2 s."""
        with self._lock:
            self.workers[slot].kill()

    def stop(self, slot: int) -> int:
        """A clean stop (SIGTERM, wait); the slot is removed, so nothing restarts it."""
        with self._lock:
            worker = self.workers.pop(slot)
        code = worker.stop(60)
        if code is None:
            raise AssertionError(
                f"worker {slot} did not stop within 60 s of SIGTERM; its log:\n{worker.tail(400)}"
            )
        return code

    def add(self, slot: int) -> WorkerProcess:
        with self._lock:
            return self._start(slot)

    def worker(self, slot: int = 0) -> WorkerProcess:
        with self._lock:
            return self.workers[slot]

    def wait_ready(self, timeout: float = 90.0, slots: Iterable[int] | None = None) -> None:
        deadline = time.monotonic() + timeout
        for slot in list(slots if slots is not None else self.workers):
            while not self.worker(slot).ready():  # a worker that dies is restarted: wait on
                worker = self.worker(slot)
                if time.monotonic() > deadline:
                    raise AssertionError(f"worker {slot} not ready in {timeout}s:\n{worker.tail()}")
                time.sleep(0.2)

    def unexpected_exits(self) -> list[Exit]:
        """Exits that were not our kill -9."""
        return [e for e in self.exits if e.returncode != -signal.SIGKILL]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            self.run.stop_all()  # every worker of the fleet, the current and the dead


def random_pause(rng: random.Random, low: float, high: float) -> None:
    time.sleep(rng.uniform(low, high))


def busiest_partition(records: Sequence[Record], partitions: int) -> int:
    """The partition most of ``records`` go to (by key, as the producer places them); given
    the part of a stream not sent yet, the partition busiest from now on."""
    homes = Counter(partition_of(key, partitions) for _, key, _ in records if key)
    return max(range(partitions), key=lambda partition: homes[partition])


# -- the checker ------------------------------------------------------------------------------
def first_difference(live: Any, expected: Any, path: str = "") -> str:
    """Where two snapshots differ, for the failure message."""
    if isinstance(live, dict) and isinstance(expected, dict):
        for key in sorted(set(live) | set(expected)):
            if live.get(key) != expected.get(key):
                return first_difference(live.get(key), expected.get(key), f"{path}.{key}")
        return ""
    return f"{path}: live {live!r} != replay {expected!r}"


@dataclass
class Checker:
    run: FaultRun
    redis_client: redis.Redis
    kafka_options: Mapping[str, Any] = field(default_factory=dict)

    replays: dict[str, ReplayResult] = field(default_factory=dict)

    def read(self) -> Topics:
        inputs = [self.run.topics[k] for k in ("tickets", "contacts", "surveys", "accounts")]
        return asyncio.run(read_topics(self.run.bootstrap, inputs, self.kafka_options))

    def replay(self, topics: Topics, as_of: str) -> ReplayResult:
        """Replay of the read-back records at ``as_of`` (cached: one per minute)."""
        if as_of not in self.replays:
            at = parse_rfc3339(as_of)
            self.replays[as_of] = replay_lines(iter(topics.values), load_policies(POLICIES), at)
        return self.replays[as_of]

    def wait_drained(self, topics: Topics, timeout: float, supervise: Callable[[], None]) -> None:
        """Until Redis says every record the topics hold has been applied."""
        run = self.run
        last = topics.last_offsets
        wait_applied(self.redis_client, run.name, run.partitions, last, timeout, supervise)

    def assert_equal(
        self,
        workers: Callable[[], Sequence[WorkerProcess]],
        timeout: float = 120.0,
        supervise: Callable[[], None] = lambda: None,
        accounts: bool = False,
    ) -> dict[str, Any]:
        """Drained, settled, then Redis's snapshot and every worker's GET /kpis equal replay;
        with ``accounts`` also every account's ``GET /accounts/{id}``."""
        topics = self.read()
        self.wait_drained(topics, timeout, supervise)
        settle = topics.latest_event_time + SETTLE_MICROS
        while now_micros() < settle:
            time.sleep(0.2)
        self.replays.clear()

        def expected_at(as_of: str) -> dict[str, Any]:
            return self.replay(topics, as_of).snapshot

        deadline = time.monotonic() + 60
        problem = "no snapshot"
        while time.monotonic() < deadline:
            supervise()
            raw = self.redis_client.get(f"{self.run.name}:snapshot")
            if raw is None:
                time.sleep(0.3)
                continue
            stored = json.loads(raw)
            if stored["as_of"] != _as_of_now():
                problem = f"stale snapshot as_of {stored['as_of']}"
                time.sleep(0.3)
                continue
            expected = expected_at(stored["as_of"])
            problem = first_difference(stored, expected)
            if not problem:
                for worker in workers():
                    status, served = _get(worker, "/kpis")
                    problem = f"GET /kpis {status}" if status != 200 else ""
                    if served is not None and status == 200:
                        problem = first_difference(served, expected_at(served["as_of"]))
                    if problem:
                        break
            if not problem and accounts:
                problem = self._accounts_problem(topics, workers())
            if not problem:
                return stored
            time.sleep(0.3)
        tails = "\n".join(w.tail(20) for w in workers())
        raise AssertionError(f"live snapshot != replay: {problem}\n{tails}")

    def _accounts_problem(self, topics: Topics, workers: Sequence[WorkerProcess]) -> str:
        """The first account whose ``GET /accounts/{id}`` (from each worker in turn) is not
        replay's view at the answer's as_of; "" when every account's is."""
        views = self.replay(topics, _as_of_now()).accounts
        if not views:
            return "replay has no accounts"
        for number, view in enumerate(views):
            account_id = view["account_id"]
            status, body = _get(workers[number % len(workers)], f"/accounts/{account_id}")
            if status != 200:
                return f"GET /accounts/{account_id} {status}"
            wanted = {v["account_id"]: v for v in self.replay(topics, body["as_of"]).accounts or []}
            want = wanted.get(account_id)
            served = {key: body.get(key) for key in want or {}}
            if served != want:
                return f"/accounts/{account_id}" + first_difference(served, want)
        return ""


def _as_of_now() -> str:
    from streams.domain.instant import format_rfc3339

    return format_rfc3339(ceil_minute(now_micros()))


def _get(worker: WorkerProcess, path: str) -> tuple[int, Any]:
    try:
        return worker.get(path)
    except (OSError, urllib.error.URLError, ValueError):
        return 0, None


def assert_nothing_missed(client: redis.Redis | redis.RedisCluster, run: FaultRun) -> None:
    """No partition recorded an offset as missed, and no worker logged one never received."""
    for p in range(run.partitions):
        assert not client.hgetall(f"{{{run.name}:p{p}}}:missed"), p
    logs = "".join(f.read_text() for f in run.log_dir.glob(f"{run.name}-worker-*.log"))
    assert "never received" not in logs


def rss_bytes(pid: int) -> int:
    """A running process's resident memory, from /proc."""
    rss = memory_bytes(pid, "VmRSS")
    assert rss, f"no VmRSS for {pid}"
    return rss


def assert_substantial(snapshot: dict[str, Any]) -> dict[str, int]:
    """The compared snapshot holds real numbers (so equal is not trivially equal)."""
    week = snapshot["windows"]["7d"]["overall"]
    sla = week["sla"]["first_reply"]
    summary = {
        "created": week["tickets_created"],
        "solved": week["tickets_solved"],
        "first_reply_met": sla["met"],
        "first_reply_breached": sla["breached"],
        "backlog": snapshot["backlog"]["total"],
    }
    assert summary["created"] > 100 and summary["solved"] > 0, summary
    assert sla["met"] > 0 and sla["breached"] > 0, summary
    return summary


def assert_accounts_substantial(snapshot: dict[str, Any]) -> dict[str, int]:
    """The compared accounts section holds real numbers: customers, at-risk customers (their
    tickets' SLA breaches are one of their signals: links arrived) and accounts' facts."""
    now = snapshot["accounts"]["now"]
    month = snapshot["accounts"]["windows"]["30d"]["overall"]
    summary = {
        "customers": now["customers"],
        "leads_open": now["leads_open"],
        "at_risk": now["at_risk"],
        "leads_30d": month["leads"],
        "at_risk_for_breaches": sum(
            "sla_breaches" in row["signals"] for row in snapshot["accounts"]["at_risk"]
        ),
    }
    assert summary["customers"] > 50 and summary["at_risk"] > 0, summary
    assert summary["leads_open"] > 0 and summary["leads_30d"] > 0, summary
    assert summary["at_risk_for_breaches"] > 0, summary
    return summary
