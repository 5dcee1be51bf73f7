"""Every ticketpulse alert, written once, rendered as Prometheus rules and Grafana-managed rules.

An alert is a PromQL *query* (the value), a comparison with a threshold, and an optional
*when* (a time-of-day condition joined with ``and on()``). Prometheus gets
``(query) > threshold``; Grafana gets the query as its instant query A and the comparison as
a threshold expression B, so both fire on the same series with the same labels. Runbooks are
the sections of docs/runbooks.md named after each alert.

The SLA alerts count only *recent* outcomes (``ticketpulse_sla_*_recent_total``: the deadline or
stop was at most TICKETPULSE_RECENT_SLA_SECONDS old when the worker saw it), so a backfill or a
replay of old events shows on the boards but does not page. The burn-rate alerts follow the
Google SRE workbook's multi-window, multi-burn-rate alerts, with a minimum volume (see
``MIN_STOPPED_CLOCKS``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from grafana_foundation_sdk.builders import alerting as ab
from grafana_foundation_sdk.builders import expr as eb
from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import alerting as am
from grafana_foundation_sdk.models import dashboard as dm

from streams.grafana import (
    API_URL,
    DATASOURCE_UID,
    FOLDER_TITLE,
    FOLDER_UID,
    GRAFANA_URL,
    RUNBOOKS_URL,
)
from streams.grafana.promql import OVERALL, dims_sum

ONCALL_BOARD = "ticketpulse-sla-oncall"
TEAM_BOARD = "ticketpulse-team-agent"
ACCOUNTS_BOARD = "ticketpulse-accounts"
AT_RISK_LIST = 50  # tickets the tickets_url lists

# The SLA compliance the error budget is computed against: 5% of clocks may breach.
TARGET_COMPLIANCE = 0.95
# Multi-window, multi-burn-rate (Google SRE workbook, "Alerting on SLOs"): each alert needs its
# long window (the budget really burns) and a short one, 1/12 of it (it still burns now, so the
# alert resolves minutes after the burn stops rather than an hour later).
FAST_BURN = 10.0  # 1h and 5m burn rate: half the clocks breached
FAST_WINDOWS = ("1h", "5m")
SLOW_BURN = 4.0  # 6h and 30m burn rate: a fifth of the clocks breached for hours
SLOW_WINDOWS = ("6h", "30m")
# Minimum volume: a burn rate is a ratio, and in a quiet hour one breach of one stopped clock
# is a burn of 20. The budget alerts need this many stopped clocks (met + breached) in their
# long window; then a fast burn takes at least 11 breaches in the hour. Fewer clocks are no
# budget question: each breach of an urgent or high ticket already pages (TicketpulseSlaBreach).
MIN_STOPPED_CLOCKS = 20
AT_RISK_THRESHOLD = 10  # clocks of one target due within at_risk_within
EVENT_TIME_LAG_SECONDS = 120
DEADLETTERS_PER_MINUTE = 1.0
# Open hours for "no events at all": Monday to Friday, 08:00 to 18:00 UTC (PromQL's hour()
# and day_of_week() are UTC). Change them here and run `ticketpulse grafana generate`.
OPEN_HOURS = "hour() >= 8 < 18 and on() day_of_week() >= 1 <= 5"
WORKER_JOB = "ticketpulse"  # the Prometheus scrape job of the workers
MET_RECENT = "ticketpulse_sla_met_recent_total"
BREACHED_RECENT = "ticketpulse_sla_breached_recent_total"

SLA_GROUP = "ticketpulse-sla"
HEALTH_GROUP = "ticketpulse-health"
ACCOUNTS_GROUP = "ticketpulse-accounts"  # category "accounts": the account managers' alerts
CATEGORIES = {SLA_GROUP: "sla", HEALTH_GROUP: "pipeline", ACCOUNTS_GROUP: "accounts"}
# A segment's at-risk MRR above its threshold, which the workers export from the policies file
# (accounts.alerts.at_risk_mrr), so a new threshold needs no new rules; max by: every worker
# mirrors the same snapshot. The value is the at-risk MRR.
AT_RISK_MRR = (
    'max by (segment) (ticketpulse_account_at_risk_mrr{segment!="", manager=""})\n'
    "> on (segment)\n"
    'max by (segment) (ticketpulse_account_at_risk_mrr_threshold{segment!=""})'
)
PROMETHEUS_INTERVAL = "30s"
GRAFANA_INTERVAL = "1m"

Op = Literal[">", "<"]


@dataclass(frozen=True)
class Links:
    """The absolute URLs annotations point to: runbooks page, Grafana, a worker's API."""

    runbooks: str = RUNBOOKS_URL
    grafana: str = GRAFANA_URL
    api: str = API_URL


