"""The Prometheus alerting rules under promtool: valid, and each alert fires when it should and
stays quiet when it should not (``promtool test rules``; Debian's 2.42 has no fuzzy_compare,
so the series are chosen to give exact values).

The test file is written from the cases below, with the expected annotations rendered from each
alert's templates, so a change of wording does not need the cases rewritten. Series leave out
empty labels: Prometheus stores ``team=""`` as no label, and so do these.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.grafana.alerts import ALERTS, Alert
from streams.grafana.files import PROMETHEUS_RULES, REPO_ROOT

RULES = REPO_ROOT / PROMETHEUS_RULES
BY_NAME = {alert.name: alert for alert in ALERTS}

BREACHED = "ticketpulse_sla_breached_total"
MET = "ticketpulse_sla_met_total"


def promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: apt-get install -y prometheus", pytrace=False)
    return binary


def render(template: str, labels: dict[str, str], value: str) -> str:
    text = re.sub(r"\{\{ \$value(?: \| \w+)? \}\}", value, template)
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), text)


def expected(name: str, labels: dict[str, str], value: str = "") -> dict[str, Any]:
    """One expected alert: its query labels plus the rule's, annotations rendered."""
    alert = BY_NAME[name]
    all_labels = {**alert.all_labels(), **labels}
    annotations = {
        key: render(text, all_labels, value) for key, text in alert.annotations().items()
    }
    return {"exp_labels": all_labels, "exp_annotations": annotations}


