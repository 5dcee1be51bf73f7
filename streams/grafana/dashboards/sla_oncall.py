"""The SLA on-call board: what is about to breach or has breached, error-budget burn rates
(the alerts' expressions, streams/grafana/alerts.py) and the health of the pipeline.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as dm

from streams.domain.catalog import kpi
from streams.grafana.alerts import FAST_BURN, LINKS, MIN_STOPPED_CLOCKS, SLOW_BURN, Links, burn_rate
from streams.grafana.dashboards.at_risk import (
    AT_RISK,
    BREACHED_RUNNING,
    at_risk_panel,
    at_risk_table,
    breached_running_panel,
)
from streams.grafana.dashboards.kit import (
    GREEN,
    NO_CLOCK_STOPPED,
    NOT_BY_DIMENSION,
    ROW,
    Board,
    Query,
    bar_panel,
    dimension_variables,
    runbook,
    series_panel,
    stat_panel,
)
from streams.grafana.dashboards.team_agent import TEAM_DRILL_DOWN
from streams.grafana.promql import (
    OVERALL,
    PER_PRIORITY,
    PER_TEAM,
    dims_sum,
    picked_increase,
    rounded,
    share,
    without_nan,
)


def sla_oncall(links: Links = LINKS) -> dm.Dashboard:
    breached = kpi("sla.breached").fact_metric
    met = kpi("sla.met").fact_metric
    board = Board(
        "ticketpulse-sla-oncall",
        "ticketpulse / SLA on-call",
        "What is about to breach, what breached, how fast the error budget burns, and "
        "whether the monitor itself is healthy. Runbooks: docs/runbooks.md.",
        links,
    ).variables(*dimension_variables())
    board.row("Now").add(
        at_risk_panel(links),
        breached_running_panel(links),
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
            + NOT_BY_DIMENSION,
            "short",
            ((None, "green"), (1, "yellow"), (10, "red")),
            [
                Query(AT_RISK.expr, "at risk {{target}}"),
                Query(BREACHED_RUNNING.expr, "breached {{target}}"),
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
            data_links=[TEAM_DRILL_DOWN],
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
            data_links=[TEAM_DRILL_DOWN],
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
