"""Replay forgets facts a week before its data: the snapshot is the same, the buckets fewer."""

from __future__ import annotations

from typing import Any

import pytest

from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.domain.policies import default_policies
from streams.domain.windows import WINDOWS, Windows
from streams.live.partition_replay import PartitionReplay, replay_log
from streams.replay import replay_lines
from streams.simulator.simulation import SimulationConfig, generate, take

START = parse_rfc3339("2026-11-02T08:00:00Z")
DAY = 24 * 60 * MICROS_PER_MINUTE


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    """About 12 days of simulated traffic (with late, duplicate and invalid events)."""
    config = SimulationConfig(seed=3, events_per_second=0.006)
    return [e.line().encode() for e in take(generate(config, START), count=6000)]


def replay(lines: list[bytes], at: int | None, *, forget: bool) -> tuple[dict[str, Any], Windows]:
    """Replay into a partition of our own; ``forget=False`` counts every fact."""
    run = PartitionReplay(default_policies())
    snapshot = replay_log(iter(lines), run.policies, at, forget=forget, replay=run).snapshot
    return snapshot, run.state.windows


@pytest.mark.parametrize("at_day", [None, 4, 10])
def test_forgetting_changes_no_snapshot(lines: list[bytes], at_day: int | None) -> None:
    at = None if at_day is None else START + at_day * DAY
    remembered, _ = replay(lines, at, forget=False)
    forgetting, windows = replay(lines, at, forget=True)
    assert forgetting == remembered
    assert forgetting == replay_lines(iter(lines), default_policies(), at).snapshot
    assert forgetting["windows"]["7d"]["overall"]["tickets_created"] > 0
    oldest = min(windows.buckets())
    # forgotten an hour at a time, from the start of the latest minute
    assert (
        oldest
        >= parse_rfc3339(forgetting["as_of"]) - max(WINDOWS.values()) - 61 * MICROS_PER_MINUTE
    )


def test_the_data_spans_more_than_a_week(lines: list[bytes]) -> None:
    """Else the test above would pass without anything forgotten."""
    _, windows = replay(lines, None, forget=False)
    buckets = windows.buckets()
    assert max(buckets) - min(buckets) > 9 * DAY
