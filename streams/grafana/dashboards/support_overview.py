"""The support overview, for leads: response times, quality, SLA compliance, volume and
backlog, from the worker's snapshot (equal to GET /kpis) for the row the variables pick.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as dm

from streams.domain.catalog import kpi
from streams.grafana.alerts import LINKS, Links
from streams.grafana.dashboards.at_risk import at_risk_panel, breached_running_panel
from streams.grafana.dashboards.kit import (
    GREEN,
    NO_CLOCK_STOPPED,
    NO_SAMPLES,
    NOT_BY_DIMENSION,
    ROW,
    WINDOWS,
    Board,
    Query,
    bar_panel,
    dimension_variables,
    gauge,
    series_panel,
    stat_panel,
    window_stats,
    window_values,
)
from streams.grafana.promql import (
    BACKLOG_BY_PRIORITY,
    BACKLOG_BY_STATUS,
    picked,
    picked_increase,
    rounded,
    snapshot,
)


def support_overview(links: Links = LINKS) -> dm.Dashboard:
    board = Board(
        "ticketpulse-support-overview",
        "ticketpulse / Support overview",
        "Support KPIs for leads: response times, quality, SLA compliance, volume and backlog. "
        "Numbers are the worker's snapshot (equal to GET /kpis) for the row the variables pick.",
        links,
    ).variables(*dimension_variables())
    board.row("Response times (snapshot windows 1h, 24h, 7d)").add(
        stat_panel(
            "First reply time",
            "Created to first agent touch: nearest-rank p50 and p90 over each window.",
            "s",
            ((None, "green"), (3600, "yellow"), (14400, "red")),
            window_stats(gauge("first_reply_seconds"), ("p50", "p90")),
            width=8,
            no_value=NO_SAMPLES,
        ),
        stat_panel(
            "Reply time (ART)",
            "Every first and next reply sample: p50 and p90 over each window.",
            "s",
            ((None, "green"), (3600, "yellow"), (28800, "red")),
            window_stats(gauge("reply_seconds"), ("p50", "p90")),
            width=8,
            no_value=NO_SAMPLES,
        ),
        stat_panel(
            "Resolution time",
            "Created to first solve: p50 and p90 over each window.",
            "s",
            ((None, "green"), (14400, "yellow"), (259200, "red")),
            window_stats(gauge("resolution_seconds"), ("p50", "p90")),
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
                    picked(gauge(f"{name}_seconds"), 'window="1h", stat="p90"'),
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
            window_stats(gauge("touches_to_close"), ("mean",)),
            no_value=NO_SAMPLES,
        ),
        stat_panel(
            "First-contact resolution",
            "One-touch first solves / first solves with a touch.",
            "percentunit",
            ((None, "red"), (0.5, "yellow"), (0.7, "green")),
            window_values(gauge("fcr_rate"), WINDOWS),
            no_value="No first solve with a touch in this window",
        ),
        stat_panel(
            "CSAT",
            "Share of CSAT responses scoring 4 or 5.",
            "percent",
            ((None, "red"), (75, "yellow"), (85, "green")),
            window_values(gauge("csat.percent"), WINDOWS),
            no_value="No CSAT response in this window",
        ),
        stat_panel(
            "NPS",
            "Promoters minus detractors, in points from -100 to 100.",
            "none",
            ((None, "red"), (0, "yellow"), (30, "green")),
            window_values(gauge("nps.score"), ("24h", "7d")),
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
                    picked(gauge("sla.compliance"), 'window="24h"'),
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
                    picked(gauge("sla.compliance"), 'window="1h"'),
                    f"{{{{target}}}} {ROW}",
                )
            ],
            no_value=NO_CLOCK_STOPPED,
        ),
        at_risk_panel(links).span(12).height(4),
        breached_running_panel(links).span(12).height(4),
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
            "Open tickets per status." + NOT_BY_DIMENSION,
            "short",
            ((None, "green"), (100, "yellow"), (500, "red")),
            [Query(snapshot("ticketpulse_backlog_tickets", BACKLOG_BY_STATUS), "{{status}}")],
            width=4,
        ),
        bar_panel(
            "Backlog by priority",
            "Open tickets per priority." + NOT_BY_DIMENSION,
            "short",
            ((None, "green"), (100, "yellow"), (500, "red")),
            [Query(snapshot("ticketpulse_backlog_tickets", BACKLOG_BY_PRIORITY), "{{priority}}")],
            width=4,
        ),
    )
    return board.build()