LINKS = Links()


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
    board: str = ONCALL_BOARD
    board_variable: str = ""
    """A label of the alert that is also a variable of the board (team, priority), or ""."""

    @property
    def anchor(self) -> str:
        return self.name.lower()

    def runbook_url(self, links: Links = LINKS) -> str:
        return f"{links.runbooks}#{self.anchor}"

    def dashboard_url(self, links: Links = LINKS) -> str:
        url = f"{links.grafana.rstrip('/')}/d/{self.board}"
        if self.board_variable:
            name = self.board_variable
            url += f"?var-{name}={{{{ $labels.{name} }}}}"
        return url

    def tickets_url(self, links: Links = LINKS) -> str:
        """Where the tickets behind an SLA alert are listed: ``GET /sla/at-risk`` (overdue
        first), or "" for an alert that is not about tickets."""
        if self.group != SLA_GROUP:
            return ""
        query = f"target={{{{ $labels.target }}}}&limit={AT_RISK_LIST}"
        return f"{links.api.rstrip('/')}/sla/at-risk?{query}"

    @property
    def grafana_query(self) -> str:
        return f"{self.query}\nand on() ({self.when})" if self.when else self.query

    @property
    def expr(self) -> str:
        """The Prometheus alerting expression."""
        compared = f"(\n{_indent(self.query)}\n) {self.op} {_number(self.threshold)}"
        return f"{compared}\nand on() ({self.when})" if self.when else compared

    def all_labels(self) -> dict[str, str]:
        labels = {"service": "ticketpulse", "category": CATEGORIES[self.group], **self.labels}
        if self.severity is not None:
            labels["severity"] = self.severity
        return labels

    def annotations(self, links: Links = LINKS) -> dict[str, str]:
        found = {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": self.runbook_url(links),
            "dashboard_url": self.dashboard_url(links),
        }
        tickets = self.tickets_url(links)
        if tickets:
            found["tickets_url"] = tickets
        return found


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _number(value: float) -> str:
    return f"{value:g}"


def _outcomes(recent: bool) -> tuple[str, str]:
    """(met, breached) counters: every outcome first seen (boards), or recent ones (alerts)."""
    if recent:
        return MET_RECENT, BREACHED_RECENT
    return "ticketpulse_sla_met_total", "ticketpulse_sla_breached_total"


def _breach_ratio(window: str, recent: bool) -> str:
    met_total, breached_total = _outcomes(recent)
    breached = dims_sum(breached_total, OVERALL, window, "target")
    met = dims_sum(met_total, OVERALL, window, "target")
    return f"{breached}\n/ ({met}\n   + {breached})"


def burn_rate(window: str, recent: bool = False) -> str:
    """Share of stopped clocks that breached over ``window``, per error budget (1 = on budget).

    The boards count every outcome; the alerts (``recent=True``) only recent ones."""
    budget = _number(round(1 - TARGET_COMPLIANCE, 6))
    return f"(\n{_indent(_breach_ratio(window, recent))}\n) / {budget}"


def stopped_clocks(window: str) -> str:
    """Recent clocks that stopped (met or breached) over ``window``, per target."""
    met = dims_sum(MET_RECENT, OVERALL, window, "target")
    breached = dims_sum(BREACHED_RECENT, OVERALL, window, "target")
    return f"({met}\n + {breached})"


def budget_burn(windows: tuple[str, str], threshold: float) -> str:
    """The long window's burn rate, kept where the short window burns above ``threshold`` too
    and the long window has at least ``MIN_STOPPED_CLOCKS`` stopped clocks."""
    long, short = windows
    return (
        f"{burn_rate(long, recent=True)}\n"
        f"and on (target)\n{burn_rate(short, recent=True)} > {threshold:g}\n"
        f"and on (target)\n{stopped_clocks(long)} >= {MIN_STOPPED_CLOCKS}"
    )


