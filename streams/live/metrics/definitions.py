"""Every metric the worker exports, declared once: ``METRICS`` is the typed list that
docs/metrics.md and the Grafana queries are checked against.

Only names, kinds, help, label names and buckets live here; the collectors that fill them are
``facts.py``, ``pipeline.py`` and ``snapshot_gauges.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streams.domain.catalog import (
    AGENT,
    DIMENSIONS,
    DISTRIBUTIONS,
    DURATION_BUCKETS,
    KPIS,
    Aggregation,
    kpi,
)

Kind = Literal["counter", "gauge", "histogram"]

ALLOWED_LABELS = frozenset(
    {
        "team",
        "channel",
        "priority",
        "target",
        "status",
        "window",
        "stat",
        "topic",
        "type",
        "outcome",
        "partition",
        "agent",
        "dimension",
        "segment",
        "manager",
        "source",
    }
)
DIMS = tuple(d for d in DIMENSIONS if d != AGENT)  # agent labels are optional
OUTCOMES = frozenset(
    {
        "accepted",
        "duplicate",
        "invalid",
        "rejected",
        "withdrawn",
        "misplaced",
        "over_limit",
        "anomaly",
    }
)
STATS = ("mean", "p50", "p90", "p99")

BATCH_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


@dataclass(frozen=True, slots=True)
class MetricDef:
    """One metric as exposed: counters carry their ``_total`` in ``name``."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


def _hist(name: str, help: str, buckets: tuple[float, ...]) -> MetricDef:
    return MetricDef(name, "histogram", help, DIMS, buckets)


def _facts(name: str, help: str, *extra: str) -> MetricDef:
    return MetricDef(name, "counter", help, (*extra, *DIMS))


# --- fact metrics (facts as first seen) ------------------------------------------------------

# Names, help and buckets come from the KPI catalog (streams/domain/catalog.py).
FACT_HISTOGRAMS: dict[str, MetricDef] = {
    d.counter: _hist(d.fact_metric, f"{d.help} Facts as first seen.", d.buckets)
    for d in DISTRIBUTIONS
}

# kpis.py counter name -> the counter it increments; kpis.py decides which a fact adds.
FACT_COUNTERS: dict[str, MetricDef] = {
    k.counter: _facts(k.fact_metric, k.help) for k in KPIS if k.aggregation is Aggregation.COUNT
}
_MET, _BREACHED = kpi("sla.met"), kpi("sla.breached")
SLA_MET = _facts(_MET.fact_metric, _MET.help, "target")
SLA_BREACHED = _facts(_BREACHED.fact_metric, _BREACHED.help, "target")
# The same outcomes, counted only when the clock stopped (met) or its deadline passed
# (breached) at most TICKETPULSE_RECENT_SLA_SECONDS before the worker saw it: what the alerts
# count, so that a backfill or a replay of old events shows on boards but does not page.
SLA_MET_RECENT = _facts(
    "ticketpulse_sla_met_recent_total",
    "SLA clocks stopped by their deadline, recently (event time) when seen.",
    "target",
)
SLA_BREACHED_RECENT = _facts(
    "ticketpulse_sla_breached_recent_total",
    "SLA clocks breached, with a recent deadline (event time) when seen.",
    "target",
)
LAST_BREACH = MetricDef(
    "ticketpulse_last_breach_timestamp_seconds",
    "gauge",
    "Latest deadline of a breach seen by this worker since it started (Unix seconds).",
    ("target",),
)
AGENT_REPLY = MetricDef(
    "ticketpulse_agent_reply_seconds",
    "histogram",
    "Reply times per touching agent (only with agent_labels).",
    ("agent",),
    DURATION_BUCKETS,
)

# --- pipeline health ---------------------------------------------------------------------------

