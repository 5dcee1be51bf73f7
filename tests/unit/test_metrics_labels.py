"""Team and agent label values in /metrics are bounded, however many distinct values arrive."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from streams.domain.facts import Fact, FactDiff, FactKind
from streams.domain.folding import OTHER
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.domain.snapshot import Backlog, SlaNow, Snapshot, Window, build_snapshot, fits
from streams.domain.windows import WINDOWS, Windows
from streams.live.metrics import Metrics
from streams.live.metrics.exposition import render, render_in_thread

AS_OF = parse_rfc3339("2026-11-02T10:00:00Z")
FOLDED = "ticketpulse_facts_folded_total"


def reply(team: str, agent: str, minutes_ago: int = 5) -> Fact:
    at = AS_OF - minutes_ago * MICROS_PER_MINUTE
    return Fact(at, FactKind.REPLY, 60_000_000, team, "chat", "low", agent, None)


def label_values(metrics: Metrics, label: str) -> Counter[str]:
    """Series per value of ``label`` in the exposition, as Prometheus would parse it."""
    text = render(metrics.registry).decode()
    values: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get(label):
                values[sample.labels[label]] += 1
    return values


def folded(metrics: Metrics) -> dict[str, float]:
    text = render(metrics.registry).decode()
    return {
        s.labels["dimension"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == FOLDED
    }


def series(metrics: Metrics) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    text = render(metrics.registry).decode()
    return {
        (s.name, frozenset(s.labels.items()))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_fact_rows_stop_at_the_limit_and_fold_later_teams_into_other() -> None:
    metrics = Metrics()  # the default limit, 200
    facts = [reply(f"junk-{i:05}", "ag-1") for i in range(3000)]
    metrics.observe_facts(facts, AS_OF)
    teams = label_values(metrics, "team")
    assert len(teams) == 201
    assert set(teams) == {*(f"junk-{i:05}" for i in range(200)), OTHER}
    assert folded(metrics) == {"team": 2800.0}


def test_policy_teams_always_get_their_own_rows() -> None:
    metrics = Metrics(label_limit=3, kept_teams=frozenset({"billing", "tech"}))
    metrics.observe_facts((reply(f"junk-{i}", "ag") for i in range(10)), AS_OF)
    metrics.observe_facts(
        [reply("billing", "ag"), reply("billing", "ag"), reply("junk-0", "ag")], AS_OF
    )
    teams = label_values(metrics, "team")
    assert set(teams) == {"junk-0", "junk-1", "junk-2", "billing", OTHER}
    assert folded(metrics) == {"team": 7.0}


def test_agent_labels_are_bounded_the_same_way() -> None:
    metrics = Metrics(agent_labels=True, label_limit=5)
    metrics.observe_facts((reply("billing", f"ag-{i}") for i in range(50)), AS_OF)
    agents = label_values(metrics, "agent")
    assert set(agents) == {*(f"ag-{i}" for i in range(5)), OTHER}
    assert folded(metrics) == {"team": 0.0, "agent": 45.0}


def mirrored(metrics: Metrics, facts: list[Fact]) -> Metrics:
    """Mirror the snapshot of ``facts`` as the worker does: built with the label limits."""
    store = Windows()
    store.apply(FactDiff(added=tuple(facts)))
    windows = {name: store.window(name, AS_OF) for name in WINDOWS}
    backlog = Backlog.from_tickets(("open", "low", f.team) for f in facts)
    full = build_snapshot(AS_OF, windows, backlog, SlaNow())
    mirror = build_snapshot(AS_OF, windows, backlog, SlaNow(), metrics.label_limits)
    assert all(len(w.by["team"]) <= metrics.label_limits.team + 1 for w in windows_of(mirror))
    assert fits(full, metrics.label_limits) == (full == mirror)
    metrics.mirror_snapshot(mirror)
    return metrics


def windows_of(snapshot: Snapshot) -> list[Window]:
    return list(snapshot.windows.values())


def test_the_snapshot_gauges_keep_the_busiest_teams_and_an_other_row() -> None:
    # team-i has i % 4 + 1 replies: the busiest 200 (3 or 4 replies, first names) stay.
    facts = [reply(f"team-{i:04}", "ag") for i in range(1000) for _ in range(i % 4 + 1)]
    metrics = mirrored(Metrics(), facts)
    teams = label_values(metrics, "team")
    volume = Counter(f.team for f in facts)
    busiest = sorted(volume, key=lambda t: (-volume[t], t))[:200]
    assert set(teams) == {*busiest, OTHER}


def test_many_more_junk_teams_add_no_series() -> None:
    """The exposition with 3,000 distinct teams has exactly the series of one with 300."""

    def exposed(teams: int) -> set[tuple[str, frozenset[tuple[str, str]]]]:
        facts = [reply(f"junk-{i:05}", "ag") for i in range(teams)]
        metrics = Metrics(label_limit=20)
        metrics.observe_facts(facts, AS_OF)
        return series(mirrored(metrics, facts))

    few, many = exposed(300), exposed(3000)
    names = {(name, labels) for name, labels in few if name != FOLDED}
    assert names == {(name, labels) for name, labels in many if name != FOLDED}
    teams = {dict(labels).get("team") for _, labels in many} - {None, ""}
    assert teams == {*(f"junk-{i:05}" for i in range(20)), OTHER}


def test_the_route_renders_in_a_thread_while_the_event_loop_runs_on() -> None:
    """A collector that can only finish once the event loop has run a callback: rendered on
    the loop it would wait out its 10 s and fail; rendered in a thread it finishes."""
    loop_ran = threading.Event()

    class WaitsForTheLoop(Collector):
        def collect(self) -> Iterator[Metric]:
            if not loop_ran.wait(10):
                raise AssertionError("the event loop was blocked during the render")
            yield GaugeMetricFamily("probe", "Set once the loop ran.", value=1)

    metrics = Metrics()
    metrics.registry.register(WaitsForTheLoop())

    async def scrape() -> bytes:
        asyncio.get_running_loop().call_soon(loop_ran.set)
        return await render_in_thread(metrics.registry)

    assert b"probe 1.0" in asyncio.run(scrape())


def test_a_snapshot_folded_by_its_own_limits_needs_no_second_build() -> None:
    """6,000 agents fold to 5,000 and (other) in GET /kpis; without agent labels the gauges
    mirror that snapshot as it is, and so they do with a label limit above the snapshot's."""
    facts = [reply("billing", f"ag-{i:05}") for i in range(6000)]
    store = Windows()
    store.apply(FactDiff(added=tuple(facts)))
    windows = {name: store.window(name, AS_OF) for name in WINDOWS}
    snapshot = build_snapshot(AS_OF, windows, Backlog(), SlaNow())
    assert len(snapshot.windows["1h"].by["agent"]) == 5001
    assert fits(snapshot, Metrics().label_limits)
    assert fits(snapshot, Metrics(agent_labels=True, label_limit=5000).label_limits)
    assert not fits(snapshot, Metrics(agent_labels=True, label_limit=4999).label_limits)
