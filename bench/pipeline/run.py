"""Pipeline benchmark: throughput against the ceiling and a peer, latency, breaches, scale.

    .venv/bin/python -m bench.pipeline [--events 1000000] [--repeats 3] [--skip latency,scale]
        [--contenders c0,c1,f,q] [--bootstrap HOST:PORT --redis-url URL] [--out bench/results]

``make bench`` runs it with the defaults. See docs/bench.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import redis

from bench.pipeline import dataset
from bench.pipeline.procs import (
    Child,
    WorkerConfig,
    cpu_seconds,
    peak_rss,
    run_contender,
    spawn_worker,
    start_quix,
    start_worker,
    wait_ready,
)
from bench.pipeline.stats import (
    Profile,
    Summary,
    count_latencies,
    percentile,
    ratio,
    snapshot_diff,
    summarise_profile,
    table,
    verdict,
)
from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.engine import Engine
from streams.domain.instant import (
    MICROS_PER_MINUTE,
    MICROS_PER_SECOND,
    Instant,
    format_rfc3339,
)
from streams.domain.policies import default_policies
from streams.domain.snapshot import dumps_snapshot
from streams.stack import Stack, StackConfig, StackPaths, StackPorts
from streams.stack.component import Component
from streams.stack.kafka_broker import KafkaBroker
from streams.stack.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("throughput", "profile", "latency", "scale")
CONTENDERS = ("c0", "c1", "f", "q")
NAMES = {
    "c0": "C0 aiokafka getmany, count only",
    "c1": "C1 C0 + decode + Engine",
    "f": "F ticketpulse worker",
    "q": "Q Quix Streams peer",
}


def now_micros() -> Instant:
    return int(time.time() * MICROS_PER_SECOND)


def log(text: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {text}", file=sys.stderr, flush=True)


# -- the reference ------------------------------------------------------------------------


class Reference:
    """``ticketpulse replay`` of the moved data set, for any ``as_of`` after its last event.

    The events are decoded and ingested once; each ``at`` evaluates every ticket at that
    instant, as ``replay_lines(lines, policies, at)`` does (no event is at or after ``at``).
    Instants must come in increasing order; an earlier one rebuilds the engine.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cache: dict[Instant, dict[str, Any]] = {}
        self._build()

    def _build(self) -> None:
        self.engine = Engine(default_policies())
        self.evaluated = 0
        with self.path.open("rb") as lines:
            for line in lines:
                if line.strip():
                    event = decode_event(line)
                    if not isinstance(event, InvalidEvent):
                        self.engine.ingest(event)

    def at(self, as_of: Instant) -> dict[str, Any]:
        if as_of not in self.cache:
            if as_of < self.evaluated:
                self._build()
            self.engine.evaluate_all(as_of)
            self.evaluated = as_of
            self.cache[as_of] = normal(self.engine.snapshot(as_of))
        return self.cache[as_of]


def normal(snapshot: Any) -> dict[str, Any]:
    """A snapshot as JSON reads it back (tuples become lists, keys strings)."""
    if isinstance(snapshot, bytes | str):
        loaded: dict[str, Any] = json.loads(snapshot)
        return loaded
    loaded = json.loads(dumps_snapshot(snapshot))
    return loaded


def cli_replay(events: Path, as_of: Instant, out: Path) -> dict[str, Any]:
    """The real ``ticketpulse replay FILE --at T``, once per run, to check the reference."""
    subprocess.run(
        [
            str(Path(sys.executable).parent / "ticketpulse"),
            "replay",
            str(events),
            "--at",
            format_rfc3339(as_of),
            "--out",
            str(out),
            "--indent",
            "0",
            "--max-errors",
            "0",
        ],
        check=True,
        capture_output=True,
    )
    return normal(out.read_text())


@dataclass
class Gate:
    ok: bool
    as_of: str
    differing: int = 0
    lines: list[str] = field(default_factory=list)
    tries: int = 1

    def text(self) -> str:
        if self.ok:
            return f"equal at {self.as_of}" + (f" (try {self.tries})" if self.tries > 1 else "")
        return f"**{self.differing} values differ** at {self.as_of}"


def compare(reference: Reference, snapshot: dict[str, Any], tries: int = 1) -> Gate:
    as_of = snapshot.get("as_of", "")
    from streams.domain.instant import parse_rfc3339

    expected = reference.at(parse_rfc3339(as_of))
    total, lines = snapshot_diff(expected, snapshot)
    return Gate(total == 0, as_of, total, lines, tries)


