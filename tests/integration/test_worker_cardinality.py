"""Thousands of distinct team values through the real worker: /metrics stays bounded, the
snapshot folds them as replay does, and junk-length names are dead-lettered."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.domain.folding import OTHER, SNAPSHOT_LIMITS
from streams.domain.instant import MICROS_PER_MINUTE, format_rfc3339
from tests.support.workers import WorkerProcess, iter_until, now_micros

from .test_worker import converge
from .workers import Run, produce

TEAMS = 3000
LABEL_LIMIT = 20


def junk(start: int) -> list[tuple[str, bytes, bytes]]:
    """Per team a ticket created, assigned and replied to; one team name of 201 characters."""
    records = []
    for i in range(TEAMS):
        at, ticket = start + i * 100_000, f"J-{i}"
        team = "x" * 201 if i == 7 else f"junk-{i:05}"
        for n, (topic, kind, fields) in enumerate(
            [
                ("tickets", "ticket.created", {"channel": "web", "priority": "low", "team": team}),
                ("tickets", "ticket.assigned", {"agent_id": f"ag-{i % 40}"}),
                ("contacts", "contact.outbound", {"agent_id": f"ag-{i % 40}", "channel": "web"}),
            ]
        ):
            value = {
                "event_id": f"{ticket}.{n}",
                "type": kind,
                "occurred_at": format_rfc3339(at + n * 1_000_000),
                "ticket_id": ticket,
                **fields,
            }
            records.append((topic, ticket.encode(), json.dumps(value).encode()))
    return records


def exposition(worker: WorkerProcess) -> str:
    with urllib.request.urlopen(worker.url + "/metrics", timeout=10) as response:
        text: str = response.read().decode()
    return text


def team_values(text: str) -> set[str]:
    return {
        sample.labels["team"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("team")
    }


def folded_facts(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ticketpulse_facts_folded_total"
    )


@pytest.mark.timeout(300)
def test_thousands_of_teams_keep_metrics_bounded_and_live_equal_to_replay(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETPULSE_METRICS_LABEL_LIMIT", str(LABEL_LIMIT))
    worker = run.start_worker()
    records = junk(now_micros() - 20 * MICROS_PER_MINUTE)
    asyncio.run(produce(run, records))

    live, expected = converge(worker, records, timeout=120)
    assert live == expected, worker.tail()
    for window in ("1h", "7d"):
        by_team = live["windows"][window]["by_team"]
        assert len(by_team) == SNAPSHOT_LIMITS.team + 1 and OTHER in by_team
        assert by_team[OTHER]["tickets_created"] == TEAMS - 1 - SNAPSHOT_LIMITS.team
    assert len(live["backlog"]["by_team"]) == SNAPSHOT_LIMITS.team + 1

    text = ""
    for _ in iter_until(60):
        text = exposition(worker)
        if folded_facts(text) and OTHER in team_values(text):
            break
    teams = team_values(text)
    # fact rows: the first LABEL_LIMIT teams; gauges: the busiest LABEL_LIMIT of each window
    # and of the backlog; every other team is "(other)"
    assert OTHER in teams and len(teams) <= 5 * LABEL_LIMIT + 1, len(teams)
    assert folded_facts(text) > 0
    assert len(text) < 2_000_000, len(text)
