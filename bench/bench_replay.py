"""Replay throughput, memory and profile on a large simulated events file.

    .venv/bin/python bench/bench_replay.py [--events 1000000] [--rate 1.0] [--seed 1]
        [--runs 3] [--skip cli,memory,profile] [--write bench/results/replay.md]

The events file is generated once with the seeded simulator (``streams.simulator.simulation``, the
generator behind ``ticketpulse simulate``: late events, duplicates and invalid lines
included) and cached under ``$TMPDIR/ticketpulse-bench/``. At the default rate of 1 event/s
one million events span about 11.6 days, so tickets are created, solved and closed (closing
comes days after the solve), as in a real backlog. Measured:

- in-process: ``replay_lines`` over the open file, median of ``--runs``;
- CLI: ``ticketpulse replay FILE`` in a fresh process, median of ``--runs``, with the
  child's peak RSS from ``os.wait4`` and its RSS on an empty file (the import baseline);
- memory: tracemalloc peak during one in-process replay, per ticket held and per ticket
  not closed at the end of the data (an open or solved ticket: the state that must stay);
- profile: cProfile of one in-process replay, the top functions by own time.

Speeds are given as events (lines) per second of process CPU time, so that other work on a
shared machine does not count, and per second of wall time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.events import EventType, Status
from streams.domain.instant import parse_rfc3339
from streams.domain.policies import default_policies
from streams.replay import ReplayResult, replay_lines
from streams.simulator.simulate import DEFAULT_START
from streams.simulator.simulation import SimulationConfig, generate, take

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "ticketpulse-bench"
TICKETPULSE = Path(sys.executable).parent / "ticketpulse"
PARTS = ("cli", "memory", "profile")


@dataclass(frozen=True, slots=True)
class Timing:
    cpu: float  # seconds of process CPU time (user + system)
    wall: float


def events_file(count: int, rate: float, seed: int) -> Path:
    """The cached events file for these settings, generated on first use."""
    path = CACHE / f"events-{count}-rate{rate:g}-seed{seed}.jsonl"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    config = SimulationConfig(seed=seed, events_per_second=rate)
    partial = path.with_suffix(".part")
    started = time.perf_counter()
    with partial.open("w", encoding="utf-8") as stream:
        for emitted in take(generate(config, parse_rfc3339(DEFAULT_START)), count=count):
            stream.write(emitted.line())
            stream.write("\n")
    partial.rename(path)
    print(f"generated {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def replay_file(path: Path) -> ReplayResult:
    with path.open("rb") as handle:
        return replay_lines(iter(handle), default_policies())


def timed(run: Callable[[], object]) -> Timing:
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return Timing(time.process_time() - cpu, time.perf_counter() - wall)


# Linux carries the peak RSS of a process over exec, so a child forked from this (large)
# process would report this process's peak. A small launcher forks the CLI instead and reports
# its CPU time, wall time and peak RSS (KiB) on stdout.
_LAUNCHER = """
import os, subprocess, sys, time
started = time.perf_counter()
with open(sys.argv[1], "wb") as out:
    child = subprocess.Popen(sys.argv[2:], stdout=out, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime,
      time.perf_counter() - started, usage.ru_maxrss)