_BY_PRIORITY = (
    "label_replace(label_replace(\n  sum by (target, priority) (increase("
    f'{BREACHED_RECENT}{{priority!=""}}[5m])),\n'
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
        board_variable="priority",
    ),
    Alert(
        name="TicketpulseTeamSlaBreach",
        uid="ticketpulse-team-sla-breach",
        group=SLA_GROUP,
        query=dims_sum(BREACHED_RECENT, 'team!=""', "5m", "target, team"),
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
        board=TEAM_BOARD,
        board_variable="team",
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
        query=budget_burn(FAST_WINDOWS, FAST_BURN),
        op=">",
        threshold=FAST_BURN,
        for_="2m",
        keep_firing_for="15m",
        severity="critical",
        summary="{{ $labels.target }} SLA error budget burning fast",
        description=(
            f"Over the last hour, and still over the last 5 minutes, {{{{ $labels.target }}}} "
            f"clocks breached more than {FAST_BURN:g} times faster than a "
            f"{TARGET_COMPLIANCE:.0%} compliance target allows (at least "
            f"{MIN_STOPPED_CLOCKS} clocks stopped in the hour)."
        ),
    ),
    Alert(
        name="TicketpulseSlaBudgetBurnSlow",
        uid="ticketpulse-sla-burn-slow",
        group=SLA_GROUP,
        query=budget_burn(SLOW_WINDOWS, SLOW_BURN),
        op=">",
        threshold=SLOW_BURN,
        for_="15m",
        keep_firing_for="30m",
        severity="warning",
        summary="{{ $labels.target }} SLA error budget burning steadily",
        description=(
            f"Over the last 6 hours, and still over the last 30 minutes, "
            f"{{{{ $labels.target }}}} clocks breached more than {SLOW_BURN:g} times faster "
            f"than a {TARGET_COMPLIANCE:.0%} compliance target allows (at least "
            f"{MIN_STOPPED_CLOCKS} clocks stopped in the 6 hours)."
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
        name="TicketpulseLabelsFolded",
        uid="ticketpulse-labels-folded",
        group=HEALTH_GROUP,
        query="sum by (dimension) (increase(ticketpulse_facts_folded_total[1h]))",
        op=">",
        threshold=0,
        for_="0s",
        keep_firing_for="1h",
        severity="warning",
        summary="More {{ $labels.dimension }} values than the metrics label limit",
        description=(
            "{{ $value }} facts of the last hour were counted under {{ $labels.dimension }} "
            '"(other)" in the fact metrics: a worker has seen more distinct values than '
            "TICKETPULSE_METRICS_LABEL_LIMIT. Usually a producer sends junk (ids or typos) as "
            "the value; per-value Prometheus series for the late ones are missing."
        ),
    ),
    Alert(
        name="TicketpulseMisplacedEvents",
        uid="ticketpulse-misplaced-events",
        group=HEALTH_GROUP,
        query=('sum by (topic) (increase(ticketpulse_events_total{outcome="misplaced"}[15m]))'),
        op=">",
        threshold=0,
        for_="0s",
        keep_firing_for="15m",
        severity="warning",
        summary="Events of {{ $labels.topic }} are keyed or partitioned wrongly",
        description=(
            "{{ $value }} events of {{ $labels.topic }} in the last 15 minutes had a message "
            "key other than their ticket_id, or sat on another partition than Kafka's default "
            "partitioner gives their ticket: they were dead-lettered, and their tickets miss "
            "them until the producer sends them again, keyed by ticket_id."
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
    Alert(
        name="TicketpulseAccountAtRiskMrr",
        uid="ticketpulse-account-at-risk-mrr",
        group=ACCOUNTS_GROUP,
        query=AT_RISK_MRR,
        op=">",
        threshold=0,
        for_="15m",
        keep_firing_for="30m",
        severity="warning",
        summary="{{ $value }} of MRR at risk in segment {{ $labels.segment }}",
        description=(
            "The customers at risk in segment {{ $labels.segment }} (health signals over the "
            "last 30 days) pay {{ $value }} a month together, above the segment's threshold "
            "(policies file, accounts.alerts.at_risk_mrr), for 15 minutes. For the account "
            "managers, not support on-call."
        ),
        board=ACCOUNTS_BOARD,
        board_variable="segment",
    ),
)


def group_names() -> list[str]:
    return list(dict.fromkeys(alert.group for alert in ALERTS))


# --- Prometheus ---------------------------------------------------------------------------


def prometheus_rules(
    alerts: tuple[Alert, ...] = ALERTS, interval: str = PROMETHEUS_INTERVAL, links: Links = LINKS
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
                    "annotations": alert.annotations(links),
                }
            )
        groups.append({"name": name, "interval": interval, "rules": rules})
    return {"groups": groups}


def fast_variant(alerts: tuple[Alert, ...] = ALERTS) -> tuple[Alert, ...]:
    """The alerts without pending periods, for tests that need an alert within seconds."""
    return tuple(replace(alert, for_="0s") for alert in alerts)


# --- Grafana ------------------------------------------------------------------------------

_GRAFANA_OP: dict[Op, Literal["gt", "lt"]] = {">": "gt", "<": "lt"}
# A rule's fields in the provisioning file, in this order (the API's rule has folderUID,
# ruleGroup and orgID besides, and spells keepFiringFor keep_firing_for).
_FILE_FIELDS = (
    "uid",
    "title",
    "condition",
    "data",
    "noDataState",
    "execErrState",
    "for",
    "keepFiringFor",
    "labels",
    "annotations",
    "isPaused",
)


def grafana_queries(alert: Alert) -> list[cogbuilder.Builder[am.Query]]:
    """Query A (the PromQL, instant) and threshold B (the comparison): B is the condition."""
    query = (
        ab.Query("A")
        .relative_time_range(am.RelativeTimeRange(from_val=600, to=0))
        .datasource_uid(DATASOURCE_UID)
        .model(
            prometheus.Dataquery()
            .ref_id("A")
            .datasource(dm.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID))
            .expr(alert.grafana_query)
            .instant()
        )
    )
    evaluator = eb.ExprTypeThresholdConditionsEvaluator().type(_GRAFANA_OP[alert.op])
    threshold = (
        ab.Query("B")
        .relative_time_range(am.RelativeTimeRange(from_val=0, to=0))
        .datasource_uid("__expr__")
        .model(
            eb.TypeThreshold()
            .ref_id("B")
            .datasource(dm.DataSourceRef(type_val="__expr__", uid="__expr__"))
            .expression("A")
            .conditions(
                [eb.ExprTypeThresholdConditions().evaluator(evaluator.params([alert.threshold]))]
            )
        )
    )
    return [query, threshold]


