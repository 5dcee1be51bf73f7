"""The KPI catalog is the one declaration the snapshot, /metrics, top and the boards follow."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from streams import native
from streams.domain import catalog
from streams.domain.catalog import DIMENSIONS, DISTRIBUTIONS, K_KEYS, KPIS, Aggregation, kpi
from streams.domain.facts import Fact, FactKind, SlaTarget
from streams.domain.kpis import fact_counters, kpis_of
from streams.grafana.dashboards import DASHBOARDS, dashboard_json
from streams.live.metrics import definitions
from streams.top import _BY_KPIS, _ROWS


def k_json(counters: Mapping[str, int]) -> dict[str, Any]:
    """The spec's ``K`` object of some counters."""
    return kpis_of(counters).to_json()


def test_the_snapshot_s_k_has_the_catalog_s_keys_in_its_order() -> None:
    k = k_json({})
    assert tuple(k) == K_KEYS
    assert K_KEYS[:7] == (
        "first_reply_seconds",
        "reply_seconds",
        "resolution_seconds",
        "full_resolution_seconds",
        "touches_to_close",
        "handle_seconds",
        "tickets_created",
    )
    for row in KPIS:  # every row is a field of K (sla rows: a field of each target's S)
        head, _, field = row.key.partition(".")
        if row.aggregation is Aggregation.SLA:
            assert field in k[head]["first_reply"], row.key
        elif field:
            assert field in k[head], row.key
        else:
            assert head in k, row.key
    assert list(k["csat"]) == [r.key.partition(".")[2] for r in KPIS if r.key.startswith("csat.")]
    assert list(k["nps"]) == [r.key.partition(".")[2] for r in KPIS if r.key.startswith("nps.")]


def test_every_fact_kind_feeds_a_kpi_and_every_distribution_samples_its_facts() -> None:
    fed = {kind for row in KPIS for kind in row.facts}
    assert fed == set(FactKind)
    for row in DISTRIBUTIONS:
        (kind,) = row.facts
        target = (
            SlaTarget.FIRST_REPLY if kind in (FactKind.SLA_MET, FactKind.SLA_BREACHED) else None
        )
        fact = Fact(0, kind, 7, "t", "email", "high", "ann", target)
        assert dict(fact_counters(fact))[f"{row.counter}:n"] == 1, row.key
        assert k_json(dict(fact_counters(fact)))[row.key]["count"] == 1, row.key


def test_handle_time_is_a_distribution_of_seconds_per_touching_agent() -> None:
    handle = kpi("handle_seconds")
    assert handle.aggregation is Aggregation.DISTRIBUTION
    assert handle.facts == (FactKind.HANDLE,) and handle.unit.value == "seconds"
    assert "agent" in handle.dimensions == DIMENSIONS
    assert handle.fact_metric == "ticketpulse_handle_seconds"
    assert handle.fact_metric_type == "histogram"
    assert handle.window_metric == "ticketpulse_window_handle_seconds"
    assert handle.samples_metric == "ticketpulse_window_handle_samples"
    k = k_json(dict(fact_counters(Fact(0, FactKind.HANDLE, 312_500_000, "t", "e", "p"))))
    assert k["handle_seconds"] == {
        "count": 1,
        "mean": 312.5,
        "p50": 312.5,
        "p90": 312.5,
        "p99": 312.5,
    }


def test_metrics_are_named_by_the_catalog() -> None:
    declared = {d.name: d for d in definitions.METRICS}
    for row in KPIS:
        assert row.window_metric in declared, row.key
        assert declared[row.window_metric].kind == "gauge"
        if row.fact_metric:
            assert declared[row.fact_metric].kind == row.fact_metric_type, row.key
        if row.samples_metric:
            assert row.samples_metric in declared, row.key
    for row in DISTRIBUTIONS:
        assert definitions.FACT_HISTOGRAMS[row.counter].buckets == row.buckets
    assert tuple(d for d in DIMENSIONS if d != "agent") == definitions.DIMS


def test_top_shows_the_catalog_s_labelled_kpis() -> None:
    labels = [label for label, _ in _ROWS]
    catalogued = [row.top_label for row in KPIS if row.top_label]
    assert labels[: len(catalogued)] == catalogued
    assert "Handle p50 / p90" in labels
    assert kpi("handle_seconds") in _BY_KPIS


def test_a_kpi_with_a_panel_has_it_on_its_board() -> None:
    for row in KPIS:
        if row.panel is None:
            continue
        board = dashboard_json(DASHBOARDS[row.panel.board]())
        panels = {p["title"]: p for p in board["panels"]}
        assert row.panel.title in panels, row.key
        (target,) = panels[row.panel.title]["targets"]
        assert row.window_metric in target["expr"], row.key
        assert f'stat="{row.panel.stat}"' in target["expr"]
        assert f'window="{row.panel.window}"' in target["expr"]


def test_the_catalog_imports_no_adapter() -> None:
    tree = ast.parse(native.source(catalog.__name__).read_text())  # not the build's .so
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert all(
        name == "__future__" or name.split(".")[0] in ("dataclasses", "enum", "streams")
        for name in imported
        if name
    ), imported
    assert all(
        not name.startswith(("streams.live", "streams.grafana")) for name in imported if name
    )
