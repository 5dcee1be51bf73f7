"""The boards and the Grafana provisioning files: generated equals committed, the SDK models
round-trip them, and every panel, query and provisioning file meets our rules and Grafana's
required fields."""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from streams.grafana import API_DATASOURCE_UID, DATASOURCE_UID, FOLDER_TITLE, RUNBOOKS_URL
from streams.grafana.alerts import ALERTS, Links, api_rule_groups
from streams.grafana.dashboards import DASHBOARDS
from streams.grafana.dashboards.at_risk import INFINITY
from streams.grafana.files import DASHBOARD_DIR, REPO_ROOT, generated, stale, write
from streams.grafana.promql import row_problems, unknown_metrics, variables_used
from streams.live.openapi import AtRiskTicket

PROVISIONING = REPO_ROOT / "grafana" / "provisioning"
DIMENSIONS = {"team", "channel", "priority"}
GRAFANA_VARIABLES = {"__rate_interval", "__interval", "__range"}


def committed_dashboards() -> dict[str, dict[str, Any]]:
    return {
        name: json.loads((REPO_ROOT / DASHBOARD_DIR / f"{name}.json").read_text())
        for name in DASHBOARDS
    }


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found += panel.get("panels", [])  # panels of collapsed rows
    return found


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every Prometheus query."""
    return [
        (panel["title"], target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def load(relative: str) -> Any:
    return yaml.safe_load((PROVISIONING / relative).read_text(encoding="utf-8"))


# --- generated files -----------------------------------------------------------------------


def test_committed_files_equal_the_generated_ones() -> None:
    assert stale() == [], "run `ticketpulse grafana generate` and commit the result"


def test_generate_writes_every_file_and_then_nothing(tmp_path: Path) -> None:
    assert sorted(write(tmp_path)) == sorted(generated())
    assert write(tmp_path) == []
    assert stale(tmp_path) == []
    (tmp_path / DASHBOARD_DIR / "sla-oncall.json").write_text("{}")
    assert stale(tmp_path) == [DASHBOARD_DIR / "sla-oncall.json"]


@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_dashboard_round_trips_through_the_sdk_models(name: str) -> None:
    committed = committed_dashboards()[name]
    model = Dashboard.from_json(committed)
    assert json.loads(json.dumps(model.to_json(), cls=JSONEncoder)) == committed


# --- every board ---------------------------------------------------------------------------


@pytest.fixture(params=list(DASHBOARDS))
def board(request: pytest.FixtureRequest) -> dict[str, Any]:
    data: dict[str, Any] = committed_dashboards()[request.param]
    return data


def test_every_panel_has_a_unit_description_thresholds_and_the_datasource(
    board: dict[str, Any],
) -> None:
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        title = panel["title"]
        assert panel.get("description"), title
        if panel["datasource"]["type"] == INFINITY:
            assert panel["datasource"]["uid"] == API_DATASOURCE_UID, title
            assert all(t["datasource"] == panel["datasource"] for t in panel["targets"]), title
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, title
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults.get("unit"), title
        steps = defaults["thresholds"]["steps"]
        assert steps and steps[0]["value"] is None, title
        values = [s["value"] for s in steps[1:]]
        assert values == sorted(values), title
        assert panel["targets"], title
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", title


def test_the_datasource_variable_defaults_to_the_provisioned_prometheus(
    board: dict[str, Any],
) -> None:
    variables = board["templating"]["list"]
    (source,) = [v for v in variables if v["type"] == "datasource"]
    assert source["name"] == "datasource" and source["query"] == "prometheus"
    assert source["current"]["value"] == DATASOURCE_UID
    for variable in variables:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}", variable["name"]


def test_panel_ids_are_unique_and_uids_fixed(board: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids))
    assert board["uid"].startswith("ticketpulse-") and len(board["uid"]) <= 40
    assert "ticketpulse" in board["tags"]


def test_grid_positions_do_not_overlap_and_fit_the_grid(board: dict[str, Any]) -> None:
    boxes = []
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        boxes.append((panel["title"], grid))
    for (a, p), (b, q) in combinations(boxes, 2):
        apart = (
            p["x"] + p["w"] <= q["x"]
            or q["x"] + q["w"] <= p["x"]
            or p["y"] + p["h"] <= q["y"]
            or q["y"] + q["h"] <= p["y"]
        )
        assert apart, f"{a} overlaps {b}"


def test_template_variables_are_defined_and_every_used_one_exists(board: dict[str, Any]) -> None:
    defined = {v["name"]: v for v in board["templating"]["list"]}
    rows = {"segment"} if board["uid"] == "ticketpulse-accounts" else DIMENSIONS
    assert set(defined) >= rows
    for name in rows:
        variable = defined[name]
        assert variable["includeAll"] and variable["allValue"] == "^$"
        assert variable["multi"] is False
    for title, expr in queries(board):
        unknown = variables_used(expr) - set(defined)
        assert not unknown, f"{title} uses undefined {unknown}"
        assert not (set(_grafana_variables(expr)) - GRAFANA_VARIABLES), title


def test_counts_from_increase_are_rounded_and_shown_whole(board: dict[str, Any]) -> None:
    """``increase()`` extrapolates to the window's edges: unrounded, one breach reads 1.009."""
    counts = 0
    for panel in panels(board):
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        if defaults.get("unit") != "short":
            continue
        for target in panel.get("targets", []):
            if "increase(" in target["expr"]:
                counts += 1
                assert target["expr"].startswith("round("), panel["title"]
                assert defaults.get("decimals") == 0, panel["title"]
    # the team board and the accounts board read snapshot gauges only
    assert counts or board["uid"] in {"ticketpulse-team-agent", "ticketpulse-accounts"}


