"""PromQL building blocks for boards and alerts, and the checks every query must pass.

The worker's metrics are marginal rows (docs/metrics.md, "Dimension rows"): every fact counts in
four rows, so a query must pick rows with a selector, never sum over all of them. The selectors
here are the only ones boards and alerts use; ``row_problems`` finds a query that forgets one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from streams.live.metrics import METRICS, MetricDef

# Rows of the fact metrics and window gauges (labels team, channel, priority).
OVERALL = 'team="", channel="", priority=""'
PER_TEAM = 'team!=""'
PER_CHANNEL = 'channel!=""'
PER_PRIORITY = 'priority!=""'
PER_AGENT = 'agent!=""'
# The board variables' "All": the empty label, so that a selector on every variable set to All
# picks the overall row (``picked_rows``).
ALL_ROWS_VALUE = "^$"
DIMENSIONS = ("team", "channel", "priority")

# Rows of ticketpulse_backlog_tickets (labels status, priority, team).
BACKLOG_BY_STATUS = 'status!=""'
BACKLOG_BY_PRIORITY = 'priority!=""'
BACKLOG_BY_TEAM = 'team!=""'

# Labels of marginal rows: the ticket dimensions, backlog status, the account gauges' rows.
_ROW_LABELS = ("team", "channel", "priority", "status", "segment", "manager", "source")
_NAME = re.compile(r"\b(ticketpulse_[a-zA-Z0-9_]+)\b(\s*\{([^}]*)\})?")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Selector:
    """One metric named in a query, with its label matchers (label, operator, value)."""

    name: str
    matchers: tuple[tuple[str, str, str], ...]


def selectors(expr: str) -> list[Selector]:
    """Every ``ticketpulse_*`` metric a query names, with its matchers."""
    found = []
    for match in _NAME.finditer(expr):
        body = match.group(3) or ""
        matchers = tuple((m[0], m[1], m[2]) for m in _MATCHER.findall(body))
        found.append(Selector(match.group(1), matchers))
    return found


def exported_series_names() -> dict[str, MetricDef]:
    """Series name as Prometheus stores it -> the metric it belongs to."""
    names: dict[str, MetricDef] = {}
    for definition in METRICS:
        if definition.kind == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                names[definition.name + suffix] = definition
        else:
            names[definition.name] = definition
    return names


def unknown_metrics(expr: str) -> list[str]:
    """Metric names in ``expr`` that the worker does not export."""
    known = exported_series_names()
    return [s.name for s in selectors(expr) if s.name not in known]


def row_problems(expr: str) -> list[str]:
    """Selectors that could add up several rows of a metric split into marginal rows.

    A selector is fine when it picks a split (``team!=""``, ``channel!=""``, ``priority!=""``,
    ``agent!=""``, ``status!=""``, ``segment!=""``, ...) or pins every row label of its metric
    (``=`` or ``=~`` with a board variable, whose All value is the empty label).
    """
    known = exported_series_names()
    problems = []
    for selector in selectors(expr):
        definition = known.get(selector.name)
        if definition is None:
            continue
        row_labels = [label for label in _ROW_LABELS if label in definition.labels]
        if not row_labels:
            continue
        ops = {(label, op, value) for label, op, value in selector.matchers}
        splits = {label for label, op, value in ops if op == "!=" and value == ""}
        if splits & {*row_labels, "agent"}:
            continue
        pinned = {label for label, op, _ in ops if op in ("=", "=~")}
        if not set(row_labels) <= pinned:
            missing = ", ".join(sorted(set(row_labels) - pinned))
            problems.append(f"{selector.name} does not pick a row (no selector on {missing})")
    return problems


def variables_used(expr: str) -> set[str]:
    """Dashboard variables (``$name`` or ``${name}``) a query uses, Grafana's own excluded."""
    names = set(re.findall(r"\$\{?([a-zA-Z_][a-zA-Z0-9_]*)", expr))
    return {name for name in names if not name.startswith("__")}


def dims_sum(metric: str, selector: str, window: str, by: str = "") -> str:
    """``sum [by (...)] (increase(metric{selector}[window]))``: facts of every worker."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (increase({metric}{{{selector}}}[{window}]))"


def snapshot(metric: str, selector: str) -> str:
    """A snapshot gauge: every worker exposes the same merged snapshot, so take one."""
    return f"max without (instance) ({metric}{{{selector}}})"


def picked_rows(dimensions: Sequence[str] = DIMENSIONS, fixed: str = "") -> list[str]:
    """Selectors of every row the board's variables pick, to be joined with ``or``.

    Rows are marginals, so team ``billing`` and priority ``urgent`` set together cannot pick
    billing's urgent tickets (no metric holds them); they pick billing's row *and* urgent's
    row, one series each. One selector per dimension keeps its row when that variable is set
    (``team=~"$team", team!=""``), and the last one is the overall row, kept only when every
    variable is on All (with one set it is that row again, which ``or`` drops as a copy).
    """
    prefix = f"{fixed}, " if fixed else ""
    rows = []
    for dimension in dimensions:
        others = ", ".join(f'{other}=""' for other in dimensions if other != dimension)
        rows.append(f'{prefix}{dimension}=~"${dimension}", {dimension}!="", {others}')
    rows.append(prefix + ", ".join(f'{d}=~"${d}"' for d in dimensions))
    return rows


def picked(metric: str, fixed: str = "", dimensions: Sequence[str] = DIMENSIONS) -> str:
    """A snapshot gauge's rows the variables pick (``picked_rows``), one worker's copy."""
    rows = "\n  or ".join(f"{metric}{{{row}}}" for row in picked_rows(dimensions, fixed))
    return f"max without (instance) (\n  {rows}\n)"


def picked_increase(metric: str, window: str, by: str = "", fixed: str = "") -> str:
    """Facts of every worker over ``window`` in each row the variables pick, a series a row."""
    grouping = ", ".join([*([by] if by else []), *DIMENSIONS])
    rows = "\n  or ".join(
        f"increase({metric}{{{row}}}[{window}])" for row in picked_rows(DIMENSIONS, fixed)
    )
    return f"sum by ({grouping}) (\n  {rows}\n)"


def rounded(expr: str) -> str:
    """A count from ``increase()``, which extrapolates to the window's edges (1.009 breaches):
    rounded to the nearest whole number, as counts are shown."""
    return f"round(\n{expr}\n)"


def share(part: str, whole: str) -> str:
    """``part / whole`` for the series whose ``whole`` is above 0: where nothing happened
    (0 / 0) there is no series, so a panel shows its no-value text instead of NaN."""
    return f"{part}\n/ (\n{whole}\n> 0)"


def without_nan(expr: str) -> str:
    """``expr`` (a quantity never below 0) without its NaN samples: NaN fails every
    comparison, so ``>= 0`` keeps all the others."""
    return f"{expr}\n>= 0"
