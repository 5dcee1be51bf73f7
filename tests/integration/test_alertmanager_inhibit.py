"""The compose stack's Alertmanager config, run by the real Alertmanager: its inhibit rules mute
what they should and nothing else.

Alerts are posted to Alertmanager's API as Prometheus would send them (labels of the generated
rules), then read back with their status: ``suppressed`` with ``inhibitedBy`` when muted.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.grafana.alerts import ALERTS
from streams.stack import Stack, StackConfig, StackPaths, StackPorts
from streams.stack.alertmanager_server import Alertmanager
from streams.stack.component import Component
from tests.conftest import start_stack
from tests.support.workers import iter_until

COMPOSE_CONFIG = Path(__file__).parents[2] / "deploy" / "compose" / "alertmanager.yml"
BY_NAME = {alert.name: alert for alert in ALERTS}


class ComposeAlertmanager(Alertmanager):
    """The stack's Alertmanager with the compose config as it is (its webhooks go nowhere)."""

    def write_config(self) -> bool:
        (self.home / "alertmanager.yml").write_text(COMPOSE_CONFIG.read_text())
        return True


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def components(paths: StackPaths, config: StackConfig) -> list[Component]:
        return [ComposeAlertmanager(paths, config)]

    config = StackConfig(ports=StackPorts.free(), scrape_targets=())
    running: Stack = start_stack(tmp_path_factory.mktemp("inhibit"), config, components)
    yield running.addresses.alertmanager_url
    running.down()


def alert(name: str, **labels: str) -> dict[str, Any]:
    """An alert as the generated rule labels it, firing for the next hour."""
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, **BY_NAME[name].all_labels(), **labels},
        "annotations": {"summary": name},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
    }


def post(url: str, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def states(url: str) -> dict[tuple[str, ...], str]:
    """(alertname, then the sorted label values that tell alerts apart) -> state."""
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=10) as response:
        found = json.loads(response.read())
    keys = ("target", "priority", "team", "instance")
    return {
        (a["labels"]["alertname"], *(a["labels"].get(k, "") for k in keys)): a["status"]["state"]
        for a in found
    }


def key(
    name: str, target: str = "", priority: str = "", team: str = "", instance: str = ""
) -> tuple[str, ...]:
    return (name, target, priority, team, instance)


def test_inhibit_rules_mute_what_the_firing_alert_explains(alertmanager: str) -> None:
    post(
        alertmanager,
        [
            alert("TicketpulseSlaBudgetBurnFast", target="first_reply"),
            alert("TicketpulseSlaBudgetBurnSlow", target="first_reply"),
            alert("TicketpulseSlaBudgetBurnSlow", target="resolution"),  # no fast burn there
            alert("TicketpulseWorkerDown", instance="worker:6066"),
            alert("TicketpulseNoEvents"),
            alert("TicketpulseEventTimeLag", instance="other:6066"),
            alert("TicketpulseDeadLetters", topic="support.tickets"),  # not explained by it
            alert(
                "TicketpulseSlaBreach", target="first_reply", priority="urgent", severity="critical"
            ),
            alert("TicketpulseTeamSlaBreach", target="first_reply", team="billing"),
            alert("TicketpulseSlaBreach", target="next_reply", priority="low", severity="warning"),
            alert("TicketpulseTeamSlaBreach", target="next_reply", team="billing"),
        ],
    )
    expected = {
        key("TicketpulseSlaBudgetBurnFast", "first_reply"): "active",
        key("TicketpulseSlaBudgetBurnSlow", "first_reply"): "suppressed",
        key("TicketpulseSlaBudgetBurnSlow", "resolution"): "active",
        key("TicketpulseWorkerDown", instance="worker:6066"): "active",
        key("TicketpulseNoEvents"): "suppressed",
        key("TicketpulseEventTimeLag", instance="other:6066"): "suppressed",
        key("TicketpulseDeadLetters"): "active",
        key("TicketpulseSlaBreach", "first_reply", "urgent"): "active",
        key("TicketpulseTeamSlaBreach", "first_reply", team="billing"): "suppressed",
        key("TicketpulseSlaBreach", "next_reply", "low"): "active",
        key("TicketpulseTeamSlaBreach", "next_reply", team="billing"): "active",
    }
    found: dict[tuple[str, ...], str] = {}
    for _ in iter_until(15, interval=0.2):
        found = states(alertmanager)
        if found == expected:
            break
    assert found == expected
