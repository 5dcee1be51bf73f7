"""The golden accounts log (tests/golden/accounts) against figures worked out by hand.

The README there lists the 24 accounts and how each number below was worked out;
``expected_accounts.json`` and ``expected_views.jsonl`` are the complete reviewed output, so
that any change anywhere in it is seen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.domain.instant import parse_rfc3339
from streams.domain.policies import load_policies
from streams.replay import ReplayResult, dumps_accounts, replay_lines

GOLDEN = Path(__file__).parent.parent / "golden" / "accounts"
AS_OF = "2026-12-01T00:00:00Z"


@pytest.fixture(scope="module")
def result() -> ReplayResult:
    policies = load_policies(GOLDEN / "policies.yaml")
    with (GOLDEN / "events.jsonl").open("rb") as handle:
        return replay_lines(iter(handle), policies, parse_rfc3339(AS_OF))


def dist(count: int, mean: float, p50: float, p90: float, p99: float) -> dict[str, Any]:
    return {"count": count, "mean": mean, "p50": p50, "p90": p90, "p99": p99}


def overall(result: ReplayResult, window: str) -> dict[str, Any]:
    row: dict[str, Any] = result.snapshot["accounts"]["windows"][window]["overall"]
    return row


def test_line_accounting(result: ReplayResult) -> None:
    c = result.counts
    assert (c["lines"], c["accepted"], c["duplicate"], c["invalid"], c["after_as_of"]) == (
        104,
        100,
        1,
        2,
        1,
    )
    assert (c["accounts"], c["anomalies"], c["tickets"]) == (24, 6, 7)
    assert sorted(error for _, error in result.errors) == [
        "account_id: required",
        "mrr: must be a non-negative number",
    ]


def test_now(result: ReplayResult) -> None:
    now = result.snapshot["accounts"]["now"]
    assert (now["customers"], now["leads_open"], now["mrr"], now["at_risk"]) == (14, 3, 3250.0, 4)
    assert now["arpa"] == pytest.approx(3250 / 14)
    assert now["clv"] == pytest.approx(3250 / 14 * 11)
    assert now["by_segment"]["ent"] == {
        "customers": 4,
        "mrr": 2200.0,
        "arpa": 550.0,
        "clv": 2200.0,
        "at_risk": 0,
        "at_risk_mrr": 0.0,
    }
    assert (now["by_segment"]["smb"]["clv"], now["by_segment"]["mid"]["clv"]) == (None, None)
    assert {k: (v["customers"], v["mrr"], v["at_risk"]) for k, v in now["by_manager"].items()} == {
        "ann": (6, 750.0, 3),
        "bob": (3, 1200.0, 0),
        "eve": (3, 270.0, 1),
        "hal": (1, 1000.0, 0),
    }
    # the at-risk customers' MRR: G17 250, G08 150, G21 70 (smb, ann), G18 40 (mid, eve)
    assert now["at_risk_mrr"] == 510.0
    assert {k: v["at_risk_mrr"] for k, v in now["by_segment"].items()} == {
        "ent": 0.0,
        "mid": 40.0,
        "smb": 470.0,
    }
    assert {k: v["at_risk_mrr"] for k, v in now["by_manager"].items()} == {
        "ann": 470.0,
        "bob": 0.0,
        "eve": 40.0,
        "hal": 0.0,
    }
    at_risk = result.snapshot["accounts"]["at_risk"]
    assert [(r["account_id"], r["mrr"]) for r in at_risk] == [
        ("G17", 250.0),
        ("G08", 150.0),
        ("G21", 70.0),
        ("G18", 40.0),
    ]


def test_seven_days(result: ReplayResult) -> None:
    a = overall(result, "7d")
    assert (a["leads"], a["conversions"], a["won_back"], a["leads_lost"]) == (3, 2, 0, 1)
    assert a["acquisition"] == {"cohort_leads": 3, "converted": 1, "rate": 1 / 3}
    assert (a["touches"], a["touch_seconds"], a["conversions_per_touch"]) == (6, 600.0, 2 / 6)
    assert a["touches_to_convert"] == dist(2, 0.5, 0.0, 1.0, 1.0)
    assert a["time_to_convert_seconds"] == dist(2, 216000.0, 172800.0, 259200.0, 259200.0)
    assert a["conversions_by_last_touch"] == {"email": 1, "none": 1}
    assert (a["churned"], a["churned_voluntary"], a["churned_mrr"]) == (1, 0, 50.0)
    assert (a["customers_at_start"], a["churned_from_start"], a["churn_rate"]) == (13, 0, 0.0)
    assert (a["mrr_at_start"], a["retained_mrr"]) == (2130.0, 2150.0)
    assert a["net_revenue_retention"] == pytest.approx(2150 / 2130)
    assert (a["new_mrr"], a["expansion_mrr"], a["upsells"], a["contraction_mrr"]) == (
        1100.0,
        100.0,
        1,
        30.0,
    )


def test_thirty_days(result: ReplayResult) -> None:
    a = overall(result, "30d")
    assert (a["leads"], a["conversions"], a["won_back"], a["leads_lost"]) == (8, 5, 1, 1)
    assert a["acquisition"] == {"cohort_leads": 8, "converted": 4, "rate": 0.5}
    assert (a["touches"], a["conversions_per_touch"]) == (9, 5 / 9)
    assert a["touches_to_convert"] == dist(4, 0.75, 0.0, 2.0, 2.0)
    assert a["time_to_convert_seconds"] == dist(4, 259200.0, 172800.0, 432000.0, 432000.0)
    assert a["conversions_by_last_touch"] == {"email": 1, "meeting": 1, "none": 3}
    assert (a["churned"], a["churned_voluntary"], a["churned_mrr"]) == (3, 2, 420.0)
    assert (a["customers_at_start"], a["churned_from_start"], a["churn_rate"]) == (11, 1, 1 / 11)
    assert (a["mrr_at_start"], a["retained_mrr"]) == (2170.0, 1950.0)
    assert a["net_revenue_retention"] == pytest.approx(1950 / 2170)
    assert (a["new_mrr"], a["expansion_mrr"], a["upsells"], a["contraction_mrr"]) == (
        1360.0,
        160.0,
        2,
        30.0,
    )
    by_segment = result.snapshot["accounts"]["windows"]["30d"]["by_segment"]
    assert {k: (v["customers_at_start"], v["churn_rate"]) for k, v in by_segment.items()} == {
        "ent": (4, 0.25),
        "mid": (2, 0.0),
        "smb": (5, 0.0),
    }


def test_ninety_days(result: ReplayResult) -> None:
    a = overall(result, "90d")
    assert (a["leads"], a["conversions"], a["won_back"], a["leads_lost"]) == (9, 15, 1, 2)
    assert a["acquisition"]["converted"] == 4
    assert a["conversions_by_last_touch"] == {"email": 1, "meeting": 1, "none": 13}
    assert (a["churned"], a["churned_voluntary"], a["churned_mrr"]) == (4, 3, 520.0)
    assert (a["customers_at_start"], a["churned_from_start"], a["churn_rate"]) == (2, 1, 0.5)
    assert (a["mrr_at_start"], a["retained_mrr"]) == (700.0, 500.0)
    assert (a["new_mrr"], a["expansion_mrr"], a["contraction_mrr"]) == (2930.0, 160.0, 30.0)


def test_views(result: ReplayResult) -> None:
    assert result.accounts is not None
    views = {v["account_id"]: v for v in result.accounts}
    assert list(views) == [f"G{n:02d}" for n in range(1, 25)]
    assert {a: v["signals"] for a, v in views.items() if v["signals"] != ["silent"]} == {
        "G02": [],
        "G03": [],
        "G07": [],
        "G08": ["silent", "contraction"],
        "G10": [],
        "G17": ["detractor", "unhappy", "sla_breaches", "reopens"],
        "G18": ["detractor", "silent"],
        "G19": ["unhappy"],
        "G21": ["detractor", "silent"],
        "G22": [],
        "G23": ["sla_breaches"],
    }
    assert [a for a, v in views.items() if v["at_risk"]] == ["G08", "G17", "G18", "G21"]
    assert (views["G11"]["manager"], views["G12"]["segment"], views["G14"]["stage"]) == (
        None,
        None,
        None,
    )
    g20 = views["G20"]["support_30d"]
    assert (g20["inbound_contacts"], g20["agent_seconds"], g20["sla_met"], g20["sla_breached"]) == (
        2,
        300.0,
        1,
        1,
    )
    g22 = views["G22"]["support_30d"]
    assert (g22["tickets_created"], g22["reopened"]) == (0, 1)


def test_complete_output_is_the_reviewed_one(result: ReplayResult) -> None:
    expected = json.loads((GOLDEN / "expected_accounts.json").read_text())
    assert result.snapshot["accounts"] == expected
    assert result.accounts is not None
    assert dumps_accounts(result.accounts) == (GOLDEN / "expected_views.jsonl").read_text()
