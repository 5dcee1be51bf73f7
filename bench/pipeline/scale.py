"""Scale: one to N workers in one consumer group on 8 partitions."""

from __future__ import annotations

from pathlib import Path

from bench.pipeline import dataset
from bench.pipeline.common import log
from bench.pipeline.harness import Bench, Measure, Topics, wait_ready
from bench.pipeline.procs import peak_rss
from bench.pipeline.reference import Reference, live_gate
from streams.domain.instant import Instant
from tests.support.workers import now_micros


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
        # all start together: one rebalance, at the start
        children = [bench.spawn_worker(topics, name, f"{name}-{i}") for i in range(workers)]
        wait_ready(children)
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
                child.stop(15)
        note = "" if done == bench.total(topics) else f"timed out: {done:,} applied"
        m = Measure("f", 0, done, last - first, cpu, rss, gate, note)
        log(f"  {m.rate:,.0f}/s, gate: {gate.text() if gate else note}")
        out.append((workers, m))
    return out
