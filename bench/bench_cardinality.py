"""Memory and /metrics size under many distinct team values (junk from a bad producer).

    .venv/bin/python bench/bench_cardinality.py [--teams 10000] [--unbounded]

Feeds ``--teams`` tickets, each with a team of its own (created, assigned, one reply: three
events a team, as in the attack this guards against), through the real code paths: decode,
the worker's planner over the memory store (``ticketpulse replay``) and its windows, the
snapshot (``GET /kpis``) assembled from the window sums and the store's backlog and SLA
counts, the fact metrics and the snapshot gauges built with the metrics' label limits, then
one ``render`` of ``/metrics``. Prints the process's resident memory after the imports and at
the end, the snapshot's JSON size and team keys, the size of the window sums a worker
publishes to Redis (all partitions' together; merged exactly, so they keep every team), and
the exposition's size, series and team label values.

``--unbounded`` sets every limit to 10^9: what the worker did before team and agent values
were bounded. Run each variant in its own process, so that the resident memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Iterator
from pathlib import Path

from streams.domain.folding import KeyLimits
from streams.domain.instant import format_rfc3339, parse_rfc3339
from streams.domain.policies import default_policies
from streams.domain.snapshot import dumps_snapshot
from streams.domain.windows import WINDOWS
from streams.live.metrics import Metrics
from streams.live.metrics.exposition import render
from streams.live.partition_replay import PartitionReplay, ready, replay_log
from streams.live.window_sums import (
    add_window_sums,
    assemble_snapshot,
    empty_window_sums,
    encode_window_sums,
)

START = parse_rfc3339("2026-11-02T08:00:00Z")
UNBOUNDED = 10**9


def rss_mib() -> float:
    """The resident set size now (VmRSS), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def event(ticket: str, n: int, kind: str, at: int, **fields: object) -> bytes:
    value = {
        "event_id": f"{ticket}.{n}",
        "type": kind,
        "occurred_at": format_rfc3339(at),
        "ticket_id": ticket,
        **fields,
    }
    return json.dumps(value).encode()


def events(teams: int) -> Iterator[bytes]:
    """Three events per ticket, a distinct team per ticket, a second apart."""
    second = 1_000_000
    for i in range(teams):
        at, ticket, agent = START + i * second, f"T-{i}", f"ag-{i % 50}"
        team = f"junk-team-{i:06d}"
        yield event(ticket, 1, "ticket.created", at, channel="email", priority="normal", team=team)
        yield event(ticket, 2, "ticket.assigned", at + 10 * second, agent_id=agent)
        reply = {"agent_id": agent, "channel": "email"}
        yield event(ticket, 3, "contact.outbound", at + 60 * second, **reply)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=10_000)
    parser.add_argument("--unbounded", action="store_true")
    args = parser.parse_args()
    before = rss_mib()

    policies = default_policies()
    replay = PartitionReplay(policies)
    result = replay_log(events(args.teams), policies, None, replay=replay)
    as_of = parse_rfc3339(result.snapshot["as_of"])
    # the snapshot's parts as the worker reads them: the partition's window sums (published,
    # then merged), its store's backlog and SLA counts
    windows = {name: replay.state.windows.window(name, as_of) for name in WINDOWS}
    sums = empty_window_sums()
    add_window_sums(sums, windows)
    backlogs = [ready(replay.store.backlog(0))]
    clocks = [ready(replay.store.sla_counts(0, as_of, policies.at_risk_within))]
    limits = KeyLimits(UNBOUNDED, UNBOUNDED) if args.unbounded else KeyLimits()
    snapshot = assemble_snapshot(as_of, sums, backlogs, clocks, limits)
    snapshot_bytes = len(dumps_snapshot(snapshot).encode())
    sums_bytes = len(encode_window_sums(as_of, windows))

    label_limit = UNBOUNDED if args.unbounded else 200
    metrics = Metrics(label_limit=label_limit)
    for ticket in replay.state.tickets.values():  # none is closed: every one is still cached
        metrics.observe_facts(ticket.view.facts, as_of)
    started = time.perf_counter()
    mirror = assemble_snapshot(as_of, sums, backlogs, clocks, metrics.label_limits)
    metrics.mirror_snapshot(mirror)
    mirror_seconds = time.perf_counter() - started
    started = time.perf_counter()
    text = render(metrics.registry)
    render_seconds = time.perf_counter() - started
    lines = [line for line in text.split(b"\n") if line and not line.startswith(b"#")]
    team_values = {
        line.split(b'team="', 1)[1].split(b'"', 1)[0] for line in lines if b'team="' in line
    } - {b""}

    after = rss_mib()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{'unbounded' if args.unbounded else 'bounded'}: {args.teams:,} distinct teams, "
        f"{3 * args.teams:,} events ({result.counts['accepted']:,} accepted)"
    )
    print(
        f"  snapshot (GET /kpis)   {snapshot_bytes / 2**20:8.1f} MiB, "
        f"{len(snapshot.windows['7d'].by['team']):,} teams in 7d.by_team"
    )
    print(f"  window sums (Redis)    {sums_bytes / 2**20:8.1f} MiB, every team (merged exactly)")
    print(
        f"  /metrics               {len(text) / 2**20:8.1f} MiB, {len(lines):,} series, "
        f"{len(team_values):,} team values"
    )
    print(f"  mirror_snapshot        {mirror_seconds:8.2f} s, render {render_seconds:.2f} s (wall)")
    print(
        f"  resident memory        {before:8.0f} MiB after imports, {after:.0f} MiB at the "
        f"end, peak {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
