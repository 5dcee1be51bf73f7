"""The accounts board: customers, MRR, ARPA, CLV and the customers at risk now, churn, net
revenue retention and acquisition per window (7d, 30d, 90d) and segment, and a table of the
account managers, from the ``ticketpulse_account_*`` gauges (docs/metrics.md).

The ``segment`` variable picks a row like the ticket boards' dimension variables: All is the
overall row, a segment its own row. The gauges exist while the snapshot has an accounts section.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat
from grafana_foundation_sdk.models import dashboard as dm

from streams.grafana.alerts import ACCOUNTS_BOARD, LINKS, Links
from streams.grafana.dashboards.kit import (
    GREEN,
    Board,
    Query,
    Thresholds,
    bar_panel,
    query_variable,
    runbook,
    series_panel,
    stat_panel,
    table_panel,
)
from streams.grafana.promql import snapshot

ACCOUNT_WINDOWS = ("7d", "30d", "90d")
NOW = 'segment=~"$segment", manager=""'  # the overall row, or the picked segment's
IN_WINDOW = f'{NOW}, source=""'
PER_SEGMENT = 'segment!="", manager=""'
PER_MANAGER = 'manager!="", segment=""'
NO_ACCOUNTS = "No accounts section in the snapshot"
NO_CHURN = "No churn in the last 30 days: no finite lifetime"
NO_CUSTOMERS_AT_START = "No customers at the window's start"
NO_LEADS = "No leads created in the window"
AT_RISK_ALERT = "TicketpulseAccountAtRiskMrr"
RATE: Thresholds = ((None, "green"), (0.02, "yellow"), (0.05, "red"))
RETENTION: Thresholds = ((None, "red"), (0.9, "yellow"), (1.0, "green"))
ACQUISITION: Thresholds = ((None, "red"), (0.1, "yellow"), (0.25, "green"))
AT_RISK: Thresholds = ((None, "green"), (1, "yellow"))  # any customer (or MRR) at risk
PERCENT = dm.DynamicConfigValue(id_val="unit", value="percentunit")


def metric(name: str) -> str:
    return f"ticketpulse_account_{name}"


def window_metric(name: str) -> str:
    return f"ticketpulse_account_window_{name}"


def segment_variable() -> db.QueryVariable:
    return query_variable(
        "segment",
        "Segment",
        "Pick one segment to see its row; All shows the overall row (not a sum).",
        metric("customers"),
    )


def _now(
    title: str,
    description: str,
    name: str,
    no_value: str,
    thresholds: Thresholds = GREEN,
    *,
    decimals: int | None = None,
    links: Sequence[db.DashboardLink] = (),
) -> stat.Panel:
    """A stat of the gauge ``name`` now, on the overall row or the picked segment's."""
    return stat_panel(
        title,
        description,
        "short",
        thresholds,
        [Query(snapshot(metric(name), NOW))],
        width=4,
        no_value=no_value,
        decimals=decimals,
        links=links,
    )


def _per_window(name: str) -> list[Query]:
    return [
        Query(snapshot(window_metric(name), f'window="{w}", {IN_WINDOW}'), w)
        for w in ACCOUNT_WINDOWS
    ]


