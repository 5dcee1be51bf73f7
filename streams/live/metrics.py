"""Every Prometheus metric of the worker, declared in this one module (see docs/metrics.md).

Two kinds of KPI metrics, on purpose:

- fact histograms and counters (``observe_facts``) count facts *as first seen*: a late event
  that retracts a fact cannot un-observe a histogram or decrement a counter, so these are for
  rates and alerting on what happens now;
- snapshot gauges (``mirror_snapshot``, every ``ticketpulse_window_*``) mirror the merged
  snapshot: they are the corrected truth, equal to ``GET /kpis``.

Label names come only from ``ALLOWED_LABELS``; a label value is a team, channel, priority,
SLA target, status, window, stat, topic, event type, outcome or partition, never a ticket,
account or requester. Both kinds have the snapshot's shape, marginal rows rather than
crossings (a fact counts in four rows: overall, its team, its channel, its priority):
dimension labels hold ``""`` where a row is not split by that dimension, so
``{team="",channel="",priority=""}`` is "overall" and ``{team!=""}`` is "per team".
``agent`` exists only with ``agent_labels=True``. Team and agent values are bounded
(``Metrics.label_limits``): beyond the limit they share the value ``"(other)"``.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from itertools import accumulate
from threading import Lock
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from streams.domain.catalog import (
    AGENT,
    DIMENSIONS,
    DISTRIBUTIONS,
    DURATION_BUCKETS,
    KPIS,
    Aggregation,
    kpi,
)
from streams.domain.events import EventType
from streams.domain.facts import Fact, FactKind, SlaTarget
from streams.domain.folding import OTHER, SNAPSHOT_LIMITS, KeyLimits
from streams.domain.instant import MICROS_PER_SECOND, Instant
from streams.domain.kpis import fact_counters, sla_counter
from streams.domain.snapshot import Kpis, Snapshot, Window
from streams.domain.windows import WINDOWS
from streams.live.settings import RECENT_SLA_SECONDS

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
_EVENT_TYPES = frozenset(t.value for t in EventType)

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
# The distribution a fact kind samples (a catalog counter prefix).
_SAMPLED: dict[FactKind, str] = {d.facts[0]: d.counter for d in DISTRIBUTIONS}
_DISTRIBUTION = {d.counter: d for d in DISTRIBUTIONS}

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
    "partition: deleted by retention before being applied, transaction markers, or lost.",
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
DEFAULT_LABEL_LIMIT = 200

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


def _label_names(definition: MetricDef, agent_labels: bool) -> tuple[str, ...]:
    """With agent labels, window gauges get ``agent`` after their dimensions."""
    if not agent_labels or definition not in WINDOW_METRICS:
        return definition.labels
    width = 1 + len(DIMS)
    return (*definition.labels[:width], "agent", *definition.labels[width:])


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition for the HTTP ``/metrics`` route."""
    return generate_latest(registry)


async def render_in_thread(registry: CollectorRegistry) -> bytes:
    """``render`` for the ``/metrics`` route: in a thread, so that however long a scrape
    takes, the event loop keeps applying batches and answering ``/readyz``."""
    return await asyncio.to_thread(render, registry)


# --- the fact side ---------------------------------------------------------------------------

# Bucket bounds in raw fact units (microseconds or touches), so that a fact needs no division.
_RAW_BOUNDS: dict[str, tuple[int, ...]] = {
    metric: tuple(round(b * _DISTRIBUTION[metric].per_unit) for b in d.buckets)
    for metric, d in FACT_HISTOGRAMS.items()
}
_go_float: Callable[[float], str] = floatToGoString  # the library's "le" spelling
_LE: dict[str, tuple[str, ...]] = {
    metric: (*(_go_float(b) for b in d.buckets), "+Inf") for metric, d in FACT_HISTOGRAMS.items()
}
# kpis.py counter name -> (counter, label values before the dimensions)
_COUNTER_SERIES: dict[str, tuple[MetricDef, tuple[str, ...]]] = {
    **{name: (d, ()) for name, d in FACT_COUNTERS.items()},
    **{sla_counter(t, "met"): (SLA_MET, (t.value,)) for t in SlaTarget},
    **{sla_counter(t, "breached"): (SLA_BREACHED, (t.value,)) for t in SlaTarget},
}
# kpis.py SLA counter name -> (recent counter, its target label value)
_RECENT_SERIES: dict[str, tuple[MetricDef, tuple[str, ...]]] = {
    **{sla_counter(t, "met"): (SLA_MET_RECENT, (t.value,)) for t in SlaTarget},
    **{sla_counter(t, "breached"): (SLA_BREACHED_RECENT, (t.value,)) for t in SlaTarget},
}
_SLA_KINDS = frozenset({FactKind.SLA_MET, FactKind.SLA_BREACHED})
_COUNTER_FAMILIES = (*FACT_COUNTERS.values(), SLA_MET, SLA_BREACHED, SLA_MET_RECENT,
                     SLA_BREACHED_RECENT)  # fmt: skip
