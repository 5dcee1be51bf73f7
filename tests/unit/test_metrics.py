"""The worker's /metrics text: fact histograms and counters, pipeline health, snapshot gauges.

Every assertion reads the exposition (``render`` parsed by prometheus_client's own parser),
as Prometheus would.
"""

from __future__ import annotations

import copy
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from streams.domain.account_thresholds import AtRiskMrrLimits
from streams.domain.facts import Fact, FactKind, SlaTarget, diff_facts
from streams.domain.instant import MICROS_PER_SECOND, parse_rfc3339
from streams.domain.policies import load_policies
from streams.domain.snapshot import Backlog, SlaNow, Snapshot, build_snapshot
from streams.domain.windows import WINDOWS
from streams.errors import ConfigError
from streams.live.metrics import Metrics
from streams.live.metrics.definitions import ALLOWED_LABELS, METRICS
from streams.live.metrics.exposition import render
from streams.live.settings import WorkerSettings
from streams.replay import replay_lines

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
T0 = parse_rfc3339("2026-11-02T10:00:00Z")
ACCOUNTS_AS_OF = parse_rfc3339("2026-12-01T00:00:00Z")
SECOND = MICROS_PER_SECOND
FACT_DIMS = {"team": "billing", "channel": "email", "priority": "high"}
# the rows a fact of FACT_DIMS counts in: "" means "not split by this dimension"
OVERALL = {"team": "", "channel": "", "priority": ""}
TEAM = {**OVERALL, "team": "billing"}
CHANNEL = {**OVERALL, "channel": "email"}
PRIORITY = {**OVERALL, "priority": "high"}

