"""Every ticketpulse alert, written once, rendered as Prometheus rules and Grafana-managed rules.

An alert is a PromQL *query* (the value), a comparison with a threshold, and an optional
*when* (a time-of-day condition joined with ``and on()``). Prometheus gets
``(query) > threshold``; Grafana gets the query as its instant query A and the comparison as
a threshold expression B, so both fire on the same series with the same labels. Runbooks are
the sections of docs/runbooks.md named after each alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from streams.grafana import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID
from streams.grafana.promql import OVERALL, dims_sum

RUNBOOKS = "docs/runbooks.md"
# The SLA compliance the error budget is computed against: 5% of clocks may breach.
TARGET_COMPLIANCE = 0.95
FAST_BURN = 10.0  # 1h burn rate: half the clocks of the last hour breached
SLOW_BURN = 4.0  # 6h burn rate, confirmed by the 1h one: a fifth breached for hours
AT_RISK_THRESHOLD = 10  # clocks of one target due within at_risk_within
EVENT_TIME_LAG_SECONDS = 120
DEADLETTERS_PER_MINUTE = 1.0
# Open hours for "no events at all": Monday to Friday, 08:00 to 18:00 UTC (PromQL's hour()
# and day_of_week() are UTC). Change them here and run `ticketpulse grafana generate`.
OPEN_HOURS = "hour() >= 8 < 18 and on() day_of_week() >= 1 <= 5"
WORKER_JOB = "ticketpulse"  # the Prometheus scrape job of the workers

SLA_GROUP = "ticketpulse-sla"
HEALTH_GROUP = "ticketpulse-health"
PROMETHEUS_INTERVAL = "30s"
GRAFANA_INTERVAL = "1m"

Op = Literal[">", "<"]


@dataclass(frozen=True)
class Alert:
    name: str
    uid: str
    group: str
    query: str
    op: Op
    threshold: float
    for_: str
    keep_firing_for: str
    summary: str
    description: str
    severity: str | None
    """None when the query sets ``severity`` itself (by priority)."""
    when: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def runbook_url(self) -> str:
        return f"{RUNBOOKS}#{self.name.lower()}"

    @property
    def grafana_query(self) -> str:
        return f"{self.query}\nand on() ({self.when})" if self.when else self.query

    @property
    def expr(self) -> str:
        """The Prometheus alerting expression."""
        compared = f"(\n{_indent(self.query)}\n) {self.op} {_number(self.threshold)}"
        return f"{compared}\nand on() ({self.when})" if self.when else compared

    def all_labels(self) -> dict[str, str]:
        category = "sla" if self.group == SLA_GROUP else "pipeline"
        labels = {"service": "ticketpulse", "category": category, **self.labels}
        if self.severity is not None:
            labels["severity"] = self.severity
        return labels

    def annotations(self) -> dict[str, str]:
        return {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": self.runbook_url,
        }


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _number(value: float) -> str:
    return f"{value:g}"


def _breach_ratio(window: str) -> str:
    breached = dims_sum("ticketpulse_sla_breached_total", OVERALL, window, "target")
    met = dims_sum("ticketpulse_sla_met_total", OVERALL, window, "target")
    return f"{breached}\n/ ({met}\n   + {breached})"


def burn_rate(window: str) -> str:
    """Share of stopped clocks that breached over ``window``, per error budget (1 = on budget)."""
    budget = _number(round(1 - TARGET_COMPLIANCE, 6))
    return f"(\n{_indent(_breach_ratio(window))}\n) / {budget}"


_BY_PRIORITY = (
    "label_replace(label_replace(\n  sum by (target, priority) (increase("
    'ticketpulse_sla_breached_total{priority!=""}[5m])),\n'
    '  "severity", "critical", "priority", "urgent|high"),\n'
    '  "severity", "warning", "priority", "normal|low")'
)

ALERTS: tuple[Alert, ...] = (
    Alert(
        name="TicketpulseSlaBreach",
        uid="ticketpulse-sla-breach",
        group=SLA_GROUP,
        query=_BY_PRIORITY,
        op=">",
        threshold=0,
        for_="0s",
        keep_firing_for="10m",
        severity=None,
        summary="New {{ $labels.target }} SLA breach on {{ $labels.priority }} tickets",
        description=(
            "At least one {{ $labels.priority }} ticket breached its {{ $labels.target }} "
            "deadline in the last 5 minutes. Severity follows the priority: urgent and high "
            "page, normal and low warn."
        ),
    ),
    Alert(
        name="TicketpulseTeamSlaBreach",
        uid="ticketpulse-team-sla-breach",
        group=SLA_GROUP,
        query=dims_sum("ticketpulse_sla_breached_total", 'team!=""', "5m", "target, team"),
        op=">",
        threshold=0,
        for_="0s",
        keep_firing_for="10m",
        severity="warning",
        summary="Team {{ $labels.team }} breached a {{ $labels.target }} SLA",
        description=(
            "At least one ticket of team {{ $labels.team }} breached its {{ $labels.target }} "
            "deadline in the last 5 minutes; routed to the team by its team label."
        ),
    ),
    Alert(
        name="TicketpulseSlaAtRisk",
        uid="ticketpulse-sla-at-risk",
        group=SLA_GROUP,
        query="max by (target) (ticketpulse_sla_at_risk_tickets)",
        op=">",
        threshold=AT_RISK_THRESHOLD,
        for_="5m",
        keep_firing_for="5m",
        severity="warning",
        summary="{{ $value }} {{ $labels.target }} clocks are about to breach",
        description=(
            f"More than {AT_RISK_THRESHOLD} running {{{{ $labels.target }}}} clocks are due "
            "within at_risk_within, for 5 minutes: the queue is falling behind."
        ),
    ),
    Alert(
        name="TicketpulseSlaBudgetBurnFast",
        uid="ticketpulse-sla-burn-fast",
        group=SLA_GROUP,
        query=burn_rate("1h"),
        op=">",
        threshold=FAST_BURN,
        for_="5m",
        keep_firing_for="15m",
        severity="critical",
        summary="{{ $labels.target }} SLA error budget burning fast",
        description=(
            f"Over the last hour {{{{ $labels.target }}}} clocks breached {FAST_BURN:g} times "
            f"faster than a {TARGET_COMPLIANCE:.0%} compliance target allows."
        ),
    ),
    Alert(
        name="TicketpulseSlaBudgetBurnSlow",
        uid="ticketpulse-sla-burn-slow",
        group=SLA_GROUP,
        query=f"{burn_rate('6h')}\nand on (target)\n{burn_rate('1h')} > {SLOW_BURN:g}",
        op=">",
        threshold=SLOW_BURN,
        for_="15m",
        keep_firing_for="30m",
        severity="warning",
        summary="{{ $labels.target }} SLA error budget burning steadily",
        description=(
            f"Over the last 6 hours, and still over the last hour, {{{{ $labels.target }}}} "
            f"clocks breached more than {SLOW_BURN:g} times faster than a "
            f"{TARGET_COMPLIANCE:.0%} compliance target allows."
        ),
    ),
    Alert(
        name="TicketpulseWorkerDown",
        uid="ticketpulse-worker-down",
        group=HEALTH_GROUP,
        query=(
            "min by (instance) (ticketpulse_worker_up)\n"
            f'or min by (instance) (up{{job="{WORKER_JOB}"}})'
        ),
        op="<",
        threshold=1,
        for_="1m",
        keep_firing_for="2m",
        severity="critical",
        summary="ticketpulse worker {{ $labels.instance }} is down",
        description=(
            "The worker at {{ $labels.instance }} does not consume (ticketpulse_worker_up is 0) "
            "or cannot be scraped, for a minute: KPIs and SLA clocks are not updated."
        ),
    ),
    Alert(
        name="TicketpulseEventTimeLag",
        uid="ticketpulse-event-time-lag",
        group=HEALTH_GROUP,
        query="max by (instance) (ticketpulse_event_time_lag_seconds)",
        op=">",
        threshold=EVENT_TIME_LAG_SECONDS,
        for_="5m",
        keep_firing_for="5m",
        severity="warning",
        summary="ticketpulse applies events {{ $value | humanizeDuration }} late",
        description=(
            f"The newest event the worker {{{{ $labels.instance }}}} applied is more than "
            f"{EVENT_TIME_LAG_SECONDS // 60} minutes old when applied, for 5 minutes: "
            "producers or Kafka are behind."
        ),
    ),
    Alert(
        name="TicketpulseDeadLetters",
        uid="ticketpulse-dead-letters",
        group=HEALTH_GROUP,
        query="sum by (topic) (rate(ticketpulse_deadletter_total[10m])) * 60",
        op=">",
        threshold=DEADLETTERS_PER_MINUTE,
        for_="10m",
        keep_firing_for="10m",
        severity="warning",
        summary="Events from {{ $labels.topic }} go to the dead-letter topic",
        description=(
            f"More than {DEADLETTERS_PER_MINUTE:g} record per minute from {{{{ $labels.topic }}}} "
            "was dead-lettered over 10 minutes: a producer sends events outside the contract."
        ),
    ),
    Alert(
        name="TicketpulseMissedOffsets",
        uid="ticketpulse-missed-offsets",
        group=HEALTH_GROUP,
        # What Redis records (the gauge each partition's owner exports), not the counter of
        # the worker that saw the gap: that one dies with its process, maybe unscraped.
        query=("sum by (topic) (max by (topic, partition) (ticketpulse_missed_offsets_recorded))"),
        op=">",
        threshold=0,
        for_="0s",
        keep_firing_for="15m",
        severity="warning",
        summary="Records of {{ $labels.topic }} were never received",
        description=(
            "Redis records {{ $value }} offsets of {{ $labels.topic }} that were skipped "
            "between what a worker applied and what it read next: events deleted by retention "
            "before they were applied, or lost by the consumer. KPIs miss them until the "
            "partition is rebuilt or the record acknowledged (docs/runbooks.md)."
        ),
    ),
    Alert(
        name="TicketpulseNoEvents",
        uid="ticketpulse-no-events",
        group=HEALTH_GROUP,
        query="sum(increase(ticketpulse_events_total[15m]))",
        op="<",
        threshold=1,
        when=OPEN_HOURS,
        for_="5m",
        keep_firing_for="10m",
        severity="warning",
        summary="No ticket events for 15 minutes during open hours",
        description=(
            "The workers read no event at all for 15 minutes during open hours "
            "(Mon-Fri 08:00-18:00 UTC): producers or the Kafka topics are broken."
        ),
    ),
)


def group_names() -> list[str]:
    return list(dict.fromkeys(alert.group for alert in ALERTS))


# --- Prometheus ---------------------------------------------------------------------------


def prometheus_rules(
    alerts: tuple[Alert, ...] = ALERTS, interval: str = PROMETHEUS_INTERVAL
) -> dict[str, Any]:
    """The Prometheus rule file (``rule_files``) as a document."""
    groups = []
    for name in group_names():
        rules = []
        for alert in (a for a in alerts if a.group == name):
            rules.append(
                {
                    "alert": alert.name,
                    "expr": alert.expr + "\n",
                    "for": alert.for_,
                    "keep_firing_for": alert.keep_firing_for,
                    "labels": alert.all_labels(),
                    "annotations": alert.annotations(),
                }
            )
        groups.append({"name": name, "interval": interval, "rules": rules})
    return {"groups": groups}


def fast_variant(alerts: tuple[Alert, ...] = ALERTS) -> tuple[Alert, ...]:
    """The alerts without pending periods, for tests that need an alert within seconds."""
    return tuple(replace(alert, for_="0s") for alert in alerts)


# --- Grafana ------------------------------------------------------------------------------

_GRAFANA_OP = {">": "gt", "<": "lt"}


def grafana_data(alert: Alert) -> list[dict[str, Any]]:
    """Query A (the PromQL, instant) and threshold B (the comparison): B is the condition."""
    return [
        {
            "refId": "A",
            "relativeTimeRange": {"from": 600, "to": 0},
            "datasourceUid": DATASOURCE_UID,
            "model": {
                "refId": "A",
                "datasource": {"type": "prometheus", "uid": DATASOURCE_UID},
                "expr": alert.grafana_query,
                "instant": True,
                "range": False,
                "intervalMs": 1000,
                "maxDataPoints": 43200,
            },
        },
        {
            "refId": "B",
            "relativeTimeRange": {"from": 0, "to": 0},
            "datasourceUid": "__expr__",
            "model": {
                "refId": "B",
                "datasource": {"type": "__expr__", "uid": "__expr__"},
                "type": "threshold",
                "expression": "A",
                "conditions": [
                    {"evaluator": {"type": _GRAFANA_OP[alert.op], "params": [alert.threshold]}}
                ],
            },
        },
    ]


def _grafana_rule(alert: Alert) -> dict[str, Any]:
    return {
        "uid": alert.uid,
        "title": alert.name,
        "condition": "B",
        "data": grafana_data(alert),
        "noDataState": "OK",
        "execErrState": "Error",
        "for": alert.for_,
        "keepFiringFor": alert.keep_firing_for,
        "labels": alert.all_labels(),
        "annotations": alert.annotations(),
        "isPaused": False,
    }


def grafana_rule_file(alerts: tuple[Alert, ...] = ALERTS) -> dict[str, Any]:
    """Grafana's alert-rule provisioning file (apiVersion 1)."""
    groups = [
        {
            "orgId": 1,
            "name": name,
            "folder": FOLDER_TITLE,
            "interval": GRAFANA_INTERVAL,
            "rules": [_grafana_rule(a) for a in alerts if a.group == name],
        }
        for name in group_names()
    ]
    return {"apiVersion": 1, "groups": groups}


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]]


def api_rule_groups(alerts: tuple[Alert, ...] = ALERTS) -> list[dict[str, Any]]:
    """The same rules in the shape of Grafana's alerting provisioning HTTP API.

    The API spells some fields differently from the file format (``keep_firing_for``,
    ``folderUID``) and takes the group interval in seconds.
    """
    groups = []
    for name in group_names():
        rules = []
        for alert in (a for a in alerts if a.group == name):
            rule = _grafana_rule(alert)
            rule["keep_firing_for"] = rule.pop("keepFiringFor")
            rule.update(folderUID=FOLDER_UID, ruleGroup=name, orgID=1)
            rules.append(rule)
        groups.append(
            {
                "title": name,
                "folderUid": FOLDER_UID,
                "interval": _seconds(GRAFANA_INTERVAL),
                "rules": rules,
            }
        )
    return groups