_FACT_FAMILIES = (*FACT_HISTOGRAMS.values(), *_COUNTER_FAMILIES)


def _plain_key(fact: Fact) -> tuple[FactKind, int, SlaTarget | None]:
    """What the plain counters of a fact depend on: never a duration's value."""
    sampled = _SAMPLED.get(fact.kind)
    value = fact.value if sampled is None or sampled == "touches" else 0
    return (fact.kind, value, fact.target)


def _dimension_rows(team: str, channel: str, priority: str) -> tuple[tuple[str, str, str], ...]:
    """The rows a fact counts in: overall, its team, its channel, its priority."""
    rows = [("", "", "")]
    if team:
        rows.append((team, "", ""))
    if channel:
        rows.append(("", channel, ""))
    if priority:
        rows.append(("", "", priority))
    return tuple(rows)


class _Hist:
    """Per-bucket (not cumulative) counts, the last one +Inf, and the exact sum in raw units."""

    __slots__ = ("counts", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)
        self.total = 0


class _FactRow:
    """Every fact series of one row, all created at once so that rates and ratios
    (breached / (met + breached)) start from 0 rather than from an absent series."""

    __slots__ = ("counters", "histograms", "recent")

    def __init__(self) -> None:
        self.histograms = {m: _Hist(len(bounds)) for m, bounds in _RAW_BOUNDS.items()}
        self.counters = dict.fromkeys(_COUNTER_SERIES, 0)
        self.recent = dict.fromkeys(_RECENT_SERIES, 0)