DURATIONS = (
    FactKind.FIRST_REPLY,
    FactKind.REPLY,
    FactKind.RESOLUTION,
    FactKind.FULL_RESOLUTION,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: Metrics) -> Samples:
    text = render(metrics.registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def fact(kind: FactKind, value: int = 0, at: int = T0, **kw: Any) -> Fact:
    fields: dict[str, Any] = {**FACT_DIMS, **kw}
    return Fact(at, kind, value, **fields)


def golden_snapshot() -> dict[str, Any]:
    return json.loads((GOLDEN / "expected_snapshot.json").read_text())  # type: ignore[no-any-return]


def golden() -> Snapshot:
    return Snapshot.from_json(golden_snapshot())


def golden_accounts_section() -> dict[str, Any]:
    """The accounts section of the golden accounts log, replayed."""
    accounts = GOLDEN / "accounts"
    with (accounts / "events.jsonl").open("rb") as handle:
        result = replay_lines(
            iter(handle), load_policies(accounts / "policies.yaml"), ACCOUNTS_AS_OF
        )
    section: dict[str, Any] = result.snapshot["accounts"]
    return section


# --- facts ---------------------------------------------------------------------------------


def test_duration_facts_fill_histograms_in_seconds_per_dimension() -> None:
    metrics = Metrics()
    metrics.observe_facts(
        [
            fact(FactKind.FIRST_REPLY, 600 * SECOND),
            fact(FactKind.FIRST_REPLY, 7200 * SECOND),
            fact(FactKind.FIRST_REPLY, 30 * SECOND, team="tech"),
            fact(FactKind.FULL_RESOLUTION, 4 * 86400 * SECOND),
        ],
        now=T0,
    )
    s = scrape(metrics)
    name = "ticketpulse_first_reply_seconds"
    assert value(s, f"{name}_count", **TEAM) == 2
    assert value(s, f"{name}_sum", **TEAM) == 7800
    assert value(s, f"{name}_bucket", le="300.0", **TEAM) == 0
    assert value(s, f"{name}_bucket", le="900.0", **TEAM) == 1
    assert value(s, f"{name}_bucket", le="3600.0", **TEAM) == 1
    assert value(s, f"{name}_bucket", le="7200.0", **TEAM) == 2  # a bound is inclusive
    assert value(s, f"{name}_bucket", le="+Inf", **TEAM) == 2
    tech = {**OVERALL, "team": "tech"}
    assert value(s, f"{name}_bucket", le="60.0", **tech) == 1
    assert value(s, f"{name}_count", **tech) == 1
    for row in (OVERALL, CHANNEL, PRIORITY):
        assert value(s, f"{name}_count", **row) == 3
        assert value(s, f"{name}_sum", **row) == 7830
        assert value(s, f"{name}_bucket", le="60.0", **row) == 1
    assert value(s, f"{name}_count", **{**OVERALL, "channel": "chat"}) is None
    full = "ticketpulse_full_resolution_seconds"
    assert value(s, f"{full}_bucket", le="259200.0", **TEAM) == 0
    assert value(s, f"{full}_bucket", le="604800.0", **TEAM) == 1
    assert value(s, f"{full}_bucket", le="2.592e+06", **TEAM) == 1
    assert value(s, f"{full}_sum", **TEAM) == 4 * 86400


def test_calls_fill_the_handle_time_histogram_and_no_counter() -> None:
    metrics = Metrics()
    metrics.observe_facts(
        [
            fact(FactKind.HANDLE, 312_500_000, agent="ann"),
            fact(FactKind.HANDLE, 0, agent="ann"),
            fact(FactKind.HANDLE, 2 * 3600 * SECOND + 1, agent="bob"),
        ],
        now=T0,
    )
    s = scrape(metrics)
    name = "ticketpulse_handle_seconds"
    for row in (OVERALL, TEAM, CHANNEL, PRIORITY):
        assert value(s, f"{name}_count", **row) == 3
        assert value(s, f"{name}_sum", **row) == 312.5 + 7200.000001
        assert value(s, f"{name}_bucket", le="30.0", **row) == 1  # the call of 0 s
        assert value(s, f"{name}_bucket", le="300.0", **row) == 1
        assert value(s, f"{name}_bucket", le="600.0", **row) == 2
        assert value(s, f"{name}_bucket", le="7200.0", **row) == 2
        assert value(s, f"{name}_bucket", le="+Inf", **row) == 3
    assert all(v == 0 for (n, _), v in s.items() if n.endswith("_total"))  # no plain counter


def test_first_solves_count_touches_one_and_zero_touch() -> None:
    metrics = Metrics()
    for touches in (0, 1, 4):
        metrics.observe_facts(
            [fact(FactKind.RESOLUTION, 3600 * SECOND), fact(FactKind.TOUCHES_TO_CLOSE, touches)],
            now=T0,
        )
    s = scrape(metrics)
    assert value(s, "ticketpulse_tickets_solved_total", **TEAM) == 3
    assert value(s, "ticketpulse_zero_touch_tickets_total", **TEAM) == 1
    assert value(s, "ticketpulse_one_touch_tickets_total", **TEAM) == 1
    hist = "ticketpulse_touches_to_close"
    assert value(s, f"{hist}_bucket", le="0.0", **TEAM) == 1
    assert value(s, f"{hist}_bucket", le="1.0", **TEAM) == 2
    assert value(s, f"{hist}_bucket", le="3.0", **TEAM) == 2
    assert value(s, f"{hist}_bucket", le="5.0", **TEAM) == 3
    assert value(s, f"{hist}_sum", **TEAM) == 5
    assert value(s, "ticketpulse_resolution_seconds_count", **TEAM) == 3


def test_survey_facts_split_by_the_spec_thresholds() -> None:
    metrics = Metrics()
    metrics.observe_facts([fact(FactKind.CSAT, score) for score in (1, 3, 4, 5)], now=T0)
    metrics.observe_facts([fact(FactKind.NPS, score) for score in (0, 6, 7, 8, 9, 10, 10)], now=T0)
    s = scrape(metrics)
    for row in (OVERALL, TEAM):
        assert value(s, "ticketpulse_csat_responses_total", **row) == 4
        assert value(s, "ticketpulse_csat_satisfied_total", **row) == 2
        assert value(s, "ticketpulse_nps_responses_total", **row) == 7
        assert value(s, "ticketpulse_nps_promoters_total", **row) == 3
        assert value(s, "ticketpulse_nps_passives_total", **row) == 2
        assert value(s, "ticketpulse_nps_detractors_total", **row) == 2


def test_created_and_reopened_count_in_each_dimension_row() -> None:
    metrics = Metrics()
    metrics.observe_facts(
        [fact(FactKind.CREATED), fact(FactKind.CREATED, channel="chat"), fact(FactKind.REOPEN)],
        now=T0,
    )
    s = scrape(metrics)
    chat = {**OVERALL, "channel": "chat"}
    created, reopened = "ticketpulse_tickets_created_total", "ticketpulse_tickets_reopened_total"
    assert value(s, created, **CHANNEL) == 1
    assert value(s, created, **chat) == 1
    for row in (OVERALL, TEAM, PRIORITY):
        assert value(s, created, **row) == 2
        assert value(s, reopened, **row) == 1
    assert value(s, reopened, **CHANNEL) == 1
    assert value(s, reopened, **chat) == 0  # pre-created with the row


def test_every_dimension_row_adds_up_to_the_overall_row() -> None:
    rng = random.Random(3)
    scores = {FactKind.CSAT: (1, 5), FactKind.NPS: (0, 10)}
    facts = []
    for _ in range(500):
        kind = rng.choice(list(FactKind))
        target = rng.choice(list(SlaTarget)) if kind.value.startswith("sla") else None
        low, high = scores.get(kind, (0, 30))
        facts.append(
            fact(
                kind,
                rng.randrange(10**11) if kind in DURATIONS else rng.randint(low, high),
                team=rng.choice(["a", "b", "c"]),
                channel=rng.choice(["email", "chat"]),
                priority=rng.choice(["low", "high", "urgent"]),
                target=target,
            )
        )
    metrics = Metrics()
    metrics.observe_facts(facts, now=T0)
    totals: dict[tuple[str, str], dict[frozenset[tuple[str, str]], float]] = {}
    for (name, labels), v in scrape(metrics).items():
        if not name.startswith("ticketpulse_") or "team" not in dict(labels):
            continue
        split = [k for k in ("team", "channel", "priority") if dict(labels)[k]]
        assert len(split) <= 1, labels
        rest = frozenset((k, x) for k, x in labels if k not in ("team", "channel", "priority"))
        row_kind = split[0] if split else "overall"
        row = totals.setdefault((name, row_kind), {})
        row[rest] = row.get(rest, 0.0) + v
    names = {name for name, _ in totals}
    assert len(names) > 20
    for name in names:
        overall = totals[name, "overall"]
        for dim in ("team", "channel", "priority"):
            assert totals[name, dim] == pytest.approx(overall), (name, dim)
    assert sum(totals["ticketpulse_tickets_created_total", "overall"].values()) == sum(
        1 for f in facts if f.kind is FactKind.CREATED
    )


def test_sla_outcomes_per_target_and_latest_breach_time() -> None:
    metrics = Metrics()
    first, late = T0 + 3600 * SECOND, T0 + 600 * SECOND
    metrics.observe_facts(
        [
            fact(FactKind.SLA_MET, target=SlaTarget.FIRST_REPLY),
            fact(FactKind.SLA_BREACHED, at=first, target=SlaTarget.FIRST_REPLY),
            fact(FactKind.SLA_BREACHED, at=T0, target=SlaTarget.RESOLUTION),
        ],
        now=T0,
    )
    # a breach that arrives late, with an earlier deadline, does not move the time back
    metrics.observe_facts(
        [fact(FactKind.SLA_BREACHED, at=late, target=SlaTarget.FIRST_REPLY)], now=T0
    )
    s = scrape(metrics)
    met, breached = "ticketpulse_sla_met_total", "ticketpulse_sla_breached_total"
    assert value(s, met, target="first_reply", **TEAM) == 1
    assert value(s, breached, target="first_reply", **TEAM) == 2
    assert value(s, breached, target="resolution", **TEAM) == 1
    # pre-created with the row, so that breach ratios start from 0, not from nothing
    assert value(s, breached, target="next_reply", **TEAM) == 0
    assert value(s, met, target="resolution", **TEAM) == 0
    last = "ticketpulse_last_breach_timestamp_seconds"
    assert value(s, last, target="first_reply") == first / SECOND
    assert value(s, last, target="resolution") == T0 / SECOND
    assert value(s, last, target="next_reply") is None


def test_only_sla_outcomes_recent_at_now_count_in_the_recent_counters() -> None:
    """A backfill's old breaches count on the boards' counters, not in the alerts' ones."""
    metrics = Metrics(recent_seconds=900)
    now = T0 + 30 * 86400 * SECOND  # a month after the backfilled events
    fr, res = SlaTarget.FIRST_REPLY, SlaTarget.RESOLUTION
    metrics.observe_facts(
        [
            fact(FactKind.SLA_BREACHED, at=T0, target=fr),  # a month old: backfill
            fact(FactKind.SLA_MET, at=T0, target=fr),
            fact(FactKind.SLA_BREACHED, at=now - 901 * SECOND, target=fr),  # just too old
            fact(FactKind.SLA_BREACHED, at=now - 900 * SECOND, target=fr),  # just recent
            fact(FactKind.SLA_BREACHED, at=now - 5 * SECOND, target=res),
            fact(FactKind.SLA_MET, at=now, target=res),
            fact(FactKind.CREATED, at=now),
        ],
        now=now,
    )
    s = scrape(metrics)
    total, recent = "ticketpulse_sla_breached_total", "ticketpulse_sla_breached_recent_total"
    met_recent = "ticketpulse_sla_met_recent_total"
    for row in (OVERALL, TEAM, CHANNEL, PRIORITY):
        assert value(s, total, target="first_reply", **row) == 3
        assert value(s, recent, target="first_reply", **row) == 1
        assert value(s, recent, target="resolution", **row) == 1
        assert value(s, met_recent, target="first_reply", **row) == 0
        assert value(s, met_recent, target="resolution", **row) == 1
        # exported at 0 with the row, so that an alert's increase() sees the first one
        assert value(s, recent, target="next_reply", **row) == 0


def test_the_recent_horizon_is_a_positive_setting() -> None:
    with pytest.raises(ConfigError, match=r"TICKETPULSE_RECENT_SLA_SECONDS.*positive"):
        WorkerSettings.from_env({"TICKETPULSE_RECENT_SLA_SECONDS": "0"})
    settings = WorkerSettings.from_env({"TICKETPULSE_RECENT_SLA_SECONDS": "60"})
    metrics = Metrics(recent_seconds=settings.recent_sla_seconds)
    breach = [fact(FactKind.SLA_BREACHED, at=T0 - 61 * SECOND, target=SlaTarget.FIRST_REPLY)]
    metrics.observe_facts(breach, now=T0)
    s = scrape(metrics)
    assert value(s, "ticketpulse_sla_breached_recent_total", target="first_reply", **TEAM) == 0
    assert WorkerSettings().recent_sla_seconds == 900


def test_counters_keep_facts_as_first_seen_after_a_retraction() -> None:
    metrics = Metrics()
    old = [fact(FactKind.FIRST_REPLY, 600 * SECOND)]
    new = [fact(FactKind.FIRST_REPLY, 300 * SECOND, at=T0 - 300 * SECOND)]
    metrics.observe_facts(diff_facts([], old).added, now=T0)
    diff = diff_facts(old, new)
    assert diff.retracted == tuple(old)
    metrics.observe_facts(diff.added, now=T0)
    s = scrape(metrics)
    assert value(s, "ticketpulse_first_reply_seconds_count", **TEAM) == 2
    assert value(s, "ticketpulse_first_reply_seconds_sum", **TEAM) == 900


def test_agent_reply_histogram_only_with_agent_labels() -> None:
    reply = fact(FactKind.REPLY, 120 * SECOND, agent="ann")
    without, with_agents = Metrics(), Metrics(agent_labels=True)
    for metrics in (without, with_agents):
        metrics.observe_facts([reply, fact(FactKind.REPLY, 60 * SECOND)], now=T0)
    off, on = scrape(without), scrape(with_agents)
    assert not any("agent" in dict(labels) for _, labels in off)
    assert value(on, "ticketpulse_agent_reply_seconds_count", agent="ann") == 1
    assert value(on, "ticketpulse_agent_reply_seconds_sum", agent="ann") == 120
    assert {dict(labels).get("agent") for _, labels in on} == {None, "ann"}
    assert value(off, "ticketpulse_reply_seconds_count", **TEAM) == 2


# --- pipeline health -----------------------------------------------------------------------


def test_events_by_topic_type_and_outcome_and_garbage_types_fold_into_invalid() -> None:
    metrics = Metrics()
    metrics.count_events("support.tickets", "ticket.created", "accepted", 3)
    metrics.count_events("support.tickets", "ticket.created", "duplicate")
    metrics.count_events("support.tickets", "ticket.creatd", "invalid")
    metrics.count_events("support.tickets", "x" * 40, "invalid", 2)
    metrics.count_deadletters("support.tickets", 3)
    s = scrape(metrics)
    events = "ticketpulse_events_total"
    tickets = {"topic": "support.tickets"}
    assert value(s, events, type="ticket.created", outcome="accepted", **tickets) == 3
    assert value(s, events, type="ticket.created", outcome="duplicate", **tickets) == 1
    assert value(s, events, type="invalid", outcome="invalid", **tickets) == 3
    types = {dict(labels)["type"] for name, labels in s if name == events}
    assert types == {"ticket.created", "invalid"}
    assert value(s, "ticketpulse_deadletter_total", topic="support.tickets") == 3


def test_an_unknown_outcome_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="outcome"):
        Metrics().count_events("support.tickets", "ticket.created", "dropped")


