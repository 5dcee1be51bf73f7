"""The golden events log (tests/golden/events.jsonl) against figures worked out by hand.

Each ticket G01..G26 in the log exercises rules of the spec; the comments in the log's
generator table are in docs/kpis.md's terms. The expected numbers below were computed by hand
from the events (window boundaries: 1h = [11:00, 12:00), 24h from 2026-11-02T12:00Z, 7d from
2026-10-27T12:00Z). ``expected_snapshot.json`` is the complete snapshot, reviewed against these
figures, so that any change anywhere in the output is seen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.domain.instant import parse_rfc3339
from streams.domain.policies import load_policies
from streams.replay import ReplayResult, replay_lines

GOLDEN = Path(__file__).parent.parent / "golden"
AS_OF = "2026-11-03T12:00:00Z"


def dist(
    count: int,
    mean: float | None,
    p50: float | None = None,
    p90: float | None = None,
    p99: float | None = None,
) -> dict[str, Any]:
    return {"count": count, "mean": mean, "p50": p50, "p90": p90, "p99": p99}


def sla(met: int, breached: int) -> dict[str, Any]:
    total = met + breached
    return {"met": met, "breached": breached, "compliance": met / total if total else None}


@pytest.fixture(scope="module")
def result() -> ReplayResult:
    policies = load_policies(GOLDEN / "policies.yaml")
    with (GOLDEN / "events.jsonl").open("rb") as handle:
        return replay_lines(iter(handle), policies, parse_rfc3339(AS_OF))


def test_line_accounting(result: ReplayResult) -> None:
    c = result.counts
    assert (c["lines"], c["invalid"], c["duplicate"], c["rejected"]) == (90, 5, 2, 1)
    assert (c["after_as_of"], c["anomalies"], c["tickets"]) == (1, 3, 19)
    reasons = [reason.split(":")[0] for _, reason in result.errors]
    assert sorted(reasons) == sorted(
        ["ticket_id", "(json)", "type", "score", "ticket_id", "occurred_at"]
    )


def test_last_hour(result: ReplayResult) -> None:
    k = result.snapshot["windows"]["1h"]["overall"]
    assert k["first_reply_seconds"] == dist(3, 6280.0, 600.0, 17940.0, 17940.0)
    assert k["reply_seconds"] == dist(3, 6280.0, 600.0, 17940.0, 17940.0)
    assert k["resolution_seconds"] == dist(1, 1800.0, 1800.0, 1800.0, 1800.0)
    assert k["full_resolution_seconds"] == dist(1, 9000.0, 9000.0, 9000.0, 9000.0)
    assert k["touches_to_close"] == dist(1, 1.0, 1.0, 1.0, 1.0)
    assert (k["tickets_created"], k["tickets_solved"], k["reopened"]) == (4, 1, 0)
    assert (k["one_touch"], k["zero_touch"], k["fcr_rate"]) == (1, 0, 1.0)
    assert k["csat"] == {"responses": 2, "satisfied": 1, "percent": 50.0}
    assert k["nps"] == {
        "responses": 4,
        "promoters": 2,
        "passives": 1,
        "detractors": 1,
        "score": 25.0,
    }
    assert k["sla"] == {"first_reply": sla(3, 1), "next_reply": sla(0, 1), "resolution": sla(1, 1)}


def test_last_day(result: ReplayResult) -> None:
    k = result.snapshot["windows"]["24h"]["overall"]
    assert k["first_reply_seconds"] == dist(11, 24540 / 11, 600.0, 1800.0, 17940.0)
    assert k["reply_seconds"] == dist(14, 34140 / 14, 600.0, 7200.0, 17940.0)
    assert k["resolution_seconds"] == dist(6, 17710.0, 1800.0, 90000.0, 90000.0)
    assert k["full_resolution_seconds"] == dist(2, 5400.0, 1800.0, 9000.0, 9000.0)
    assert k["touches_to_close"] == dist(6, 1.0, 1.0, 2.0, 2.0)
    assert (k["tickets_created"], k["tickets_solved"], k["reopened"]) == (15, 6, 1)
    assert (k["one_touch"], k["zero_touch"], k["fcr_rate"]) == (4, 1, 0.8)
    assert k["sla"] == {"first_reply": sla(11, 2), "next_reply": sla(2, 1), "resolution": sla(5, 2)}


def test_last_week(result: ReplayResult) -> None:
    k = result.snapshot["windows"]["7d"]["overall"]
    assert k["first_reply_seconds"] == dist(13, 21180.0, 600.0, 17940.0, 248400.0)
    assert k["reply_seconds"] == dist(16, 17808.75, 600.0, 17940.0, 248400.0)
    assert k["tickets_created"] == 18
    assert k["sla"]["first_reply"] == sla(13, 3)


def test_last_hour_by_team_and_agent(result: ReplayResult) -> None:
    w = result.snapshot["windows"]["1h"]
    assert sorted(w["by_team"]) == ["billing", "tech"]
    billing, tech = w["by_team"]["billing"], w["by_team"]["tech"]
    assert billing["first_reply_seconds"] == dist(2, 450.0, 300.0, 600.0, 600.0)
    assert billing["tickets_created"] == 3
    assert billing["nps"]["score"] == 0.0 and tech["nps"]["score"] == 50.0
    assert billing["sla"]["first_reply"] == sla(2, 1)
    assert tech["sla"]["resolution"] == sla(0, 1)
    assert tech["full_resolution_seconds"] == dist(1, 9000.0, 9000.0, 9000.0, 9000.0)
    assert sorted(w["by_agent"]) == ["ann", "bob", "carol", "dan", "hal", "ivy", "jon", "kim"]
    assert w["by_agent"]["carol"]["first_reply_seconds"]["count"] == 1
    assert w["by_agent"]["ann"]["csat"]["responses"] == 1


def test_backlog_and_sla_now(result: ReplayResult) -> None:
    assert result.snapshot["backlog"] == {
        "total": 12,
        "by_status": {"new": 10, "open": 1, "pending": 1},
        "by_priority": {"low": 1, "normal": 6, "urgent": 5},
        "by_team": {"billing": 6, "tech": 5, "vip": 1},
    }
    assert result.snapshot["sla_now"] == {
        "at_risk": {"first_reply": 2, "next_reply": 1, "resolution": 1},
        "breached_running": {"first_reply": 2, "next_reply": 1, "resolution": 1},
    }


def test_complete_snapshot_is_unchanged(result: ReplayResult) -> None:
    expected = json.loads((GOLDEN / "expected_snapshot.json").read_text())
    assert result.snapshot == expected


def test_handle_time_per_window_and_agent(result: ReplayResult) -> None:
    # calls (duration_seconds) on public touches: G17 ivy 90 s and G01 ann 600 s in the last
    # hour, G09 ann 0 s, G10 eve 312.5 s and G15 hal 240 s (its duplicated line counts once)
    # earlier in the day, G14 gus 1800 s two days back; G06's internal note of 1200 s by dan
    # is not a touch and gives no sample
    windows = result.snapshot["windows"]
    assert windows["1h"]["overall"]["handle_seconds"] == dist(2, 345.0, 90.0, 600.0, 600.0)
    assert windows["24h"]["overall"]["handle_seconds"] == dist(5, 248.5, 240.0, 600.0, 600.0)
    assert windows["7d"]["overall"]["handle_seconds"] == dist(6, 3042.5 / 6, 240.0, 1800.0, 1800.0)
    day = windows["24h"]
    assert day["by_agent"]["ann"]["handle_seconds"] == dist(2, 300.0, 0.0, 600.0, 600.0)
    assert day["by_agent"]["hal"]["handle_seconds"] == dist(1, 240.0, 240.0, 240.0, 240.0)
    assert windows["1h"]["by_agent"]["dan"]["handle_seconds"] == dist(0, None)
    assert day["by_team"]["tech"]["handle_seconds"] == dist(2, 276.25, 240.0, 312.5, 312.5)
    assert day["by_priority"]["urgent"]["handle_seconds"] == dist(2, 456.25, 312.5, 600.0, 600.0)