def test_every_panel_of_a_window_or_a_ratio_says_why_it_is_empty(board: dict[str, Any]) -> None:
    for panel in panels(board):
        exprs = " ".join(t.get("expr", "") for t in panel.get("targets", []))
        if 'window="1h"' in exprs or "/ (" in exprs:
            assert panel["fieldConfig"]["defaults"].get("noValue"), panel["title"]


def test_boards_link_to_each_other_and_panels_to_existing_runbook_sections(
    board: dict[str, Any],
) -> None:
    (boards,) = [link for link in board["links"] if link["type"] == "dashboards"]
    assert boards["tags"] == ["ticketpulse"] and boards["includeVars"] and boards["keepTime"]
    assert any(link["url"] == RUNBOOKS_URL for link in board["links"] if link["type"] == "link")
    headings = re.findall(r"^## (\w+)$", (REPO_ROOT / "docs/runbooks.md").read_text(), re.M)
    sections = {heading.lower() for heading in headings}
    uids = {data["uid"] for data in committed_dashboards().values()}
    for panel in panels(board):
        for link in panel.get("links", []):
            page, _, anchor = link["url"].partition("#")
            assert page == RUNBOOKS_URL and anchor in sections, (panel["title"], anchor)
        for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", []):
            uid = link["url"].removeprefix("/d/").split("?")[0]
            assert uid in uids, (panel["title"], link["url"])
            assert "${__url_time_range}" in link["url"], panel["title"]


def test_boards_link_to_the_runbooks_generate_is_given() -> None:
    """`grafana generate --runbooks-url` moves the boards' runbook links with the alerts'."""
    elsewhere = "https://wiki.example.org/support/runbooks"
    files = generated(Links(runbooks=elsewhere))
    for name in DASHBOARDS:
        text = files[DASHBOARD_DIR / f"{name}.json"]
        assert RUNBOOKS_URL not in text, name
        assert f'"url": "{elsewhere}#' in text or name != "sla-oncall", name
        assert f'"url": "{elsewhere}"' in text, name


def test_oncall_panels_link_to_the_runbooks_of_their_alerts() -> None:
    oncall = committed_dashboards()["sla-oncall"]
    linked = {
        link["url"].partition("#")[2] for panel in panels(oncall) for link in panel.get("links", [])
    }
    for alert in (
        "TicketpulseSlaBreach",
        "TicketpulseSlaAtRisk",
        "TicketpulseSlaBudgetBurnFast",
        "TicketpulseWorkerDown",
        "TicketpulseEventTimeLag",
        "TicketpulseDeadLetters",
    ):
        assert alert.lower() in linked, alert


def _grafana_variables(expr: str) -> list[str]:
    return re.findall(r"\$\{?(__\w+)", expr)


def test_every_query_names_only_exported_metrics_and_picks_rows(board: dict[str, Any]) -> None:
    for title, expr in queries(board):
        assert not unknown_metrics(expr), f"{title}: {unknown_metrics(expr)}"
        assert not row_problems(expr), f"{title}: {row_problems(expr)}"
    variable_queries = [v["query"] for v in board["templating"]["list"]]
    for query in variable_queries:
        assert not unknown_metrics(query), query