def test_missed_offsets_exist_at_zero_for_each_input_topic_before_any_gap() -> None:
    metrics = Metrics()
    metrics.expect_topics(["support.tickets", "support.surveys"])
    name = "ticketpulse_missed_offsets_total"
    assert value(scrape(metrics), name, topic="support.tickets") == 0
    metrics.count_missed_offsets("support.surveys", 3)
    s = scrape(metrics)
    assert value(s, name, topic="support.surveys") == 3
    assert value(s, name, topic="support.tickets") == 0


def test_missed_offsets_recorded_follow_redis_and_leave_with_the_partition() -> None:
    metrics = Metrics()
    name = "ticketpulse_missed_offsets_recorded"
    metrics.set_missed_offsets_recorded("support.tickets", 3, 4)  # read from Redis
    metrics.add_missed_offsets_recorded("support.tickets", 3, 2)  # a batch recorded more
    metrics.set_missed_offsets_recorded("support.tickets", 1, 0)
    s = scrape(metrics)
    assert value(s, name, topic="support.tickets", partition="3") == 6
    assert value(s, name, topic="support.tickets", partition="1") == 0
    metrics.forget_partition(3)  # revoked: its new owner exports it
    assert value(scrape(metrics), name, topic="support.tickets", partition="3") is None
    metrics.set_missed_offsets_recorded("support.tickets", 3, 6)  # assigned back
    assert value(scrape(metrics), name, topic="support.tickets", partition="3") == 6


