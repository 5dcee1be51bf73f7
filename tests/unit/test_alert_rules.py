"""The Prometheus alerting rules under promtool: valid, generated from the code, and each alert
fires when it should and stays quiet when it should not.

The cases are the committed ``deploy/prometheus/tests/ticketpulse.test.yml``, run here with
``promtool test rules`` against the committed rule file, which must equal the generated one.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from streams.grafana.alerts import (
    ALERTS,
    LINKS,
    SLA_GROUP,
    Alert,
    Links,
    prometheus_rules,
)
from streams.grafana.files import PROMETHEUS_RULES, REPO_ROOT, generated

RULES = REPO_ROOT / PROMETHEUS_RULES
TESTS = REPO_ROOT / "deploy/prometheus/tests/ticketpulse.test.yml"
BY_NAME = {alert.name: alert for alert in ALERTS}


def promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: apt-get install -y prometheus", pytrace=False)
    return binary


def cases() -> list[dict[str, Any]]:
    document = yaml.safe_load(TESTS.read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = document["tests"]
    return cases


def test_committed_rule_file_is_the_generated_one() -> None:
    assert RULES.read_text(encoding="utf-8") == generated()[PROMETHEUS_RULES], (
        "run `ticketpulse grafana generate` and commit the result"
    )


@pytest.mark.promtool
def test_rule_file_passes_promtool_check() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(ALERTS)} rules found" in result.stdout


def test_the_committed_test_file_reads_the_committed_rules() -> None:
    document = yaml.safe_load(TESTS.read_text(encoding="utf-8"))
    assert [(TESTS.parent / path).resolve() for path in document["rule_files"]] == [RULES]


@pytest.mark.promtool
def test_alerts_fire_when_they_should_and_only_then() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", str(TESTS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for group in cases():
        for case in group["alert_rule_test"]:
            (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert fires == set(BY_NAME), set(BY_NAME) - fires
    assert quiet == set(BY_NAME), set(BY_NAME) - quiet


def _case(name_starts: str) -> dict[str, Any]:
    (found,) = [case for case in cases() if case["name"].startswith(name_starts)]
    return found


def test_the_cases_cover_the_paging_guards() -> None:
    """A backfill pages nothing; one breach of one clock in a quiet hour is no budget burn."""
    backfill = _case("a backfill")
    series = " ".join(s["series"] for s in backfill["input_series"])
    assert "ticketpulse_sla_breached_total" in series  # the boards' counter jumps ...
    quiet = {c["alertname"] for c in backfill["alert_rule_test"] if not c.get("exp_alerts")}
    assert {  # ... and no SLA alert that counts breaches fires
        "TicketpulseSlaBreach",
        "TicketpulseTeamSlaBreach",
        "TicketpulseSlaBudgetBurnFast",
        "TicketpulseSlaBudgetBurnSlow",
    } <= quiet
    volume = _case("minimum volume")
    checks = volume["alert_rule_test"]
    assert any(not c.get("exp_alerts") for c in checks if "Fast" in c["alertname"])
    assert any(c.get("exp_alerts") for c in checks if "Fast" in c["alertname"])


def test_prometheus_and_grafana_rules_are_the_same_alerts() -> None:
    prometheus = yaml.safe_load(RULES.read_text())
    grafana_file = REPO_ROOT / "grafana/provisioning/alerting/rules.yml"
    grafana = yaml.safe_load(grafana_file.read_text())

    def summary(rule: dict[str, Any], name_key: str, keep_key: str) -> tuple[Any, ...]:
        return (rule[name_key], rule["for"], rule[keep_key], rule["labels"], rule["annotations"])

    from_prometheus = sorted(
        summary(r, "alert", "keep_firing_for") for g in prometheus["groups"] for r in g["rules"]
    )
    from_grafana = sorted(
        summary(r, "title", "keepFiringFor") for g in grafana["groups"] for r in g["rules"]
    )
    assert from_prometheus == from_grafana
    assert [g["name"] for g in prometheus["groups"]] == [g["name"] for g in grafana["groups"]]


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_each_alert_routes_and_links_its_runbook_board_and_tickets(alert: Alert) -> None:
    labels = alert.all_labels()
    assert labels["service"] == "ticketpulse"
    assert labels["category"] in {"sla", "pipeline", "accounts"}
    assert labels.get("severity") in {"critical", "warning"} or "severity" in alert.query
    assert alert.for_ and alert.keep_firing_for
    assert alert.summary and alert.description
    annotations = alert.annotations()
    for key in ("runbook_url", "dashboard_url"):
        url = urlsplit(annotations[key])
        assert url.scheme in {"http", "https"} and url.netloc, (key, annotations[key])
    runbook = urlsplit(annotations["runbook_url"])
    assert runbook.path.endswith("/runbooks.md") and runbook.fragment == alert.name.lower()
    runbooks = (REPO_ROOT / "docs" / "runbooks.md").read_text(encoding="utf-8")
    assert f"## {alert.name}" in runbooks
    dashboards = {p.stem for p in (REPO_ROOT / "grafana" / "dashboards").glob("*.json")}
    board = urlsplit(annotations["dashboard_url"]).path.removeprefix("/d/")
    assert board.removeprefix("ticketpulse-") in dashboards
    if alert.group == SLA_GROUP:  # SLA alerts say where their tickets are listed
        tickets = urlsplit(annotations["tickets_url"])
        assert tickets.path == "/sla/at-risk" and "target={{ $labels.target }}" in tickets.query
    else:
        assert "tickets_url" not in annotations


def test_links_come_from_the_settings_given_to_generate() -> None:
    links = Links(
        runbooks="https://wiki.example.org/ticketpulse/runbooks.md",
        grafana="https://grafana.example.org/",
        api="https://ticketpulse.example.org",
    )
    rules = [r for g in prometheus_rules(links=links)["groups"] for r in g["rules"]]
    for rule in rules:
        annotations = rule["annotations"]
        assert annotations["runbook_url"].startswith(links.runbooks + "#")
        assert annotations["dashboard_url"].startswith("https://grafana.example.org/d/")
        if "tickets_url" in annotations:
            assert annotations["tickets_url"].startswith(links.api + "/sla/at-risk?")
    assert Links() == LINKS
