"""``ticketpulse top``: a full-screen view of the live KPIs, refreshed from ``GET /kpis``;
with ``--accounts`` also the snapshot's accounts section (docs/accounts.md).

Drawing is a pure function of the snapshot (``render``), so what the screen shows is tested
without a terminal or a worker; the command only fetches, keeps the last good snapshot and
redraws. A worker that cannot be reached is a line on the screen, never a crash: the view
keeps showing the last snapshot and says how old it is.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click
from rich.columns import Columns
from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from streams.domain.catalog import (
    DIMENSIONS,
    DISTRIBUTIONS,
    KPIS,
    Aggregation,
    Kpi,
    Unit,
    kpi,
)
from streams.domain.instant import (
    MICROS_PER_MINUTE,
    MICROS_PER_SECOND,
    Instant,
    format_rfc3339,
    from_datetime,
)
from streams.domain.kpis import Distribution, Kpis
from streams.domain.snapshot import SlaNow, Snapshot, Window
from streams.domain.windows import WINDOWS

DEFAULT_URL = "http://127.0.0.1:6066"
WINDOW_NAMES = tuple(WINDOWS)
TARGETS = ("first_reply", "next_reply", "resolution")
MAX_ROWS = 30  # a per-dimension table longer than a screen helps nobody
NONE = "-"

_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR


def format_seconds(value: float | None) -> str:
    """A duration at a glance: ``0.4s``, ``42s``, ``4m12s``, ``3h05m``, ``2d4h``."""
    if value is None:
        return NONE
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value < 1:
        return f"{sign}{value:.1f}s"
    total = round(value)
    if total < _MINUTE:
        return f"{sign}{total}s"
    if total < _HOUR:
        minutes, secs = divmod(total, _MINUTE)
        return f"{sign}{minutes}m{secs:02d}s"
    total = round(value / _MINUTE) * _MINUTE
    if total < _DAY:
        hours, rest = divmod(total, _HOUR)
        return f"{sign}{hours}h{rest // _MINUTE:02d}m"
    total = round(value / _HOUR) * _HOUR
    days, rest = divmod(total, _DAY)
    return f"{sign}{days}d{rest // _HOUR}h"


def _percent(value: float | None, scale: float = 100.0) -> str:
    return NONE if value is None else f"{value * scale:.1f}%"


def _number(value: float | None) -> str:
    return NONE if value is None else f"{value:g}"


def _p50_p90(distribution: Distribution, unit: Unit = Unit.SECONDS) -> str:
    show = format_seconds if unit is Unit.SECONDS else _number
    return f"{show(distribution.p50)} / {show(distribution.p90)}"


def _csat(kpis: Kpis) -> str:
    csat = kpis.csat
    if not csat.responses:
        return NONE
    return f"{_percent(csat.percent, 1)} (n={csat.responses})"


def _nps(kpis: Kpis) -> str:
    nps = kpis.nps
    if nps.score is None:
        return NONE
    return f"{nps.score:+.1f} (n={nps.responses})"


def _compliance(kpis: Kpis, target: str) -> str:
    sla = kpis.sla_of(target)
    if sla.compliance is None:
        return NONE
    return f"{_percent(sla.compliance)} ({sla.met}/{sla.met + sla.breached})"


def _sla_row(target: str) -> tuple[str, Callable[[Kpis], str]]:
    return f"SLA {target.replace('_', ' ')}", lambda k: _compliance(k, target)


Show = Callable[[Kpis], str]
# KPIs shown with more than their own value (CSAT and NPS with their responses)
_SHOWN_WITH_COUNTS: dict[str, Show] = {"csat.percent": _csat, "nps.score": _nps}


def _shown(row: Kpi) -> Show:
    """How a K object shows one catalog KPI in a cell."""
    special = _SHOWN_WITH_COUNTS.get(row.key)
    if special is not None:
        return special
    key, unit = row.key, row.unit
    if row.aggregation is Aggregation.DISTRIBUTION:
        return lambda k: _p50_p90(k.distribution(key), unit)
    if row.aggregation is Aggregation.RATIO:
        scale = 1.0 if unit is Unit.PERCENT else 100.0
        return lambda k: _percent(k.value(key), scale)
    return lambda k: str(k.value(key))


# The rows of the per-window table: the catalog's KPIs with a top label, then the SLA.
_ROWS: tuple[tuple[str, Show], ...] = (
    *((row.top_label, _shown(row)) for row in KPIS if row.top_label),
    *(_sla_row(target) for target in TARGETS),
)
# The columns of the per-dimension table: volume, the timed KPIs, quality, then the SLA.
_BY_KPIS = (
    kpi("tickets_created"),
    kpi("tickets_solved"),
    *(row for row in DISTRIBUTIONS if row.top_label),
    kpi("fcr_rate"),
    kpi("csat.percent"),
)


_BY_SHOWN = tuple(_shown(row) for row in _BY_KPIS)


def _column(label: str) -> str:
    """A top label as a column heading: ``First reply p50 / p90`` -> ``first reply p50/p90``."""
    if not label.isupper():
        label = label[0].lower() + label[1:]
    return label.replace(" / ", "/")


def freshness(as_of: Instant, now: Instant) -> tuple[str, str]:
    """How current a snapshot is, and a style for it.

    The worker publishes every second with ``as_of`` at the end of the current minute, so
    a current snapshot has ``now <= as_of``; a later ``now`` means it stopped publishing.
    """
    behind = now - as_of
    if behind > 0:
        return f"stale: {format_seconds(behind / MICROS_PER_SECOND)} behind", "bold red"
    if -behind > MICROS_PER_MINUTE + 5 * MICROS_PER_SECOND:
        ahead = format_seconds(-behind / MICROS_PER_SECOND)
        return f"as_of is {ahead} ahead of this clock", "yellow"
    return "live", "green"


def _header(snapshot: Snapshot | None, now: Instant | None, status: str | None) -> RenderableType:
    line = Text("ticketpulse top", style="bold")
    if snapshot is not None:
        line.append(f"   as_of {format_rfc3339(snapshot.as_of)}")
        if now is not None:
            label, style = freshness(snapshot.as_of, now)
            line.append("   ")
            line.append(label, style=style)
    if status is None:
        return line
    return Group(line, Text(status, style="bold red"))


def _windows_table(windows: Mapping[str, Window]) -> Table:
    table = Table(title="KPIs per window", title_justify="left", expand=False)
    table.add_column("")
    names = [name for name in WINDOW_NAMES if name in windows]
    for name in names:
        table.add_column(name, justify="right")
    for label, show in _ROWS:
        table.add_row(label, *(show(windows[name].overall) for name in names))
    return table


def _counts_table(title: str, column: str, counts: Mapping[str, int]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(column)
    table.add_column("open", justify="right")
    for key, count in counts.items():
        table.add_row(key, str(count))
    return table


def _sla_now_table(sla_now: SlaNow) -> Table:
    table = Table(title="SLA now", title_justify="left")
    table.add_column("target")
    table.add_column("at risk", justify="right")
    table.add_column("breached running", justify="right")
    for target in TARGETS:
        breached = sla_now.breached_running.get(target, 0)
        table.add_row(
            target.replace("_", " "),
            str(sla_now.at_risk.get(target, 0)),
            Text(str(breached), style="bold red" if breached else ""),
        )
    return table


def _by_table(window: Window, by: str, name: str, limit: int) -> RenderableType:
    members: Mapping[str, Kpis] = window.by.get(by, {})
    table = Table(title=f"{name} by {by}", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        (by, "left"),
        *((_column(row.top_label), "right") for row in _BY_KPIS),
        *((f"SLA {t.replace('_', ' ')}", "right") for t in TARGETS),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)
    ranked = sorted(members, key=lambda key: (-members[key].tickets_created, key))
    for key in ranked[:limit]:
        k = members[key]
        table.add_row(
            key,
            *(show(k) for show in _BY_SHOWN),
            *(_compliance(k, t) for t in TARGETS),
        )
    if not members:
        return Group(table, Text(f"no facts by {by} in {name}", style="dim"))
    if len(ranked) > limit:
        return Group(table, Text(f"... and {len(ranked) - limit} more", style="dim"))
    return table


# -- accounts --------------------------------------------------------------------------------

ACCOUNT_WINDOWS = ("7d", "30d", "90d")


def _money(value: float | None) -> str:
    return NONE if value is None else f"{value:,.2f}"


def _accounts_now_table(now: Mapping[str, Any]) -> Table:
    """Now, overall and per segment: customers, MRR, ARPA, CLV and the customers at risk."""
    table = Table(
        title=f"Accounts now: {now['customers']} customers, {now['leads_open']} open leads",
        title_justify="left",
    )
    table.add_column("segment")
    for column in ("customers", "MRR", "ARPA", "CLV", "at risk", "at-risk MRR"):
        table.add_column(column, justify="right")
    rows = [("(all)", now), *now["by_segment"].items()]
    for name, row in rows:
        at_risk = row["at_risk"]
        table.add_row(
            name,
            str(row["customers"]),
            _money(row["mrr"]),
            _money(row["arpa"]),
            _money(row["clv"]),
            Text(str(at_risk), style="bold red" if at_risk else ""),
            _money(row.get("at_risk_mrr")),
        )
    return table


# (label, how an A row shows it)
_ACCOUNT_ROWS: tuple[tuple[str, Callable[[Mapping[str, Any]], str]], ...] = (
    ("Churn rate", lambda a: _percent(a["churn_rate"])),
    ("NRR", lambda a: _percent(a["net_revenue_retention"])),
    ("Acquisition", lambda a: _percent(a["acquisition"]["rate"])),
    ("Leads / converted", lambda a: f"{a['leads']} / {a['acquisition']['converted']}"),
    ("Conversions", lambda a: str(a["conversions"])),
    ("Churned", lambda a: str(a["churned"])),
    ("New MRR", lambda a: _money(a["new_mrr"])),
    ("Churned MRR", lambda a: _money(a["churned_mrr"])),
)


def _accounts_windows_table(windows: Mapping[str, Any]) -> Table:
    table = Table(title="Accounts per window", title_justify="left")
    table.add_column("")
    names = [name for name in ACCOUNT_WINDOWS if name in windows]
    for name in names:
        table.add_column(name, justify="right")
    for label, show in _ACCOUNT_ROWS:
        table.add_row(label, *(show(windows[name]["overall"]) for name in names))
    return table


def _at_risk_table(at_risk: list[Mapping[str, Any]], limit: int) -> RenderableType:
    table = Table(title="Customers at risk (by MRR)", title_justify="left")
    table.add_column("account")
    table.add_column("MRR", justify="right")
    for column in ("segment", "manager", "signals"):
        table.add_column(column)
    for entry in at_risk[:limit]:
        table.add_row(
            entry["account_id"],
            _money(entry["mrr"]),
            entry["segment"] or NONE,
            entry["manager"] or NONE,
            ", ".join(entry["signals"]),
        )
    if not at_risk:
        return Group(table, Text("no customer at risk", style="dim"))
    if len(at_risk) > limit:
        return Group(table, Text(f"... and {len(at_risk) - limit} more", style="dim"))
    return table


def _accounts(section: Mapping[str, Any] | None, limit: int) -> RenderableType:
    """The accounts part of a frame: now, the windows, and the customers at risk."""
    if section is None:
        return Text("no accounts section in the snapshot (no account events yet)", style="dim")
    # Side by side when the terminal is wide enough, else one below the other: squeezed into
    # 80 columns both tables' cells were cut to a letter.
    tables = Columns(
        [_accounts_now_table(section["now"]), _accounts_windows_table(section["windows"])],
        padding=(0, 3),
    )
    return Group(tables, _at_risk_table(section["at_risk"], limit))


def render(
    snapshot: Snapshot | None,
    by: str | None = None,
    window: str = "24h",
    *,
    now: Instant | None = None,
    status: str | None = None,
    limit: int = MAX_ROWS,
    accounts: bool = False,
) -> RenderableType:
    """One frame: header, KPIs per window, backlog, SLA now, the ``by`` table if asked, and
    the accounts (now, per window, at risk) with ``accounts``.

    ``now`` (for freshness) and ``status`` (an error line) come from the caller, so the
    frame depends on its arguments alone.
    """
    header = _header(snapshot, now, status)
    if snapshot is None:
        return Group(header, Text("no snapshot yet", style="dim"))
    backlog = snapshot.backlog
    side_by_side = Table.grid(padding=(0, 3))
    side_by_side.add_row(
        _counts_table(f"Backlog: {backlog.total} open", "status", backlog.by_status),
        _counts_table("Backlog by priority", "priority", backlog.by_priority),
        _sla_now_table(snapshot.sla_now),
    )
    parts: list[RenderableType] = [header, _windows_table(snapshot.windows), side_by_side]
    if by is not None:
        parts.append(_by_table(snapshot.windows[window], by, window, limit))
    if accounts:
        parts.append(_accounts(snapshot.accounts, limit))
    return Group(*parts)


# -- the command ---------------------------------------------------------------------------


class FetchError(Exception):
    """The snapshot could not be read; the text is what the screen shows."""


def fetch_snapshot(url: str, timeout: float, token: str = "") -> Snapshot:
    """``GET <url>/kpis``, typed (with the API's bearer token, if any); FetchError with a
    readable reason otherwise."""
    address = f"{url.rstrip('/')}/kpis"
    request = urllib.request.Request(address)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        raise FetchError(f"{address}: HTTP {error.code}: {_error_text(error.read())}") from None
    except urllib.error.URLError as error:
        raise FetchError(f"cannot reach {address}: {error.reason}") from None
    except (TimeoutError, OSError) as error:
        raise FetchError(f"cannot reach {address}: {error}") from None
    try:
        data = json.loads(body)
    except ValueError:
        raise FetchError(f"{address}: the answer is not JSON") from None
    try:
        return Snapshot.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise FetchError(f"{address}: the answer is not a snapshot") from None


def _error_text(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")[:200] or "(empty body)"
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])
    return str(data)[:200]


def _now() -> Instant:
    return from_datetime(datetime.now(UTC))


@dataclass(slots=True)
class _Poller:
    """Fetches, remembering the last good snapshot and when it came."""

    url: str
    timeout: float
    token: str = ""
    snapshot: Snapshot | None = None
    fetched_at: Instant | None = None

    def poll(self) -> str | None:
        """Fetch once; the error line to show, or None."""
        try:
            self.snapshot = fetch_snapshot(self.url, self.timeout, self.token)
            self.fetched_at = _now()
            return None
        except FetchError as error:
            if self.fetched_at is None:
                return str(error)
            age = format_seconds((_now() - self.fetched_at) / MICROS_PER_SECOND)
            return f"{error} (showing the snapshot fetched {age} ago)"


@click.command("top")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The worker's HTTP address.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Seconds between refreshes.")  # fmt: skip
@click.option("--by", type=click.Choice(DIMENSIONS), help="Also show a table per dimension value.")
@click.option("--window", type=click.Choice(WINDOW_NAMES), default="24h", show_default=True,
              help="The window of the --by table.")  # fmt: skip
@click.option("--accounts", is_flag=True,
              help="Also show the accounts: now, churn, NRR, customers at risk.")  # fmt: skip
@click.option("--once", is_flag=True, help="Print one frame and exit (1 if the fetch failed).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=3.0, show_default=True,
              help="Seconds to wait for the worker's answer.")  # fmt: skip
@click.option("--token", envvar="TICKETPULSE_API_TOKEN", default="", show_envvar=True,
              help="The worker's API token, when it has one (docs/security.md).")  # fmt: skip
def top(
    url: str,
    interval: float,
    by: str | None,
    window: str,
    accounts: bool,
    once: bool,
    timeout: float,
    token: str,
) -> None:
    """Watch the live KPIs, backlog and SLA clocks of a running worker."""
    poller = _Poller(url, timeout, token)
    console = Console()
    if once:
        status = poller.poll()
        frame = render(poller.snapshot, by, window, now=_now(), status=status, accounts=accounts)
        console.print(frame)
        if status is not None:
            raise SystemExit(1)
        return
    with Live(console=console, screen=True, auto_refresh=False) as live:
        try:
            while True:
                status = poller.poll()
                frame = render(
                    poller.snapshot, by, window, now=_now(), status=status, accounts=accounts
                )
                live.update(frame, refresh=True)
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
