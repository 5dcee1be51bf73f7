"""Latency: produce to visible in the Redis snapshot and the gauge, and breach detection."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.pipeline import dataset
from bench.pipeline.common import log
from bench.pipeline.harness import Bench, Measure, Topics
from bench.pipeline.stats import count_latencies, percentile
from streams.domain.instant import MICROS_PER_MINUTE, MICROS_PER_SECOND, Instant, format_rfc3339
from tests.support.workers import now_micros


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

    from streams.simulator.simulation import SimulationConfig, generate

    args = bench.args
    topics = Topics(f"{bench.run_id}-lat{round(load * 100)}", 4)
    dataset.create_topics(bench.bootstrap, list(topics.names.values()), topics.partitions)
    name = topics.prefix
    worker = bench.start_worker(topics, name)
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
        worker.stop(15)
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


def run_latencies(bench: Bench, measures: list[Measure]) -> list[LatencyResult]:
    """Latency at 50% and 80% of F's rate (``--max-rate``, else F's measured median)."""
    args = bench.args
    latencies: list[LatencyResult] = []
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
    return latencies