def test_worker_gauges_batches_and_revoked_partitions() -> None:
    metrics = Metrics()
    assert value(scrape(metrics), "ticketpulse_worker_up") == 0
    metrics.set_up(True)
    metrics.set_event_time_lag(2.5)
    metrics.observe_batch(0.02, 120)
    metrics.observe_batch(0.3, 5)
    for partition in (0, 1):
        metrics.set_committed_offset("support.tickets", partition, 100 + partition)
        metrics.set_consumer_lag("support.tickets", partition, 7 * partition)
    metrics.set_committed_offset("support.contacts", 0, 9)
    metrics.forget_partition(0)
    s = scrape(metrics)
    assert value(s, "ticketpulse_worker_up") == 1
    assert value(s, "ticketpulse_event_time_lag_seconds") == 2.5
    assert value(s, "ticketpulse_batch_apply_seconds_count") == 2
    assert value(s, "ticketpulse_batch_apply_seconds_bucket", le="0.025") == 1
    assert value(s, "ticketpulse_batch_size_messages_sum") == 125
    assert value(s, "ticketpulse_batch_size_messages_bucket", le="10.0") == 1
    offsets = {
        (dict(labels)["topic"], dict(labels)["partition"]): v
        for (name, labels), v in s.items()
        if name in ("ticketpulse_committed_offset", "ticketpulse_consumer_lag_messages")
    }
    assert set(offsets) == {("support.tickets", "1")}
    assert value(s, "ticketpulse_committed_offset", topic="support.tickets", partition="1") == 101
    assert (
        value(s, "ticketpulse_consumer_lag_messages", topic="support.tickets", partition="1") == 7
    )