def test_the_boards_cover_what_the_issue_asks() -> None:
    boards = committed_dashboards()
    text = {name: json.dumps(board) for name, board in boards.items()}
    overview = text["support-overview"]
    for metric in (
        "first_reply_seconds",
        "window_reply_seconds",
        "resolution_seconds",
        "touches_to_close",
        "fcr_ratio",
        "csat_percent",
        "nps_score",
        "sla_compliance_ratio",
        "backlog_tickets",
        "tickets_created_total",
        "tickets_solved_total",
        "sla_at_risk_tickets",
        "sla_breached_running_tickets",
    ):
        assert metric in overview, metric
    oncall = text["sla-oncall"]
    for metric in (
        "sla_at_risk_tickets",
        "sla_breached_running_tickets",
        "sla_breached_total",
        "last_breach_timestamp_seconds",
        "event_time_lag_seconds",
        "consumer_lag_messages",
        "deadletter_total",
        "worker_up",
    ):
        assert metric in oncall, metric
    agents = text["team-agent"]
    assert 'agent!=\\"\\"' in agents
    for metric in ("reply_seconds", "touches_to_close", "tickets_solved", "csat_percent"):
        assert metric in agents, metric
    accounts = boards["accounts"]
    exprs = " ".join(expr for _, expr in queries(accounts))
    for metric in (
        "account_customers{",
        "account_mrr{",
        "account_arpa{",
        "account_clv{",
        "account_at_risk_customers{",
        "account_at_risk_mrr{",
        "account_at_risk_mrr_threshold{",
        "account_window_churn_rate{",
        "account_window_net_revenue_retention{",
        "account_window_acquisition_rate{",
    ):
        assert metric in exprs, metric
    for window in ("7d", "30d", "90d"):
        assert f'window="{window}"' in exprs, window
    assert 'segment!=""' in exprs and 'source!=""' in exprs
    (managers,) = [p for p in panels(accounts) if p["type"] == "table"]
    assert managers["title"] == "Account managers" and len(managers["targets"]) >= 5
    assert all('manager!=""' in t["expr"] for t in managers["targets"])


# --- the query checks themselves -----------------------------------------------------------


def test_row_check_flags_a_sum_over_every_row() -> None:
    assert row_problems("sum(rate(ticketpulse_tickets_created_total[5m]))")
    assert row_problems('sum(ticketpulse_tickets_created_total{team=""})')
    assert not row_problems('sum(ticketpulse_tickets_created_total{team!=""})')
    assert not row_problems(
        'sum(ticketpulse_tickets_created_total{team="", channel="", priority=""})'
    )
    assert not row_problems('ticketpulse_backlog_tickets{status="", priority="", team=""}')
    assert row_problems('ticketpulse_backlog_tickets{priority="", team=""}')
    assert not row_problems("max(ticketpulse_sla_at_risk_tickets)")  # target only
    assert unknown_metrics("ticketpulse_nope_total + ticketpulse_worker_up") == [
        "ticketpulse_nope_total"
    ]


def test_alert_queries_name_only_exported_metrics_and_pick_rows() -> None:
    for alert in ALERTS:
        assert not unknown_metrics(alert.expr), alert.name
        assert not row_problems(alert.expr), alert.name


# --- provisioning files --------------------------------------------------------------------


def test_dashboard_provider_and_datasource_files() -> None:
    provider = load("dashboards/provider.yml")
    assert provider["apiVersion"] == 1
    assert [p["folder"] for p in provider["providers"]] == [FOLDER_TITLE]
    datasources = load("datasources/prometheus.yml")
    assert [d["uid"] for d in datasources["datasources"]] == [DATASOURCE_UID]
    (api,) = load("datasources/ticketpulse-api.yml")["datasources"]
    assert api["uid"] == API_DATASOURCE_UID and api["type"] == INFINITY
    assert api["url"] in api["jsonData"]["allowedHosts"]  # Infinity refuses other hosts


def test_the_oncall_board_lists_the_tickets_at_risk_from_the_api() -> None:
    (table,) = [p for p in panels(committed_dashboards()["sla-oncall"]) if p["type"] == "table"]
    (query,) = table["targets"]
    assert query["type"] == "json" and query["source"] == "url" and query["parser"] == "backend"
    assert query["url"].startswith("/sla/at-risk?") and query["root_selector"] == "tickets"
    selectors = [c["selector"] for c in query["columns"]]
    assert set(selectors) >= {"ticket_id", "target", "seconds_left", "overdue", "deadline"}
    assert set(selectors) >= {"state", "team", "priority", "agent"}
    assert set(selectors) <= set(AtRiskTicket.model_fields)  # what the API's rows hold
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    assert INFINITY in compose["services"]["grafana"]["environment"]["GF_PLUGINS_PREINSTALL"]


