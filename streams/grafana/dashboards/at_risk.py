"""What is at risk now: the at-risk and breached-running counts per target, which the support
overview and the SLA on-call board both show, and the on-call board's table of the tickets
behind them (GET /sla/at-risk on a worker, through the Infinity data source).
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import stat, table
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.runtime import UnknownDataquery
from grafana_foundation_sdk.models import dashboard as dm

from streams.grafana import API_DATASOURCE_UID
from streams.grafana.alerts import Links
from streams.grafana.dashboards.kit import (
    NOT_BY_DIMENSION,
    Query,
    runbook,
    stat_panel,
    thresholds_config,
)

AT_RISK = Query("max by (target) (ticketpulse_sla_at_risk_tickets)", "{{target}}")
BREACHED_RUNNING = Query("max by (target) (ticketpulse_sla_breached_running_tickets)", "{{target}}")

INFINITY = "yesoreyeram-infinity-datasource"
API_DATASOURCE = dm.DataSourceRef(type_val=INFINITY, uid=API_DATASOURCE_UID)
AT_RISK_URL = "/sla/at-risk?limit=50"  # relative to the data source's URL (the worker)
# (JSON field of each ticket, column title, Infinity column type)
AT_RISK_COLUMNS = (
    ("ticket_id", "Ticket", "string"),
    ("target", "Target", "string"),
    ("state", "State", "string"),
    ("team", "Team", "string"),
    ("priority", "Priority", "string"),
    ("agent", "Agent", "string"),
    ("deadline", "Deadline", "timestamp"),
    ("seconds_left", "Time left", "number"),
    ("overdue", "Overdue", "boolean"),
)


class _Dataquery(cogbuilder.Builder[cogvariants.Dataquery]):
    """A query of a data source the SDK has no model for, as the JSON Grafana stores."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def build(self) -> cogvariants.Dataquery:
        return UnknownDataquery(self._data)


def at_risk_query() -> dict[str, Any]:
    """The Infinity query of the at-risk table: the API's JSON, one row a ticket."""
    return {
        "refId": "A",
        "datasource": {"type": INFINITY, "uid": API_DATASOURCE_UID},
        "type": "json",
        "source": "url",
        "format": "table",
        "parser": "backend",
        "url": AT_RISK_URL,
        "url_options": {"method": "GET", "data": ""},
        "root_selector": "tickets",
        "columns": [
            {"selector": field, "text": title, "type": kind}
            for field, title, kind in AT_RISK_COLUMNS
        ],
    }


def at_risk_table() -> table.Panel:
    return (
        table.Panel()
        .title("Tickets at risk")
        .description(
            "The running SLA clocks to act on (GET /sla/at-risk on a worker, through the "
            "Infinity data source), up to 50: breached ones first, the longest overdue first "
            "(time left below 0), then those due within at_risk_within by deadline, with the "
            "ticket's current team, priority and agent." + NOT_BY_DIMENSION
        )
        .datasource(API_DATASOURCE)
        .targets([_Dataquery(at_risk_query())])
        .unit("none")
        .thresholds(thresholds_config(((None, "red"), (0, "yellow"))))
        .override_by_name(
            "Time left",
            [
                dm.DynamicConfigValue(id_val="unit", value="s"),
                dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-text"}),
            ],
        )
        .no_value("No ticket breached or due within at_risk_within")
        .height(10)
        .span(24)
    )


def at_risk_panel(links: Links) -> stat.Panel:
    return stat_panel(
        "At risk now",
        "Running, unpaused SLA clocks due within at_risk_within, per target." + NOT_BY_DIMENSION,
        "short",
        ((None, "green"), (1, "yellow"), (10, "red")),
        [AT_RISK],
        no_value="No snapshot yet",
        links=[runbook("TicketpulseSlaAtRisk", links)],
    )


def breached_running_panel(links: Links) -> stat.Panel:
    return stat_panel(
        "Breached, still running",
        "SLA clocks past their deadline that have not stopped yet, per target." + NOT_BY_DIMENSION,
        "short",
        ((None, "green"), (1, "red")),
        [BREACHED_RUNNING],
        no_value="No snapshot yet",
        links=[runbook("TicketpulseSlaBreach", links)],
    )