class _FactCollector(Collector):
    """Fact histograms and counters as plain ints, turned into families at scrape time.

    One lock per ``observe`` call (not per fact) keeps a scrape from another thread from
    seeing a histogram whose count and buckets disagree.
    """

    def __init__(self, agent_labels: bool, limits: KeyLimits) -> None:
        self._lock = Lock()
        self._rows: dict[tuple[str, str, str], _FactRow] = {}
        # (team, channel, priority) -> rows; a folded team's facts miss it and find the rows
        # of "(other)", so it holds no more keys than there are rows.
        self._rows_of: dict[tuple[str, str, str], tuple[_FactRow, ...]] = {}
        self._plain: dict[tuple[FactKind, int, SlaTarget | None], tuple[str, ...]] = {}
        self._agents: dict[str, _Hist] | None = {} if agent_labels else None
        self._last_breach: dict[str, float] = {}
        self._limits = limits
        self._teams: set[str] = set()  # teams with rows of their own, not counting kept ones
        self._folded = {"team": 0, "agent": 0}

    def observe(self, facts: Iterable[Fact], recent_since: Instant) -> None:
        """Count ``facts``; SLA outcomes at or after ``recent_since`` also count as recent."""
        reply_bounds = _RAW_BOUNDS["reply"]
        with self._lock:
            for fact in facts:
                dims = (fact.team, fact.channel, fact.priority)
                rows = self._rows_of.get(dims)
                if rows is None:
                    rows = self._add_rows(dims)
                metric = _SAMPLED.get(fact.kind)
                if metric is not None:
                    index = bisect_left(_RAW_BOUNDS[metric], fact.value)
                    for row in rows:
                        hist = row.histograms[metric]
                        hist.counts[index] += 1
                        hist.total += fact.value
                    if self._agents is not None and fact.kind is FactKind.REPLY and fact.agent:
                        hist = self._agents.get(fact.agent) or self._agent_hist(fact.agent)
                        hist.counts[bisect_left(reply_bounds, fact.value)] += 1
                        hist.total += fact.value
                names = self._plain_counters(fact)
                for name in names:
                    for row in rows:
                        row.counters[name] += 1
                if fact.kind in _SLA_KINDS and fact.time >= recent_since:
                    for name in names:
                        for row in rows:
                            row.recent[name] += 1
                if fact.kind is FactKind.SLA_BREACHED and fact.target is not None:
                    at = fact.time / MICROS_PER_SECOND
                    target = fact.target.value
                    if at > self._last_breach.get(target, float("-inf")):
                        self._last_breach[target] = at

    def _add_rows(self, dims: tuple[str, str, str]) -> tuple[_FactRow, ...]:
        """The rows of a team, channel and priority not seen yet, or of a folded team."""
        team, channel, priority = dims
        if team and team not in self._limits.kept_teams and team not in self._teams:
            if len(self._teams) < self._limits.team:
                self._teams.add(team)
            else:
                self._folded["team"] += 1
                dims = (OTHER, channel, priority)
                rows = self._rows_of.get(dims)
                if rows is not None:
                    return rows
        rows = tuple(
            self._rows.get(key) or self._rows.setdefault(key, _FactRow())
            for key in _dimension_rows(*dims)
        )
        self._rows_of[dims] = rows
        return rows

    def _agent_hist(self, agent: str) -> _Hist:
        """The reply histogram of an agent not seen yet: its own while under the limit."""
        assert self._agents is not None
        if len(self._agents) - (OTHER in self._agents) >= self._limits.agent:
            self._folded["agent"] += 1
            agent = OTHER
        hist = self._agents.get(agent)
        if hist is None:
            hist = self._agents[agent] = _Hist(len(_RAW_BOUNDS["reply"]))
        return hist

    def _plain_counters(self, fact: Fact) -> tuple[str, ...]:
        key = _plain_key(fact)
        names = self._plain.get(key)
        if names is None:
            kind, value, target = key
            probe = Fact(0, kind, value, "", "", "", None, target)
            names = tuple(name for name, _ in fact_counters(probe) if ":" not in name)
            self._plain[key] = names
        return names

    def describe(self) -> Iterator[Metric]:
        for definition in self._definitions():
            yield _empty_family(definition)

    def _definitions(self) -> tuple[MetricDef, ...]:
        extra = (AGENT_REPLY,) if self._agents is not None else ()
        return (*_FACT_FAMILIES, LAST_BREACH, FACTS_FOLDED, *extra)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            families = self._families()
        return iter(families)

    def _families(self) -> list[Metric]:
        histograms = {
            m: HistogramMetricFamily(d.name, d.help, labels=d.labels)
            for m, d in FACT_HISTOGRAMS.items()
        }
        counters = {
            d.name: CounterMetricFamily(d.name, d.help, labels=d.labels) for d in _COUNTER_FAMILIES
        }
        for labels, row in self._rows.items():
            for metric, hist in row.histograms.items():
                _add_histogram(histograms[metric], metric, labels, hist)
            for name, count in row.counters.items():
                definition, extra = _COUNTER_SERIES[name]
                counters[definition.name].add_metric((*extra, *labels), count)
            for name, count in row.recent.items():
                definition, extra = _RECENT_SERIES[name]
                counters[definition.name].add_metric((*extra, *labels), count)
        last = GaugeMetricFamily(LAST_BREACH.name, LAST_BREACH.help, labels=LAST_BREACH.labels)
        for target, at in self._last_breach.items():
            last.add_metric((target,), at)
        folded = CounterMetricFamily(
            FACTS_FOLDED.name, FACTS_FOLDED.help, labels=FACTS_FOLDED.labels
        )
        for dimension, count in self._folded.items():
            if dimension == "team" or self._agents is not None:
                folded.add_metric((dimension,), count)
        families: list[Metric] = [*histograms.values(), *counters.values(), last, folded]
        if self._agents is not None:
            agents = HistogramMetricFamily(AGENT_REPLY.name, AGENT_REPLY.help, labels=("agent",))
            for agent, hist in self._agents.items():
                _add_histogram(agents, "reply", (agent,), hist)
            families.append(agents)
        return families