def test_each_instance_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.set_up(True)
    assert value(scrape(second), "ticketpulse_worker_up") == 0
    shared = CollectorRegistry()
    assert Metrics(shared).registry is shared


# --- snapshot mirror -----------------------------------------------------------------------

# K key -> (gauge, path in K); distributions below. The names are the contract of docs/metrics.md.
WINDOW_VALUES = {
    "ticketpulse_window_tickets_created": ("tickets_created",),
    "ticketpulse_window_tickets_solved": ("tickets_solved",),
    "ticketpulse_window_tickets_reopened": ("reopened",),
    "ticketpulse_window_one_touch_tickets": ("one_touch",),
    "ticketpulse_window_zero_touch_tickets": ("zero_touch",),
    "ticketpulse_window_fcr_ratio": ("fcr_rate",),
    "ticketpulse_window_csat_responses": ("csat", "responses"),
    "ticketpulse_window_csat_satisfied": ("csat", "satisfied"),
    "ticketpulse_window_csat_percent": ("csat", "percent"),
    "ticketpulse_window_nps_responses": ("nps", "responses"),
    "ticketpulse_window_nps_promoters": ("nps", "promoters"),
    "ticketpulse_window_nps_passives": ("nps", "passives"),
    "ticketpulse_window_nps_detractors": ("nps", "detractors"),
    "ticketpulse_window_nps_score": ("nps", "score"),
}
DISTRIBUTIONS = {
    "first_reply_seconds": "first_reply",
    "reply_seconds": "reply",
    "resolution_seconds": "resolution",
    "full_resolution_seconds": "full_resolution",
    "touches_to_close": "touches_to_close",
    "handle_seconds": "handle",
}
SLA = {"met": "sla_met", "breached": "sla_breached", "compliance": "sla_compliance_ratio"}


