"""The team and agent drill-down: per team and, when the worker runs with ``agent_labels``, per
agent; a bar of a per-team panel on another board opens it for that team (``TEAM_DRILL_DOWN``).
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as dm

from streams.grafana.alerts import LINKS, Links
from streams.grafana.dashboards.kit import (
    AGENT_NOTE,
    AGENTS,
    GREEN,
    NO_SAMPLES,
    ROW,
    Board,
    Query,
    agent_variable,
    bar_panel,
    board_link,
    catalog_panels,
    dimension_variables,
    gauge,
    series_panel,
)
from streams.grafana.promql import BACKLOG_BY_TEAM, PER_TEAM, picked, snapshot

TEAM_AGENT_UID = "ticketpulse-team-agent"
# A bar of a per-team panel opens that team's drill-down.
TEAM_DRILL_DOWN = board_link(
    "Drill down: ${__field.labels.team}", TEAM_AGENT_UID, "var-team=${__field.labels.team}"
)


def team_agent(links: Links = LINKS) -> dm.Dashboard:
    board = Board(
        TEAM_AGENT_UID,
        "ticketpulse / Team and agent drill-down",
        "Per team and per agent: reply time, touches, solves, CSAT and handle time from the "
        "snapshot.",
        links,
    ).variables(*dimension_variables(), agent_variable())
    board.row("Teams").add(
        bar_panel(
            "Reply time p90 per team (24h)",
            "p90 of every reply sample over the last 24 hours, per team.",
            "s",
            ((None, "green"), (3600, "yellow"), (28800, "red")),
            [
                Query(
                    snapshot(gauge("reply_seconds"), f'window="24h", stat="p90", {PER_TEAM}'),
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
                    snapshot(gauge("tickets_solved"), f'window="24h", {PER_TEAM}'),
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
                    snapshot(gauge("csat.percent"), f'window="7d", {PER_TEAM}'),
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
                        gauge("touches_to_close"),
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
                    picked(gauge("reply_seconds"), 'window="1h", stat="p90"'),
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
            "p90 of the reply samples of each touching agent over the last 24 hours." + AGENT_NOTE,
            "s",
            ((None, "green"), (3600, "yellow"), (28800, "red")),
            [
                Query(
                    snapshot(gauge("reply_seconds"), f'window="24h", stat="p90", {AGENTS}'),
                    "{{agent}}",
                )
            ],
            width=6,
            height=10,
        ),
        bar_panel(
            "Touches to close per agent (24h)",
            "Mean touches before the first solve of each agent's tickets." + AGENT_NOTE,
            "none",
            ((None, "green"), (2, "yellow"), (4, "red")),
            [
                Query(
                    snapshot(
                        gauge("touches_to_close"),
                        f'window="24h", stat="mean", {AGENTS}',
                    ),
                    "{{agent}}",
                )
            ],
            width=6,
            height=10,
        ),
        bar_panel(
            "Solves per agent (24h)",
            "Tickets first solved over the last 24 hours, per agent." + AGENT_NOTE,
            "short",
            GREEN,
            [
                Query(
                    snapshot(gauge("tickets_solved"), f'window="24h", {AGENTS}'),
                    "{{agent}}",
                )
            ],
            width=6,
            height=10,
        ),
        bar_panel(
            "CSAT per agent (7d)",
            "Share of CSAT responses scoring 4 or 5 over 7 days, per agent." + AGENT_NOTE,
            "percent",
            ((None, "red"), (75, "yellow"), (85, "green")),
            [
                Query(
                    snapshot(gauge("csat.percent"), f'window="7d", {AGENTS}'),
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
            "ticketpulse_agent_reply_seconds histogram (bucket-interpolated)." + AGENT_NOTE,
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
