"""Pipeline benchmark: throughput against the ceiling and a peer, latency, breaches, scale,
and the Redis Cluster with 3 Kafka brokers against the single-node stack.

    .venv/bin/python -m bench.pipeline [--events 1000000] [--repeats 3] [--skip latency,scale]
        [--contenders c0,c1,f,q] [--accounts-rate 0.05] [--bootstrap HOST:PORT --redis-url URL]
        [--out bench/results]

``make bench`` runs it with the defaults. See docs/bench.md for what is measured and how.
This is the runner: it reads the options, prepares the data set and the stack, runs each
part (``throughput``, ``profiling``, ``latency``, ``scale``, ``cluster``: one module each)
and writes the report (``report``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import redis

from bench.pipeline import dataset
from bench.pipeline.cluster import ClusterResult, run_cluster
from bench.pipeline.common import ROOT, log
from bench.pipeline.harness import Bench, Measure, Topics, stack
from bench.pipeline.latency import LatencyResult, run_latencies
from bench.pipeline.profiling import run_profile
from bench.pipeline.report import plot, report
from bench.pipeline.scale import run_scale
from bench.pipeline.stats import Profile
from bench.pipeline.throughput import CONTENDERS, run_throughput
from tests.support.workers import now_micros

PARTS = ("throughput", "profile", "latency", "scale", "cluster")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=1.0, help="simulated events/s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--accounts-rate",
        type=float,
        default=0.0,
        help="CRM events per ticket event in the data set (the simulator's --accounts-rate)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--skip", default="", help=f"comma-separated parts: {PARTS}")
    parser.add_argument("--scale-workers", default="1,2,4")
    parser.add_argument("--scale-events", type=int, help="events for the scale runs")
    parser.add_argument("--cluster-workers", default="1,2")
    parser.add_argument("--cluster-events", type=int, help="events for the cluster runs")
    parser.add_argument(
        "--cluster-wait", type=int, default=1, help="replicas to WAIT for (0: no WAIT runs)"
    )
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

    source = dataset.cached_dataset(args.events, args.rate, args.seed, args.accounts_rate)
    latest = dataset.latest_instant(source)
    with stack(args, work) as (bootstrap, redis_url):
        bench = Bench(args, bootstrap, redis_url, run_id, work, redis.Redis.from_url(redis_url))
        measures: list[Measure] = []
        latencies: list[LatencyResult] = []
        scale: list[tuple[int, Measure]] = []
        cluster: list[ClusterResult] = []
        profile = Profile([], [], 0)
        cli_check = "not run"
        topics = Topics(run_id, 4, accounts=args.accounts_rate > 0)
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
            measures, cli_check = run_throughput(bench, topics, events, contenders)
        if "profile" not in skip and args.profile > 0:
            log("profiling F with py-spy")
            try:
                profile = run_profile(bench, topics)
            except (subprocess.CalledProcessError, OSError) as error:
                log(f"profile failed: {error}")
        if "latency" not in skip:
            latencies = run_latencies(bench, measures)
        if "scale" not in skip:
            scale = run_scale(bench, source, latest)
        if "cluster" not in skip:
            cluster = run_cluster(bench, source, latest)
        text = report(bench, measures, latencies, scale, profile, cli_check, started, argv, cluster)
    report_path = args.out / f"{args.name}.md"
    report_path.write_text(text + "\n", encoding="utf-8")
    if measures or latencies or scale:
        plot(args.out / f"{args.name}.png", measures, latencies, scale)
    print(text)
    log(f"wrote {report_path}")


if __name__ == "__main__":
    main()