def live_gate(
    reference: Reference, read: Callable[[], dict[str, Any] | None], interval: float
) -> Gate:
    """Compare the published snapshot with replay at its ``as_of``.

    Two honest reasons for a first difference are retried before a failure is reported:
    the snapshot read may predate the last batch (publishing takes seconds under load), so
    it is read again every 3 s for 15 s; and a live snapshot counts SLA clocks at the wall
    clock while replay counts at ``as_of`` (the next whole minute), so a deadline between the
    two differs, so it is then read twice more at second 58.7 of a minute.
    """
    time.sleep(interval * 2.5)  # the last batch's publication
    gate: Gate | None = None
    waits = [0.0] + [3.0] * 5 + [-1.0, -1.0]  # -1: until second 58.7 of a minute
    for attempt, wait in enumerate(waits, start=1):
        time.sleep(wait if wait >= 0 else (58.7 - time.time() % 60) % 60)
        snapshot = read()
        if snapshot is None:
            gate = Gate(False, "", 1, ["no snapshot in Redis"], attempt)
            continue
        gate = compare(reference, snapshot, attempt)
        if gate.ok:
            return gate
        log(f"  gate try {attempt}: {gate.differing} values differ at {gate.as_of}, e.g.")
        for line in gate.lines[:3]:
            log(f"    {line}")
    assert gate is not None
    return gate


# -- runs ---------------------------------------------------------------------------------


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

    @property
    def names(self) -> dict[str, str]:
        return {
            "tickets": f"{self.prefix}.tickets",
            "contacts": f"{self.prefix}.contacts",
            "surveys": f"{self.prefix}.surveys",
            "deadletter": f"{self.prefix}.deadletter",
        }

    @property
    def inputs(self) -> list[str]:
        return [self.names[t] for t in dataset.TOPICS]