EVENTS = MetricDef(
    "ticketpulse_events_total",
    "counter",
    "Events read, by topic, type (invalid: any undecodable event) and outcome.",
    ("topic", "type", "outcome"),
)
REDELIVERED = MetricDef(
    "ticketpulse_redelivered_total",
    "counter",
    "Messages skipped because Redis had already applied them (redelivered after a crash, "
    "a rebalance or an offset reset); they are not in ticketpulse_events_total.",
    (),
)
NOT_OWNED = MetricDef(
    "ticketpulse_not_owned_total",
    "counter",
    "Messages dropped because their partition was revoked before they were applied; the "
    "partition's new owner applies them.",
    (),
)
MISSED_OFFSETS = MetricDef(
    "ticketpulse_missed_offsets_total",
    "counter",
    "Offsets never received between the last one applied and the next message of a "
    "partition: deleted by retention before being applied, or lost (transaction markers "
    "and aborted records are not counted).",
    ("topic",),
)
AWAITING_CREATION = MetricDef(
    "ticketpulse_events_awaiting_creation_total",
    "counter",
    "Accepted events of tickets whose ticket.created had not arrived; their record expires "
    "from Redis 8 days after its last write unless it arrives.",
    (),
)
MISSED_OFFSETS_RECORDED = MetricDef(
    "ticketpulse_missed_offsets_recorded",
    "gauge",
    "Offsets never received that Redis records for an owned partition (kept across "
    "restarts, until the partition is rebuilt or the record is deleted).",
    ("topic", "partition"),
)
SEEK_BACKS = MetricDef(
    "ticketpulse_seek_backs_total",
    "counter",
    "Times a partition was sought back to consume records again because Redis held fewer "
    "applied offsets than the worker had fetched (Redis restored from an older copy).",
    (),
)
DEADLETTERS = MetricDef(
    "ticketpulse_deadletter_total",
    "counter",
    "Records written to the dead-letter topic, by source topic.",
    ("topic",),
)
EVENT_TIME_LAG = MetricDef(
    "ticketpulse_event_time_lag_seconds", "gauge", "Now minus the latest applied occurred_at."
)
BATCH_SECONDS = MetricDef(
    "ticketpulse_batch_apply_seconds",
    "histogram",
    "Time to plan a batch and write it to Redis.",
    (),
    BATCH_SECONDS_BUCKETS,
)
BATCH_SIZE = MetricDef(
    "ticketpulse_batch_size_messages",
    "histogram",
    "Messages per applied batch.",
    (),
    BATCH_SIZE_BUCKETS,
)
COMMITTED_OFFSET = MetricDef(
    "ticketpulse_committed_offset",
    "gauge",
    "Last offset committed to Kafka, per owned partition.",
    ("topic", "partition"),
)
CONSUMER_LAG = MetricDef(
    "ticketpulse_consumer_lag_messages",
    "gauge",
    "High watermark minus committed offset, per owned partition.",
    ("topic", "partition"),
)
WORKER_UP = MetricDef("ticketpulse_worker_up", "gauge", "1 while the worker consumes, else 0.")
FACTS_FOLDED = MetricDef(
    "ticketpulse_facts_folded_total",
    "counter",
    'Facts the fact metrics counted under team or agent "(other)": that dimension had '
    "reached its label limit when their value first came.",
    ("dimension",),
)

# --- snapshot mirror (the corrected truth) -------------------------------------------------------


def _window(name: str, help: str, *extra: str) -> MetricDef:
    return MetricDef(name, "gauge", help, ("window", *DIMS, *extra))


WINDOW_STATS: dict[str, MetricDef] = {
    d.key: _window(
        d.window_metric, f"{d.help} In the window: mean and nearest-rank percentiles.", "stat"
    )
    for d in DISTRIBUTIONS
}
WINDOW_SAMPLES: dict[str, MetricDef] = {
    d.key: _window(d.samples_metric, f"{d.help} Samples in the window.") for d in DISTRIBUTIONS
}
# K key (dotted for nested objects) -> gauge; a null value emits no sample.
WINDOW_VALUES: dict[str, MetricDef] = {
    k.key: _window(k.window_metric, k.help)
    for k in KPIS
    if k.aggregation in (Aggregation.COUNT, Aggregation.RATIO)
}
# S key -> gauge labelled by target.
WINDOW_SLA: dict[str, MetricDef] = {
    k.key.removeprefix("sla."): _window(k.window_metric, k.help, "target")
    for k in KPIS
    if k.aggregation is Aggregation.SLA
}
BACKLOG = MetricDef(
    "ticketpulse_backlog_tickets",
    "gauge",
    'Open tickets; one of status, priority, team set, or none for the total ("" = not split).',
    ("status", "priority", "team"),
)
AT_RISK = MetricDef(
    "ticketpulse_sla_at_risk_tickets",
    "gauge",
    "Running, unpaused clocks due within at_risk_within.",
    ("target",),
)
BREACHED_RUNNING = MetricDef(
    "ticketpulse_sla_breached_running_tickets",
    "gauge",
    "Clocks past their deadline that have not stopped.",
    ("target",),
)
SNAPSHOT_TIME = MetricDef(
    "ticketpulse_snapshot_timestamp_seconds", "gauge", "as_of of the mirrored snapshot."
)
SNAPSHOT_PUBLISHED = MetricDef(
    "ticketpulse_snapshot_published_timestamp_seconds",
    "gauge",
    "When the mirrored snapshot was published (as_of is the end of its minute, in the future).",
)

# --- the accounts section's mirror (only while the snapshot has one) ----------------------------

ACCOUNT_NOW_LABELS = ("segment", "manager")
ACCOUNT_WINDOW_LABELS = ("window", "segment", "manager", "source")


def _account_now(name: str, help: str) -> MetricDef:
    return MetricDef(f"ticketpulse_account_{name}", "gauge", help, ACCOUNT_NOW_LABELS)