def test_alert_rule_file_has_grafanas_required_fields() -> None:
    document = load("alerting/rules.yml")
    assert document["apiVersion"] == 1
    uids = []
    for group in document["groups"]:
        for key in ("name", "folder", "interval", "rules"):
            assert group.get(key), key
        assert group["folder"] == FOLDER_TITLE
        for rule in group["rules"]:
            for key in ("uid", "title", "condition", "data", "for"):
                assert rule.get(key) not in (None, "", []), (rule.get("title"), key)
            assert len(rule["uid"]) <= 40
            refs = {query["refId"] for query in rule["data"]}
            assert rule["condition"] in refs
            for query in rule["data"]:
                assert query["datasourceUid"] in {DATASOURCE_UID, "__expr__"}
                assert query["model"]["refId"] == query["refId"]
                assert "from" in query["relativeTimeRange"]
            assert rule["noDataState"] in {"OK", "NoData", "Alerting", "KeepLast"}
            assert rule["execErrState"] in {"OK", "Error", "Alerting", "KeepLast"}
            assert rule["annotations"]["runbook_url"].startswith(RUNBOOKS_URL + "#")
            uids.append(rule["uid"])
    assert len(uids) == len(set(uids)) == len(ALERTS)


def test_contact_points_and_policies_route_by_severity_and_team() -> None:
    contact = load("alerting/contact-points.yml")
    assert contact["apiVersion"] == 1
    names = set()
    receiver_uids = []
    for point in contact["contactPoints"]:
        assert point["name"] and point["receivers"]
        names.add(point["name"])
        for receiver in point["receivers"]:
            assert receiver["uid"] and receiver["type"] and receiver["settings"]
            receiver_uids.append(receiver["uid"])
            if receiver["type"] == "webhook":
                assert receiver["settings"]["url"].startswith("http")
    assert len(receiver_uids) == len(set(receiver_uids))
    assert {r["type"] for p in contact["contactPoints"] for r in p["receivers"]} == {"webhook"}
    text = (PROVISIONING / "alerting/contact-points.yml").read_text()
    for example in ("type: email", "type: slack", "type: pagerduty"):
        assert example in text, f"documented example {example} missing"

    policies = load("alerting/policies.yml")
    assert policies["apiVersion"] == 1
    (tree,) = policies["policies"]
    assert tree["receiver"] in names

    def walk(route: dict[str, Any]) -> list[dict[str, Any]]:
        return [route] + [r for child in route.get("routes", []) for r in walk(child)]

    routes = walk(tree)
    assert {route["receiver"] for route in routes} <= names
    matchers = [tuple(m) for route in routes for m in route.get("object_matchers", [])]
    assert ("severity", "=", "critical") in matchers
    (accounts,) = [
        r for r in routes if ["category", "=", "accounts"] in r.get("object_matchers", [])
    ]
    assert accounts["receiver"] == "ticketpulse-account-managers" and not accounts.get("continue")
    assert ("team", "=~", ".+") in matchers
    for label in ("alertname", "team", "target"):
        assert label in tree["group_by"]


def test_push_payloads_use_the_api_spelling() -> None:
    for group in api_rule_groups():
        assert isinstance(group["interval"], int)
        for rule in group["rules"]:
            assert "keep_firing_for" in rule and "keepFiringFor" not in rule
            assert rule["folderUID"] and rule["ruleGroup"] == group["title"]


def test_compose_prometheus_loads_the_generated_rules() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    mounts = [str(v).split(":")[:2] for v in compose["services"]["prometheus"]["volumes"]]
    assert ["./deploy/prometheus/rules", "/etc/prometheus/rules"] in mounts
    config = yaml.safe_load((REPO_ROOT / "deploy/compose/prometheus.yml").read_text())
    (pattern,) = config["rule_files"]
    directory, _, glob = pattern.rpartition("/")
    assert directory == "/etc/prometheus/rules"
    assert list((REPO_ROOT / "deploy/prometheus/rules").glob(glob)) == [
        REPO_ROOT / "deploy/prometheus/rules/ticketpulse.rules.yml"
    ]
    demo = (REPO_ROOT / "scripts/demo.sh").read_text()
    assert "--rule-file" in demo and "deploy/prometheus/rules/ticketpulse.rules.yml" in demo