def read_kpis(s: Samples, row: dict[str, str]) -> dict[str, Any]:
    """The spec's K rebuilt from the gauges of one row; an absent sample reads as null."""
    kpis: dict[str, Any] = {}
    for key, stem in DISTRIBUTIONS.items():
        stats = {
            stat: value(s, f"ticketpulse_window_{key}", stat=stat, **row)
            for stat in ("mean", "p50", "p90", "p99")
        }
        count = value(s, f"ticketpulse_window_{stem}_samples", **row)
        kpis[key] = {"count": count, **stats}
    for name, path in WINDOW_VALUES.items():
        if len(path) == 1:
            kpis[path[0]] = value(s, name, **row)
        else:
            kpis.setdefault(path[0], {})[path[1]] = value(s, name, **row)
    kpis["sla"] = {
        target.value: {
            key: value(s, f"ticketpulse_window_{name}", target=target.value, **row)
            for key, name in SLA.items()
        }
        for target in SlaTarget
    }
    return kpis


def window_rows(s: Samples) -> set[frozenset[tuple[str, str]]]:
    rows = set()
    for name, labels in s:
        if name.startswith("ticketpulse_window_"):
            rows.add(frozenset((k, v) for k, v in labels if k not in ("stat", "target")))
    return rows


def expected_rows(snapshot: dict[str, Any], agent_labels: bool) -> dict[Any, dict[str, Any]]:
    kinds = ["team", "channel", "priority"] + (["agent"] if agent_labels else [])
    rows = {}
    for window, data in snapshot["windows"].items():
        blank = dict.fromkeys(kinds, "")
        rows[frozenset({**blank, "window": window}.items())] = data["overall"]
        for kind in kinds:
            for key, kpis in data[f"by_{kind}"].items():
                rows[frozenset({**blank, kind: key, "window": window}.items())] = kpis
    return rows


@pytest.mark.parametrize("agent_labels", [False, True])
def test_the_golden_snapshot_reads_back_from_the_gauges(agent_labels: bool) -> None:
    snapshot = golden_snapshot()
    metrics = Metrics(agent_labels=agent_labels)
    metrics.mirror_snapshot(Snapshot.from_json(snapshot))
    s = scrape(metrics)
    expected = expected_rows(snapshot, agent_labels)
    assert window_rows(s) == set(expected)
    for row, kpis in expected.items():
        assert read_kpis(s, dict(row)) == kpis, dict(row)


def test_one_selector_for_overall_and_one_per_dimension() -> None:
    snapshot = golden_snapshot()
    metrics = Metrics()
    metrics.mirror_snapshot(Snapshot.from_json(snapshot))
    s = scrape(metrics)
    name = "ticketpulse_window_first_reply_seconds"
    p90 = {
        (labels["team"], labels["channel"], labels["priority"]): v
        for (n, frozen), v in s.items()
        if n == name and (labels := dict(frozen))["window"] == "1h" and labels["stat"] == "p90"
    }
    window = snapshot["windows"]["1h"]
    # overall: every dimension label empty
    assert p90["", "", ""] == window["overall"]["first_reply_seconds"]["p90"]
    # per team: {team!=""}, and then the other dimensions are always empty
    per_team = {key: v for key, v in p90.items() if key[0]}
    assert per_team == {
        (team, "", ""): kpis["first_reply_seconds"]["p90"]
        for team, kpis in window["by_team"].items()
    }


def test_backlog_sla_now_and_as_of() -> None:
    snapshot = golden_snapshot()
    metrics = Metrics()
    metrics.mirror_snapshot(Snapshot.from_json(snapshot))
    s = scrape(metrics)
    backlog = snapshot["backlog"]
    name = "ticketpulse_backlog_tickets"
    assert value(s, name, status="", priority="", team="") == backlog["total"]
    for status, n in backlog["by_status"].items():
        assert value(s, name, status=status, priority="", team="") == n
    for priority, n in backlog["by_priority"].items():
        assert value(s, name, status="", priority=priority, team="") == n
    for team, n in backlog["by_team"].items():
        assert value(s, name, status="", priority="", team=team) == n
    series = sum(1 for n, _ in s if n == name)
    assert series == 1 + sum(len(backlog[k]) for k in ("by_status", "by_priority", "by_team"))
    for target in SlaTarget:
        at_risk = snapshot["sla_now"]["at_risk"][target.value]
        running = snapshot["sla_now"]["breached_running"][target.value]
        assert value(s, "ticketpulse_sla_at_risk_tickets", target=target.value) == at_risk
        assert value(s, "ticketpulse_sla_breached_running_tickets", target=target.value) == running
    as_of = parse_rfc3339(snapshot["as_of"]) / SECOND
    assert value(s, "ticketpulse_snapshot_timestamp_seconds") == as_of


