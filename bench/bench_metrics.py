"""Cost of the worker's Prometheus metrics: per fact, per snapshot mirror, per scrape.

    .venv/bin/python bench/bench_metrics.py [--facts 200000] [--seed 7] [--repeat 30]

Facts come from a synthetic day of support traffic over 50 teams, 6 channels, 4 priorities
and 200 agents (the same shape as bench_snapshot.py). Measured, in process CPU time:

- observe_facts, cold: every fact of the day into a fresh ``Metrics`` (creates the label
  children of each (team, channel, priority) on first sight);
- observe_facts, warm: the same facts again, children cached (the steady state);
- mirror_snapshot: a snapshot of those facts (50 teams, every window) replacing the last one,
  what the worker does every second;
- scrape: ``render`` of the whole registry, what Prometheus does every scrape interval.

Each with ``agent_labels`` off and on; the series count is the exposition's sample lines.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Iterator

from streams.domain.facts import Fact, FactDiff, FactKind, SlaTarget
from streams.domain.instant import parse_rfc3339
from streams.domain.snapshot import Backlog, SlaNow, Snapshot, build_snapshot
from streams.domain.windows import WINDOWS, Windows
from streams.live.metrics import Metrics
from streams.live.metrics.exposition import render

SECOND = 1_000_000
HOUR = 3600 * SECOND
AS_OF = parse_rfc3339("2026-11-09T12:00:00Z")
TEAMS = [f"team-{i:02d}" for i in range(50)]
CHANNELS = ["email", "chat", "phone", "web", "social", "api"]
PRIORITIES = ["low", "normal", "high", "urgent"]
AGENTS = [f"agent-{i:03d}" for i in range(200)]
STATUSES = ["new", "open", "pending", "on_hold"]


def lognormal(rng: random.Random, median: float, sigma: float) -> int:
    return max(1, round(rng.lognormvariate(0, sigma) * median))


def ticket_facts(rng: random.Random, created: int) -> Iterator[Fact]:
    """One ticket's facts: replies, a solve with its touches, surveys, SLA outcomes."""
    team, channel, priority = rng.choice(TEAMS), rng.choice(CHANNELS), rng.choice(PRIORITIES)
    agent = rng.choice(AGENTS)

    def make(at: int, kind: FactKind, value: int = 0, target: SlaTarget | None = None) -> Fact:
        return Fact(at, kind, value, team, channel, priority, agent, target)

    yield make(created, FactKind.CREATED)
    at, touches = created, 0
    for _ in range(rng.choice([1, 1, 2, 2, 3])):
        wait = lognormal(rng, HOUR, 1.2)
        at += wait
        touches += 1
        if touches == 1:
            yield make(at, FactKind.FIRST_REPLY, wait)
        yield make(at, FactKind.REPLY, wait)
        outcome = FactKind.SLA_MET if wait <= 4 * HOUR else FactKind.SLA_BREACHED
        target = SlaTarget.FIRST_REPLY if touches == 1 else SlaTarget.NEXT_REPLY
        yield make(at, outcome, target=target)
    solved = at + lognormal(rng, 6 * HOUR, 1.5)
    yield make(solved, FactKind.RESOLUTION, solved - created)
    yield make(solved, FactKind.TOUCHES_TO_CLOSE, touches)
    met = solved - created <= 72 * HOUR
    outcome = FactKind.SLA_MET if met else FactKind.SLA_BREACHED
    yield make(solved, outcome, target=SlaTarget.RESOLUTION)
    if rng.random() < 0.25:
        yield make(solved + HOUR, FactKind.CSAT, rng.choice([1, 2, 3, 4, 4, 5, 5, 5]))
    if rng.random() < 0.12:
        yield make(solved + 2 * HOUR, FactKind.NPS, rng.randint(0, 10))
    if rng.random() < 0.05:
        yield make(solved + 3 * HOUR, FactKind.REOPEN)


def day_of_facts(rng: random.Random, facts: int) -> list[Fact]:
    out: list[Fact] = []
    while len(out) < facts:
        created = AS_OF - 24 * HOUR + rng.randrange(12 * HOUR)
        out.extend(f for f in ticket_facts(rng, created) if f.time < AS_OF)
    return out[:facts]


def snapshot_of(facts: list[Fact], rng: random.Random) -> Snapshot:
    store = Windows()
    store.apply(FactDiff(added=tuple(sorted(facts))))
    windows = {name: store.window(name, AS_OF) for name in WINDOWS}
    backlog = Backlog.from_tickets(
        (rng.choice(STATUSES), rng.choice(PRIORITIES), rng.choice(TEAMS)) for _ in range(5000)
    )
    counts = {t.value: rng.randrange(50) for t in SlaTarget}
    return build_snapshot(AS_OF, windows, backlog, SlaNow(counts, counts))


def cpu(action: Callable[[], object]) -> float:
    start = time.process_time()
    action()
    return time.process_time() - start


def observe_all(metrics: Metrics, batches: list[list[Fact]]) -> None:
    for batch in batches:
        metrics.observe_facts(batch, now=AS_OF)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--facts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=30, help="mirror/scrape repetitions")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    facts = day_of_facts(rng, args.facts)
    snapshot = snapshot_of(facts, rng)
    rows = {
        name: sum(len(w.by[k]) for k in ("team", "channel", "priority", "agent"))
        for name, w in snapshot.windows.items()
    }
    print(f"{len(facts):,} facts; snapshot rows per window besides overall {rows}")
    batches = [facts[i : i + 100] for i in range(0, len(facts), 100)]
    for agent_labels in (False, True):
        metrics = Metrics(agent_labels=agent_labels)
        cold = cpu(lambda: observe_all(metrics, batches))  # noqa: B023
        warm = cpu(lambda: observe_all(metrics, batches))  # noqa: B023
        previous = snapshot_of(facts[: len(facts) // 2], random.Random(args.seed))
        mirror, scrape = [], []
        for i in range(args.repeat):
            current = snapshot if i % 2 else previous
            mirror.append(cpu(lambda: metrics.mirror_snapshot(current)))  # noqa: B023
            scrape.append(cpu(lambda: render(metrics.registry)))  # noqa: B023
        text = render(metrics.registry).decode()
        lines = [line for line in text.splitlines() if not line.startswith("#")]
        window = sum(1 for line in lines if line.startswith("ticketpulse_window_"))
        print(f"agent_labels={agent_labels}:")
        print(
            f"  observe_facts: cold {cold / len(facts) * 1e6:.2f} us/fact, "
            f"warm {warm / len(facts) * 1e6:.2f} us/fact"
        )
        print(
            f"  mirror_snapshot: median {statistics.median(mirror) * 1e3:.1f} ms, "
            f"max {max(mirror) * 1e3:.1f} ms per call"
        )
        print(
            f"  scrape (render): median {statistics.median(scrape) * 1e3:.1f} ms, "
            f"{len(text) / 1024:,.0f} KiB, {len(lines):,} series ({window:,} window gauges)"
        )


if __name__ == "__main__":
    main()