def accounts(links: Links = LINKS) -> dm.Dashboard:
    board = Board(
        ACCOUNTS_BOARD,
        "ticketpulse / Accounts",
        "The account managers' numbers: customers, revenue, churn, retention, acquisition and "
        "the customers at risk, overall or per segment, from the snapshot's accounts section.",
        links,
    ).variables(segment_variable())
    at_risk_runbook = [runbook(AT_RISK_ALERT, links)]
    board.row("Now").add(
        _now("Customers", "Accounts that are customers now.", "customers", NO_ACCOUNTS, decimals=0),
        _now(
            "MRR",
            "Monthly recurring revenue of the customers now, in the accounts' currency.",
            "mrr",
            NO_ACCOUNTS,
        ),
        _now("ARPA", "Average revenue per account: MRR / customers.", "arpa", "No customers"),
        _now(
            "CLV",
            "Customer lifetime value: ARPA / the 30d churn rate (ARPA times the expected "
            "lifetime in months).",
            "clv",
            NO_CHURN,
        ),
        _now(
            "Customers at risk",
            "Customers with at least at_risk_signals health signals over the last 30 days.",
            "at_risk_customers",
            NO_ACCOUNTS,
            AT_RISK,
            decimals=0,
            links=at_risk_runbook,
        ),
        _now(
            "At-risk MRR",
            "The MRR the customers at risk pay together: what may be lost.",
            "at_risk_mrr",
            NO_ACCOUNTS,
            AT_RISK,
            links=at_risk_runbook,
        ),
    )
    board.row("Churn, retention and acquisition (7d, 30d, 90d)").add(
        bar_panel(
            "Churn rate",
            "Customers at the window's start who churned voluntarily in it, per customer at "
            "the start.",
            "percentunit",
            RATE,
            _per_window("churn_rate"),
            no_value=NO_CUSTOMERS_AT_START,
        ),
        bar_panel(
            "Net revenue retention",
            "The MRR now of the customers at the window's start, per their MRR then "
            "(above 100%: expansion outweighs churn and contraction).",
            "percentunit",
            RETENTION,
            _per_window("net_revenue_retention"),
            maximum=None,
            no_value=NO_CUSTOMERS_AT_START,
        ),
        bar_panel(
            "Acquisition rate",
            "Leads created in the window that converted by now, per lead.",
            "percentunit",
            ACQUISITION,
            _per_window("acquisition_rate"),
            maximum=1,
            no_value=NO_LEADS,
        ),
        series_panel(
            "MRR and at-risk MRR",
            "MRR of the customers and of those at risk, as snapshots reported them.",
            "short",
            GREEN,
            [
                Query(snapshot(metric("mrr"), NOW), "MRR"),
                Query(snapshot(metric("at_risk_mrr"), NOW), "at risk"),
            ],
            no_value=NO_ACCOUNTS,
        ),
        series_panel(
            "MRR movement (30d)",
            "Over the last 30 days: new MRR (conversions and win-backs), expansion, "
            "contraction and the MRR churns took.",
            "short",
            GREEN,
            [
                Query(snapshot(window_metric(name), f'window="30d", {IN_WINDOW}'), title)
                for name, title in (
                    ("new_mrr", "new"),
                    ("expansion_mrr", "expansion"),
                    ("contraction_mrr", "contraction"),
                    ("churned_mrr", "churned"),
                )
            ],
            no_value=NO_ACCOUNTS,
        ),
    )
    board.row("Segments").add(
        bar_panel(
            "Customers per segment",
            "Customers now, per segment.",
            "short",
            GREEN,
            [Query(snapshot(metric("customers"), PER_SEGMENT), "{{segment}}")],
            width=6,
            decimals=0,
            no_value=NO_ACCOUNTS,
        ),
        bar_panel(
            "MRR and ARPA per segment",
            "MRR and average revenue per account now, per segment.",
            "short",
            GREEN,
            [
                Query(snapshot(metric("mrr"), PER_SEGMENT), "MRR {{segment}}"),
                Query(snapshot(metric("arpa"), PER_SEGMENT), "ARPA {{segment}}"),
            ],
            width=6,
            no_value=NO_ACCOUNTS,
        ),
        bar_panel(
            "At-risk MRR per segment",
            "MRR of the customers at risk, per segment; the alert fires above the segment's "
            "threshold (policies file, accounts.alerts.at_risk_mrr).",
            "short",
            AT_RISK,
            [
                Query(snapshot(metric("at_risk_mrr"), PER_SEGMENT), "{{segment}}"),
                Query(
                    snapshot(metric("at_risk_mrr_threshold"), 'segment!=""'),
                    "threshold {{segment}}",
                ),
            ],
            width=6,
            no_value=NO_ACCOUNTS,
            links=at_risk_runbook,
        ),
        bar_panel(
            "CLV per segment",
            "Customer lifetime value per segment (none where the segment had no churn in the "
            "last 30 days).",
            "short",
            GREEN,
            [Query(snapshot(metric("clv"), PER_SEGMENT), "{{segment}}")],
            width=6,
            no_value=NO_CHURN,
        ),
        bar_panel(
            "Churn rate per segment (30d)",
            "Voluntary churn of the customers at the start of the last 30 days, per segment.",
            "percentunit",
            RATE,
            [
                Query(
                    snapshot(window_metric("churn_rate"), f'window="30d", {PER_SEGMENT}'),
                    "{{segment}}",
                )
            ],
            no_value=NO_CUSTOMERS_AT_START,
        ),
        bar_panel(
            "Net revenue retention per segment (30d)",
            "MRR now of the customers at the start of the last 30 days, per their MRR then.",
            "percentunit",
            RETENTION,
            [
                Query(
                    snapshot(
                        window_metric("net_revenue_retention"), f'window="30d", {PER_SEGMENT}'
                    ),
                    "{{segment}}",
                )
            ],
            maximum=None,
            no_value=NO_CUSTOMERS_AT_START,
        ),
        bar_panel(
            "Acquisition rate per lead source (30d)",
            "Leads created in the last 30 days that converted, per lead source.",
            "percentunit",
            ACQUISITION,
            [
                Query(
                    snapshot(
                        window_metric("acquisition_rate"),
                        'window="30d", source!="", segment="", manager=""',
                    ),
                    "{{source}}",
                )
            ],
            maximum=1,
            no_value=NO_LEADS,
        ),
    )
    board.row("Account managers").add(
        table_panel(
            "Account managers",
            "Per account manager: customers, MRR, ARPA and customers at risk now, and the "
            "30d churn rate and net revenue retention of their customers at the start.",
            "short",
            GREEN,
            "manager",
            [
                (title, Query(f"max by (manager) ({name}{{{selector}}})"))
                for title, name, selector in (
                    ("Customers", metric("customers"), PER_MANAGER),
                    ("MRR", metric("mrr"), PER_MANAGER),
                    ("ARPA", metric("arpa"), PER_MANAGER),
                    ("At risk", metric("at_risk_customers"), PER_MANAGER),
                    ("At-risk MRR", metric("at_risk_mrr"), PER_MANAGER),
                    (
                        "Churn rate 30d",
                        window_metric("churn_rate"),
                        f'window="30d", {PER_MANAGER}',
                    ),
                    (
                        "NRR 30d",
                        window_metric("net_revenue_retention"),
                        f'window="30d", {PER_MANAGER}',
                    ),
                )
            ],
            no_value=NO_ACCOUNTS,
        )
        .override_by_name("Churn rate 30d", [PERCENT])
        .override_by_name("NRR 30d", [PERCENT])
    )
    return board.build()