def test_the_publish_time_is_exposed_beside_as_of_which_is_the_end_of_the_minute() -> None:
    """Snapshot age is now minus the publish time: now minus as_of (the end of the minute the
    snapshot was built in) is up to a minute below zero for a fresh snapshot."""
    metrics = Metrics()
    published = "ticketpulse_snapshot_published_timestamp_seconds"
    assert value(scrape(metrics), published) is None  # no snapshot yet: no age to show
    before = time.time()
    metrics.mirror_snapshot(golden())
    after = time.time()
    stamp = value(scrape(metrics), published)
    assert stamp is not None and before <= stamp <= after


def test_nulls_emit_no_sample_and_counts_stay_at_zero() -> None:
    windows: dict[str, Any] = {name: {} for name in WINDOWS}
    snapshot = build_snapshot(T0, windows, Backlog(), SlaNow())
    metrics = Metrics()
    metrics.mirror_snapshot(snapshot)
    s = scrape(metrics)
    overall = {"window": "1h", "team": "", "channel": "", "priority": ""}
    assert value(s, "ticketpulse_window_first_reply_samples", **overall) == 0
    assert value(s, "ticketpulse_window_first_reply_seconds", stat="p90", **overall) is None
    assert value(s, "ticketpulse_window_fcr_ratio", **overall) is None
    assert value(s, "ticketpulse_window_csat_percent", **overall) is None
    assert value(s, "ticketpulse_window_nps_score", **overall) is None
    assert value(s, "ticketpulse_window_csat_responses", **overall) == 0
    compliance = "ticketpulse_window_sla_compliance_ratio"
    assert value(s, compliance, target="first_reply", **overall) is None
    assert value(s, "ticketpulse_window_sla_met", target="first_reply", **overall) == 0
    assert not any(n == "ticketpulse_window_first_reply_seconds" for n, _ in s)
    assert value(s, "ticketpulse_backlog_tickets", status="", priority="", team="") == 0


def test_rows_that_leave_the_snapshot_disappear() -> None:
    snapshot = golden_snapshot()
    metrics = Metrics()
    metrics.mirror_snapshot(Snapshot.from_json(snapshot))
    before = scrape(metrics)
    later = copy.deepcopy(snapshot)
    for window in later["windows"].values():
        window["by_team"].pop("billing", None)
    del later["backlog"]["by_team"]["vip"]
    later["backlog"]["total"] -= 1
    later["windows"]["1h"]["overall"]["fcr_rate"] = None
    metrics.mirror_snapshot(Snapshot.from_json(later))
    after = scrape(metrics)

    def teams(s: Samples, prefix: str) -> set[str]:
        return {dict(labels)["team"] for name, labels in s if name.startswith(prefix)}

    window, backlog = "ticketpulse_window_", "ticketpulse_backlog_"
    assert {"billing", "tech"} <= teams(before, window)
    assert teams(after, window) == teams(before, window) - {"billing"}
    assert teams(after, backlog) == teams(before, backlog) - {"vip"}
    overall = {"window": "1h", "team": "", "channel": "", "priority": ""}
    assert value(before, "ticketpulse_window_fcr_ratio", **overall) is not None
    assert value(after, "ticketpulse_window_fcr_ratio", **overall) is None
    backlog_total = value(after, "ticketpulse_backlog_tickets", status="", priority="", team="")
    assert backlog_total == snapshot["backlog"]["total"] - 1


def broken_snapshots() -> list[tuple[str, Snapshot]]:
    """Snapshots the types allow but the gauges cannot show (a snapshot's JSON missing a
    part, or with a part of the wrong type, is refused earlier, by ``Snapshot.from_json``:
    tests/unit/test_snapshot.py and below)."""
    g = golden()
    unknown_window = Snapshot(g.as_of, {**g.windows, "2h": g.windows["1h"]}, g.backlog, g.sla_now)
    empty_team = golden_snapshot()
    empty_team["windows"]["7d"]["by_team"][""] = empty_team["windows"]["7d"]["overall"]
    return [
        ("unknown window", unknown_window),
        ("empty team", Snapshot.from_json(empty_team)),
    ]


def test_a_k_of_the_wrong_shape_is_refused_as_the_snapshot_is_read() -> None:
    wrong_type = golden_snapshot()
    wrong_type["windows"]["24h"]["overall"]["csat"] = 3
    with pytest.raises(TypeError):
        Snapshot.from_json(wrong_type)


