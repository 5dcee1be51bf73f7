"""Produce-to-snapshot latency of one real worker, split into applying and publishing.

    .venv/bin/python bench/latency_probe.py --rate 1000 --seconds 60 --warmup 15 \\
        [--bootstrap 127.0.0.1:19092] [--redis-url redis://127.0.0.1:6390/0] [--worker-cwd DIR]

Needs a running Kafka and Redis (``ticketpulse stack up``). Starts ``ticketpulse worker`` on
fresh topics, group and key prefix, sends simulated live traffic (occurred_at = now) at
``--rate``, and polls Redis every 10 ms. Reports, for the ``ticket.created`` events sent after
the warm-up: the time until Redis's applied offsets cover the event (applied), and until the
snapshot's 7-day ``tickets_created`` counts it (the k-th event against the first reading of
at least k, as ``make bench`` does); and how often the snapshot changed. Unlike ``make bench``
it does not scrape ``/metrics`` 20 times a second (each scrape costs the worker about 50 ms
of CPU here) unless asked to (``--scrape-every 0.05``), so it shows what a lead sees with
Prometheus scraping every few seconds.
``--worker-cwd`` runs the worker from another checkout's folder (its ``streams`` package
comes first on the path), to compare two versions on the same machine.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import redis
from confluent_kafka import Producer

from bench.pipeline.stats import count_latencies
from streams.domain.instant import format_rfc3339
from streams.simulator.simulation import SimulationConfig, generate
from streams.stack.ports import free_ports


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6390/0")
    parser.add_argument("--worker-cwd", type=Path, default=Path(os.sep))
    parser.add_argument(
        "--scrape-every", type=float, default=0.0, help="GET /metrics this often (s); 0: never"
    )
    args = parser.parse_args()

    name = "lp" + uuid.uuid4().hex[:6]
    env = dict(
        os.environ,
        TICKETPULSE_KAFKA_BOOTSTRAP=args.bootstrap,
        TICKETPULSE_REDIS_URL=args.redis_url,
        TICKETPULSE_REDIS_PREFIX=name,
        TICKETPULSE_GROUP_ID=name,
        TICKETPULSE_PARTITIONS="4",
        TICKETPULSE_TOPIC_TICKETS=f"{name}.tickets",
        TICKETPULSE_TOPIC_CONTACTS=f"{name}.contacts",
        TICKETPULSE_TOPIC_SURVEYS=f"{name}.surveys",
        TICKETPULSE_TOPIC_DEADLETTER=f"{name}.deadletter",
    )
    port = free_ports(1)[0]
    command = [sys.executable, "-m", "streams", "worker", "--web-port", str(port)]
    log = Path(f"/tmp/{name}-worker.log")
    worker = subprocess.Popen(
        [*command, "--log-level", "warning"],
        env=env,
        cwd=args.worker_cwd,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    client = redis.Redis.from_url(args.redis_url)
    try:
        wait_ready(port, worker)
        scraping = threading.Event()
        if args.scrape_every > 0:
            threading.Thread(
                target=scrape, args=(port, args.scrape_every, scraping), daemon=True
            ).start()
        result = measure(args, name, client)
        scraping.set()
    finally:
        worker.kill()
        worker.wait(10)
    print(json.dumps(result, indent=1))


def scrape(port: int, every: float, stop: threading.Event) -> None:
    """What ``make bench`` does to read the gauges (every 0.05 s), or Prometheus (5-15 s)."""
    while not stop.wait(every):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                answer.read()
        except OSError:
            pass


def wait_ready(port: int, worker: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if worker.poll() is not None:
            raise SystemExit(f"worker exited {worker.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if json.loads(answer.read()).get("ready"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("worker not ready in 60 s")


def measure(args: argparse.Namespace, name: str, client: redis.Redis) -> dict[str, Any]:
    applied: list[tuple[float, dict[tuple[str, int], int]]] = []
    counted: list[tuple[float, int]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            now = time.time()
            pipe = client.pipeline(transaction=False)
            for p in range(4):
                pipe.hgetall(f"{{{name}:p{p}}}:off")
            pipe.get(f"{name}:snapshot")
            found = pipe.execute()
            offsets = {(t.decode(), p): int(o) for p in range(4) for t, o in found[p].items()}
            applied.append((now, offsets))
            if found[4]:
                snapshot = json.loads(found[4])
                counted.append((now, snapshot["windows"]["7d"]["overall"]["tickets_created"]))
            time.sleep(0.01)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    producer = Producer(
        {"bootstrap.servers": args.bootstrap, "acks": "all", "linger.ms": 5}
        | {"partitioner": "murmur2_random"}
    )
    created: list[list[Any]] = []  # [sent at, topic, partition, offset]
    config = SimulationConfig(
        seed=7,
        events_per_second=args.rate,
        daily_cycle=False,
        invalid_share=0.0,
        duplicate_share=0.0,
        late_share=0.0,
    )
    started = time.time()
    sent = 0
    for emitted in generate(config, int(started * 1e6)):
        due = started + sent / args.rate
        if due - started > args.seconds:
            break
        if due > time.time():
            time.sleep(max(due - time.time(), 0.0))
        assert isinstance(emitted.value, dict)
        value = dict(emitted.value, occurred_at=format_rfc3339(int(time.time() * 1e6)))
        record: list[Any] | None = None
        if value.get("type") == "ticket.created":
            record = [time.time(), None, None, None]
            created.append(record)

        def delivered(error: Any, message: Any, record: list[Any] | None = record) -> None:
            if record is not None and error is None:
                record[1:] = [message.topic(), message.partition(), message.offset()]

        producer.produce(
            f"{name}.{emitted.topic.value}",
            json.dumps(value).encode(),
            emitted.key.encode(),
            on_delivery=delivered,
        )
        producer.poll(0)
        sent += 1
    producer.flush(30)
    elapsed = time.time() - started
    time.sleep(8)
    stop.set()
    poller.join()

    warm = started + args.warmup
    to_applied = []
    times = [t for t, _ in applied]
    for sent_at, topic, partition, offset in created:
        if sent_at < warm or topic is None:
            continue
        index = next(
            (
                i
                for i in range(bisect.bisect_left(times, sent_at), len(applied))
                if applied[i][1].get((topic, partition), -1) >= offset
            ),
            None,
        )
        if index is not None:
            to_applied.append(applied[index][0] - sent_at)
    to_snapshot, missing = count_latencies([c[0] for c in created], counted, warm)
    changes = [counted[i][0] for i in range(1, len(counted)) if counted[i][1] != counted[i - 1][1]]
    gaps = [b - a for a, b in itertools.pairwise(changes)]
    return {
        "rate": args.rate,
        "sent": sent,
        "sent_per_second": round(sent / elapsed),
        "created_measured": len(to_snapshot),
        "applied_p50_p99_s": [round(percentile(to_applied, q), 3) for q in (0.5, 0.99)],
        "snapshot_p50_p99_s": [round(percentile(to_snapshot, q), 3) for q in (0.5, 0.99)],
        "snapshot_missing": missing,
        "snapshot_changes_every_p50_p99_s": [round(percentile(gaps, q), 3) for q in (0.5, 0.99)],
    }


if __name__ == "__main__":
    main()