@dataclass
class Bench:
    args: argparse.Namespace
    bootstrap: str
    redis_url: str
    run_id: str
    work: Path
    redis: redis.Redis
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
    def worker_config(self, topics: Topics, name: str) -> WorkerConfig:
        extra = {"TICKETPULSE_PUBLISH_INTERVAL_SECONDS": str(self.args.publish_interval)}
        return WorkerConfig(
            bootstrap=self.bootstrap,
            redis_url=self.redis_url,
            prefix=name,
            group=name,
            topics=topics.names,
            partitions=topics.partitions,
            extra=extra,
        )

    def applied(self, prefix: str, partitions: int) -> dict[tuple[str, int], int]:
        pipe = self.redis.pipeline(transaction=False)
        for p in range(partitions):
            pipe.hgetall(f"{{{prefix}:p{p}}}:off")
        out = {}
        for p, offsets in enumerate(pipe.execute()):
            for topic, offset in offsets.items():
                out[(topic.decode(), p)] = int(offset)
        return out

    def drain_workers(
        self, topics: Topics, prefix: str, workers: list[Child], timeout: float
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

    def run_f(self, topics: Topics, repeat: int, reference: Reference | None) -> Measure:
        name = f"{self.run_id}-f{repeat}"
        worker = start_worker(self.worker_config(topics, name), self.work, name)
        try:
            first, last, cpu, done = self.drain_workers(topics, name, [worker], self.args.timeout)
            rss = peak_rss(worker.pid)
            gate = None
            if reference is not None and done == self.total(topics):
                gate = live_gate(
                    reference, lambda: self.read_snapshot(name), self.args.publish_interval
                )
        finally:
            worker.stop()
        note = "" if done == self.total(topics) else f"timed out: {done:,} applied"
        return Measure("f", repeat, done, last - first, cpu, rss, gate, note)

    def total(self, topics: Topics) -> int:
        return sum(self.ends_for(topics).values())

    # Q ---------------------------------------------------------------------------------
    def run_q(self, topics: Topics, repeat: int, reference: Reference | None) -> Measure:
        name = f"{self.run_id}-q{repeat}"
        state = self.work / f"{name}-state"
        child = start_quix(
            self.bootstrap,
            self.redis_url,
            name,
            name,
            topics.inputs,
            state,
            self.work,
            self.args.publish_interval,
        )
        expected = self.total(topics)
        try:
            deadline = time.monotonic() + self.args.timeout
            progress: dict[bytes, bytes] = {}
            while time.monotonic() < deadline:
                if not child.alive():
                    raise RuntimeError(f"quix app exited:\n{child.tail()}")
                progress = self.redis.hgetall(f"{name}:q:progress")
                if progress and int(progress[b"messages"]) >= expected:
                    break
                time.sleep(0.1)
            else:
                log(f"  Q not drained in {self.args.timeout:.0f} s: {progress}")
            rss = peak_rss(child.pid)
            gate = None
            complete = bool(progress) and int(progress[b"messages"]) >= expected
            if reference is not None and complete:
                gate = live_gate(
                    reference, lambda: self.read_snapshot(name), self.args.publish_interval
                )
            progress = self.redis.hgetall(f"{name}:q:progress")
        finally:
            child.stop()
            shutil.rmtree(state, ignore_errors=True)
        seconds = float(progress[b"last"]) - float(progress[b"first"])
        messages = int(progress[b"messages"])
        note = "" if messages >= expected else f"timed out: {messages:,} processed"
        if int(progress.get(b"redelivered", 0)):
            note += f" {int(progress[b'redelivered']):,} redelivered after a rebalance"
        return Measure("q", repeat, messages, seconds, float(progress[b"cpu"]), rss, gate, note)

    # C0, C1 ----------------------------------------------------------------------------
    def run_c(
        self, contender: str, topics: Topics, repeat: int, reference: Reference | None
    ) -> Measure:
        name = f"{self.run_id}-{contender}{repeat}"
        snapshot = self.work / f"{name}-snapshot.json"
        result = run_contender(
            contender,
            ["--bootstrap", self.bootstrap, "--group", name, "--topics", ",".join(topics.inputs)]
            + (["--snapshot-out", str(snapshot)] if contender == "c1" else []),
            self.work / f"{name}.log",
        )
        gate = None
        if contender == "c1" and reference is not None:
            gate = compare(reference, normal(snapshot.read_text()))
        return Measure(
            contender,
            repeat,
            result["messages"],
            result["last"] - result["first"],
            result["cpu"],
            result["peak_rss"],
            gate,
            f"{result['redelivered']:,} redelivered after a rebalance, not counted"
            if result.get("redelivered")
            else "",
        )


# -- latency ------------------------------------------------------------------------------


class Poller(threading.Thread):
    """Reads a count every ``interval`` seconds; keeps (time, count) on each change."""

    def __init__(self, read: Callable[[], int | None], interval: float) -> None:
        super().__init__(daemon=True)
        self.read = read
        self.interval = interval
        self.readings: list[tuple[float, int]] = []
        self.stopping = threading.Event()
        self.errors = 0

    def run(self) -> None:
        last = None
        while not self.stopping.is_set():
            try:
                count = self.read()
            except Exception:
                self.errors += 1
                count = None
            if count is not None and count != last:
                self.readings.append((time.time(), count))
                last = count
            time.sleep(self.interval)


def created_7d(snapshot: dict[str, Any] | None) -> int | None:
    if not snapshot:
        return None
    return int(snapshot["windows"]["7d"]["overall"]["tickets_created"])


def gauge_7d(text: str) -> int | None:
    for line in text.splitlines():
        if (
            line.startswith("ticketpulse_window_tickets_created{")
            and 'window="7d"' in line
            and 'team=""' in line
            and 'channel=""' in line
            and 'priority=""' in line
        ):
            return int(float(line.rsplit(" ", 1)[1]))
    return None


@dataclass
class LatencyResult:
    load: float
    rate: float
    sent: int
    achieved: float
    redis: list[float]
    redis_missing: int
    gauge: list[float]
    gauge_missing: int
    breach: list[float]
    breach_missing: int


def probe_event(ticket_id: str, deadline: Instant) -> dict[str, Any]:
    """An urgent ticket (first reply due 15 minutes after creation, around the clock)."""
    return {
        "event_id": f"probe-{ticket_id}",
        "type": "ticket.created",
        "occurred_at": format_rfc3339(deadline - 15 * MICROS_PER_MINUTE),
        "ticket_id": ticket_id,
        "channel": "chat",
        "priority": "urgent",
        "team": "billing",
    }


def run_latency(bench: Bench, load: float, rate: float) -> LatencyResult:
    from confluent_kafka import Producer

    from streams.simulation import SimulationConfig, generate

    args = bench.args
    topics = Topics(f"{bench.run_id}-lat{round(load * 100)}", 4)
    dataset.create_topics(bench.bootstrap, list(topics.names.values()), topics.partitions)
    name = topics.prefix
    worker = start_worker(bench.worker_config(topics, name), bench.work, name)
    snap = Poller(lambda: created_7d(bench.read_snapshot(name)), 0.02)
    gauge = Poller(lambda: gauge_7d(worker.get_text("/metrics")), 0.05)
    snap.start()
    gauge.start()
    producer = Producer(
        {
            "bootstrap.servers": bench.bootstrap,
            "acks": "all",
            "linger.ms": 5,
            "partitioner": "murmur2_random",
        }
    )
    config = SimulationConfig(
        seed=args.seed + 100,
        events_per_second=rate,
        daily_cycle=False,
        invalid_share=0.0,
        duplicate_share=0.0,
        late_share=0.0,
    )
    duration = args.latency_seconds
    probes_n = max(3, int(duration // 5))
    started = time.time()
    probes = [
        (started + 5 + i * (duration - 10) / max(probes_n - 1, 1), f"P{load:.1f}-{i}")
        for i in range(probes_n)
    ]
    probe_sent: list[tuple[str, float]] = []
    created_times: list[float] = []
    sent = 0
    breaches: dict[str, float] = {}
    breach_stop = threading.Event()

    def watch_breaches() -> None:
        while not breach_stop.is_set():
            pending = [(t, d) for t, d in probe_sent if t not in breaches]
            due = [(t, d) for t, d in pending if d <= time.time() + 0.02]
            if due:
                pipe = bench.redis.pipeline(transaction=False)
                for ticket, _ in due:
                    for p in range(topics.partitions):
                        pipe.sismember(f"{{{name}:p{p}}}:breached:first_reply", ticket)
                found = pipe.execute()
                seen = time.time()
                for i, (ticket, _) in enumerate(due):
                    part = found[i * topics.partitions : (i + 1) * topics.partitions]
                    if any(part):
                        breaches[ticket] = seen
            time.sleep(0.02)

    watcher = threading.Thread(target=watch_breaches, daemon=True)
    watcher.start()
    lead = 3.0
    try:
        for emitted in generate(config, now_micros()):
            # A steady schedule at ``rate``; every event is stamped with its send time, so
            # the worker sees live traffic whatever pace the simulation itself keeps.
            due = started + sent / rate
            if due - started > duration:
                break
            wall = time.time()
            if due > wall + 0.002:
                time.sleep(due - wall)
            while probes and probes[0][0] <= time.time():
                _, ticket = probes.pop(0)
                deadline = now_micros() + int(lead * MICROS_PER_SECOND)
                value = json.dumps(probe_event(ticket, deadline)).encode()
                producer.produce(topics.names["tickets"], value=value, key=ticket.encode())
                probe_sent.append((ticket, deadline / MICROS_PER_SECOND))
                created_times.append(time.time())
            value = emitted.line().encode()
            if isinstance(emitted.value, dict):
                live = dict(emitted.value, occurred_at=format_rfc3339(now_micros()))
                value = json.dumps(live, separators=(",", ":")).encode()
            producer.produce(
                topics.names[emitted.topic.value], value=value, key=emitted.key.encode()
            )
            if isinstance(emitted.value, dict) and emitted.value.get("type") == "ticket.created":
                created_times.append(time.time())
            sent += 1
            producer.poll(0)
        producer.flush(30)
        elapsed = time.time() - started
        end = time.time() + 30
        while time.time() < end:
            counts = [r[-1][1] for r in (snap.readings, gauge.readings) if r]
            done = len(counts) == 2 and min(counts) >= len(created_times)
            if done and len(breaches) == len(probe_sent):
                break
            time.sleep(0.2)
    finally:
        snap.stopping.set()
        gauge.stopping.set()
        breach_stop.set()
        worker.stop()
    warm = started + args.latency_warmup
    redis_lat, redis_missing = count_latencies(created_times, snap.readings, warm)
    gauge_lat, gauge_missing = count_latencies(created_times, gauge.readings, warm)
    breach = [breaches[t] - d for t, d in probe_sent if t in breaches]
    return LatencyResult(
        load,
        rate,
        sent,
        sent / elapsed,
        redis_lat,
        redis_missing,
        gauge_lat,
        gauge_missing,
        breach,
        len(probe_sent) - len(breach),
    )


# -- profile ------------------------------------------------------------------------------


def run_profile(bench: Bench, topics: Topics) -> Profile:
    """py-spy samples of F draining the data set: the top functions by own time."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    name = f"{bench.run_id}-profile"
    worker = start_worker(bench.worker_config(topics, name), bench.work, name)
    out = bench.work / "f-profile.txt"
    try:
        while not bench.applied(name, topics.partitions):
            time.sleep(0.1)
        subprocess.run(
            [
                pyspy,
                "record",
                "--pid",
                str(worker.pid),
                "--duration",
                str(bench.args.profile),
                "--format",
                "raw",
                "--output",
                str(out),
                "--rate",
                "50",
                # native stacks need the process paused at each sample; Python ones do not
                *(["--native"] if bench.args.profile_native else ["--nonblocking"]),
            ],
            check=True,
            capture_output=True,
        )
    finally:
        worker.stop()
    return summarise_profile(out.read_text(), bench.args.top)


# -- stack --------------------------------------------------------------------------------


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


# -- report -------------------------------------------------------------------------------


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> list[str]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kib / 2**20:.0f} GiB"
    versions = ", ".join(
        f"{p} {version(p)}"
        for p in (
            "ticketpulse",
            "faust-streaming",
            "aiokafka",
            "quixstreams",
            "confluent-kafka",
            "redis",
        )
    )
    return [
        f"- machine: {platform.machine()}, {os.cpu_count()} cores ({cpu}), {mem}; "
        f"{platform.system()} {platform.release()}; load average at the end "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (shared machine)",
        f"- Python {platform.python_version()}; {versions}",
    ]


def git_revision() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "streams"], capture_output=True, text=True, cwd=ROOT
    )
    return done.stdout.strip() + (" + uncommitted changes in streams/" if dirty.stdout else "")


def summarise(measures: list[Measure], contender: str) -> dict[str, Summary]:
    mine = [m for m in measures if m.contender == contender]
    return {
        "rate": Summary.of(m.rate for m in mine),
        "cpu_us": Summary.of(m.cpu_us for m in mine),
        "rss": Summary.of(m.rss / 2**20 for m in mine),
        "seconds": Summary.of(m.seconds for m in mine),
    }


def plot(
    path: Path,
    measures: list[Measure],
    latencies: list[LatencyResult],
    scale: list[tuple[int, Measure]],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    order = [c for c in CONTENDERS if any(m.contender == c for m in measures)]
    ax = axes[0]
    for i, contender in enumerate(order):
        rates = [m.rate for m in measures if m.contender == contender]
        ax.bar(i, statistics.median(rates), color="#4c72b0")
        ax.plot([i] * len(rates), rates, "k.", markersize=6)
        ax.annotate(
            f"{statistics.median(rates):,.0f}",
            (i, statistics.median(rates)),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(range(len(order)), [c.upper() for c in order])
    ax.set_yscale("log")
    ax.set_ylabel("events/s (first to last message, log)")
    ax.set_title("throughput: median bar, dots = repeats")
    ax = axes[1]
    for result in latencies:
        for values, style, what in ((result.redis, "-", "Redis"), (result.gauge, "--", "gauge")):
            if values:
                data = sorted(values)
                ys = [(i + 1) / len(data) for i in range(len(data))]
                ax.plot(data, ys, style, label=f"{result.load:.0%} load → {what}")
        if result.breach:
            ax.plot(sorted(result.breach), [0.5] * len(result.breach), "x", label="breach delay")
    if not latencies:
        ax.text(0.5, 0.5, "latency not run", ha="center", transform=ax.transAxes)
    ax.set_xscale("log")
    ax.set_xlabel("seconds")
    ax.set_title("latency CDF (produce → visible)")
    if latencies:
        ax.legend(fontsize=7)
    ax = axes[2]
    if scale:
        workers = [w for w, _ in scale]
        ax.plot(workers, [m.rate for _, m in scale], "o-")
        ax.set_xticks(workers)
    else:
        ax.text(0.5, 0.5, "scale not run", ha="center", transform=ax.transAxes)
    ax.set_xlabel("workers (8 partitions)")
    ax.set_ylabel("events/s")
    ax.set_title("scale")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(
    bench: Bench,
    measures: list[Measure],
    latencies: list[LatencyResult],
    scale: list[tuple[int, Measure]],
    profile: Profile,
    cli_check: str,
    started: float,
    argv: list[str],
) -> str:
    args = bench.args
    lines = [
        f"# Pipeline benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `.venv/bin/python -m bench.pipeline {' '.join(argv)}`"
        f" ({(time.time() - started) / 60:.0f} min); ticketpulse at {git_revision()}",
        *machine(),
        f"- data set: {args.events:,} simulated events (seed {args.seed}, "
        f"{args.rate:g} events/s simulated), 4 partitions; worker publish interval "
        f"{args.publish_interval:g} s",
        f"- reference check: {cli_check}",
        "",
        f"## Throughput (first to last message), median (range) of {args.repeats} repeat(s)",
        "",
    ]
    sums = {c: summarise(measures, c) for c in CONTENDERS}
    rows = []
    for contender in CONTENDERS:
        s = sums[contender]
        if not s["rate"].count:
            continue
        gates = [m.gate for m in measures if m.contender == contender]
        notes = [m.note for m in measures if m.contender == contender and m.note]
        gate_text = (
            "; ".join(g.text() for g in gates if g is not None)
            if any(g is not None for g in gates)
            else ("n/a (counts only)" if contender == "c0" else "not run (incomplete)")
        ) + "".join(f"; {note}" for note in notes)
        rows.append(
            [
                NAMES[contender],
                s["rate"].text(),
                s["cpu_us"].text(".1f"),
                s["rss"].text(".0f"),
                s["seconds"].text(".1f"),
                gate_text,
            ]
        )
    lines += table(
        ["contender", "events/s", "CPU µs/event", "peak RSS MiB", "seconds", "gate vs replay"],
        rows,
    )
    f = sums["f"]["rate"].median
    lines += [
        "",
        "Ratios (medians): "
        + ", ".join(
            f"F/{c.upper()} = {ratio(f, sums[c]['rate'].median):.3g}"
            for c in ("c0", "c1", "q")
            if sums[c]["rate"].count
        ),
    ]
    failed = [m for m in measures if m.gate is not None and not m.gate.ok]
    for m in failed:
        assert m.gate is not None
        lines += [
            "",
            f"Gate failure, {m.contender.upper()} repeat {m.repeat + 1}, as_of {m.gate.as_of}: "
            f"{m.gate.differing} values differ from replay (tries {m.gate.tries}); first ones:",
            "",
            *[f"    {line}" for line in m.gate.lines],
        ]
    if latencies:
        lines += ["", "## Latency at a fraction of F's maximum rate", ""]
        lrows = []
        for r in latencies:
            lrows.append(
                [
                    f"{r.load:.0%}",
                    f"{r.rate:,.0f} (sent {r.achieved:,.0f})",
                    f"{percentile(r.redis, 50):.3f} / {percentile(r.redis, 99):.3f}"
                    + (f" ({r.redis_missing} unseen)" if r.redis_missing else ""),
                    f"{percentile(r.gauge, 50):.3f} / {percentile(r.gauge, 99):.3f}"
                    + (f" ({r.gauge_missing} unseen)" if r.gauge_missing else ""),
                    f"{percentile(r.breach, 50):.3f} / {max(r.breach, default=math.nan):.3f}"
                    f" (n={len(r.breach)}"
                    + (f", {r.breach_missing} never seen" if r.breach_missing else "")
                    + ")",
                ]
            )
        lines += table(
            [
                "load",
                "target events/s",
                "→ Redis snapshot p50 / p99 s",
                "→ /metrics gauge p50 / p99 s",
                "breach delay p50 / max s",
            ],
            lrows,
        )
    if scale:
        lines += ["", "## Scale: workers in one group on 8 partitions", ""]
        base = scale[0][1].rate
        lines += table(
            ["workers", "events/s", "per worker", "speed-up", "CPU µs/event", "gate"],
            [
                [
                    w,
                    f"{m.rate:,.0f}",
                    f"{m.rate / w:,.0f}",
                    f"{m.rate / base:.2f}",
                    f"{m.cpu_us:.1f}",
                    m.gate.text() if m.gate else (m.note or "n/a"),
                ]
                for w, m in scale
            ],
        )
    if profile.samples:
        lines += [
            "",
            f"## Where F spends its time (py-spy, {args.profile} s of draining, "
            f"{profile.samples:,} samples of the worker's threads)",
            "",
            "Own time (the function on top of the stack):",
            "",
        ]
        lines += table(["function", "share"], [[f"`{fr}`", f"{s:.1%}"] for fr, s in profile.own])
        lines += ["", "Inclusive time of ticketpulse's own functions (`streams/`):", ""]
        lines += table(
            ["function", "share"], [[f"`{fr}`", f"{s:.1%}"] for fr, s in profile.inclusive]
        )
    lines += ["", "## Targets", ""]
    p99 = [percentile(r.redis, 99) for r in latencies if round(r.load * 100) == 80]
    breach_max = [max(r.breach, default=math.nan) for r in latencies]
    targets = [
        ("F ≥ 20,000 events/s per worker", f"{f:,.0f}", f >= 20_000 if f == f else None),
        (
            "F/C0 ≥ 0.3",
            f"{ratio(f, sums['c0']['rate'].median):.3g}",
            ratio(f, sums["c0"]["rate"].median) >= 0.3 if sums["c0"]["rate"].count else None,
        ),
        (
            "F ahead of Q",
            f"F/Q = {ratio(f, sums['q']['rate'].median):.2f}",
            f > sums["q"]["rate"].median if sums["q"]["rate"].count else None,
        ),
        (
            "p99 produce→snapshot ≤ 1 s at 80% load",
            f"{p99[0]:.2f} s" if p99 else "n/a",
            p99[0] <= 1.0 if p99 else None,
        ),
        (
            "breach detection ≤ 2 s",
            f"max {max(breach_max):.2f} s" if breach_max else "n/a",
            max(breach_max) <= 2.0 if breach_max else None,
        ),
    ]
    lines += table(["target", "measured", "verdict"], [[t, m, verdict(v)] for t, m, v in targets])
    lines += ["", "![plot](pipeline.png)", ""]
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=1.0, help="simulated events/s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--skip", default="", help=f"comma-separated parts: {PARTS}")
    parser.add_argument("--scale-workers", default="1,2,4")
    parser.add_argument("--scale-events", type=int, help="events for the scale runs")
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument(
        "--latency-warmup", type=float, default=5.0, help="seconds not reported at the start"
    )
    parser.add_argument("--max-rate", type=float, help="F's rate for the latency loads")
    parser.add_argument("--publish-interval", type=float, default=1.0)
    parser.add_argument("--profile", type=int, default=20, help="py-spy seconds")
    parser.add_argument(
        "--profile-native",
        action="store_true",
        help="py-spy --native: the mypyc-compiled functions too, not only Python frames",
    )
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=3600.0, help="per drain, seconds")
    parser.add_argument("--bootstrap", help="use this Kafka (with --redis-url)")
    parser.add_argument("--redis-url")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--name", default="pipeline", help="report file name stem")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    skip = {p for p in args.skip.split(",") if p}
    if skip - set(PARTS):
        parser.error(f"--skip takes {', '.join(PARTS)}")
    contenders = [c for c in args.contenders.split(",") if c]
    if set(contenders) - set(CONTENDERS):
        parser.error(f"--contenders takes {', '.join(CONTENDERS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    run_id = f"bench{datetime.now():%m%d%H%M%S}"
    work = dataset.cache_dir() / "runs" / run_id
    work.mkdir(parents=True)
    log(f"run {run_id}, files in {work}")

    source = dataset.cached_dataset(args.events, args.rate, args.seed)
    latest = dataset.latest_instant(source)
    with stack(args, work) as (bootstrap, redis_url):
        bench = Bench(args, bootstrap, redis_url, run_id, work, redis.Redis.from_url(redis_url))
        measures: list[Measure] = []
        latencies: list[LatencyResult] = []
        scale: list[tuple[int, Measure]] = []
        profile = Profile([], [], 0)
        cli_check = "not run"
        topics = Topics(run_id, 4)
        if "throughput" not in skip or "profile" not in skip:
            delta = dataset.shift_delta(latest, now_micros())
            events = work / "events.jsonl"
            messages = dataset.write_shifted(source, events, delta)
            log(f"producing {len(messages):,} messages (moved by {delta})")
            t0 = time.time()
            dataset.produce(bootstrap, topics.names, messages, topics.partitions)
            log(f"produced in {time.time() - t0:.0f} s")
            del messages
            bench.ends.update(bench.end_offsets(topics))
        if "throughput" not in skip:
            log("reference: decoding and ingesting the data set")
            reference = Reference(events)
            for repeat in range(args.repeats):
                for contender in contenders:
                    log(f"repeat {repeat + 1}/{args.repeats}: {contender}")
                    if contender == "f":
                        m = bench.run_f(topics, repeat, reference)
                    elif contender == "q":
                        m = bench.run_q(topics, repeat, reference)
                    else:
                        m = bench.run_c(contender, topics, repeat, reference)
                    measures.append(m)
                    log(
                        f"  {m.messages:,} in {m.seconds:.1f} s = {m.rate:,.0f}/s, "
                        f"{m.cpu_us:.1f} µs CPU/event, {m.rss / 2**20:.0f} MiB; "
                        f"gate: {m.gate.text() if m.gate else 'n/a'}"
                    )
                    for line in m.gate.lines if m.gate else []:
                        log(f"    {line}")
            checked = [m.gate for m in measures if m.gate is not None]
            if checked:
                from streams.domain.instant import parse_rfc3339

                at = parse_rfc3339(checked[-1].as_of)
                cli = cli_replay(events, at, work / "cli-replay.json")
                total, _ = snapshot_diff(cli, reference.at(at))
                cli_check = (
                    f"`ticketpulse replay events.jsonl --at {checked[-1].as_of}` "
                    + ("equals" if not total else f"DIFFERS in {total} values from")
                    + " the in-process reference the gates use"
                )
            del reference
        if "profile" not in skip and args.profile > 0:
            log("profiling F with py-spy")
            try:
                profile = run_profile(bench, topics)
            except (subprocess.CalledProcessError, OSError) as error:
                log(f"profile failed: {error}")
        if "latency" not in skip:
            f_rates = [m.rate for m in measures if m.contender == "f"]
            max_rate = args.max_rate or (statistics.median(f_rates) if f_rates else None)
            if max_rate is None:
                log("latency skipped: no F rate (run F or give --max-rate)")
            else:
                for load in (0.5, 0.8):
                    log(f"latency at {load:.0%} of {max_rate:,.0f}/s")
                    result = run_latency(bench, load, load * max_rate)
                    latencies.append(result)
                    log(
                        f"  sent {result.sent:,} ({result.achieved:,.0f}/s); Redis p50/p99 "
                        f"{percentile(result.redis, 50):.3f}/{percentile(result.redis, 99):.3f}"
                        f" s; breach {sorted(round(b, 2) for b in result.breach)}"
                    )
        if "scale" not in skip:
            scale = run_scale(bench, source, latest)
        text = report(bench, measures, latencies, scale, profile, cli_check, started, argv)
    report_path = args.out / f"{args.name}.md"
    report_path.write_text(text + "\n", encoding="utf-8")
    plot(args.out / f"{args.name}.png", measures, latencies, scale)
    print(text)
    log(f"wrote {report_path}")


def run_scale(bench: Bench, source: Path, latest: Instant) -> list[tuple[int, Measure]]:
    args = bench.args
    count = args.scale_events or args.events
    if count != args.events:
        source = dataset.cached_dataset(count, args.rate, args.seed)
        latest = dataset.latest_instant(source)
    topics = Topics(f"{bench.run_id}-s8", 8)
    delta = dataset.shift_delta(latest, now_micros())
    events = bench.work / "events-scale.jsonl"
    messages = dataset.write_shifted(source, events, delta)
    log(f"scale: producing {len(messages):,} messages to 8 partitions")
    dataset.produce(bench.bootstrap, topics.names, messages, topics.partitions)
    del messages
    bench.ends.update(bench.end_offsets(topics))
    reference = Reference(events)
    out = []
    for workers in [int(w) for w in args.scale_workers.split(",")]:
        name = f"{bench.run_id}-s{workers}w"
        config = bench.worker_config(topics, name)
        children = [spawn_worker(config, bench.work, f"{name}-{i}") for i in range(workers)]
        for child in children:  # all start together: one rebalance, at the start
            wait_ready(child)
        log(f"scale: {workers} worker(s)")
        try:
            first, last, cpu, done = bench.drain_workers(topics, name, children, args.timeout)
            rss = max(peak_rss(c.pid) for c in children)
            gate = None
            if done == bench.total(topics):
                gate = live_gate(
                    reference, lambda n=name: bench.read_snapshot(n), args.publish_interval
                )
        finally:
            for child in children:
                child.stop()
        note = "" if done == bench.total(topics) else f"timed out: {done:,} applied"
        m = Measure("f", 0, done, last - first, cpu, rss, gate, note)
        log(f"  {m.rate:,.0f}/s, gate: {gate.text() if gate else note}")
        out.append((workers, m))
    return out


if __name__ == "__main__":
    main()
