"""The report: the Markdown tables, the targets' verdicts and the plot."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import subprocess
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.pipeline.cluster import BROKERS, PARTITIONS, ClusterResult
from bench.pipeline.common import ROOT
from bench.pipeline.harness import Bench, Measure
from bench.pipeline.latency import LatencyResult
from bench.pipeline.stats import Profile, Summary, percentile, ratio, table, verdict
from bench.pipeline.throughput import CONTENDERS, NAMES


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
    cluster: list[ClusterResult] | None = None,
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
    if cluster:
        lines += cluster_section(cluster)
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
    targets += cluster_targets(cluster or [])
    lines += table(["target", "measured", "verdict"], [[t, m, verdict(v)] for t, m, v in targets])
    if measures or latencies or scale:
        lines += ["", f"![plot]({args.name}.png)", ""]
    return "\n".join(lines)


def cluster_section(results: list[ClusterResult]) -> list[str]:
    """Each setup and worker count: the median (range) over repeats, beside single-node."""
    rates = cluster_rates(results)
    repeats = max(r.measure.repeat for r in results) + 1
    lines = [
        "",
        f"## Redis Cluster (3 masters, 3 replicas) and {BROKERS} Kafka brokers against the "
        f"single-node stack, {PARTITIONS} partitions, median (range) of {repeats} repeat(s)",
        "",
    ]
    rows = []
    for (setup, workers), rate in rates.items():
        runs = [r for r in results if (r.setup, r.workers) == (setup, workers)]
        gates = [r.measure.gate.text() if r.measure.gate else r.measure.note for r in runs]
        rows.append(
            [
                setup,
                workers,
                _spread([r.measure.rate for r in runs], ",.0f"),
                f"{rate / workers:,.0f}",
                f"{ratio(rate, rates.get(('single', workers), math.nan)):.2f}",
                _spread([r.measure.cpu_us for r in runs], ".1f"),
                _spread([r.batches for r in runs], ",.0f"),
                " / ".join(
                    f"≤ {statistics.median(q) * 1000:g}"
                    for q in ([r.p50_batch for r in runs], [r.p99_batch for r in runs])
                )
                + " ms",
                "; ".join(g or "n/a" for g in gates),
            ]
        )
    lines += table(
        [
            "setup",
            "workers",
            "events/s",
            "per worker",
            "vs single",
            "worker CPU µs/event",
            "batches",
            "batch p50 / p99",
            "gates",
        ],
        rows,
    )
    return lines


def cluster_rates(results: list[ClusterResult]) -> dict[tuple[str, int], float]:
    """(setup, workers) -> median events/s over the repeats, in the order run."""
    runs: dict[tuple[str, int], list[float]] = {}
    for r in results:
        runs.setdefault((r.setup, r.workers), []).append(r.measure.rate)
    return {key: statistics.median(rates) for key, rates in runs.items()}


def _spread(values: list[float], spec: str) -> str:
    median = format(statistics.median(values), spec)
    if len(values) < 2:
        return median
    return f"{median} ({format(min(values), spec)} to {format(max(values), spec)})"


def cluster_targets(results: list[ClusterResult]) -> list[tuple[str, str, bool | None]]:
    """Per-worker cost of the cluster (one worker) and the speed-up of 2 workers on it."""
    rates = cluster_rates(results)
    if ("cluster", 1) not in rates:
        return []
    out: list[tuple[str, str, bool | None]] = []
    if ("single", 1) in rates:
        share = rates[("cluster", 1)] / rates[("single", 1)]
        out.append(("cluster ≥ 85% of single-node per worker", f"{share:.0%}", share >= 0.85))
    if ("cluster", 2) in rates:
        speed = rates[("cluster", 2)] / rates[("cluster", 1)]
        out.append(("2 workers ≥ 1.8x one, on the cluster", f"{speed:.2f}x", speed >= 1.8))
    waiting = [key for key in rates if "WAIT" in key[0] and key[1] == 1]
    if waiting:
        share = rates[waiting[0]] / rates[("cluster", 1)]
        out.append((f"{waiting[0][0]} against cluster, 1 worker (measured)", f"{share:.0%}", None))
    return out
