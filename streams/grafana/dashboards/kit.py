"""The panel kit every board is built from: stat, bar, time-series panels, their thresholds
and Prometheus targets, links to runbooks and boards, the variables, and ``Board`` (ids and
layout in order). Panels read the data source the ``datasource`` variable picks; the bars the
KPI catalog declares (streams/domain/catalog.py) come from ``catalog_panels``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    prometheus,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

from streams.domain.catalog import AGENT, KPIS, Aggregation, Kpi, Unit, kpi
from streams.grafana import DATASOURCE_UID
from streams.grafana.alerts import Links
from streams.grafana.promql import ALL_ROWS_VALUE, PER_AGENT, picked, snapshot

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
TAGS = ["ticketpulse"]
WINDOWS = ("1h", "24h", "7d")
# The row a series of picked rows belongs to: empty for the overall row.
ROW = "{{team}}{{channel}}{{priority}}"
NO_SAMPLES = "No samples in this window"
NO_CLOCK_STOPPED = "No SLA clock stopped in this window"
NOT_BY_DIMENSION = (
    " Counted over all teams, channels and priorities: the variables do not filter it."
)

Thresholds = Sequence[tuple[float | None, str]]
GREEN: Thresholds = ((None, "green"),)


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


def thresholds_config(steps: Thresholds) -> db.ThresholdsConfig:
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
        _panel(stat.Panel(), title, description, unit, thresholds, width, height)
        .targets(list(_refs(queries, instant=True)))
        .reduce_options(_last())
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .graph_mode(cm.BigValueGraphMode.NONE)
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
        _panel(bargauge.Panel(), title, description, unit, thresholds, width, height)
        .targets(list(_refs(queries, instant=True)))
        .reduce_options(_last())
        .orientation(cm.VizOrientation.HORIZONTAL)
        .display_mode(cm.BarGaugeDisplayMode.GRADIENT)
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
        _panel(timeseries.Panel(), title, description, unit, thresholds, width, height)
        .thresholds_style(common.GraphThresholdsStyleConfig().mode(_THRESHOLD_LINES))
        .targets(list(_refs(queries, instant=False)))
    )
    return _options(panel, no_value, decimals, links)


def table_panel(
    title: str,
    description: str,
    unit: str,
    thresholds: Thresholds,
    key: str,
    columns: Sequence[tuple[str, Query]],
    *,
    width: int = 24,
    height: int = 10,
    no_value: str = "",
    links: Sequence[db.DashboardLink] = (),
) -> table.Panel:
    """One row per value of the label ``key``, one column per (title, instant query): the
    queries are read as tables and merged on ``key``."""
    targets = [
        t.format(pm.PromQueryFormat.TABLE) for t in _refs([q for _, q in columns], instant=True)
    ]
    refs = [chr(ord("A") + i) for i in range(len(columns))]
    organize = {
        "excludeByName": {"Time": True},
        "indexByName": {key: 0, **{f"Value #{r}": i + 1 for i, r in enumerate(refs)}},
        "renameByName": {f"Value #{r}": name for r, (name, _) in zip(refs, columns, strict=True)},
    }
    panel = (
        _panel(table.Panel(), title, description, unit, thresholds, width, height)
        .targets(list(targets))
        .transformations(
            [
                dm.DataTransformerConfig(id_val="merge", options={}),
                dm.DataTransformerConfig(id_val="organize", options=organize),
            ]
        )
    )
    return _options(panel, no_value, None, links)


_THRESHOLD_LINES = cm.GraphThresholdsStyleMode.DASHED
_P = TypeVar("_P", stat.Panel, bargauge.Panel, timeseries.Panel, table.Panel)


def _panel(
    panel: _P,
    title: str,
    description: str,
    unit: str,
    thresholds: Thresholds,
    width: int,
    height: int,
) -> _P:
    """What every panel of the kit has: a title, a description, a unit, thresholds, a size, and
    the data source the ``datasource`` variable picks."""
    return (
        panel.title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .thresholds(thresholds_config(thresholds))
        .height(height)
        .span(width)
    )


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


def query_variable(
    name: str,
    label: str,
    description: str,
    metric: str,
    *,
    multi: bool = False,
    all_value: str = ALL_ROWS_VALUE,
) -> db.QueryVariable:
    """A variable whose values are those of the label ``name`` on ``metric``'s series, All
    picked at first (``all_value``: the overall row, or any value when ``multi``)."""
    return (
        db.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(DATASOURCE)
        .query(f'label_values({metric}{{{name}!=""}}, {name})')
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(True)
        .all_value(all_value)
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )


def dimension_variable(name: str, label: str) -> db.QueryVariable:
    """One of team, channel, priority: its values are the rows split by it; All = no split."""
    return query_variable(
        name,
        label,
        f"Pick one {name} to see its row; All shows the overall row (not a sum). "
        "Rows are marginals: with a team and a priority set, panels show the team's row "
        "and the priority's row side by side, not the team's tickets of that priority.",
        gauge("tickets_created"),
    )


def agent_variable() -> db.QueryVariable:
    return query_variable(
        "agent",
        "Agent",
        "Agents to show (per-agent rows exist only with agent_labels on).",
        gauge("tickets_solved"),
        multi=True,
        all_value=".+",
    )


# The agents the agent variable picks, on the per-agent rows.
AGENTS = f'agent=~"$agent", {PER_AGENT}'
AGENT_NOTE = " Per-agent rows exist only when the worker runs with agent_labels on."


def dimension_variables() -> tuple[db.QueryVariable, ...]:
    return (
        dimension_variable("team", "Team"),
        dimension_variable("channel", "Channel"),
        dimension_variable("priority", "Priority"),
    )


def gauge(key: str) -> str:
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
    split = AGENTS if panel.by == AGENT else f'{panel.by}!=""'
    stat = f', stat="{panel.stat}"' if row.aggregation is Aggregation.DISTRIBUTION else ""
    note = AGENT_NOTE if panel.by == AGENT else ""
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


def window_stats(metric: str, stats: Sequence[str]) -> list[Query]:
    return [
        Query(picked(metric, f'window="{w}", stat="{s}"'), f"{s} {w} {ROW}")
        for s in stats
        for w in WINDOWS
    ]


def window_values(metric: str, windows: Sequence[str]) -> list[Query]:
    return [Query(picked(metric, f'window="{w}"'), f"{w} {ROW}") for w in windows]