def _add_histogram(
    family: HistogramMetricFamily, metric: str, labels: Sequence[str], hist: _Hist
) -> None:
    cumulative = accumulate(hist.counts)
    buckets = list(zip(_LE[metric], cumulative, strict=True))
    family.add_metric(labels, buckets, hist.total / _DISTRIBUTION[metric].per_unit)


def _empty_family(definition: MetricDef) -> Metric:
    """A family to describe a metric: names only, for the registry's duplicate check."""
    if definition.kind == "counter":
        return CounterMetricFamily(definition.name, definition.help, labels=definition.labels)
    if definition.kind == "histogram":
        return HistogramMetricFamily(definition.name, definition.help, labels=definition.labels)
    return GaugeMetricFamily(definition.name, definition.help, labels=definition.labels)


def _make(definition: MetricDef, registry: CollectorRegistry) -> Any:
    kind, name, labels = definition.kind, definition.name, definition.labels
    if kind == "counter":
        return Counter(name, definition.help, labels, registry=registry)
    if kind == "histogram":
        buckets = definition.buckets
        return Histogram(name, definition.help, labels, registry=registry, buckets=buckets)
    return Gauge(name, definition.help, labels, registry=registry)


class Metrics:
    """The worker's metrics in their own registry (tests and workers never share one)."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        agent_labels: bool = False,
        recent_seconds: float = RECENT_SLA_SECONDS,
        label_limit: int = DEFAULT_LABEL_LIMIT,
        kept_teams: frozenset[str] = frozenset(),
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.agent_labels = agent_labels
        self.recent_micros = round(recent_seconds * MICROS_PER_SECOND)
        # The team and agent label values of one dimension: ``kept_teams`` (the policies'),
        # then at most ``label_limit`` others; the rest are "(other)". Without agent labels
        # the snapshot's own agent limit applies, so its agents never force a second render.
        self.label_limits = KeyLimits(
            team=label_limit,
            agent=label_limit if agent_labels else SNAPSHOT_LIMITS.agent,
            kept_teams=kept_teams,
        )
        reg = self.registry
        self._facts = _FactCollector(agent_labels, self.label_limits)
        reg.register(self._facts)
        self._events: Counter = _make(EVENTS, reg)
        self._deadletters: Counter = _make(DEADLETTERS, reg)
        self._awaiting_creation: Counter = _make(AWAITING_CREATION, reg)
        self._redelivered: Counter = _make(REDELIVERED, reg)
        self._not_owned: Counter = _make(NOT_OWNED, reg)
        self._missed_offsets: Counter = _make(MISSED_OFFSETS, reg)
        self._missed_children: dict[str, Counter] = {}
        self._missed_recorded: Gauge = _make(MISSED_OFFSETS_RECORDED, reg)
        self._missed_recorded_children: dict[tuple[str, str], Gauge] = {}
        self._seek_backs: Counter = _make(SEEK_BACKS, reg)
        self._event_time_lag: Gauge = _make(EVENT_TIME_LAG, reg)
        self._batch_seconds: Histogram = _make(BATCH_SECONDS, reg)
        self._batch_size: Histogram = _make(BATCH_SIZE, reg)
        self._committed: Gauge = _make(COMMITTED_OFFSET, reg)
        self._lag: Gauge = _make(CONSUMER_LAG, reg)
        self._up: Gauge = _make(WORKER_UP, reg)
        self._up.set(0)
        self._event_children: dict[tuple[str, str, str], Counter] = {}
        self._deadletter_children: dict[str, Counter] = {}
        self._partitions: set[tuple[str, str]] = set()
        self._snapshot = _SnapshotCollector(agent_labels)
        reg.register(self._snapshot)

    # --- facts ---------------------------------------------------------------------------

    def observe_facts(self, added: Iterable[Fact], now: Instant) -> None:
        """Count the facts a ticket gained; retracted facts are not passed (see module doc).

        ``now`` is the worker's clock: SLA outcomes whose time is within ``recent_seconds`` of
        it also count in the ``*_recent_total`` counters.
        """
        self._facts.observe(added, now - self.recent_micros)

    # --- pipeline health -----------------------------------------------------------------

    def count_events(self, topic: str, type_: str, outcome: str, n: int = 1) -> None:
        """Count read events; a type that is not in the contract is counted as ``invalid``."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome {outcome!r} is not one of {sorted(OUTCOMES)}")
        key = (topic, type_ if type_ in _EVENT_TYPES else "invalid", outcome)
        child = self._event_children.get(key)
        if child is None:
            child = self._event_children[key] = self._events.labels(*key)
        child.inc(n)

    def count_not_owned(self, n: int = 1) -> None:
        """Messages of a partition revoked before they were applied: its new owner applies them."""
        self._not_owned.inc(n)

    def count_redelivered(self, n: int = 1) -> None:
        """Messages at or below the applied offsets: skipped, not events read."""
        self._redelivered.inc(n)

    def expect_topics(self, topics: Iterable[str]) -> None:
        """Export the input topics' missed-offset counters at 0 from the start: a counter
        that first appears at 4 is no increase to Prometheus, and its alert would miss it."""
        for topic in topics:
            self.count_missed_offsets(topic, 0)

    def count_missed_offsets(self, topic: str, n: int) -> None:
        child = self._missed_children.get(topic)
        if child is None:
            child = self._missed_children[topic] = self._missed_offsets.labels(topic)
        child.inc(n)

    def count_awaiting_creation(self, n: int) -> None:
        """Events of tickets not yet created: their records expire unless it arrives."""
        self._awaiting_creation.inc(n)

    def set_missed_offsets_recorded(self, topic: str, partition: int, count: int) -> None:
        """What Redis records for an owned partition (read on adoption and every second)."""
        self._missed_recorded_child(topic, partition).set(count)

    def add_missed_offsets_recorded(self, topic: str, partition: int, n: int) -> None:
        """Offsets never received that a batch just recorded in Redis."""
        self._missed_recorded_child(topic, partition).inc(n)

    def _missed_recorded_child(self, topic: str, partition: int) -> Gauge:
        key = (topic, str(partition))
        child = self._missed_recorded_children.get(key)
        if child is None:
            self._partitions.add(key)
            child = self._missed_recorded_children[key] = self._missed_recorded.labels(*key)
        return child

    def count_seek_back(self) -> None:
        self._seek_backs.inc()

    def count_deadletters(self, topic: str, n: int = 1) -> None:
        child = self._deadletter_children.get(topic)
        if child is None:
            child = self._deadletter_children[topic] = self._deadletters.labels(topic)
        child.inc(n)

    def set_event_time_lag(self, seconds: float) -> None:
        self._event_time_lag.set(seconds)

    def observe_batch(self, seconds: float, size: int) -> None:
        self._batch_seconds.observe(seconds)
        self._batch_size.observe(size)

    def set_committed_offset(self, topic: str, partition: int, offset: int) -> None:
        self._partitions.add((topic, str(partition)))
        self._committed.labels(topic, str(partition)).set(offset)

    def set_consumer_lag(self, topic: str, partition: int, lag: int) -> None:
        self._partitions.add((topic, str(partition)))
        self._lag.labels(topic, str(partition)).set(lag)

    def forget_partition(self, partition: int) -> None:
        """Drop a revoked partition's series, so that only its new owner reports them."""
        for key in [k for k in self._partitions if k[1] == str(partition)]:
            self._partitions.discard(key)
            self._missed_recorded_children.pop(key, None)
            for gauge in (self._committed, self._lag, self._missed_recorded):
                with suppress(KeyError):  # prometheus_client < 0.21 raises for an absent child
                    gauge.remove(*key)

    def set_up(self, up: bool) -> None:
        self._up.set(1 if up else 0)

    # --- snapshot ------------------------------------------------------------------------

    def mirror_snapshot(self, snapshot: Snapshot) -> None:
        """Replace every snapshot gauge by the values of ``snapshot`` (spec section 5),
        built with ``label_limits`` so that its team and agent maps fit the labels.

        Series of keys no longer in the snapshot and of null values disappear. A malformed
        snapshot raises ``ValueError`` and leaves the previous values exposed.
        """
        self._snapshot.replace(snapshot)


