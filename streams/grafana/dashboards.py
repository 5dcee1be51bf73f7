"""The three ticketpulse boards, built with grafana-foundation-sdk's typed builders.

- *Support overview* (leads): response times, quality, SLA compliance, volume and backlog;
- *SLA on-call*: what is about to breach or has breached, burn rates, pipeline health;
- *Team and agent drill-down*: per team and (with ``agent_labels``) per agent.

The variables ``team``, ``channel`` and ``priority`` pick one dimension row of the metrics
(docs/metrics.md): their "All" value is the empty label, so with all three on All a panel
shows the overall row, and with one set, that team's, channel's or priority's row. The rows
are marginals, so setting two at once shows nothing. Snapshot gauges (the product's
corrected numbers) are read with ``max without (instance)``; fact counters are summed over
workers. ``streams.grafana.files`` writes the JSON to grafana/dashboards/.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import bargauge, common, prometheus, stat, timeseries
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from streams.domain.catalog import AGENT, KPIS, Aggregation, Kpi, Unit, kpi
from streams.grafana import DATASOURCE_UID
from streams.grafana.alerts import FAST_BURN, MIN_STOPPED_CLOCKS, SLOW_BURN, burn_rate
from streams.grafana.promql import (
    ALL_ROWS_VALUE,
    BACKLOG_BY_PRIORITY,
    BACKLOG_BY_STATUS,
    BACKLOG_BY_TEAM,
    BACKLOG_SELECTED,
    OVERALL,
    PER_AGENT,
    PER_PRIORITY,
    PER_TEAM,
    SELECTED,
    dims_sum,
    snapshot,
)

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
TAGS = ["ticketpulse"]
WINDOWS = ("1h", "24h", "7d")

Thresholds = Sequence[tuple[float | None, str]]
GREEN: Thresholds = ((None, "green"),)


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


def _thresholds(steps: Thresholds) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


def _target(query: Query, ref: str, instant: bool) -> prometheus.Dataquery:
    target = (
        prometheus.Dataquery()
        .expr(query.expr)
        .ref_id(ref)
        .datasource(DATASOURCE)
        .legend_format(query.legend or "__auto")
    )
    return target.instant() if instant else target.range()


def _refs(queries: Sequence[Query], instant: bool) -> list[prometheus.Dataquery]:
    return [_target(q, chr(ord("A") + i), instant) for i, q in enumerate(queries)]


def _last() -> common.ReduceDataOptions:
    return common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def stat_panel(
    title: str,
    description: str,
    unit: str,
    thresholds: Thresholds,
    queries: Sequence[Query],
    *,
    width: int = 6,
    height: int = 5,
    mappings: list[dm.ValueMapping] | None = None,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .thresholds(_thresholds(thresholds))
        .targets(list(_refs(queries, instant=True)))
        .reduce_options(_last())
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .height(height)
        .span(width)
    )
    if mappings:
        panel = panel.mappings(mappings)
    return panel


def bar_panel(
    title: str,
    description: str,
    unit: str,
    thresholds: Thresholds,
    queries: Sequence[Query],
    *,
    width: int = 8,
    height: int = 8,
    minimum: float | None = 0,
    maximum: float | None = None,
) -> bargauge.Panel:
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .thresholds(_thresholds(thresholds))
        .targets(list(_refs(queries, instant=True)))
        .reduce_options(_last())
        .orientation(cm.VizOrientation.HORIZONTAL)
        .display_mode(cm.BarGaugeDisplayMode.GRADIENT)
        .height(height)
        .span(width)
    )
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    return panel


def series_panel(
    title: str,
    description: str,
    unit: str,
    thresholds: Thresholds,
    queries: Sequence[Query],
    *,
    width: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .thresholds(_thresholds(thresholds))
        .thresholds_style(common.GraphThresholdsStyleConfig().mode(_THRESHOLD_LINES))
        .targets(list(_refs(queries, instant=False)))
        .height(height)
        .span(width)
    )


_THRESHOLD_LINES = cm.GraphThresholdsStyleMode.DASHED


class Board:
    """A dashboard being built: panels get ids in order and are laid out left to right."""

    def __init__(self, uid: str, title: str, description: str) -> None:
        self._next_id = 1
        self.builder = (
            db.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags(TAGS)
            .editable()
            .time("now-24h", "now")
            .refresh("1m")
            .timezone("browser")
            .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        )

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def row(self, title: str) -> Board:
        self.builder.with_row(db.Row(title).id(self._id()))
        return self

    def add(self, *panels: cogbuilder.Builder[dm.Panel]) -> Board:
        for panel in panels:
            built = panel.build()
            built.id_val = self._id()
            self.builder.with_panel(_Built(built))
        return self

    def variables(self, *variables: cogbuilder.Builder[dm.VariableModel]) -> Board:
        for variable in variables:
            self.builder.with_variable(variable)
        return self

    def build(self) -> dm.Dashboard:
        return self.builder.build()


class _Built(cogbuilder.Builder[dm.Panel]):
    def __init__(self, panel: dm.Panel) -> None:
        self._panel = panel

    def build(self) -> dm.Panel:
        return self._panel


def dimension_variable(name: str, label: str) -> db.QueryVariable:
    """One of team, channel, priority: its values are the rows split by it; All = no split."""
    return (
        db.QueryVariable(name)
        .label(label)
        .description(
            f"Pick one {name} to see its row; All shows the overall row (not a sum). "
            "Rows are marginals: set one of team, channel, priority at a time."
        )
        .datasource(DATASOURCE)
        .query(f'label_values({_gauge("tickets_created")}{{{name}!=""}}, {name})')
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(False)
        .include_all(True)
        .all_value(ALL_ROWS_VALUE)
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )


def agent_variable() -> db.QueryVariable:
    return (
        db.QueryVariable("agent")
        .label("Agent")
        .description("Agents to show (per-agent rows exist only with agent_labels on).")
        .datasource(DATASOURCE)
        .query(f'label_values({_gauge("tickets_solved")}{{agent!=""}}, agent)')
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".+")
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )


def _dimension_variables() -> tuple[db.QueryVariable, ...]:
    return (
        dimension_variable("team", "Team"),
        dimension_variable("channel", "Channel"),
        dimension_variable("priority", "Priority"),
    )


def _gauge(key: str) -> str:
    """The snapshot gauge of a KPI, named by the catalog (streams/domain/catalog.py)."""
    return kpi(key).window_metric


_GRAFANA_UNITS = {Unit.SECONDS: "s", Unit.PERCENT: "percent", Unit.RATIO: "percentunit"}


def catalog_panels(board: str, row: str) -> list[bargauge.Panel]:
    """The bars the KPI catalog declares for a row of a board: one per value of its split."""
    return [
        _catalog_panel(k) for k in KPIS if k.panel and (k.panel.board, k.panel.row) == (board, row)
    ]


def _catalog_panel(row: Kpi) -> bargauge.Panel:
    panel = row.panel
    assert panel is not None
    split = _AGENTS if panel.by == AGENT else f'{panel.by}!=""'
    stat = f', stat="{panel.stat}"' if row.aggregation is Aggregation.DISTRIBUTION else ""
    note = _AGENT_NOTE if panel.by == AGENT else ""
    legend = "{{" + panel.by + "}}"
    return bar_panel(
        panel.title,
        panel.description + note,
        _GRAFANA_UNITS.get(row.unit, "none"),
        panel.thresholds,
        [Query(snapshot(row.window_metric, f'window="{panel.window}"{stat}, {split}'), legend)],
        width=6,
        height=10,
    )


def _window_stats(metric: str, stats: Sequence[str], selector: str = SELECTED) -> list[Query]:
    return [
        Query(snapshot(metric, f'window="{w}", stat="{s}", {selector}'), f"{s} {w}")
        for s in stats
        for w in WINDOWS
    ]


def _window_values(metric: str, windows: Sequence[str], selector: str = SELECTED) -> list[Query]:
    return [Query(snapshot(metric, f'window="{w}", {selector}'), w) for w in windows]


_AT_RISK = Query("max by (target) (ticketpulse_sla_at_risk_tickets)", "{{target}}")
_BREACHED_RUNNING = Query(
    "max by (target) (ticketpulse_sla_breached_running_tickets)", "{{target}}"
)
_NOT_BY_DIMENSION = (
    " Counted over all teams, channels and priorities: the variables do not filter it."
)


def _at_risk_panel() -> stat.Panel:
    return stat_panel(
        "At risk now",
        "Running, unpaused SLA clocks due within at_risk_within, per target." + _NOT_BY_DIMENSION,
        "short",
        ((None, "green"), (1, "yellow"), (10, "red")),
        [_AT_RISK],
    )


def _breached_running_panel() -> stat.Panel:
    return stat_panel(
        "Breached, still running",
        "SLA clocks past their deadline that have not stopped yet, per target." + _NOT_BY_DIMENSION,
        "short",
        ((None, "green"), (1, "red")),
        [_BREACHED_RUNNING],
    )


# --- Support overview ------------------------------------------------------------------------


def support_overview() -> dm.Dashboard:
    board = Board(
        "ticketpulse-support-overview",
        "ticketpulse / Support overview",
        "Support KPIs for leads: response times, quality, SLA compliance, volume and backlog. "
        "Numbers are the worker's snapshot (equal to GET /kpis) for the row the variables pick.",
    ).variables(*_dimension_variables())
    board.row("Response times (snapshot windows 1h, 24h, 7d)").add(
        stat_panel(
            "First reply time",
            "Created to first agent touch: nearest-rank p50 and p90 over each window.",
            "s",
            ((None, "green"), (3600, "yellow"), (14400, "red")),
            _window_stats(_gauge("first_reply_seconds"), ("p50", "p90")),
            width=8,
        ),
        stat_panel(
            "Reply time (ART)",
            "Every first and next reply sample: p50 and p90 over each window.",
            "s",
            ((None, "green"), (3600, "yellow"), (28800, "red")),
            _window_stats(_gauge("reply_seconds"), ("p50", "p90")),
            width=8,
        ),
        stat_panel(
            "Resolution time",
            "Created to first solve: p50 and p90 over each window.",
            "s",
            ((None, "green"), (14400, "yellow"), (259200, "red")),
            _window_stats(_gauge("resolution_seconds"), ("p50", "p90")),
            width=8,
        ),
        series_panel(
            "p90 times over the last hour",
            "p90 of first reply, reply and resolution time in the sliding 1h window.",
            "s",
            ((None, "green"), (14400, "red")),
            [
                Query(
                    snapshot(_gauge(f"{name}_seconds"), f'window="1h", stat="p90", {SELECTED}'),
                    name.replace("_", " "),
                )
                for name in ("first_reply", "reply", "resolution")
            ],
            width=24,
        ),
    )
    board.row("Quality").add(
        stat_panel(
            "Touches to close",
            "Mean agent touches before the first solve.",
            "none",
            ((None, "green"), (2, "yellow"), (4, "red")),
            _window_stats(_gauge("touches_to_close"), ("mean",)),
        ),
        stat_panel(
            "First-contact resolution",
            "One-touch first solves / first solves with a touch.",
            "percentunit",
            ((None, "red"), (0.5, "yellow"), (0.7, "green")),
            _window_values(_gauge("fcr_rate"), WINDOWS),
        ),
        stat_panel(
            "CSAT",
            "Share of CSAT responses scoring 4 or 5.",
            "percent",
            ((None, "red"), (75, "yellow"), (85, "green")),
            _window_values(_gauge("csat.percent"), WINDOWS),
        ),
        stat_panel(
            "NPS",
            "Promoters minus detractors, in points from -100 to 100.",
            "none",
            ((None, "red"), (0, "yellow"), (30, "green")),
            _window_values(_gauge("nps.score"), ("24h", "7d")),
        ),
    )
    board.row("SLA").add(
        bar_panel(
            "SLA compliance per target (24h)",
            "Clocks met / (met + breached) over the last 24 hours, per SLA target.",
            "percentunit",
            ((None, "red"), (0.9, "yellow"), (0.95, "green")),
            [
                Query(
                    snapshot(_gauge("sla.compliance"), f'window="24h", {SELECTED}'),
                    "{{target}}",
                )
            ],
            width=12,
            maximum=1,
        ),
        series_panel(
            "SLA compliance per target (1h window)",
            "Compliance in the sliding 1h window; a gap means no clock stopped in that hour.",
            "percentunit",
            ((None, "red"), (0.9, "yellow"), (0.95, "green")),
            [
                Query(
                    snapshot(_gauge("sla.compliance"), f'window="1h", {SELECTED}'),
                    "{{target}}",
                )
            ],
        ),
        _at_risk_panel().span(12).height(4),
        _breached_running_panel().span(12).height(4),
    )
    board.row("Volume and backlog").add(
        series_panel(
            "Created vs solved per hour",
            "Tickets created and first solved in the hour before each point "
            "(fact counters as first seen, all workers).",
            "short",
            GREEN,
            [
                Query(dims_sum(kpi("tickets_created").fact_metric, SELECTED, "1h"), "created"),
                Query(dims_sum(kpi("tickets_solved").fact_metric, SELECTED, "1h"), "solved"),
            ],
        ),
        stat_panel(
            "Open backlog",
            "Open tickets now (new, open, pending, on hold) for the team or priority picked; "
            "the channel variable does not apply to the backlog.",
            "short",
            ((None, "green"), (100, "yellow"), (500, "red")),
            [Query(snapshot("ticketpulse_backlog_tickets", BACKLOG_SELECTED), "open")],
            width=4,
            height=8,
        ),
        bar_panel(
            "Backlog by status",
            "Open tickets per status." + _NOT_BY_DIMENSION,
            "short",
            ((None, "green"), (100, "yellow"), (500, "red")),
            [Query(snapshot("ticketpulse_backlog_tickets", BACKLOG_BY_STATUS), "{{status}}")],
            width=4,
        ),
        bar_panel(
            "Backlog by priority",
            "Open tickets per priority." + _NOT_BY_DIMENSION,
            "short",
            ((None, "green"), (100, "yellow"), (500, "red")),
            [Query(snapshot("ticketpulse_backlog_tickets", BACKLOG_BY_PRIORITY), "{{priority}}")],
            width=4,
        ),
    )
    return board.build()


# --- SLA on-call -----------------------------------------------------------------------------


def sla_oncall() -> dm.Dashboard:
    breached = kpi("sla.breached").fact_metric
    met = kpi("sla.met").fact_metric
    board = Board(
        "ticketpulse-sla-oncall",
        "ticketpulse / SLA on-call",
        "What is about to breach, what breached, how fast the error budget burns, and "
        "whether the monitor itself is healthy. Runbooks: docs/runbooks.md.",
    ).variables(*_dimension_variables())
    board.row("Now").add(
        _at_risk_panel(),
        _breached_running_panel(),
        stat_panel(
            "Time since last breach",
            "Now minus the latest breach deadline any worker has seen since it started.",
            "s",
            ((None, "red"), (900, "yellow"), (3600, "green")),
            [
                Query(
                    "time() - max by (target) (ticketpulse_last_breach_timestamp_seconds)",
                    "{{target}}",
                )
            ],
        ),
        stat_panel(
            "Breaches in the last hour",
            "SLA clocks that breached in the last hour, per target, for the row the "
            "variables pick (facts as first seen, all workers).",
            "short",
            ((None, "green"), (1, "yellow"), (5, "red")),
            [Query(dims_sum(breached, SELECTED, "1h", "target"), "{{target}}")],
        ),
    )
    board.row("Breaches").add(
        series_panel(
            "Breaches per hour, per target",
            "Clocks that breached in the hour before each point, all teams.",
            "short",
            ((None, "green"), (1, "yellow"), (5, "red")),
            [Query(dims_sum(breached, OVERALL, "1h", "target"), "{{target}}")],
        ),
        series_panel(
            "At risk and breached-running",
            "Clocks due within at_risk_within, and clocks past due that still run."
            + _NOT_BY_DIMENSION,
            "short",
            ((None, "green"), (1, "yellow"), (10, "red")),
            [
                Query(_AT_RISK.expr, "at risk {{target}}"),
                Query(_BREACHED_RUNNING.expr, "breached {{target}}"),
            ],
        ),
        bar_panel(
            "Breaches per team, last hour",
            "SLA clocks that breached in the last hour, per team (all targets).",
            "short",
            ((None, "green"), (1, "yellow"), (5, "red")),
            [Query(dims_sum(breached, PER_TEAM, "1h", "team"), "{{team}}")],
        ),
        bar_panel(
            "Breaches per priority, last hour",
            "SLA clocks that breached in the last hour, per priority (all targets).",
            "short",
            ((None, "green"), (1, "yellow"), (5, "red")),
            [Query(dims_sum(breached, PER_PRIORITY, "1h", "priority"), "{{priority}}")],
        ),
        bar_panel(
            "Breached share per team, last hour",
            "Breached / (met + breached) clocks per team in the last hour.",
            "percentunit",
            ((None, "green"), (0.05, "yellow"), (0.2, "red")),
            [
                Query(
                    f"{dims_sum(breached, PER_TEAM, '1h', 'team')}\n"
                    f"/ ({dims_sum(met, PER_TEAM, '1h', 'team')}\n"
                    f"   + {dims_sum(breached, PER_TEAM, '1h', 'team')})",
                    "{{team}}",
                )
            ],
            maximum=1,
        ),
        series_panel(
            "Error-budget burn rate",
            "Breached share of stopped clocks divided by the error budget (1 - target "
            f"compliance): 1 spends it exactly, over every clock first seen (a backfill "
            f"shows here). Alerts count recent clocks only: 1h and 5m above {FAST_BURN:g} "
            f"(fast), 6h and 30m above {SLOW_BURN:g} (slow), with at least "
            f"{MIN_STOPPED_CLOCKS} clocks stopped.",
            "none",
            ((None, "green"), (SLOW_BURN, "yellow"), (FAST_BURN, "red")),
            [Query(burn_rate("1h"), "1h {{target}}"), Query(burn_rate("6h"), "6h {{target}}")],
            width=24,
        ),
    )
    board.row("Pipeline health").add(
        stat_panel(
            "Workers up",
            "1 while a worker consumes; a scrape that fails shows as a gap, see up{job}.",
            "none",
            ((None, "red"), (1, "green")),
            [Query("ticketpulse_worker_up", "{{instance}}")],
            mappings=[
                dm.ValueMap(
                    options={
                        "0": dm.ValueMappingResult(text="down", color="red"),
                        "1": dm.ValueMappingResult(text="up", color="green"),
                    }
                )
            ],
        ),
        stat_panel(
            "Snapshot age",
            "Now minus the as_of of the newest snapshot the workers expose.",
            "s",
            ((None, "green"), (120, "yellow"), (180, "red")),
            [Query("time() - max(ticketpulse_snapshot_timestamp_seconds)", "age")],
        ),
        stat_panel(
            "Event-time lag",
            "Now minus the occurred_at of the newest applied event, when it was applied.",
            "s",
            ((None, "green"), (60, "yellow"), (120, "red")),
            [Query("max by (instance) (ticketpulse_event_time_lag_seconds)", "{{instance}}")],
        ),
        stat_panel(
            "Dead letters, last hour",
            "Records written to the dead-letter topic in the last hour, all topics.",
            "short",
            ((None, "green"), (1, "yellow"), (60, "red")),
            [Query("sum(increase(ticketpulse_deadletter_total[1h]))", "dead letters")],
        ),
        series_panel(
            "Event-time lag",
            "Now minus the occurred_at of the newest applied event, per worker.",
            "s",
            ((None, "green"), (120, "red")),
            [Query("max by (instance) (ticketpulse_event_time_lag_seconds)", "{{instance}}")],
        ),
        series_panel(
            "Consumer lag",
            "High watermark minus committed offset, per topic, over the owned partitions.",
            "short",
            ((None, "green"), (1000, "yellow"), (10000, "red")),
            [Query("sum by (topic) (ticketpulse_consumer_lag_messages)", "{{topic}}")],
        ),
        series_panel(
            "Events by outcome",
            "Events read per second: accepted, duplicate, invalid, rejected, anomaly.",
            "ops",
            GREEN,
            [Query("sum by (outcome) (rate(ticketpulse_events_total[5m]))", "{{outcome}}")],
        ),
        series_panel(
            "Dead letters per minute",
            "Records written to the dead-letter topic per minute, by source topic.",
            "short",
            ((None, "green"), (1, "red")),
            [
                Query(
                    "sum by (topic) (rate(ticketpulse_deadletter_total[5m])) * 60",
                    "{{topic}}",
                )
            ],
        ),
        series_panel(
            "Batch apply time p99",
            "Plan plus Redis write of one batch, p99 over 5 minutes, all workers.",
            "s",
            ((None, "green"), (0.5, "yellow"), (2, "red")),
            [
                Query(
                    "histogram_quantile(0.99, sum by (le) "
                    "(rate(ticketpulse_batch_apply_seconds_bucket[5m])))",
                    "p99",
                )
            ],
            width=24,
        ),
    )
    return board.build()


# --- Team and agent drill-down ---------------------------------------------------------------

_AGENTS = f'agent=~"$agent", {PER_AGENT}'
_AGENT_NOTE = " Per-agent rows exist only when the worker runs with agent_labels on."


def team_agent() -> dm.Dashboard:
    board = Board(
        "ticketpulse-team-agent",
        "ticketpulse / Team and agent drill-down",
        "Per team and per agent: reply time, touches, solves, CSAT and handle time from the "
        "snapshot.",
    ).variables(*_dimension_variables(), agent_variable())
    board.row("Teams").add(
        bar_panel(
            "Reply time p90 per team (24h)",
            "p90 of every reply sample over the last 24 hours, per team.",
            "s",
            ((None, "green"), (3600, "yellow"), (28800, "red")),
            [
                Query(
                    snapshot(_gauge("reply_seconds"), f'window="24h", stat="p90", {PER_TEAM}'),
                    "{{team}}",
                )
            ],
        ),
        bar_panel(
            "Solves per team (24h)",
            "Tickets first solved over the last 24 hours, per team.",
            "short",
            GREEN,
            [
                Query(
                    snapshot(_gauge("tickets_solved"), f'window="24h", {PER_TEAM}'),
                    "{{team}}",
                )
            ],
        ),
        bar_panel(
            "CSAT per team (7d)",
            "Share of CSAT responses scoring 4 or 5 over the last 7 days, per team.",
            "percent",
            ((None, "red"), (75, "yellow"), (85, "green")),
            [
                Query(
                    snapshot(_gauge("csat.percent"), f'window="7d", {PER_TEAM}'),
                    "{{team}}",
                )
            ],
            maximum=100,
        ),
        bar_panel(
            "Touches to close per team (24h)",
            "Mean touches before the first solve over the last 24 hours, per team.",
            "none",
            ((None, "green"), (2, "yellow"), (4, "red")),
            [
                Query(
                    snapshot(
                        _gauge("touches_to_close"),
                        f'window="24h", stat="mean", {PER_TEAM}',
                    ),
                    "{{team}}",
                )
            ],
        ),
        bar_panel(
            "Open backlog per team",
            "Open tickets now, per team.",
            "short",
            ((None, "green"), (50, "yellow"), (200, "red")),
            [Query(snapshot("ticketpulse_backlog_tickets", BACKLOG_BY_TEAM), "{{team}}")],
        ),
        series_panel(
            "Reply time p90, picked row (1h window)",
            "p90 reply time in the sliding 1h window for the team, channel or priority "
            "the variables pick (All: everyone).",
            "s",
            ((None, "green"), (3600, "yellow"), (28800, "red")),
            [
                Query(
                    snapshot(_gauge("reply_seconds"), f'window="1h", stat="p90", {SELECTED}'),
                    "p90",
                )
            ],
            width=8,
        ),
    )
    board.row("Agents").add(
        bar_panel(
            "Reply time p90 per agent (24h)",
            "p90 of the reply samples of each touching agent over the last 24 hours." + _AGENT_NOTE,
            "s",
            ((None, "green"), (3600, "yellow"), (28800, "red")),
            [
                Query(
                    snapshot(_gauge("reply_seconds"), f'window="24h", stat="p90", {_AGENTS}'),
                    "{{agent}}",
                )
            ],
            width=6,
            height=10,
        ),
        bar_panel(
            "Touches to close per agent (24h)",
            "Mean touches before the first solve of each agent's tickets." + _AGENT_NOTE,
            "none",
            ((None, "green"), (2, "yellow"), (4, "red")),
            [
                Query(
                    snapshot(
                        _gauge("touches_to_close"),
                        f'window="24h", stat="mean", {_AGENTS}',
                    ),
                    "{{agent}}",
                )
            ],
            width=6,
            height=10,
        ),
        bar_panel(
            "Solves per agent (24h)",
            "Tickets first solved over the last 24 hours, per agent." + _AGENT_NOTE,
            "short",
            GREEN,
            [
                Query(
                    snapshot(_gauge("tickets_solved"), f'window="24h", {_AGENTS}'),
                    "{{agent}}",
                )
            ],
            width=6,
            height=10,
        ),
        bar_panel(
            "CSAT per agent (7d)",
            "Share of CSAT responses scoring 4 or 5 over 7 days, per agent." + _AGENT_NOTE,
            "percent",
            ((None, "red"), (75, "yellow"), (85, "green")),
            [
                Query(
                    snapshot(_gauge("csat.percent"), f'window="7d", {_AGENTS}'),
                    "{{agent}}",
                )
            ],
            width=6,
            height=10,
            maximum=100,
        ),
        *catalog_panels("team-agent", "Agents"),
        series_panel(
            "Reply time p90 per agent (facts, 1h)",
            "p90 of each agent's reply samples over the hour before each point, from the "
            "ticketpulse_agent_reply_seconds histogram (bucket-interpolated)." + _AGENT_NOTE,
            "s",
            ((None, "green"), (3600, "yellow"), (28800, "red")),
            [
                Query(
                    "histogram_quantile(0.9, sum by (agent, le) (rate("
                    'ticketpulse_agent_reply_seconds_bucket{agent=~"$agent"}[1h])))',
                    "{{agent}}",
                )
            ],
            width=18,
        ),
    )
    return board.build()


DASHBOARDS = {
    "support-overview": support_overview,
    "sla-oncall": sla_oncall,
    "team-agent": team_agent,
}


def dashboard_json(dashboard: dm.Dashboard) -> dict[str, Any]:
    """The dashboard as plain JSON data (what Grafana stores and the repository commits)."""
    data: dict[str, Any] = json.loads(json.dumps(dashboard, cls=JSONEncoder))
    return data