"""


def cli_run(path: Path, out: Path) -> tuple[Timing, int]:
    """One ``ticketpulse replay`` process: its CPU and wall time and peak RSS in bytes."""
    command = [str(TICKETPULSE), "replay", str(path), "--indent", "0", "--max-errors", "0"]
    launched = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(out), *command],
        check=True,
        capture_output=True,
        text=True,
    )
    code, cpu, wall, rss = launched.stdout.split()
    if int(code):
        raise SystemExit(f"{' '.join(command)} exited with {code}")
    return Timing(float(cpu), float(wall)), int(rss) * 1024


def ticket_census(path: Path) -> tuple[int, int]:
    """(tickets, tickets closed): from the valid events, independently of replay."""
    tickets: set[str] = set()
    closed: set[str] = set()
    with path.open("rb") as handle:
        for line in handle:
            event = decode_event(line)
            if isinstance(event, InvalidEvent):
                continue
            tickets.add(event.ticket_id)
            if event.type is EventType.TICKET_STATUS_CHANGED and event.status is Status.CLOSED:
                closed.add(event.ticket_id)
    return len(tickets), len(closed & tickets)


def top_functions(run: Callable[[], object], limit: int) -> list[tuple[str, int, float, float]]:
    """(function, calls, own seconds, cumulative seconds), by own time."""
    profile = cProfile.Profile()
    profile.runcall(run)
    stats = pstats.Stats(profile, stream=io.StringIO())
    rows = []
    for (file, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = Path(file)
        label = (
            f"{where.relative_to(ROOT)}:{line}({name})"
            if where.is_relative_to(ROOT)
            else (f"{where.name}:{line}({name})" if line else name)
        )
        rows.append((label, calls, own, cumulative))
    rows.sort(key=lambda row: row[2], reverse=True)
    return rows[:limit]


def mib(size: float) -> str:
    return f"{size / 2**20:,.0f} MiB"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=1.0, help="simulated events per second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--skip", default="", help=f"comma-separated parts to skip: {PARTS}")
    parser.add_argument("--write", type=Path, help="also write the markdown report here")
    args = parser.parse_args(argv)
    skip = {part for part in args.skip.split(",") if part}
    if skip - set(PARTS):
        parser.error(f"--skip takes {', '.join(PARTS)}")

    path = events_file(args.events, args.rate, args.seed)
    lines = sum(1 for _ in path.open("rb"))
    report = [
        f"## replay of {lines:,} simulated events (seed {args.seed}, {args.rate:g} events/s)",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()}; "
        f"{platform.machine()}, {os.cpu_count()} cores; load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at start",
        f"- command: `.venv/bin/python bench/bench_replay.py {' '.join(argv or sys.argv[1:])}`",
        f"- file: {path} ({mib(path.stat().st_size)})",
        "",
        "| measure | median | runs | events/s (CPU) | events/s (wall) |",
        "|---|---|---|---|---|",
    ]

    def speed_row(name: str, timings: list[Timing]) -> str:
        cpu = statistics.median(t.cpu for t in timings)
        wall = statistics.median(t.wall for t in timings)
        runs = ", ".join(f"{t.cpu:.1f}" for t in timings)
        return (
            f"| {name} | {cpu:.1f} s CPU, {wall:.1f} s wall | {runs} s CPU "
            f"| {lines / cpu:,.0f} | {lines / wall:,.0f} |"
        )

    result: ReplayResult | None = None

    def in_process() -> None:
        nonlocal result
        result = replay_file(path)

    report.append(
        speed_row("`replay_lines` in-process", [timed(in_process) for _ in range(args.runs)])
    )
    assert result is not None
    counts = result.counts
    peak_rss: list[int] = []
    if "cli" not in skip:
        out = CACHE / "replay-snapshot.json"
        runs = [cli_run(path, out) for _ in range(args.runs)]
        report.append(speed_row("`ticketpulse replay` (CLI)", [timing for timing, _ in runs]))
        peak_rss = [rss for _, rss in runs]
        empty = CACHE / "empty.jsonl"
        empty.write_bytes(b"")
        _, baseline_rss = cli_run(empty, out)
    report += [
        "",
        f"Counts: {counts['lines']:,} lines, {counts['accepted']:,} applied, "
        f"{counts['duplicate']:,} duplicates, {counts['invalid']:,} invalid, "
        f"{counts['rejected']:,} after closed, {counts['anomalies']:,} anomalies; "
        f"{counts['tickets']:,} tickets; as_of {result.snapshot['as_of']}.",
    ]

    if "memory" not in skip:
        tickets, closed = ticket_census(path)
        held_open = tickets - closed
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        replay_file(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        traced = peak - before
        report += [
            "",
            "| memory | value |",
            "|---|---|",
            f"| tickets held at the end / not closed / closed | {tickets:,} / {held_open:,} / "
            f"{closed:,} |",
            f"| tracemalloc peak during replay | {mib(traced)} |",
            f"| traced bytes per ticket held | {traced / tickets:,.0f} |",
            f"| traced bytes per ticket not closed | {traced / max(held_open, 1):,.0f} |",
        ]
        if peak_rss:
            rss = statistics.median(peak_rss)
            report += [
                f"| CLI peak RSS (median) / on an empty file | {mib(rss)} / {mib(baseline_rss)} |",
                f"| RSS growth per ticket held | {(rss - baseline_rss) / tickets:,.0f} bytes |",
            ]
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        report.append(f"| this process's peak RSS (in-process runs, tracemalloc) | {mib(own)} |")

    if "profile" not in skip:
        report += [
            "",
            f"cProfile of one in-process replay, top {args.top} by own time "
            "(profiling inflates the times; compare shares, not seconds):",
            "",
            "| function | calls | own s | cumulative s |",
            "|---|---|---|---|",
        ]
        for label, calls, own_s, cumulative in top_functions(in_process, args.top):
            report.append(f"| `{label}` | {calls:,} | {own_s:.2f} | {cumulative:.2f} |")

    text = "\n".join(report) + "\n"
    print(text)
    if args.write:
        args.write.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
