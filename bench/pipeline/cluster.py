"""Cluster: 1 and 2 workers on a Redis Cluster and 3 Kafka brokers against the single-node stack.

The same data set, on 8 partitions, is drained by ``--cluster-workers`` workers in one group:
first on the bench's own stack (one broker, one Redis), then on a stack of its own started here
with the stack code (3 KRaft brokers, topics at replication factor 3 and min.insync.replicas 2;
a Redis Cluster of 3 masters and 3 replicas), without and with ``WAIT`` after each batch
(``--cluster-wait`` replicas, 0: not run). Each run reports events/s, CPU per event, the p99
of the workers' batch time (``ticketpulse_batch_apply_seconds``: plan and Redis transaction of
one partition's batch, from their ``/metrics`` before they stop), and the gate against replay.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

import redis

from bench.pipeline import dataset
from bench.pipeline.common import log
from bench.pipeline.harness import Bench, Measure, Topics, wait_ready
from bench.pipeline.procs import peak_rss
from bench.pipeline.reference import Reference, live_gate
from streams.domain.instant import Instant
from streams.live.redis_cluster import parse_cluster_url
from streams.stack import Component, Stack, StackConfig, StackPaths, StackPorts
from streams.stack.kafka_broker import kafka_nodes
from streams.stack.redis_cluster import cluster_nodes
from tests.support.workers import WorkerProcess, now_micros

PARTITIONS = 8
BROKERS = 3
BATCH_HISTOGRAM = "ticketpulse_batch_apply_seconds"


@dataclass
class ClusterResult:
    setup: str  # "single", "cluster", "cluster + WAIT 1"
    workers: int
    measure: Measure
    batches: int
    p99_batch: float  # seconds: the upper bound of the histogram bucket holding the p99


def run_cluster(bench: Bench, source: Path, latest: Instant) -> list[ClusterResult]:
    args = bench.args
    count = args.cluster_events or args.scale_events or args.events
    if count != args.events:
        source = dataset.cached_dataset(count, args.rate, args.seed)
        latest = dataset.latest_instant(source)
    events = bench.work / "events-cluster.jsonl"
    messages = dataset.write_shifted(source, events, dataset.shift_delta(latest, now_micros()))
    reference = Reference(events)
    workers = [int(w) for w in args.cluster_workers.split(",")]
    out = _setup(bench, "single", messages, reference, workers, {})
    with cluster_stack(bench.work) as (bootstrap, url):
        client = redis.RedisCluster(
            startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in parse_cluster_url(url).nodes]
        )
        on_cluster = dataclasses.replace(
            bench, bootstrap=bootstrap, redis_url=url, redis=client, ends={}
        )
        factor = {"TICKETPULSE_KAFKA_REPLICATION_FACTOR": str(BROKERS)}
        setups = [("cluster", factor)]
        if args.cluster_wait:
            waiting = {**factor, "TICKETPULSE_REDIS_WAIT_REPLICAS": str(args.cluster_wait)}
            setups.append((f"cluster + WAIT {args.cluster_wait}", waiting))
        # the cluster's topics, produced to once, are drained by every setup on it
        produced = False
        for setup, extra in setups:
            out += _setup(on_cluster, setup, messages, reference, workers, extra, produced)
            produced = True
        client.close()
    return out


def _setup(
    bench: Bench,
    setup: str,
    messages: list[dataset.Message],
    reference: Reference,
    workers: list[int],
    extra: dict[str, str],
    produced: bool = False,
) -> list[ClusterResult]:
    topics = Topics(f"{bench.run_id}-cl", PARTITIONS)
    if not produced:
        factor = BROKERS if setup != "single" else 1
        log(f"cluster: producing {len(messages):,} messages to {setup} (RF {factor})")
        dataset.produce(bench.bootstrap, topics.names, messages, topics.partitions, factor)
        bench.ends.update(bench.end_offsets(topics))
    out = []
    for size in workers:
        name = f"{bench.run_id}-{setup.split()[0][:2]}{'w' if 'WAIT' in setup else ''}{size}"
        children = [bench.spawn_worker(topics, name, f"{name}-{i}", extra) for i in range(size)]
        wait_ready(children)
        log(f"cluster: {setup}, {size} worker(s)")
        try:
            first, last, cpu, done = bench.drain_workers(topics, name, children, bench.args.timeout)
            rss = max(peak_rss(c.pid) for c in children)
            batches, p99 = batch_p99(children)
            gate = None
            if done == bench.total(topics):
                gate = live_gate(
                    reference, lambda n=name: bench.read_snapshot(n), bench.args.publish_interval
                )
        finally:
            for child in children:
                child.stop(15)
        note = "" if done == bench.total(topics) else f"timed out: {done:,} applied"
        m = Measure("f", 0, done, last - first, cpu, rss, gate, note)
        verdict = gate.text() if gate else note
        log(f"  {m.rate:,.0f}/s, p99 batch {p99 * 1000:.0f} ms, gate: {verdict}")
        out.append(ClusterResult(setup, size, m, batches, p99))
    return out


def batch_p99(workers: list[WorkerProcess]) -> tuple[int, float]:
    """(batches, p99 batch seconds) over the workers' ``ticketpulse_batch_apply_seconds``."""
    buckets: dict[float, float] = {}
    for worker in workers:
        with urlopen(f"{worker.url}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        for line in text.splitlines():
            if line.startswith(f'{BATCH_HISTOGRAM}_bucket{{le="'):
                bound = line.split('le="', 1)[1].split('"', 1)[0]
                le = math.inf if bound == "+Inf" else float(bound)
                buckets[le] = buckets.get(le, 0.0) + float(line.rsplit(" ", 1)[1])
    total = buckets.get(math.inf, 0.0)
    if not total:
        return 0, math.nan
    for le in sorted(buckets):  # cumulative counts
        if buckets[le] >= 0.99 * total:
            return int(total), le
    return int(total), math.inf


def _clusters(paths: StackPaths, config: StackConfig) -> list[Component]:
    return [*cluster_nodes(paths, config), *kafka_nodes(paths, config)]


@contextlib.contextmanager
def cluster_stack(work: Path) -> Iterator[tuple[str, str]]:
    """3 KRaft brokers and a Redis Cluster (3 masters, 3 replicas) on free ports, then down."""
    ports = StackPorts.free(redis_cluster=True, kafka_brokers=BROKERS)
    running = Stack(
        work / "cluster-stack",
        StackConfig(ports=ports, scrape_targets=(), kafka_heap="384m"),
        _clusters,
    )
    log("cluster: starting 3 Kafka brokers and a Redis Cluster")
    running.up(timeout=240)
    try:
        yield running.addresses.bootstrap_servers, running.addresses.redis_url
    finally:
        running.down()
