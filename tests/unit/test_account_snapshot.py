"""The accounts section and the views V through replay: windows, "now", health, linking.

The numbers are worked out by hand in the comments (as_of 2026-11-30T00:00Z, "-3d" means
three days before it).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import emit
from streams.cli import main
from streams.domain.account_book import AccountBook
from streams.domain.account_health import SIGNALS, signals
from streams.domain.account_support import SupportSums, ticket_support
from streams.domain.account_thresholds import HealthThresholds
from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.instant import ceil_minute, format_rfc3339, parse_rfc3339
from streams.domain.policies import PolicySet, default_policies
from streams.domain.timeline import Arrival
from streams.replay import ReplayResult, replay_lines
from streams.simulator.simulation import SimulationConfig, generate, take
from tests.support.scratch import Scratch
from tests.unit.conftest import SIMPLE_POLICIES, policies_from

AS_OF = parse_rfc3339("2026-11-30T00:00:00Z")


def ago(days: float = 0, minutes: float = 0) -> str:
    return format_rfc3339(AS_OF - round((days * 1440 + minutes) * 60_000_000))


_n = iter(range(1_000_000))


def eid() -> str:
    return f"e{next(_n):06d}"


def replay(
    events: list[dict[str, Any]],
    policies: PolicySet | None = None,
    *,
    with_accounts: bool = False,
) -> ReplayResult:
    lines: Iterator[bytes] = iter(json.dumps(e).encode() for e in events)
    return replay_lines(lines, policies or default_policies(), AS_OF, with_accounts=with_accounts)


def crm() -> list[dict[str, Any]]:
    """Four accounts: A (customer, upsold), B (churned), C (new customer), D (lost lead)."""
    return [
        emit.lead_created("A", "inbound", segment="smb", manager="ann", occurred_at=ago(100)),
        emit.account_converted("A", 100, occurred_at=ago(40)),
        emit.mrr_changed("A", 150, "upsell", occurred_at=ago(20)),
        emit.account_touched("A", "email", duration_seconds=600, occurred_at=ago(3)),
        emit.account_converted("B", 200, segment="ent", occurred_at=ago(60)),
        emit.account_assigned("B", "bob", occurred_at=ago(60, -1)),
        emit.account_churned("B", reason="price", occurred_at=ago(10)),
        emit.lead_created("C", "outbound", segment="smb", manager="ann", occurred_at=ago(5)),
        emit.account_touched("C", "phone", occurred_at=ago(4)),
        emit.account_touched("C", "meeting", occurred_at=ago(2)),
        emit.account_converted("C", 50, occurred_at=ago(1)),
        emit.lead_created("D", "referral", segment="mid", manager="cid", occurred_at=ago(25)),
        emit.account_churned("D", occurred_at=ago(6)),
    ]


@pytest.fixture(scope="module")
def four() -> ReplayResult:
    return replay(crm())


def dist(
    count: int,
    mean: float | None,
    p50: float | None = None,
    p90: float | None = None,
    p99: float | None = None,
) -> dict[str, Any]:
    return {"count": count, "mean": mean, "p50": p50, "p90": p90, "p99": p99}


def test_seven_days(four: ReplayResult) -> None:
    a = four.snapshot["accounts"]["windows"]["7d"]["overall"]
    # C's lead, touches and conversion; D lost; A touched; A a customer (150) at -7d
    assert a == {
        "leads": 1,
        "conversions": 1,
        "won_back": 0,
        "leads_lost": 1,
        "acquisition": {"cohort_leads": 1, "converted": 1, "rate": 1.0},
        "touches": 3,
        "touch_seconds": 600.0,
        "conversions_per_touch": 1 / 3,
        "touches_to_convert": dist(1, 2.0, 2.0, 2.0, 2.0),
        "time_to_convert_seconds": dist(1, 345600.0, 345600.0, 345600.0, 345600.0),
        "conversions_by_last_touch": {"meeting": 1},
        "churned": 0,
        "churned_voluntary": 0,
        "churned_mrr": 0.0,
        "customers_at_start": 1,
        "churned_from_start": 0,
        "churn_rate": 0.0,
        "mrr_at_start": 150.0,
        "retained_mrr": 150.0,
        "net_revenue_retention": 1.0,
        "new_mrr": 50.0,
        "expansion_mrr": 0.0,
        "upsells": 0,
        "contraction_mrr": 0.0,
    }


def test_thirty_days(four: ReplayResult) -> None:
    w = four.snapshot["accounts"]["windows"]["30d"]
    a = w["overall"]
    # leads C and D (C converted); B churned (voluntary, 200); A (100) and B (200) customers
    # at -30d, B churned: rate 1/2; their MRR now 150 + 0 of 300; A's upsell +50
    assert (a["leads"], a["acquisition"]) == (2, {"cohort_leads": 2, "converted": 1, "rate": 0.5})
    assert (a["churned"], a["churned_voluntary"], a["churned_mrr"]) == (1, 1, 200.0)
    assert (a["customers_at_start"], a["churned_from_start"], a["churn_rate"]) == (2, 1, 0.5)
    assert (a["mrr_at_start"], a["retained_mrr"], a["net_revenue_retention"]) == (
        300.0,
        150.0,
        0.5,
    )
    assert (a["new_mrr"], a["expansion_mrr"], a["upsells"], a["contraction_mrr"]) == (
        50.0,
        50.0,
        1,
        0.0,
    )
    assert sorted(w["by_segment"]) == ["ent", "mid", "smb"]
    assert sorted(w["by_manager"]) == ["ann", "bob", "cid"]
    assert sorted(w["by_source"]) == ["direct", "inbound", "outbound", "referral"]
    ent = w["by_segment"]["ent"]  # B: its churn, and a customer at the start
    assert (ent["churned"], ent["customers_at_start"], ent["churn_rate"]) == (1, 1, 1.0)
    smb = w["by_segment"]["smb"]  # A at the start, not churned
    assert (smb["customers_at_start"], smb["churn_rate"], smb["net_revenue_retention"]) == (
        1,
        0.0,
        1.5,
    )
    assert w["by_source"]["referral"]["leads_lost"] == 1


def test_ninety_days(four: ReplayResult) -> None:
    a = four.snapshot["accounts"]["windows"]["90d"]["overall"]
    # conversions A (-40d: lead at -100d, no touch between: 0 touches, 60 days, last touch
    # none), B (no lead: no touches or time, none), C (2 touches, 4 days, meeting)
    assert (a["leads"], a["conversions"], a["leads_lost"]) == (2, 3, 1)
    assert a["touches_to_convert"] == dist(2, 1.0, 0.0, 2.0, 2.0)
    assert a["time_to_convert_seconds"] == dist(2, 2764800.0, 345600.0, 5184000.0, 5184000.0)
    assert a["conversions_by_last_touch"] == {"meeting": 1, "none": 2}
    assert (a["customers_at_start"], a["churn_rate"], a["net_revenue_retention"]) == (0, None, None)
    assert a["new_mrr"] == 350.0


def test_now(four: ReplayResult) -> None:
    now = four.snapshot["accounts"]["now"]
    # customers A (150) and C (50), both smb and ann; overall 30d churn rate 1/2
    assert now == {
        "customers": 2,
        "leads_open": 0,
        "mrr": 200.0,
        "arpa": 100.0,
        "clv": 200.0,
        "at_risk": 0,
        "at_risk_mrr": 0.0,
        "by_segment": {
            # smb's 30d churn rate is 0: no lifetime
            "smb": {
                "customers": 2,
                "mrr": 200.0,
                "arpa": 100.0,
                "clv": None,
                "at_risk": 0,
                "at_risk_mrr": 0.0,
            }
        },
        "by_manager": {
            "ann": {"customers": 2, "mrr": 200.0, "arpa": 100.0, "at_risk": 0, "at_risk_mrr": 0.0}
        },
    }
    assert four.snapshot["accounts"]["at_risk"] == []


def test_views_of_every_account(four: ReplayResult) -> None:
    assert four.accounts is not None
    rows = {v["account_id"]: v for v in four.accounts}
    assert list(rows) == ["A", "B", "C", "D"]
    assert [
        (v["stage"], v["segment"], v["manager"], v["source"], v["mrr"]) for v in rows.values()
    ] == [
        ("customer", "smb", "ann", "inbound", 150.0),
        ("churned", "ent", "bob", "direct", 0.0),
        ("customer", "smb", "ann", "outbound", 50.0),
        ("lost", "mid", "cid", "referral", 0.0),
    ]
    # B and D had no touch in 30 days; A and C did
    assert {a: v["signals"] for a, v in rows.items()} == {
        "A": [],
        "B": ["silent"],
        "C": [],
        "D": ["silent"],
    }
    assert rows["C"]["manager_touches_30d"] == 2


# -- health signals ------------------------------------------------------------------------------


def sums(**values: Any) -> SupportSums:
    support = SupportSums()
    for name, value in values.items():
        setattr(support, name, value)
    return support


@pytest.mark.parametrize(
    ("support", "touches", "contraction", "signal"),
    [
        (sums(nps=[6]), 1, False, "detractor"),
        (sums(csat=[2]), 1, False, "unhappy"),
        (sums(sla_breached=2), 1, False, "sla_breaches"),
        (sums(reopened=2), 1, False, "reopens"),
        (sums(), 0, False, "silent"),
        (sums(), 1, True, "contraction"),
    ],
)
def test_each_signal_on_at_its_threshold(
    support: SupportSums, touches: int, contraction: bool, signal: str
) -> None:
    assert signals(support, touches, contraction, HealthThresholds()) == (signal,)


@pytest.mark.parametrize(
    "support",
    [sums(nps=[7, 10]), sums(csat=[3, 5]), sums(sla_breached=1), sums(reopened=1), sums()],
)
def test_each_signal_off_below_its_threshold(support: SupportSums) -> None:
    assert signals(support, 1, False, HealthThresholds()) == ()


def test_thresholds_move_the_signals() -> None:
    support = sums(nps=[6], csat=[2], sla_breached=2, reopened=2)
    strict = HealthThresholds(detractor_nps=5, unhappy_csat=1, sla_breaches=3, reopens=3)
    assert signals(support, 1, False, strict) == ()
    assert signals(sums(nps=[0], csat=[1]), 0, True, HealthThresholds()) == (
        "detractor",
        "unhappy",
        "silent",
        "contraction",
    )
    assert SIGNALS[0] == "detractor"


def unhappy_ticket(ticket: str, account: str | None, start: float) -> list[dict[str, Any]]:
    """A ticket whose first reply (15m target) and resolution (2h) breach, reopened twice,
    with an NPS of 5 and a CSAT of 2 (SIMPLE_POLICIES)."""
    at = lambda minutes: ago(start, -minutes)  # noqa: E731
    return [
        emit.ticket_created(ticket, "email", "high", "core", account_id=account, occurred_at=at(0)),
        emit.contact_inbound(ticket, "email", occurred_at=at(1)),
        emit.contact_inbound(ticket, "email", public=False, occurred_at=at(2)),
        emit.contact_outbound(ticket, "ag", "phone", duration_seconds=90, occurred_at=at(20)),
        emit.contact_outbound(ticket, "ag", "email", public=False, occurred_at=at(21)),
        emit.status_changed(ticket, "solved", occurred_at=at(180)),
        emit.status_changed(ticket, "open", occurred_at=at(181)),
        emit.status_changed(ticket, "solved", occurred_at=at(182)),
        emit.status_changed(ticket, "open", occurred_at=at(183)),
        emit.status_changed(ticket, "closed", occurred_at=at(184)),
        emit.contact_inbound(ticket, "email", occurred_at=at(185)),  # after closed: refused
        emit.nps(ticket, 5, occurred_at=at(200)),
        emit.csat(ticket, 2, occurred_at=at(201)),
    ]


def test_support_links_tickets_and_at_risk() -> None:
    events = [
        emit.account_converted("H", 10, segment="smb", occurred_at=ago(60)),
        emit.account_converted("M", 500, occurred_at=ago(60)),
        emit.mrr_changed("M", 400, "downgrade", occurred_at=ago(2)),
        *unhappy_ticket("T1", "H", 5),
        *unhappy_ticket("T2", "H", 40),  # outside the 30 days
        # no account on the ticket: its NPS counts for the survey's own account
        emit.ticket_created("T3", "chat", "low", "core", occurred_at=ago(3)),
        emit.nps("T3", 2, account_id="M", occurred_at=ago(2)),
        # an unknown account: only its support
        emit.ticket_created("T4", "chat", "low", "core", account_id="Z", occurred_at=ago(1)),
    ]
    result = replay(events, policies_from(SIMPLE_POLICIES))
    assert result.accounts is not None
    rows = {v["account_id"]: v for v in result.accounts}
    assert list(rows) == ["H", "M", "Z"]
    h = rows["H"]
    assert h["support_30d"] == {
        "tickets_created": 1,
        "inbound_contacts": 1,
        "agent_touches": 1,
        "agent_seconds": 90.0,
        "reopened": 2,
        "sla_met": 0,
        "sla_breached": 2,
        "csat": {"responses": 1, "satisfied": 0, "percent": 0.0},
        "nps": {"responses": 1, "promoters": 0, "passives": 0, "detractors": 1, "score": -100.0},
    }
    assert h["signals"] == ["detractor", "unhappy", "sla_breaches", "reopens", "silent"]
    assert h["at_risk"] is True
    m = rows["M"]  # detractor (own account_id), silent, contraction
    assert (m["signals"], m["at_risk"]) == (["detractor", "silent", "contraction"], True)
    z = rows["Z"]
    assert (z["stage"], z["source"], z["mrr"], z["at_risk"]) == (None, None, 0.0, False)
    assert z["support_30d"]["tickets_created"] == 1
    section = result.snapshot["accounts"]
    assert [r["account_id"] for r in section["at_risk"]] == ["M", "H"]  # by MRR descending
    assert section["at_risk"][1] == {
        "account_id": "H",
        "mrr": 10.0,
        "segment": "smb",
        "manager": None,
        "signals": ["detractor", "unhappy", "sla_breaches", "reopens", "silent"],
    }
    assert section["now"]["at_risk"] == 2
    assert section["now"]["by_segment"]["smb"]["at_risk"] == 1


def test_at_risk_mrr_counts_every_at_risk_customer_beyond_the_listed_fifty() -> None:
    """60 silent customers with a contraction (at risk) in ``ent`` and one in ``smb``: the
    list stops at 50, the per-segment and per-manager at-risk MRR sum all of them."""
    events: list[dict[str, Any]] = []
    for n in range(61):
        account, segment = f"R{n:02d}", "ent" if n < 60 else "smb"
        events += [
            emit.lead_created(
                account, "inbound", segment=segment, manager="am", occurred_at=ago(50)
            ),
            emit.account_converted(account, 100 + n, occurred_at=ago(40)),
            emit.mrr_changed(account, 90 + n, "downgrade", occurred_at=ago(10)),
        ]
    section = replay(events).snapshot["accounts"]
    now = section["now"]
    ent = sum(90 + n for n in range(60))
    assert len(section["at_risk"]) == 50
    assert (now["at_risk"], now["at_risk_mrr"]) == (61, ent + 150.0)
    assert now["by_segment"]["ent"]["at_risk_mrr"] == ent
    assert now["by_segment"]["smb"]["at_risk_mrr"] == 150.0
    assert now["by_manager"]["am"]["at_risk_mrr"] == ent + 150.0


def test_at_risk_needs_a_customer_and_the_setting() -> None:
    events = [emit.lead_created("L", "event", occurred_at=ago(3)), *unhappy_ticket("T1", "L", 2)]
    result = replay(events, policies_from(SIMPLE_POLICIES))
    assert result.accounts is not None
    assert (result.accounts[0]["stage"], result.accounts[0]["at_risk"]) == ("lead", False)
    assert result.accounts[0]["signals"]  # a lead still shows its signals
    lenient = policies_from(SIMPLE_POLICIES + "accounts:\n  health: {at_risk_signals: 6}\n")
    customer = [emit.account_converted("L", 1, occurred_at=ago(3)), *unhappy_ticket("T1", "L", 2)]
    assert replay(customer, lenient).snapshot["accounts"]["at_risk"] == []
    assert replay(customer, policies_from(SIMPLE_POLICIES)).snapshot["accounts"]["at_risk"]


# -- replay: when the section appears, order, duplicates, the CLI -----------------------------


def test_the_section_appears_with_account_events_or_when_asked() -> None:
    tickets = unhappy_ticket("T1", "H", 2)
    plain = replay(tickets)
    assert "accounts" not in plain.snapshot and plain.accounts is None
    asked = replay(tickets, with_accounts=True)
    assert list(asked.snapshot) == ["as_of", "windows", "backlog", "sla_now", "accounts"]
    assert asked.accounts is not None and [v["account_id"] for v in asked.accounts] == ["H"]
    assert {k: v for k, v in asked.snapshot.items() if k != "accounts"} == plain.snapshot
    with_crm = replay([*tickets, emit.account_touched("X", "ads", occurred_at=ago(1))])
    assert "accounts" in with_crm.snapshot


@settings(max_examples=50, deadline=None)
@given(st.randoms(use_true_random=False))
def test_any_order_and_duplicates_give_the_same_accounts(rng: random.Random) -> None:
    events = [*crm(), *unhappy_ticket("T1", "A", 5), *unhappy_ticket("T2", "B", 20)]
    events.append(emit.nps("T1", 9, account_id="B", occurred_at=ago(4)))
    expected = replay(events, policies_from(SIMPLE_POLICIES))
    # (a copy of the contact after the close could be refused rather than a duplicate)
    copies = rng.sample([e for e in events if not e["type"].startswith("contact.")], k=5)
    shuffled = events + copies
    rng.shuffle(shuffled)
    again = replay(shuffled, policies_from(SIMPLE_POLICIES))
    assert again.snapshot == expected.snapshot
    assert again.accounts == expected.accounts
    assert again.counts["duplicate"] == 5


def test_cli_writes_the_views(tmp_path: Any) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in crm()))
    out, views = tmp_path / "snapshot.json", tmp_path / "accounts.jsonl"
    at = format_rfc3339(AS_OF)
    outcome = CliRunner().invoke(
        main, ["replay", str(log), "--at", at, "--out", str(out), "--accounts", str(views)]
    )
    assert outcome.exit_code == 0, outcome.output
    lines = views.read_text().splitlines()
    assert [json.loads(line)["account_id"] for line in lines] == ["A", "B", "C", "D"]
    assert json.loads(out.read_text())["accounts"] == replay(crm()).snapshot["accounts"]
    assert "4 accounts" in outcome.output


def test_touch_channel_of_a_lost_day_is_not_a_window_fact() -> None:
    result = replay([emit.account_touched("A", "ads", occurred_at=ago(8))])
    assert result.snapshot["accounts"]["windows"]["7d"]["overall"]["touches"] == 0
    assert result.counts["anomalies"] == 1  # a touch before the account started
    assert timedelta(days=7)  # the 7d window is [-7d, as_of)


def test_closed_tickets_kept_as_records_give_the_same_support() -> None:
    """Replay keeps closed tickets as records and reads them again at the end; evaluating
    every timeline from scratch gives the same views (the simulator's accounts and NPS
    answers)."""
    config = SimulationConfig(seed=7, events_per_second=0.05, late_share=0.1)
    start = parse_rfc3339("2026-11-02T08:00:00Z")
    lines = [e.line().encode() for e in take(generate(config, start), count=4000)]
    policies = default_policies()
    replayed = replay_lines(iter(lines), policies, with_accounts=True)
    scratch, latest = Scratch(policies), 0
    for line in lines:
        event = decode_event(line)
        if not isinstance(event, InvalidEvent) and scratch.ingest(event) is Arrival.ACCEPTED:
            latest = max(latest, event.occurred_at)
    report = scratch.accounts(AccountBook(), ceil_minute(latest))
    assert replayed.accounts == report.views
    assert replayed.snapshot["accounts"] == report.section
    assert sum(v["support_30d"]["tickets_created"] for v in report.views) > 100


def test_support_accepts_the_surveys_the_ticket_engine_accepts() -> None:
    """``ticket_support`` applies the ticket engine's acceptance rule itself (surveys and
    contacts are no ticket facts it could take): its CSAT and NPS answers are exactly the
    view's CSAT and NPS facts, for every simulated ticket with an account."""
    config = SimulationConfig(seed=11, events_per_second=0.05, late_share=0.3)
    start = parse_rfc3339("2026-11-02T08:00:00Z")
    scratch = Scratch(default_policies())
    for emitted in take(generate(config, start), count=6000):
        event = decode_event(emitted.line())
        if not isinstance(event, InvalidEvent):
            scratch.ingest(event)
    now = start + 40 * 24 * 60 * 60_000_000
    checked = 0
    for ticket_id, view in scratch.views(now).items():
        events = scratch.timelines[ticket_id].events
        created = next((e for e in events if e.type.value == "ticket.created"), None)
        if created is None or created.account_id is None:
            continue
        support = ticket_support(events, view)
        surveys = sorted(
            (f.time, f.kind.value, f.value) for f in support if f.kind.value in ("csat", "nps")
        )
        facts = sorted(
            (f.time, f.kind.value, f.value) for f in view.facts if f.kind.value in ("csat", "nps")
        )
        assert surveys == facts
        checked += bool(facts)
    assert checked > 20
