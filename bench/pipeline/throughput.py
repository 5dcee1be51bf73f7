"""Throughput: F, its ceilings C0 and C1, and the Quix peer Q draining the same data set."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from bench.pipeline.common import log
from bench.pipeline.harness import Bench, Measure, Topics
from bench.pipeline.procs import peak_rss, run_contender, start_quix
from bench.pipeline.reference import Reference, cli_replay, compare, live_gate, normal
from bench.pipeline.stats import snapshot_diff
from streams.domain.instant import parse_rfc3339

CONTENDERS = ("c0", "c1", "f", "q")
NAMES = {
    "c0": "C0 aiokafka getmany, count only",
    "c1": "C1 C0 + decode + planner in memory",
    "f": "F ticketpulse worker",
    "q": "Q Quix Streams peer",
}


def run_f(bench: Bench, topics: Topics, repeat: int, reference: Reference | None) -> Measure:
    name = f"{bench.run_id}-f{repeat}"
    worker = bench.start_worker(topics, name)
    try:
        first, last, cpu, done = bench.drain_workers(topics, name, [worker], bench.args.timeout)
        rss = peak_rss(worker.pid)
        gate = None
        if reference is not None and done == bench.total(topics):
            gate = live_gate(
                reference, lambda: bench.read_snapshot(name), bench.args.publish_interval
            )
    finally:
        worker.stop(15)
    note = "" if done == bench.total(topics) else f"timed out: {done:,} applied"
    return Measure("f", repeat, done, last - first, cpu, rss, gate, note)


def run_q(bench: Bench, topics: Topics, repeat: int, reference: Reference | None) -> Measure:
    name = f"{bench.run_id}-q{repeat}"
    state = bench.work / f"{name}-state"
    child = start_quix(
        bench.bootstrap,
        bench.redis_url,
        name,
        name,
        topics.inputs,
        state,
        bench.work,
        bench.args.publish_interval,
    )
    expected = bench.total(topics)
    try:
        deadline = time.monotonic() + bench.args.timeout
        progress: dict[bytes, bytes] = {}
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"quix app exited:\n{child.tail()}")
            progress = bench.redis.hgetall(f"{name}:q:progress")
            if progress and int(progress[b"messages"]) >= expected:
                break
            time.sleep(0.1)
        else:
            log(f"  Q not drained in {bench.args.timeout:.0f} s: {progress}")
        rss = peak_rss(child.pid)
        gate = None
        complete = bool(progress) and int(progress[b"messages"]) >= expected
        if reference is not None and complete:
            gate = live_gate(
                reference, lambda: bench.read_snapshot(name), bench.args.publish_interval
            )
        progress = bench.redis.hgetall(f"{name}:q:progress")
    finally:
        child.stop(15)
        shutil.rmtree(state, ignore_errors=True)
    seconds = float(progress[b"last"]) - float(progress[b"first"])
    messages = int(progress[b"messages"])
    note = "" if messages >= expected else f"timed out: {messages:,} processed"
    if int(progress.get(b"redelivered", 0)):
        note += f" {int(progress[b'redelivered']):,} redelivered after a rebalance"
    return Measure("q", repeat, messages, seconds, float(progress[b"cpu"]), rss, gate, note)


def run_c(
    bench: Bench, contender: str, topics: Topics, repeat: int, reference: Reference | None
) -> Measure:
    name = f"{bench.run_id}-{contender}{repeat}"
    snapshot = bench.work / f"{name}-snapshot.json"
    result = run_contender(
        contender,
        ["--bootstrap", bench.bootstrap, "--group", name, "--topics", ",".join(topics.inputs)]
        + (["--snapshot-out", str(snapshot)] if contender == "c1" else []),
        bench.work / f"{name}.log",
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


def run_throughput(
    bench: Bench, topics: Topics, events: Path, contenders: list[str]
) -> tuple[list[Measure], str]:
    """Each contender drains the data set ``--repeats`` times, each run gated against replay.

    Also returns how the real ``ticketpulse replay`` compares with the in-process reference.
    """
    args = bench.args
    measures: list[Measure] = []
    cli_check = "not run"
    log("reference: decoding and ingesting the data set")
    reference = Reference(events)
    for repeat in range(args.repeats):
        for contender in contenders:
            log(f"repeat {repeat + 1}/{args.repeats}: {contender}")
            if contender == "f":
                m = run_f(bench, topics, repeat, reference)
            elif contender == "q":
                m = run_q(bench, topics, repeat, reference)
            else:
                m = run_c(bench, contender, topics, repeat, reference)
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
        at = parse_rfc3339(checked[-1].as_of)
        cli = cli_replay(events, at, bench.work / "cli-replay.json")
        total, _ = snapshot_diff(cli, reference.at(at))
        cli_check = (
            f"`ticketpulse replay events.jsonl --at {checked[-1].as_of}` "
            + ("equals" if not total else f"DIFFERS in {total} values from")
            + " the in-process reference the gates use"
        )
    return measures, cli_check
