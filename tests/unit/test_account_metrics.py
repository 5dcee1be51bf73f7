"""The ``ticketpulse_account_*`` gauges, read back from the exposition, against the accounts
section of real replays (the golden accounts log, and CRM events built with ``streams.emit``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams import emit
from streams.domain.account_thresholds import AtRiskMrrLimits
from streams.domain.folding import OTHER
from streams.domain.instant import format_rfc3339, parse_rfc3339
from streams.domain.policies import default_policies, load_policies
from streams.domain.snapshot import Snapshot
from streams.live.metrics import Metrics
from streams.live.metrics.definitions import ACCOUNT_NOW, ACCOUNT_WINDOW
from streams.live.metrics.exposition import render
from streams.replay import replay_lines

GOLDEN = Path(__file__).parent.parent / "golden" / "accounts"
AS_OF = parse_rfc3339("2026-12-01T00:00:00Z")
DAY = 86_400_000_000

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def golden_section() -> dict[str, Any]:
    section = golden_snapshot().accounts
    assert section is not None
    return dict(section)


def snapshot_of(events: list[dict[str, Any]]) -> Snapshot:
    lines = iter(json.dumps(e).encode() for e in events)
    return Snapshot.from_json(replay_lines(lines, default_policies(), AS_OF).snapshot)


def golden_snapshot() -> Snapshot:
    with (GOLDEN / "events.jsonl").open("rb") as handle:
        result = replay_lines(iter(handle), load_policies(GOLDEN / "policies.yaml"), AS_OF)
    return Snapshot.from_json(result.snapshot)


def scrape(metrics: Metrics) -> Samples:
    text = render(metrics.registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("ticketpulse_account_")
    }


def mirrored(snapshot: Snapshot, **options: Any) -> Samples:
    metrics = Metrics(**options)
    metrics.mirror_snapshot(snapshot)
    return scrape(metrics)


def now_rows(now: dict[str, Any]) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    yield {"segment": "", "manager": ""}, now
    for dim in ("segment", "manager"):
        for key, row in now[f"by_{dim}"].items():
            yield {"segment": "", "manager": "", dim: key}, row


def window_rows(windows: dict[str, Any]) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    for window, aw in windows.items():
        blank = {"window": window, "segment": "", "manager": "", "source": ""}
        yield blank, aw["overall"]
        for dim in ("segment", "manager", "source"):
            for key, row in aw[f"by_{dim}"].items():
                yield {**blank, dim: key}, row


def window_field(row: dict[str, Any], field: str) -> Any:
    if field == "leads_converted":
        return row["acquisition"]["converted"]
    if field == "acquisition_rate":
        return row["acquisition"]["rate"]
    return row[field]


def test_every_account_gauge_is_the_sections_value_and_nulls_have_no_sample() -> None:
    section = golden_section()
    samples = mirrored(golden_snapshot())
    expected: Samples = {}
    for labels, row in now_rows(section["now"]):
        for field, definition in ACCOUNT_NOW.items():
            if row.get(field) is not None:
                expected[(definition.name, frozenset(labels.items()))] = row[field]
    for labels, row in window_rows(section["windows"]):
        for field, definition in ACCOUNT_WINDOW.items():
            if window_field(row, field) is not None:
                key = (definition.name, frozenset(labels.items()))
                expected[key] = window_field(row, field)
    expected[("ticketpulse_account_leads_open", frozenset())] = 3
    assert samples == expected
    # the figures the golden README works out, as a board would query them
    at_risk_mrr = "ticketpulse_account_at_risk_mrr"
    assert samples[(at_risk_mrr, frozenset({"segment": "smb", "manager": ""}.items()))] == 470
    churn = ("window", "30d"), ("segment", "ent"), ("manager", ""), ("source", "")
    assert samples[("ticketpulse_account_window_churn_rate", frozenset(churn))] == 0.25
    # CLV: null for smb (30d churn rate 0), none at all by manager
    clv = {labels for name, labels in samples if name == "ticketpulse_account_clv"}
    assert clv == {frozenset({"segment": s, "manager": ""}.items()) for s in ("", "ent")}


def test_no_accounts_section_no_account_series_but_the_listed_thresholds() -> None:
    tickets = emit.ticket_created(
        "T-1", "chat", "normal", "billing", occurred_at=format_rfc3339(AS_OF - DAY)
    )
    snapshot = snapshot_of([tickets])
    assert snapshot.accounts is None
    assert mirrored(snapshot) == {}
    limits = AtRiskMrrLimits(1000, {"ent": 5000})
    assert mirrored(snapshot, at_risk_mrr=limits) == {
        ("ticketpulse_account_at_risk_mrr_threshold", frozenset({("segment", "ent")})): 5000
    }


def test_thresholds_per_segment_default_and_unset() -> None:
    snapshot = golden_snapshot()  # segments ent, mid, smb

    def thresholds(limits: AtRiskMrrLimits) -> dict[str, float]:
        return {
            dict(labels)["segment"]: v
            for (name, labels), v in mirrored(snapshot, at_risk_mrr=limits).items()
            if name == "ticketpulse_account_at_risk_mrr_threshold"
        }

    assert thresholds(AtRiskMrrLimits()) == {}
    assert thresholds(AtRiskMrrLimits(None, {"smb": 400, "gold": 9})) == {"smb": 400, "gold": 9}
    assert thresholds(AtRiskMrrLimits(100, {"smb": 400})) == {"ent": 100, "mid": 100, "smb": 400}


def crm(managers: int, segments: int) -> list[dict[str, Any]]:
    """One customer per manager (MRR 10 + n), segments round robin; every third has a
    contraction and no touch (at risk); every fifth churned in the last 30 days."""
    events = []
    for n in range(managers):
        account, at = f"A{n:04d}", lambda days: format_rfc3339(AS_OF - days * DAY)
        segment, manager = f"seg-{n % segments}", f"am-{n:04d}"
        events += [
            emit.lead_created(
                account, "inbound", segment=segment, manager=manager, occurred_at=at(60)
            ),
            emit.account_converted(account, 10 + n, occurred_at=at(50)),
        ]
        if n % 3 == 0:
            events.append(emit.mrr_changed(account, 5 + n, "downgrade", occurred_at=at(10)))
        else:
            events.append(emit.account_touched(account, "email", occurred_at=at(5)))
        if n % 5 == 0:
            events.append(emit.account_churned(account, occurred_at=at(3)))
    return events


def test_managers_and_segments_beyond_the_limit_share_other_whose_row_sums_theirs() -> None:
    snapshot = snapshot_of(crm(managers=40, segments=12))
    section = snapshot.accounts
    assert section is not None
    samples = mirrored(snapshot, label_limit=5, at_risk_mrr=AtRiskMrrLimits(0, {"seg-11": 1}))
    values = {
        (name, dict(labels).get("segment", ""), dict(labels).get("manager", "")): v
        for (name, labels), v in samples.items()
        if dict(labels).get("window", "30d") == "30d" and not dict(labels).get("source")
    }
    managers = {m for _, _, m in values if m}
    segments = {s for _, s, _ in values if s}
    assert len(managers) == 6 and OTHER in managers  # 5 of their own
    assert len(segments) == 7 and {OTHER, "seg-11"} <= segments  # 5, the listed one, (other)
    now, month = section["now"], section["windows"]["30d"]
    for dim, kept in (("segment", segments), ("manager", managers)):
        folded = [row for key, row in now[f"by_{dim}"].items() if key not in kept]
        labels = ("segment", OTHER, "") if dim == "segment" else ("manager", "", OTHER)

        def at(name: str, labels: tuple[str, str, str] = labels) -> float | None:
            return values.get((f"ticketpulse_account_{name}", labels[1], labels[2]))

        for field in ("customers", "mrr", "at_risk_mrr"):
            assert at(field) == pytest.approx(sum(row[field] for row in folded))
        assert at("at_risk_customers") == sum(row["at_risk"] for row in folded)
        assert at("arpa") == pytest.approx(at("mrr") / at("customers"))  # type: ignore[operator]
        rows = [row for key, row in month[f"by_{dim}"].items() if key not in kept]
        start = sum(row["customers_at_start"] for row in rows)
        churned = sum(row["churned_from_start"] for row in rows)
        assert (at("window_customers_at_start"), at("window_churned_from_start")) == (
            start,
            churned,
        )
        assert at("window_churn_rate") == pytest.approx(churned / start)
        retained = sum(row["retained_mrr"] for row in rows)
        assert at("window_net_revenue_retention") == pytest.approx(
            retained / sum(row["mrr_at_start"] for row in rows)
        )
    # the kept rows are the section's own, and the overall row is untouched
    for key in managers - {OTHER}:
        assert (
            values[("ticketpulse_account_window_touches", "", key)]
            == (month["by_manager"][key]["touches"])
        )
    assert values[("ticketpulse_account_mrr", "", "")] == now["mrr"]


def test_many_more_managers_add_no_series_and_no_account_id_is_a_label() -> None:
    events = crm(managers=300, segments=3)
    samples = mirrored(snapshot_of(events), label_limit=5)
    managers = {dict(labels).get("manager") for _, labels in samples} - {None, ""}
    assert len(managers) == 6 and OTHER in managers
    # at most: every now gauge and the open leads per row (overall, 3 segments, 6 managers)
    # and every window gauge per window and row (the same, and the 1 source)
    bound = (len(ACCOUNT_NOW) + 1) * 10 + len(ACCOUNT_WINDOW) * 3 * 11
    assert len(samples) <= bound
    ids = {e["account_id"] for e in events}
    assert not ids & {v for _, labels in samples for _, v in labels}


def test_a_malformed_accounts_section_raises_and_keeps_the_previous_values() -> None:
    good = golden_snapshot()
    metrics = Metrics()
    metrics.mirror_snapshot(good)
    before = scrape(metrics)
    assert good.accounts is not None
    broken = good.with_accounts({**good.accounts, "now": {"customers": 1}})
    with pytest.raises(ValueError, match="malformed snapshot"):
        metrics.mirror_snapshot(broken)
    junk = good.with_accounts({**good.accounts, "windows": {"1y": good.accounts["windows"]["7d"]}})
    with pytest.raises(ValueError, match="unknown account window"):
        metrics.mirror_snapshot(junk)
    assert scrape(metrics) == before