def _account_window(name: str, help: str) -> MetricDef:
    return MetricDef(f"ticketpulse_account_window_{name}", "gauge", help, ACCOUNT_WINDOW_LABELS)


# N field -> gauge, now (as_of), by segment or manager ("" = not split); a null emits no sample.
ACCOUNT_NOW: dict[str, MetricDef] = {
    "customers": _account_now("customers", "Customers now."),
    "mrr": _account_now("mrr", "MRR of the customers now (accounts' currency)."),
    "arpa": _account_now("arpa", "Average revenue per account now: MRR / customers."),
    "clv": _account_now("clv", "Customer lifetime value: ARPA / the row's 30d churn rate."),
    "at_risk": _account_now("at_risk_customers", "Customers at risk now (health signals)."),
    "at_risk_mrr": _account_now("at_risk_mrr", "MRR of the customers at risk now."),
}
ACCOUNT_LEADS_OPEN = MetricDef(
    "ticketpulse_account_leads_open", "gauge", "Accounts in stage lead now."
)
ACCOUNT_AT_RISK_MRR_THRESHOLD = MetricDef(
    "ticketpulse_account_at_risk_mrr_threshold",
    "gauge",
    "At-risk MRR above which a segment's account managers are alerted (policies file: "
    "accounts.alerts.at_risk_mrr); no sample: no alert for that segment.",
    ("segment",),
)
# A field (flattened: acquisition.converted is leads_converted) -> gauge, per window and row.
ACCOUNT_WINDOW: dict[str, MetricDef] = {
    "leads": _account_window("leads", "Leads created in the window."),
    "leads_converted": _account_window(
        "leads_converted", "Leads created in the window and converted by as_of."
    ),
    "acquisition_rate": _account_window(
        "acquisition_rate", "Leads created in the window and converted by as_of / leads."
    ),
    "conversions": _account_window("conversions", "Conversions in the window."),
    "won_back": _account_window("won_back", "Churned accounts converted again in the window."),
    "touches": _account_window("touches", "Account managers' touches in the window."),
    "churned": _account_window("churned", "Customers churned in the window."),
    "churned_mrr": _account_window("churned_mrr", "MRR the window's churns took."),
    "customers_at_start": _account_window("customers_at_start", "Customers at the window's start."),
    "churned_from_start": _account_window(
        "churned_from_start", "Customers at the window's start churned voluntarily in it."
    ),
    "churn_rate": _account_window(
        "churn_rate", "Churn rate: churned_from_start / customers_at_start."
    ),
    "mrr_at_start": _account_window(
        "mrr_at_start", "MRR of the customers at the window's start, then."
    ),
    "retained_mrr": _account_window(
        "retained_mrr", "The same accounts' MRR at as_of (0 if churned)."
    ),
    "net_revenue_retention": _account_window(
        "net_revenue_retention", "Net revenue retention: retained_mrr / mrr_at_start."
    ),
    "new_mrr": _account_window("new_mrr", "MRR of the window's conversions and win-backs."),
    "expansion_mrr": _account_window("expansion_mrr", "MRR added by upsells and cross-sells."),
    "contraction_mrr": _account_window(
        "contraction_mrr", "MRR lost by decreases (a positive number)."
    ),
}
ACCOUNT_METRICS: tuple[MetricDef, ...] = (
    *ACCOUNT_NOW.values(),
    ACCOUNT_LEADS_OPEN,
    ACCOUNT_AT_RISK_MRR_THRESHOLD,
    *ACCOUNT_WINDOW.values(),
)

WINDOW_METRICS: tuple[MetricDef, ...] = (
    *WINDOW_STATS.values(),
    *WINDOW_SAMPLES.values(),
    *WINDOW_VALUES.values(),
    *WINDOW_SLA.values(),
)
SNAPSHOT_METRICS: tuple[MetricDef, ...] = (
    *WINDOW_METRICS,
    BACKLOG,
    AT_RISK,
    BREACHED_RUNNING,
    SNAPSHOT_TIME,
    SNAPSHOT_PUBLISHED,
    *ACCOUNT_METRICS,
)
METRICS: tuple[MetricDef, ...] = (
    *FACT_HISTOGRAMS.values(),
    *FACT_COUNTERS.values(),
    SLA_MET,
    SLA_BREACHED,
    SLA_MET_RECENT,
    SLA_BREACHED_RECENT,
    LAST_BREACH,
    AGENT_REPLY,
    FACTS_FOLDED,
    EVENTS,
    REDELIVERED,
    NOT_OWNED,
    MISSED_OFFSETS,
    AWAITING_CREATION,
    MISSED_OFFSETS_RECORDED,
    SEEK_BACKS,
    DEADLETTERS,
    EVENT_TIME_LAG,
    BATCH_SECONDS,
    BATCH_SIZE,
    COMMITTED_OFFSET,
    CONSUMER_LAG,
    WORKER_UP,
    *SNAPSHOT_METRICS,
)
