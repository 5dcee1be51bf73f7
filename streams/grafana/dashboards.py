"""The three ticketpulse boards, built with grafana-foundation-sdk's typed builders.

- *Support overview* (leads): response times, quality, SLA compliance, volume and backlog;
- *SLA on-call*: what is about to breach or has breached, burn rates, pipeline health;
- *Team and agent drill-down*: per team and (with ``agent_labels``) per agent.

The variables ``team``, ``channel`` and ``priority`` pick dimension rows of the metrics
(docs/metrics.md): their "All" value is the empty label, so with all three on All a panel
shows the overall row, and with one set, that team's, channel's or priority's row. The rows
are marginals, so with two set a panel shows both rows side by side (``promql.picked_rows``).
Snapshot gauges (the product's corrected numbers) are read with ``max without (instance)``;
fact counters are summed over workers, and counts from them are rounded. Every panel reads the
data source the ``datasource`` variable picks. ``streams.grafana.files`` writes the JSON to
grafana/dashboards/.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from grafana_foundation_sdk.builders import bargauge, common, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.runtime import UnknownDataquery
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from streams.domain.catalog import AGENT, KPIS, Aggregation, Kpi, Unit, kpi
from streams.grafana import API_DATASOURCE_UID, DATASOURCE_UID
from streams.grafana.alerts import (
    FAST_BURN,
    LINKS,
    MIN_STOPPED_CLOCKS,
    SLOW_BURN,
    Links,
    burn_rate,
)
from streams.grafana.promql import (
    ALL_ROWS_VALUE,
    BACKLOG_BY_PRIORITY,
    BACKLOG_BY_STATUS,
    BACKLOG_BY_TEAM,
    OVERALL,
    PER_AGENT,
    PER_PRIORITY,
    PER_TEAM,
    dims_sum,
    picked,
    picked_increase,
    rounded,
    share,
    snapshot,
    without_nan,
)

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
TAGS = ["ticketpulse"]
WINDOWS = ("1h", "24h", "7d")
# The row a series of picked rows belongs to: empty for the overall row.
ROW = "{{team}}{{channel}}{{priority}}"
NO_SAMPLES = "No samples in this window"
NO_CLOCK_STOPPED = "No SLA clock stopped in this window"

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
    no_value: str = "",
    decimals: int | None = None,
    links: Sequence[db.DashboardLink] = (),
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
    return _options(panel, no_value, decimals, links)


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
    no_value: str = "",
    decimals: int | None = None,
    links: Sequence[db.DashboardLink] = (),
    data_links: Sequence[db.DashboardLink] = (),
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
    if data_links:
        panel = panel.data_links(list(data_links))
    return _options(panel, no_value, decimals, links)


def series_panel(
    title: str,
    description: str,
    unit: str,
    thresholds: Thresholds,
    queries: Sequence[Query],
    *,
    width: int = 12,
    height: int = 8,
    no_value: str = "",
    decimals: int | None = None,
    links: Sequence[db.DashboardLink] = (),
) -> timeseries.Panel:
    panel = (
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
    return _options(panel, no_value, decimals, links)


_THRESHOLD_LINES = cm.GraphThresholdsStyleMode.DASHED
_P = TypeVar("_P", stat.Panel, bargauge.Panel, timeseries.Panel)


def _options(
    panel: _P, no_value: str, decimals: int | None, links: Sequence[db.DashboardLink]
) -> _P:
    """What a panel shows when its query has no series (and why), whole numbers for counts,
    links to runbooks and boards."""
    if no_value:
        panel = panel.no_value(no_value)
    if decimals is not None:
        panel = panel.decimals(decimals)
    if links:
        panel = panel.links(list(links))
    return panel


def runbook(alert: str, links: Links) -> db.DashboardLink:
    """A panel link to the runbook section of ``alert`` (docs/runbooks.md, at ``links``)."""
    return (
        db.DashboardLink(f"Runbook: {alert}")
        .type(dm.DashboardLinkType.LINK)
        .url(f"{links.runbooks}#{alert.lower()}")
        .target_blank(True)
    )


def board_link(title: str, uid: str, variables: str = "") -> db.DashboardLink:
    """A link to another board with the time range (and ``variables``, a query string)."""
    query = f"{variables}&" if variables else ""
    return (
        db.DashboardLink(title)
        .type(dm.DashboardLinkType.LINK)
        .url(f"/d/{uid}?{query}${{__url_time_range}}")
    )


class Board:
    """A dashboard being built: panels get ids in order and are laid out left to right; it links
    to the other ticketpulse boards and to the runbooks."""

    def __init__(self, uid: str, title: str, description: str, links: Links) -> None:
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
            .links(
                [
                    db.DashboardLink("ticketpulse boards")
                    .type(dm.DashboardLinkType.DASHBOARDS)
                    .tags(TAGS)
                    .as_dropdown(False)
                    .include_vars(True)
                    .keep_time(True),
                    db.DashboardLink("Runbooks")
                    .type(dm.DashboardLinkType.LINK)
                    .url(links.runbooks)
                    .icon("doc")
                    .target_blank(True),
                ]
            )
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
        for variable in (datasource_variable(), *variables):
            self.builder.with_variable(variable)
        return self

    def build(self) -> dm.Dashboard:
        return self.builder.build()


class _Built(cogbuilder.Builder[dm.Panel]):
    def __init__(self, panel: dm.Panel) -> None:
        self._panel = panel

    def build(self) -> dm.Panel:
        return self._panel


def datasource_variable() -> db.DatasourceVariable:
    """The Prometheus every panel reads: the provisioned one by default, any other by choice."""
    return (
        db.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("Data source")
        .description("The Prometheus that scrapes the ticketpulse workers.")
        .type("prometheus")
        .current(dm.VariableOption(selected=True, text="Prometheus", value=DATASOURCE_UID))
    )


def dimension_variable(name: str, label: str) -> db.QueryVariable:
    """One of team, channel, priority: its values are the rows split by it; All = no split."""
    return (
        db.QueryVariable(name)
        .label(label)
        .description(
            f"Pick one {name} to see its row; All shows the overall row (not a sum). "
            "Rows are marginals: with a team and a priority set, panels show the team's row "
            "and the priority's row side by side, not the team's tickets of that priority."
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


def _window_stats(metric: str, stats: Sequence[str]) -> list[Query]:
    return [
        Query(picked(metric, f'window="{w}", stat="{s}"'), f"{s} {w} {ROW}")
        for s in stats
        for w in WINDOWS
    ]


def _window_values(metric: str, windows: Sequence[str]) -> list[Query]:
    return [Query(picked(metric, f'window="{w}"'), f"{w} {ROW}") for w in windows]


_AT_RISK = Query("max by (target) (ticketpulse_sla_at_risk_tickets)", "{{target}}")
_BREACHED_RUNNING = Query(
    "max by (target) (ticketpulse_sla_breached_running_tickets)", "{{target}}"
)
TEAM_AGENT_UID = "ticketpulse-team-agent"
# A bar of a per-team panel opens that team's drill-down.
_TEAM_DRILL_DOWN = board_link(
    "Drill down: ${__field.labels.team}", TEAM_AGENT_UID, "var-team=${__field.labels.team}"
)
_NOT_BY_DIMENSION = (
    " Counted over all teams, channels and priorities: the variables do not filter it."
)


# --- the tickets behind the numbers: GET /sla/at-risk through the Infinity data source -------

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
            "ticket's current team, priority and agent." + _NOT_BY_DIMENSION
        )
        .datasource(API_DATASOURCE)
        .targets([_Dataquery(at_risk_query())])
        .unit("none")
        .thresholds(_thresholds(((None, "red"), (0, "yellow"))))
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


def _at_risk_panel(links: Links) -> stat.Panel:
    return stat_panel(
        "At risk now",
        "Running, unpaused SLA clocks due within at_risk_within, per target." + _NOT_BY_DIMENSION,
        "short",
        ((None, "green"), (1, "yellow"), (10, "red")),
        [_AT_RISK],
        no_value="No snapshot yet",
        links=[runbook("TicketpulseSlaAtRisk", links)],
    )


def _breached_running_panel(links: Links) -> stat.Panel:
    return stat_panel(
        "Breached, still running",
        "SLA clocks past their deadline that have not stopped yet, per target." + _NOT_BY_DIMENSION,
        "short",
        ((None, "green"), (1, "red")),
        [_BREACHED_RUNNING],
        no_value="No snapshot yet",
        links=[runbook("TicketpulseSlaBreach", links)],
    )


# --- Support overview ------------------------------------------------------------------------


def support_overview(links: Links = LINKS) -> dm.Dashboard:
    board = Board(
        "ticketpulse-support-overview",
        "ticketpulse / Support overview",
        "Support KPIs for leads: response times, quality, SLA compliance, volume and backlog. "
        "Numbers are the worker's snapshot (equal to GET /kpis) for the row the variables pick.",
        links,
    ).variables(*_dimension_variables())
    board.row("Response times (snapshot windows 1h, 24h, 7d)").add(
        stat_panel(
            "First reply time",
            "Created to first agent touch: nearest-rank p50 and p90 over each window.",
            "s",
            ((None, "green"), (3600, "yellow"), (14400, "red")),
            _window_stats(_gauge("first_reply_seconds"), ("p50", "p90")),
            width=8,
            no_value=NO_SAMPLES,
        ),
        stat_panel(
            "Reply time (ART)",
            "Every first and next reply sample: p50 and p90 over each window.",
            "s",
            ((None, "green"), (3600, "yellow"), (28800, "red")),
            _window_stats(_gauge("reply_seconds"), ("p50", "p90")),
            width=8,
            no_value=NO_SAMPLES,
        ),
        stat_panel(
            "Resolution time",
            "Created to first solve: p50 and p90 over each window.",
            "s",
            ((None, "green"), (14400, "yellow"), (259200, "red")),
            _window_stats(_gauge("resolution_seconds"), ("p50", "p90")),
            width=8,
            no_value=NO_SAMPLES,
        ),
        series_panel(
            "p90 times over the last hour",
            "p90 of first reply, reply and resolution time in the sliding 1h window.",
            "s",
            ((None, "green"), (14400, "red")),
            [
                Query(
                    picked(_gauge(f"{name}_seconds"), 'window="1h", stat="p90"'),
                    f"{name.replace('_', ' ')} {ROW}",
                )
                for name in ("first_reply", "reply", "resolution")
            ],
            width=24,
            no_value=NO_SAMPLES,
        ),
    )
    board.row("Quality").add(
        stat_panel(
            "Touches to close",
            "Mean agent touches before the first solve.",
            "none",
            ((None, "green"), (2, "yellow"), (4, "red")),
            _window_stats(_gauge("touches_to_close"), ("mean",)),
            no_value=NO_SAMPLES,
        ),
        stat_panel(
            "First-contact resolution",
            "One-touch first solves / first solves with a touch.",
            "percentunit",
            ((None, "red"), (0.5, "yellow"), (0.7, "green")),
            _window_values(_gauge("fcr_rate"), WINDOWS),
            no_value="No first solve with a touch in this window",
        ),
        stat_panel(
            "CSAT",
            "Share of CSAT responses scoring 4 or 5.",
            "percent",
            ((None, "red"), (75, "yellow"), (85, "green")),
            _window_values(_gauge("csat.percent"), WINDOWS),
            no_value="No CSAT response in this window",
        ),
        stat_panel(
            "NPS",
            "Promoters minus detractors, in points from -100 to 100.",
            "none",
            ((None, "red"), (0, "yellow"), (30, "green")),
            _window_values(_gauge("nps.score"), ("24h", "7d")),
            no_value="No NPS response in this window",
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
                    picked(_gauge("sla.compliance"), 'window="24h"'),
                    f"{{{{target}}}} {ROW}",
                )
            ],
            width=12,
            maximum=1,
            no_value=NO_CLOCK_STOPPED,
        ),
        series_panel(
            "SLA compliance per target (1h window)",
            "Compliance in the sliding 1h window; a gap means no clock stopped in that hour.",
            "percentunit",
            ((None, "red"), (0.9, "yellow"), (0.95, "green")),
            [
                Query(
                    picked(_gauge("sla.compliance"), 'window="1h"'),
                    f"{{{{target}}}} {ROW}",
                )
            ],
            no_value=NO_CLOCK_STOPPED,
        ),
        _at_risk_panel(links).span(12).height(4),
        _breached_running_panel(links).span(12).height(4),
    )
    board.row("Volume and backlog").add(
        series_panel(
            "Created vs solved per hour",
            "Tickets created and first solved in the hour before each point "
            "(fact counters as first seen, all workers).",
            "short",
            GREEN,
            [
                Query(
                    rounded(picked_increase(kpi(f"tickets_{what}").fact_metric, "1h")),
                    f"{what} {ROW}",
                )
                for what in ("created", "solved")
            ],
            decimals=0,
            no_value="No ticket created or solved",
        ),
        stat_panel(
            "Open backlog",
            "Open tickets now (new, open, pending, on hold) for the team or priority picked "
            "(both: each row); the channel variable does not apply to the backlog.",
            "short",
            ((None, "green"), (100, "yellow"), (500, "red")),
            [
                Query(
                    picked("ticketpulse_backlog_tickets", 'status=""', ("team", "priority")),
                    "open {{team}}{{priority}}",
                )
            ],
            width=4,
            height=8,
            decimals=0,
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


def sla_oncall(links: Links = LINKS) -> dm.Dashboard:
    breached = kpi("sla.breached").fact_metric
    met = kpi("sla.met").fact_metric
    board = Board(
        "ticketpulse-sla-oncall",
        "ticketpulse / SLA on-call",
        "What is about to breach, what breached, how fast the error budget burns, and "
        "whether the monitor itself is healthy. Runbooks: docs/runbooks.md.",
        links,
    ).variables(*_dimension_variables())
    board.row("Now").add(
        _at_risk_panel(links),
        _breached_running_panel(links),
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
            no_value="No breach since the workers started",
        ),
        stat_panel(
            "Breaches in the last hour",
            "SLA clocks that breached in the last hour, per target, for the rows the "
            "variables pick (facts as first seen, all workers; rounded, as increase() "
            "extrapolates).",
            "short",
            ((None, "green"), (1, "yellow"), (5, "red")),
            [Query(rounded(picked_increase(breached, "1h", "target")), f"{{{{target}}}} {ROW}")],
            decimals=0,
            no_value="No breach counted since the workers started",
            links=[runbook("TicketpulseSlaBreach", links)],
        ),
    )
    board.row("Tickets").add(at_risk_table())
    board.row("Breaches").add(
        series_panel(
            "Breaches per hour, per target",
            "Clocks that breached in the hour before each point, all teams (rounded).",
            "short",
            ((None, "green"), (1, "yellow"), (5, "red")),
            [Query(rounded(dims_sum(breached, OVERALL, "1h", "target")), "{{target}}")],
            decimals=0,
            no_value="No breach counted since the workers started",
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
            decimals=0,
        ),
        bar_panel(
            "Breaches per team, last hour",
            "SLA clocks that breached in the last hour, per team (all targets, rounded). "
            "Click a team for its drill-down.",
            "short",
            ((None, "green"), (1, "yellow"), (5, "red")),
            [Query(rounded(dims_sum(breached, PER_TEAM, "1h", "team")), "{{team}}")],
            decimals=0,
            no_value="No breach counted since the workers started",
            data_links=[_TEAM_DRILL_DOWN],
        ),
        bar_panel(
            "Breaches per priority, last hour",
            "SLA clocks that breached in the last hour, per priority (all targets, rounded).",
            "short",
            ((None, "green"), (1, "yellow"), (5, "red")),
            [Query(rounded(dims_sum(breached, PER_PRIORITY, "1h", "priority")), "{{priority}}")],
            decimals=0,
            no_value="No breach counted since the workers started",
        ),
        bar_panel(
            "Breached share per team, last hour",
            "Breached / (met + breached) clocks per team in the last hour; a team none of "
            "whose clocks stopped has no bar (not 0/0). Click a team for its drill-down.",
            "percentunit",
            ((None, "green"), (0.05, "yellow"), (0.2, "red")),
            [
                Query(
                    share(
                        dims_sum(breached, PER_TEAM, "1h", "team"),
                        f"{dims_sum(met, PER_TEAM, '1h', 'team')}\n"
                        f"+ {dims_sum(breached, PER_TEAM, '1h', 'team')}",
                    ),
                    "{{team}}",
                )
            ],
            maximum=1,
            no_value="No SLA clock stopped in the last hour",
            data_links=[_TEAM_DRILL_DOWN],
        ),
        series_panel(
            "Error-budget burn rate",
            "Breached share of stopped clocks divided by the error budget (1 - target "
            f"compliance): 1 spends it exactly, over every clock first seen (a backfill "
            f"shows here). Alerts count recent clocks only: 1h and 5m above {FAST_BURN:g} "
            f"(fast), 6h and 30m above {SLOW_BURN:g} (slow), with at least "
            f"{MIN_STOPPED_CLOCKS} clocks stopped. No point where no clock stopped (0/0).",
            "none",
            ((None, "green"), (SLOW_BURN, "yellow"), (FAST_BURN, "red")),
            [
                Query(without_nan(burn_rate(window)), f"{window} {{{{target}}}}")
                for window in ("1h", "6h")
            ],
            width=24,
            no_value=NO_CLOCK_STOPPED,
            links=[runbook(f"TicketpulseSlaBudgetBurn{pace}", links) for pace in ("Fast", "Slow")],
        ),
    )
    board.row("Pipeline health").add(
        stat_panel(
            "Workers up",
            "1 while a worker consumes; a scrape that fails shows as a gap, see up{job}.",
            "none",
            ((None, "red"), (1, "green")),
            [Query("ticketpulse_worker_up", "{{instance}}")],
            no_value="No worker scraped",
            links=[runbook("TicketpulseWorkerDown", links)],
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
            "Now minus when the newest snapshot was published (workers publish about every "
            "second). Not now minus as_of: as_of is the end of the snapshot's minute.",
            "s",
            ((None, "green"), (120, "yellow"), (180, "red")),
            [Query("time() - max(ticketpulse_snapshot_published_timestamp_seconds)", "age")],
            no_value="No snapshot published yet",
        ),
        stat_panel(
            "Event-time lag",
            "Now minus the occurred_at of the newest applied event, when it was applied.",
            "s",
            ((None, "green"), (60, "yellow"), (120, "red")),
            [Query("max by (instance) (ticketpulse_event_time_lag_seconds)", "{{instance}}")],
            no_value="No event applied yet",
            links=[runbook("TicketpulseEventTimeLag", links)],
        ),
        stat_panel(
            "Dead letters, last hour",
            "Records written to the dead-letter topic in the last hour, all topics (rounded).",
            "short",
            ((None, "green"), (1, "yellow"), (60, "red")),
            [Query(rounded("sum(increase(ticketpulse_deadletter_total[1h]))"), "dead letters")],
            decimals=0,
            no_value="No dead letter since the workers started",
            links=[runbook("TicketpulseDeadLetters", links)],
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


def team_agent(links: Links = LINKS) -> dm.Dashboard:
    board = Board(
        TEAM_AGENT_UID,
        "ticketpulse / Team and agent drill-down",
        "Per team and per agent: reply time, touches, solves, CSAT and handle time from the "
        "snapshot.",
        links,
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
            "the variables pick (All: everyone; two picked: a line each).",
            "s",
            ((None, "green"), (3600, "yellow"), (28800, "red")),
            [
                Query(
                    picked(_gauge("reply_seconds"), 'window="1h", stat="p90"'),
                    f"p90 {ROW}",
                )
            ],
            width=8,
            no_value=NO_SAMPLES,
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


DASHBOARDS: dict[str, Callable[[Links], dm.Dashboard]] = {
    "support-overview": support_overview,
    "sla-oncall": sla_oncall,
    "team-agent": team_agent,
}


def dashboard_json(dashboard: dm.Dashboard) -> dict[str, Any]:
    """The dashboard as plain JSON data (what Grafana stores and the repository commits)."""
    data: dict[str, Any] = json.loads(json.dumps(dashboard, cls=JSONEncoder))
    return data
