"""Cluster: 1 and 2 workers on a Redis Cluster and 3 Kafka brokers against the single-node stack.

The same data set, on 8 partitions, is drained by ``--cluster-workers`` workers in one group
on the bench's own stack (one broker, one Redis) and on a stack of its own started here with
the stack code (3 KRaft brokers, topics at replication factor 3 and min.insync.replicas 2; a
Redis Cluster of 3 masters and 3 replicas), there without and with ``WAIT`` after each batch
(``--cluster-wait`` replicas, 0: not run); ``--repeats`` rounds, alternated. Each run
reports events/s, CPU per event, the p50 and p99 of the workers' batch time
(``ticketpulse_batch_apply_seconds``: plan and Redis transaction of one partition's batch,
from their ``/metrics`` before they stop; the upper bound of the histogram bucket that holds
it), and the gate against replay.
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
    p50_batch: float  # seconds: the upper bound of the histogram bucket holding the p50
    p99_batch: float


def run_cluster(bench: Bench, source: Path, latest: Instant) -> list[ClusterResult]:
    """Both stacks up at once, the data set produced to each; then, ``--repeats`` times, every
    setup with each worker count in turn, so that drift on the machine spreads over all."""
    args = bench.args
    count = args.cluster_events or args.scale_events or args.events
    if count != args.events:
        source = dataset.cached_dataset(count, args.rate, args.seed)
        latest = dataset.latest_instant(source)
    events = bench.work / "events-cluster.jsonl"
    messages = dataset.write_shifted(source, events, dataset.shift_delta(latest, now_micros()))
    reference = Reference(events)
    topics = Topics(f"{bench.run_id}-cl", PARTITIONS)
    out: list[ClusterResult] = []
    with cluster_stack(bench.work) as (bootstrap, url):
        nodes = [redis.cluster.ClusterNode(h, p) for h, p in parse_cluster_url(url).nodes]
        client = redis.RedisCluster(startup_nodes=nodes)
        on_cluster = dataclasses.replace(
            bench, bootstrap=bootstrap, redis_url=url, redis=client, ends={}
        )
        for where, factor in ((bench, 1), (on_cluster, BROKERS)):
            log(f"cluster: producing {len(messages):,} messages (RF {factor})")
            dataset.produce(where.bootstrap, topics.names, messages, topics.partitions, factor)
            where.ends.update(where.end_offsets(topics))
        replicated = {"TICKETPULSE_KAFKA_REPLICATION_FACTOR": str(BROKERS)}
        setups = [(bench, "single", {}), (on_cluster, "cluster", replicated)]
        if args.cluster_wait:
            waiting = {**replicated, "TICKETPULSE_REDIS_WAIT_REPLICAS": str(args.cluster_wait)}
            setups.append((on_cluster, f"cluster + WAIT {args.cluster_wait}", waiting))
        for repeat in range(args.repeats):
            for where, setup, extra in setups:
                for size in [int(w) for w in args.cluster_workers.split(",")]:
                    run = Run(setup, size, repeat, extra)
                    out.append(_drain(where, topics, reference, run))
        client.close()
    return out


@dataclass(frozen=True)
class Run:
    setup: str
    workers: int
    repeat: int
    extra: dict[str, str]

    @property
    def name(self) -> str:
        kind = "cw" if "WAIT" in self.setup else self.setup[:2]
        return f"{kind}{self.workers}r{self.repeat}"


def _drain(bench: Bench, topics: Topics, reference: Reference, run: Run) -> ClusterResult:
    name = f"{bench.run_id}-{run.name}"
    children = [
        bench.spawn_worker(topics, name, f"{name}-{i}", run.extra) for i in range(run.workers)
    ]
    wait_ready(children)
    log(f"cluster: {run.setup}, {run.workers} worker(s), repeat {run.repeat + 1}")
    try:
        first, last, cpu, done = bench.drain_workers(topics, name, children, bench.args.timeout)
        rss = max(peak_rss(c.pid) for c in children)
        batches, p50, p99 = batch_quantiles(children)
        gate = None
        if done == bench.total(topics):
            gate = live_gate(
                reference, lambda: bench.read_snapshot(name), bench.args.publish_interval
            )
    finally:
        for child in children:
            child.stop(15)
    note = "" if done == bench.total(topics) else f"timed out: {done:,} applied"
    m = Measure("f", run.repeat, done, last - first, cpu, rss, gate, note)
    verdict = gate.text() if gate else note
    log(f"  {m.rate:,.0f}/s, batch p50/p99 {p50 * 1000:g}/{p99 * 1000:g} ms, gate: {verdict}")
    return ClusterResult(run.setup, run.workers, m, batches, p50, p99)


def batch_quantiles(workers: list[WorkerProcess]) -> tuple[int, float, float]:
    """(batches, p50, p99 batch seconds) over the workers' ``ticketpulse_batch_apply_seconds``."""
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

    def quantile(q: float) -> float:
        # cumulative counts: the first bucket that holds the quantile
        return next((le for le in sorted(buckets) if buckets[le] >= q * total), math.nan)

    return int(total), quantile(0.5), quantile(0.99)


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