def _grafana_rule(alert: Alert, links: Links) -> ab.Rule:
    """The rule as the SDK builds it; ``keepFiringFor`` is not in its model (added by the two
    callers, each in its own spelling)."""
    return (
        ab.Rule(alert.name)
        .uid(alert.uid)
        .condition("B")
        .queries(grafana_queries(alert))
        .no_data_state("OK")
        .exec_err_state("Error")
        .for_val(alert.for_)
        .labels(alert.all_labels())
        .annotations(alert.annotations(links))
        .is_paused(False)
    )


def _plain(rule: ab.Rule) -> dict[str, Any]:
    """The built rule as plain data (the SDK's JSON encoding), for YAML and the HTTP API."""
    data: dict[str, Any] = json.loads(json.dumps(rule.build(), cls=JSONEncoder))
    return data


def _file_rule(alert: Alert, links: Links) -> dict[str, Any]:
    rule = {**_plain(_grafana_rule(alert, links)), "keepFiringFor": alert.keep_firing_for}
    return {name: rule[name] for name in _FILE_FIELDS}


def grafana_rule_file(alerts: tuple[Alert, ...] = ALERTS, links: Links = LINKS) -> dict[str, Any]:
    """Grafana's alert-rule provisioning file (apiVersion 1)."""
    groups = [
        {
            "orgId": 1,
            "name": name,
            "folder": FOLDER_TITLE,
            "interval": GRAFANA_INTERVAL,
            "rules": [_file_rule(a, links) for a in alerts if a.group == name],
        }
        for name in group_names()
    ]
    return {"apiVersion": 1, "groups": groups}


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]]


def api_rule_groups(
    alerts: tuple[Alert, ...] = ALERTS, links: Links = LINKS
) -> list[dict[str, Any]]:
    """The same rules in the shape of Grafana's alerting provisioning HTTP API.

    The API spells some fields differently from the file format (``keep_firing_for``,
    ``folderUID``) and takes the group interval in seconds.
    """
    groups = []
    for name in group_names():
        rules = []
        for alert in (a for a in alerts if a.group == name):
            rule = _grafana_rule(alert, links).folder_uid(FOLDER_UID).rule_group(name).org_id(1)
            rules.append({**_plain(rule), "keep_firing_for": alert.keep_firing_for})
        groups.append(
            {
                "title": name,
                "folderUid": FOLDER_UID,
                "interval": _seconds(GRAFANA_INTERVAL),
                "rules": rules,
            }
        )
    return groups