# --- the snapshot side -----------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A snapshot value as a sample value; None stays None (no sample)."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise TypeError(f"{value!r} is not a number")


class _Gauges:
    """Gauge families being filled, with label dicts built by the caller and shared."""

    def __init__(self, definitions: Iterable[MetricDef], agent_labels: bool) -> None:
        self.families = {
            d.name: GaugeMetricFamily(d.name, d.help, labels=_label_names(d, agent_labels))
            for d in definitions
        }

    def add(self, name: str, labels: dict[str, str], value: Any) -> None:
        number = _number(value)
        if number is not None:
            self.families[name].samples.append(Sample(name, labels, number))


class _SnapshotCollector(Collector):
    """Gauges rebuilt from each snapshot: scraping reads them, nothing is ever left stale.

    ``replace`` builds new families and swaps them in whole, so a scrape from another thread
    sees either the old or the new snapshot, never a mixture.
    """

    def __init__(self, agent_labels: bool) -> None:
        self.agent_labels = agent_labels
        self._families: tuple[Metric, ...] = ()

    def describe(self) -> Iterator[Metric]:
        for definition in SNAPSHOT_METRICS:
            yield _family(definition, _label_names(definition, self.agent_labels))

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)

    def replace(self, snapshot: Snapshot) -> None:
        try:
            families = self._build(snapshot, time.time())
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"malformed snapshot: {error!r}") from error
        self._families = families

    def _build(self, snapshot: Snapshot, published: float) -> tuple[Metric, ...]:
        gauges = _Gauges(SNAPSHOT_METRICS, self.agent_labels)
        for window, rows in snapshot.windows.items():
            if window not in WINDOWS:
                raise ValueError(f"unknown window {window!r}")
            for dims, kpis in self._rows(rows):
                _add_row(gauges, {"window": window, **dims}, kpis)
        backlog = snapshot.backlog
        name = BACKLOG.name
        gauges.add(name, {"status": "", "priority": "", "team": ""}, backlog.total)
        maps = {
            "status": backlog.by_status,
            "priority": backlog.by_priority,
            "team": backlog.by_team,
        }
        for by, counts in maps.items():
            for key, count in counts.items():
                labels = {"status": "", "priority": "", "team": ""}
                labels[by] = _dimension_value(key)
                gauges.add(name, labels, count)
        sla_now = snapshot.sla_now
        for target in SlaTarget:
            labels = {"target": target.value}
            gauges.add(AT_RISK.name, labels, sla_now.at_risk[target.value])
            gauges.add(BREACHED_RUNNING.name, labels, sla_now.breached_running[target.value])
        gauges.add(SNAPSHOT_TIME.name, {}, snapshot.as_of / MICROS_PER_SECOND)
        gauges.add(SNAPSHOT_PUBLISHED.name, {}, published)
        return tuple(gauges.families.values())

    def _rows(self, window: Window) -> Iterator[tuple[dict[str, str], Kpis]]:
        """(dimension labels, K) of the overall row and every per-dimension row."""
        kinds = DIMENSIONS if self.agent_labels else DIMS
        blank = dict.fromkeys(kinds, "")
        yield blank, window.overall
        for kind in kinds:
            for key, kpis in window.by.get(kind, {}).items():
                yield {**blank, kind: _dimension_value(key)}, kpis


def _family(definition: MetricDef, labels: Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(definition.name, definition.help, labels=labels)


def _dimension_value(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"dimension key {key!r} is not a non-empty string")
    return key


# (gauge name, K key, field of the K object or "")
_VALUE_PATHS = tuple(
    (d.name, *key.split(".")) if "." in key else (d.name, key, "")
    for key, d in WINDOW_VALUES.items()
)


def _add_row(gauges: _Gauges, labels: dict[str, str], kpis: Mapping[str, Any]) -> None:
    """The gauges of one K: label dicts are shared by every sample with the same labels."""
    for dist in DISTRIBUTIONS:
        data = kpis[dist.key]
        gauges.add(WINDOW_SAMPLES[dist.key].name, labels, data["count"])
        name = WINDOW_STATS[dist.key].name
        for stat in STATS:
            gauges.add(name, {**labels, "stat": stat}, data[stat])
    for name, key, field in _VALUE_PATHS:
        gauges.add(name, labels, kpis[key][field] if field else kpis[key])
    for target in SlaTarget:
        outcome = kpis["sla"][target.value]
        with_target = {**labels, "target": target.value}
        for key, definition in WINDOW_SLA.items():
            gauges.add(definition.name, with_target, outcome[key])