def check(name: str, at: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": list(alerts)}


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{name}{{{inner}}}", "values": values}


def promtool_cases() -> list[dict[str, Any]]:
    fr = {"target": "first_reply"}
    return [
        {
            "name": "new breaches by priority and team; severity by priority; keep firing",
            "interval": "1m",
            "input_series": [
                series(BREACHED, "0 0 0 1x30", target="first_reply"),  # overall row
                series(BREACHED, "0 0 0 1x30", target="first_reply", priority="urgent"),
                series(BREACHED, "0 0 0 1x30", target="first_reply", priority="normal"),
                series(BREACHED, "0x33", target="first_reply", priority="low"),
                series(BREACHED, "0 0 0 1x30", target="first_reply", team="billing"),
                series(BREACHED, "0x33", target="first_reply", team="vip"),
                series(BREACHED, "0 0 0 1x30", target="first_reply", channel="chat"),
            ],
            "alert_rule_test": [
                check("TicketpulseSlaBreach", "2m"),
                check(
                    "TicketpulseSlaBreach",
                    "5m",
                    expected(
                        "TicketpulseSlaBreach",
                        {**fr, "priority": "normal", "severity": "warning"},
                    ),
                    expected(
                        "TicketpulseSlaBreach",
                        {**fr, "priority": "urgent", "severity": "critical"},
                    ),
                ),
                # the 5m increase is back to 0 at 9m; keep_firing_for holds it for 10 more
                check(
                    "TicketpulseSlaBreach",
                    "15m",
                    expected(
                        "TicketpulseSlaBreach",
                        {**fr, "priority": "normal", "severity": "warning"},
                    ),
                    expected(
                        "TicketpulseSlaBreach",
                        {**fr, "priority": "urgent", "severity": "critical"},
                    ),
                ),
                check("TicketpulseSlaBreach", "25m"),
                check("TicketpulseTeamSlaBreach", "2m"),
                check(
                    "TicketpulseTeamSlaBreach",
                    "5m",
                    expected("TicketpulseTeamSlaBreach", {**fr, "team": "billing"}),
                ),
                check("TicketpulseTeamSlaBreach", "25m"),
            ],
        },
        {
            "name": "clocks at risk above the threshold for 5 minutes",
            "interval": "1m",
            "input_series": [
                series(
                    "ticketpulse_sla_at_risk_tickets",
                    "5 5 12x20",
                    target="first_reply",
                    instance="w1",
                ),
                series(
                    "ticketpulse_sla_at_risk_tickets",
                    "5 5 12x20",
                    target="first_reply",
                    instance="w2",
                ),
                series(
                    "ticketpulse_sla_at_risk_tickets", "10x22", target="resolution", instance="w1"
                ),
            ],
            "alert_rule_test": [
                check("TicketpulseSlaAtRisk", "1m"),
                check("TicketpulseSlaAtRisk", "5m"),  # pending
                check("TicketpulseSlaAtRisk", "10m", expected("TicketpulseSlaAtRisk", fr, "12")),
            ],
        },
        {
            "name": "error budget: fast burn, slow burn, and a burn that stopped",
            "interval": "1m",
            "input_series": [
                # first_reply: 2 of 3 clocks breach, steadily: burn 13.3 (fast and slow)
                series(MET, "0+1x400", target="first_reply"),
                series(BREACHED, "0+2x400", target="first_reply"),
                # next_reply: 1 of 4 breaches: burn 5 (slow only)
                series(MET, "0+3x400", target="next_reply"),
                series(BREACHED, "0+1x400", target="next_reply"),
                # resolution: 2 of 5 breached for 5 hours, then none: the 6h burn is high,
                # the 1h one is 0, so the slow alert resolves
                series(MET, "0+3x400", target="resolution"),
                series(BREACHED, "0+2x300 600x100", target="resolution"),
                # per-team rows must not count twice
                series(MET, "0+100x400", target="next_reply", team="billing"),
            ],
            "alert_rule_test": [
                check("TicketpulseSlaBudgetBurnFast", "3m"),  # pending
                check("TicketpulseSlaBudgetBurnSlow", "10m"),  # pending
                check(
                    "TicketpulseSlaBudgetBurnFast",
                    "70m",
                    expected("TicketpulseSlaBudgetBurnFast", fr),
                ),
                check(
                    "TicketpulseSlaBudgetBurnSlow",
                    "390m",
                    expected("TicketpulseSlaBudgetBurnSlow", fr),
                    expected("TicketpulseSlaBudgetBurnSlow", {"target": "next_reply"}),
                ),
                check(
                    "TicketpulseSlaBudgetBurnFast",
                    "390m",
                    expected("TicketpulseSlaBudgetBurnFast", fr),
                ),
            ],
        },
        {
            "name": "a worker that stops consuming, and one that cannot be scraped",
            "interval": "1m",
            "input_series": [
                series("ticketpulse_worker_up", "1 1 0x10", instance="w1", job="ticketpulse"),
                series("up", "1x12", instance="w1", job="ticketpulse"),
                series("ticketpulse_worker_up", "1 1 1 _x9", instance="w2", job="ticketpulse"),
                series("up", "1 1 1 0x9", instance="w2", job="ticketpulse"),
                series("ticketpulse_worker_up", "1x12", instance="w3", job="ticketpulse"),
                series("up", "1x12", instance="w3", job="ticketpulse"),
            ],
            "alert_rule_test": [
                check("TicketpulseWorkerDown", "1m"),
                check("TicketpulseWorkerDown", "2m"),  # w1 pending
                check(
                    "TicketpulseWorkerDown",
                    "4m",
                    expected("TicketpulseWorkerDown", {"instance": "w1"}),
                ),
                # promtool cannot write staleness markers: w2's last worker_up sample
                # ages out of the 5m lookback at 8m, then up{job} == 0 stands in for it
                check(
                    "TicketpulseWorkerDown",
                    "10m",
                    expected("TicketpulseWorkerDown", {"instance": "w1"}),
                    expected("TicketpulseWorkerDown", {"instance": "w2"}),
                ),
            ],
        },
        {
            "name": "event-time lag above two minutes for five minutes",
            "interval": "1m",
            "input_series": [
                series("ticketpulse_event_time_lag_seconds", "10 10 300x20", instance="w1"),
                series("ticketpulse_event_time_lag_seconds", "30x22", instance="w2"),
            ],
            "alert_rule_test": [
                check("TicketpulseEventTimeLag", "1m"),
                check("TicketpulseEventTimeLag", "4m"),  # pending
                check(
                    "TicketpulseEventTimeLag",
                    "10m",
                    expected("TicketpulseEventTimeLag", {"instance": "w1"}, "5m 0s"),
                ),
            ],
        },
        {
            "name": "dead letters above one a minute for ten minutes",
            "interval": "1m",
            "input_series": [
                series("ticketpulse_deadletter_total", "0+5x30", topic="support.tickets"),
                series("ticketpulse_deadletter_total", "0 1 2 3x28", topic="support.surveys"),
            ],
            "alert_rule_test": [
                check("TicketpulseDeadLetters", "5m"),  # pending
                check(
                    "TicketpulseDeadLetters",
                    "25m",
                    expected("TicketpulseDeadLetters", {"topic": "support.tickets"}),
                ),
            ],
        },
        {
            "name": "offsets never received recorded in Redis fire at once, whichever worker "
            "exports them, until acknowledged, only for the topic that lost them",
            "interval": "1m",
            "input_series": [
                series(
                    "ticketpulse_missed_offsets_recorded",
                    "0x10 4x10 _x30",  # the worker that owned partition 3 stops at 20m
                    topic="support.tickets",
                    partition="3",
                    instance="a",
                ),
                series(
                    "ticketpulse_missed_offsets_recorded",
                    "_x20 4x20 _x20",  # its successor reads the record from Redis, until
                    topic="support.tickets",  # it is deleted (acknowledged) at 40m
                    partition="3",
                    instance="b",
                ),
                series(
                    "ticketpulse_missed_offsets_recorded",
                    "0x60",
                    topic="support.surveys",
                    partition="3",
                    instance="a",
                ),
            ],
            "alert_rule_test": [
                check("TicketpulseMissedOffsets", "9m"),
                check(
                    "TicketpulseMissedOffsets",
                    "12m",
                    expected("TicketpulseMissedOffsets", {"topic": "support.tickets"}, "4"),
                ),
                check(
                    "TicketpulseMissedOffsets",
                    "30m",  # the owner changed: still the same 4, still firing
                    expected("TicketpulseMissedOffsets", {"topic": "support.tickets"}, "4"),
                ),
                check(
                    "TicketpulseMissedOffsets",
                    "50m",  # acknowledged at 40m: kept firing 15 minutes
                    expected("TicketpulseMissedOffsets", {"topic": "support.tickets"}, "4"),
                ),
                check("TicketpulseMissedOffsets", "62m"),
            ],
        },
        {
            # 1970-01-01, where promtool's clock starts, was a Thursday (day_of_week 4)
            "name": "no events at all, only during open hours",
            "interval": "1m",
            "input_series": [
                series(
                    "ticketpulse_events_total",
                    "0+10x300 3000x300",
                    topic="support.tickets",
                    type="ticket.created",
                    outcome="accepted",
                ),
            ],
            "alert_rule_test": [
                check("TicketpulseNoEvents", "200m"),  # events flow
                check("TicketpulseNoEvents", "420m"),  # silent since 5:00, but closed
                check("TicketpulseNoEvents", "500m", expected("TicketpulseNoEvents", {})),
                check("TicketpulseNoEvents", "1090m"),  # 18:10: closed again
            ],
        },
    ]


def test_rule_file_passes_promtool_check() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(ALERTS)} rules found" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for group in promtool_cases():
        for case in group["alert_rule_test"]:
            (fires if case["exp_alerts"] else quiet).add(case["alertname"])
    assert fires == set(BY_NAME), set(BY_NAME) - fires
    assert quiet == set(BY_NAME), set(BY_NAME) - quiet


def test_alerts_fire_when_they_should_and_only_then(tmp_path: Path) -> None:
    document = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": promtool_cases(),
    }
    test_file = tmp_path / "ticketpulse.test.yml"
    test_file.write_text(yaml.safe_dump(document, sort_keys=False))
    result = subprocess.run(
        [promtool(), "test", "rules", str(test_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


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
def test_each_alert_routes_and_links_its_runbook(alert: Alert) -> None:
    labels = alert.all_labels()
    assert labels["service"] == "ticketpulse"
    assert labels["category"] in {"sla", "pipeline"}
    assert labels.get("severity") in {"critical", "warning"} or "severity" in alert.query
    assert alert.for_ and alert.keep_firing_for
    assert alert.summary and alert.description
    path, _, anchor = alert.runbook_url.partition("#")
    runbooks = (REPO_ROOT / path).read_text(encoding="utf-8")
    assert f"## {alert.name}" in runbooks and anchor == alert.name.lower()