@pytest.mark.parametrize(("why", "broken"), broken_snapshots())
def test_a_malformed_snapshot_raises_and_keeps_the_previous_values(
    why: str, broken: Snapshot
) -> None:
    metrics = Metrics()
    metrics.mirror_snapshot(golden())
    before = scrape(metrics)
    with pytest.raises(ValueError, match="malformed snapshot"):
        metrics.mirror_snapshot(broken)
    assert scrape(metrics) == before, why


# --- the label and naming contract ---------------------------------------------------------


def exercised(agent_labels: bool) -> Metrics:
    """A Metrics with a sample in every family it can expose."""
    metrics = Metrics(agent_labels=agent_labels, at_risk_mrr=AtRiskMrrLimits(1000))
    kinds = [k for k in FactKind if k not in (FactKind.SLA_MET, FactKind.SLA_BREACHED)]
    targets = [None] * len(kinds) + list(SlaTarget) * 2
    kinds += [FactKind.SLA_MET] * 3 + [FactKind.SLA_BREACHED] * 3
    values = {FactKind.CSAT: 5, FactKind.NPS: 9}
    metrics.observe_facts(
        [
            fact(kind, values.get(kind, 1), agent="ann", target=target)
            for kind, target in zip(kinds, targets, strict=True)
        ],
        now=T0,
    )
    metrics.count_events("support.surveys", "survey.nps", "anomaly")
    metrics.count_deadletters("support.surveys")
    metrics.set_event_time_lag(1.0)
    metrics.observe_batch(0.01, 10)
    metrics.set_committed_offset("support.surveys", 3, 1)
    metrics.set_consumer_lag("support.surveys", 3, 0)
    metrics.set_missed_offsets_recorded("support.surveys", 3, 0)
    metrics.count_seek_back()
    metrics.mirror_snapshot(golden().with_accounts(golden_accounts_section()))
    return metrics


@pytest.mark.parametrize("agent_labels", [False, True])
def test_label_names_are_bounded_and_never_identify_a_ticket(agent_labels: bool) -> None:
    s = scrape(exercised(agent_labels))
    names = {key for _, labels in s for key, _ in labels}
    allowed = ALLOWED_LABELS | {"le"} if agent_labels else ALLOWED_LABELS - {"agent"} | {"le"}
    assert names <= allowed
    assert ("agent" in names) is agent_labels
    identities = set()
    lines = (GOLDEN / "events.jsonl").read_text().splitlines()
    for line in [*lines, *(GOLDEN / "accounts" / "events.jsonl").read_text().splitlines()]:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # the golden log holds deliberately broken lines
        if isinstance(event, dict):
            identities |= {event.get(k) for k in ("ticket_id", "account_id", "requester_id")}
    assert len(identities) > 10
    label_values = {v for _, labels in s for _, v in labels}
    assert not (identities - {None}) & label_values


@pytest.mark.parametrize("agent_labels", [False, True])
def test_every_sample_has_exactly_the_declared_label_names(agent_labels: bool) -> None:
    declared = {}
    for definition in METRICS:
        names = set(definition.labels)
        if agent_labels and definition.name.startswith("ticketpulse_window_"):
            names.add("agent")
        declared[definition.name] = names
    for name, labels in scrape(exercised(agent_labels)):
        keys = {k for k, _ in labels}
        if name not in declared:
            base, _, suffix = name.rpartition("_")
            assert suffix in ("bucket", "sum", "count", "created"), name
            name = f"{base}_total" if f"{base}_total" in declared else base
            keys -= {"le"}
        assert keys == declared[name], name


def family_names(metrics: Metrics) -> set[str]:
    text = render(metrics.registry).decode()
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    exposed = set()
    for name, kind in families.items():
        base = name.removesuffix("_created")
        if name != base and families.get(base) in ("counter", "histogram"):
            continue  # prometheus_client's creation time of a counter or histogram
        exposed.add(f"{name}_total" if kind == "counter" else name)
    return exposed


def test_every_exposed_metric_is_declared_named_and_documented() -> None:
    declared = {d.name for d in METRICS}
    assert family_names(exercised(True)) == declared
    docs = (ROOT / "docs" / "metrics.md").read_text()
    assert [name for name in sorted(declared) if f"`{name}`" not in docs] == []
    for definition in METRICS:
        assert definition.name.startswith("ticketpulse_")
        assert set(definition.labels) <= ALLOWED_LABELS
        assert definition.name.endswith("_total") == (definition.kind == "counter")
