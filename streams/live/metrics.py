"""Every Prometheus metric of the worker, declared in this one module (see docs/metrics.md).

Two kinds of KPI metrics, on purpose:

- fact histograms and counters (``observe_facts``) count facts *as first seen*: a late event
  that retracts a fact cannot un-observe a histogram or decrement a counter, so these are for
  rates and alerting on what happens now;
- snapshot gauges (``mirror_snapshot``, every ``ticketpulse_window_*``) mirror the merged
  snapshot: they are the corrected truth, equal to ``GET /kpis``.

Label names come only from ``ALLOWED_LABELS``; a label value is a team, channel, priority,
SLA target, status, window, stat, topic, event type, outcome or partition, never a ticket,
account or requester. Dimension labels hold ``""`` where a series is not split by that
dimension, so ``{team="",channel="",priority=""}`` is "overall" and ``{team!=""}`` is
"per team". ``agent`` exists only with ``agent_labels=True``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streams.domain.events import EventType
from streams.domain.facts import Fact, FactKind, SlaTarget
from streams.domain.instant import MICROS_PER_SECOND, parse_rfc3339
from streams.domain.kpis import DISTRIBUTIONS, Distribution, fact_counters, sla_counter
from streams.domain.windows import WINDOWS

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
    }
)
DIMS = ("team", "channel", "priority")
OUTCOMES = frozenset({"accepted", "duplicate", "invalid", "rejected", "anomaly"})
STATS = ("mean", "p50", "p90", "p99")
_EVENT_TYPES = frozenset(t.value for t in EventType)

# Support times: 1m 5m 15m 30m 1h 2h 4h 8h 1d 3d 7d 30d; the default SLA targets
# (15m, 30m, 4h, 8h, 3d) are bucket bounds, so "share within target" is exact at them.
DURATION_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800, 2592000)
TOUCH_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21)
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


def _hist(name: str, help: str, buckets: tuple[float, ...] = DURATION_BUCKETS) -> MetricDef:
    return MetricDef(name, "histogram", help, DIMS, buckets)


def _facts(name: str, help: str, *extra: str) -> MetricDef:
    return MetricDef(name, "counter", help, (*extra, *DIMS))


# --- fact metrics (facts as first seen) ------------------------------------------------------

# The distribution a fact kind samples; histogram names are the spec's K keys.
_SAMPLED: dict[FactKind, str] = {
    FactKind.FIRST_REPLY: "first_reply",
    FactKind.REPLY: "reply",
    FactKind.RESOLUTION: "resolution",
    FactKind.FULL_RESOLUTION: "full_resolution",
    FactKind.TOUCHES_TO_CLOSE: "touches",
}
_DISTRIBUTION = {d.metric: d for d in DISTRIBUTIONS}

FACT_HISTOGRAMS: dict[str, MetricDef] = {
    d.metric: _hist(
        f"ticketpulse_{d.output}",
        f"{d.output.replace('_', ' ')} of facts as first seen",
        TOUCH_BUCKETS if d.per_unit == 1 else DURATION_BUCKETS,
    )
    for d in DISTRIBUTIONS
}

# kpis.py counter name -> the counter it increments; kpis.py decides which a fact adds.
FACT_COUNTERS: dict[str, MetricDef] = {
    "created": _facts("ticketpulse_tickets_created_total", "Tickets created."),
    "solved": _facts("ticketpulse_tickets_solved_total", "Tickets first solved."),
    "reopened": _facts("ticketpulse_tickets_reopened_total", "Reopens (solved -> not solved)."),
    "one_touch": _facts("ticketpulse_one_touch_tickets_total", "First solves with one touch."),
    "zero_touch": _facts("ticketpulse_zero_touch_tickets_total", "First solves with no touch."),
    "csat.responses": _facts("ticketpulse_csat_responses_total", "CSAT responses."),
    "csat.satisfied": _facts("ticketpulse_csat_satisfied_total", "CSAT responses scoring 4..5."),
    "nps.responses": _facts("ticketpulse_nps_responses_total", "NPS responses."),
    "nps.promoters": _facts("ticketpulse_nps_promoters_total", "NPS responses scoring 9..10."),
    "nps.passives": _facts("ticketpulse_nps_passives_total", "NPS responses scoring 7..8."),
    "nps.detractors": _facts("ticketpulse_nps_detractors_total", "NPS responses scoring 0..6."),
}
SLA_MET = _facts("ticketpulse_sla_met_total", "SLA clocks stopped by their deadline.", "target")
SLA_BREACHED = _facts("ticketpulse_sla_breached_total", "SLA clocks breached.", "target")
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

# --- snapshot mirror (the corrected truth) -------------------------------------------------------


def _window(name: str, help: str, *extra: str) -> MetricDef:
    return MetricDef(name, "gauge", help, ("window", *DIMS, *extra))


WINDOW_STATS: dict[str, MetricDef] = {
    d.output: _window(
        f"ticketpulse_window_{d.output}",
        f"{d.output.replace('_', ' ')} in the window: mean and nearest-rank percentiles",
        "stat",
    )
    for d in DISTRIBUTIONS
}
WINDOW_SAMPLES: dict[str, MetricDef] = {
    d.output: _window(
        f"ticketpulse_window_{d.output.removesuffix('_seconds')}_samples",
        f"{d.output.replace('_', ' ')} samples in the window",
    )
    for d in DISTRIBUTIONS
}
# K key (dotted for nested objects) -> gauge; a null value emits no sample.
WINDOW_VALUES: dict[str, MetricDef] = {
    "tickets_created": _window("ticketpulse_window_tickets_created", "Tickets created."),
    "tickets_solved": _window("ticketpulse_window_tickets_solved", "Tickets first solved."),
    "reopened": _window("ticketpulse_window_tickets_reopened", "Reopens."),
    "one_touch": _window("ticketpulse_window_one_touch_tickets", "One-touch first solves."),
    "zero_touch": _window("ticketpulse_window_zero_touch_tickets", "Zero-touch first solves."),
    "fcr_rate": _window("ticketpulse_window_fcr_ratio", "One-touch / first solves with a touch."),
    "csat.responses": _window("ticketpulse_window_csat_responses", "CSAT responses."),
    "csat.satisfied": _window("ticketpulse_window_csat_satisfied", "CSAT responses of 4..5."),
    "csat.percent": _window("ticketpulse_window_csat_percent", "CSAT percent satisfied."),
    "nps.responses": _window("ticketpulse_window_nps_responses", "NPS responses."),
    "nps.promoters": _window("ticketpulse_window_nps_promoters", "NPS promoters (9..10)."),
    "nps.passives": _window("ticketpulse_window_nps_passives", "NPS passives (7..8)."),
    "nps.detractors": _window("ticketpulse_window_nps_detractors", "NPS detractors (0..6)."),
    "nps.score": _window("ticketpulse_window_nps_score", "NPS, -100..100."),
}
# S key -> gauge labelled by target.
WINDOW_SLA: dict[str, MetricDef] = {
    "met": _window("ticketpulse_window_sla_met", "SLA clocks met.", "target"),
    "breached": _window("ticketpulse_window_sla_breached", "SLA clocks breached.", "target"),
    "compliance": _window(
        "ticketpulse_window_sla_compliance_ratio", "Met / (met + breached).", "target"
    ),
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
)
METRICS: tuple[MetricDef, ...] = (
    *FACT_HISTOGRAMS.values(),
    *FACT_COUNTERS.values(),
    SLA_MET,
    SLA_BREACHED,
    LAST_BREACH,
    AGENT_REPLY,
    EVENTS,
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


# --- the fact side ---------------------------------------------------------------------------


def _plain_key(fact: Fact) -> tuple[FactKind, int, SlaTarget | None]:
    """What the plain counters of a fact depend on: never a duration's value."""
    sampled = _SAMPLED.get(fact.kind)
    value = fact.value if sampled is None or sampled == "touches" else 0
    return (fact.kind, value, fact.target)


class _DimChildren:
    """Every fact child of one (team, channel, priority), created together on first sight.

    Creating them together lets rates and ratios (breached / (met + breached)) start from 0
    rather than from an absent series.
    """

    __slots__ = ("counters", "histograms")

    def __init__(
        self,
        dims: tuple[str, str, str],
        histograms: Mapping[str, Histogram],
        counters: Mapping[str, Counter],
        sla: Mapping[str, Counter],
    ) -> None:
        self.histograms = {metric: h.labels(*dims) for metric, h in histograms.items()}
        self.counters = {name: c.labels(*dims) for name, c in counters.items()}
        for target in SlaTarget:
            for outcome, counter in sla.items():
                self.counters[sla_counter(target, outcome)] = counter.labels(target.value, *dims)


def _make(definition: MetricDef, registry: CollectorRegistry) -> Any:
    kind, name, labels = definition.kind, definition.name, definition.labels
    if kind == "counter":
        return Counter(name, definition.help, labels, registry=registry)
    if kind == "histogram":
        return Histogram(
            name, definition.help, labels, registry=registry, buckets=definition.buckets
        )
    return Gauge(name, definition.help, labels, registry=registry)


class Metrics:
    """The worker's metrics in their own registry (tests and workers never share one)."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, agent_labels: bool = False
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.agent_labels = agent_labels
        reg = self.registry
        self._histograms: dict[str, Histogram] = {
            metric: _make(d, reg) for metric, d in FACT_HISTOGRAMS.items()
        }
        self._counters: dict[str, Counter] = {
            name: _make(d, reg) for name, d in FACT_COUNTERS.items()
        }
        self._sla: dict[str, Counter] = {
            "met": _make(SLA_MET, reg),
            "breached": _make(SLA_BREACHED, reg),
        }
        self._last_breach: Gauge = _make(LAST_BREACH, reg)
        self._agent_reply: Histogram | None = _make(AGENT_REPLY, reg) if agent_labels else None
        self._events: Counter = _make(EVENTS, reg)
        self._deadletters: Counter = _make(DEADLETTERS, reg)
        self._event_time_lag: Gauge = _make(EVENT_TIME_LAG, reg)
        self._batch_seconds: Histogram = _make(BATCH_SECONDS, reg)
        self._batch_size: Histogram = _make(BATCH_SIZE, reg)
        self._committed: Gauge = _make(COMMITTED_OFFSET, reg)
        self._lag: Gauge = _make(CONSUMER_LAG, reg)
        self._up: Gauge = _make(WORKER_UP, reg)
        self._up.set(0)

        self._dims: dict[tuple[str, str, str], _DimChildren] = {}
        self._plain: dict[tuple[FactKind, int, SlaTarget | None], tuple[str, ...]] = {}
        self._agents: dict[str, Histogram] = {}
        self._breach_times: dict[SlaTarget, float] = {}
        self._event_children: dict[tuple[str, str, str], Counter] = {}
        self._deadletter_children: dict[str, Counter] = {}
        self._partitions: set[tuple[str, str]] = set()
        self._snapshot = _SnapshotCollector(agent_labels)
        reg.register(self._snapshot)

    # --- facts ---------------------------------------------------------------------------

    def observe_facts(self, added: Iterable[Fact]) -> None:
        """Count the facts a ticket gained; retracted facts are not passed (see module doc)."""
        for fact in added:
            dims = (fact.team, fact.channel, fact.priority)
            children = self._dims.get(dims)
            if children is None:
                children = self._dims[dims] = _DimChildren(
                    dims, self._histograms, self._counters, self._sla
                )
            metric = _SAMPLED.get(fact.kind)
            if metric is not None:
                per_unit = _DISTRIBUTION[metric].per_unit
                children.histograms[metric].observe(fact.value / per_unit)
                if fact.kind is FactKind.REPLY and self._agent_reply is not None:
                    self._observe_agent(fact)
            for name in self._plain_counters(fact):
                children.counters[name].inc()
            if fact.kind is FactKind.SLA_BREACHED and fact.target is not None:
                self._breached_at(fact.target, fact.time / MICROS_PER_SECOND)

    def _plain_counters(self, fact: Fact) -> tuple[str, ...]:
        key = _plain_key(fact)
        names = self._plain.get(key)
        if names is None:
            kind, value, target = key
            probe = Fact(0, kind, value, "", "", "", None, target)
            names = tuple(name for name, _ in fact_counters(probe) if ":" not in name)
            self._plain[key] = names
        return names

    def _observe_agent(self, fact: Fact) -> None:
        assert self._agent_reply is not None
        if fact.agent is None:
            return
        child = self._agents.get(fact.agent)
        if child is None:
            child = self._agents[fact.agent] = self._agent_reply.labels(fact.agent)
        child.observe(fact.value / MICROS_PER_SECOND)

    def _breached_at(self, target: SlaTarget, at: float) -> None:
        if at > self._breach_times.get(target, float("-inf")):
            self._breach_times[target] = at
            self._last_breach.labels(target.value).set(at)

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
            for gauge in (self._committed, self._lag):
                with suppress(KeyError):  # prometheus_client < 0.21 raises for an absent child
                    gauge.remove(*key)

    def set_up(self, up: bool) -> None:
        self._up.set(1 if up else 0)

    # --- snapshot ------------------------------------------------------------------------

    def mirror_snapshot(self, snapshot: Mapping[str, Any]) -> None:
        """Replace every snapshot gauge by the values of ``snapshot`` (a spec section 5 dict).

        Series of keys no longer in the snapshot and of null values disappear. A malformed
        snapshot raises ``ValueError`` and leaves the previous values exposed.
        """
        self._snapshot.replace(snapshot)


# --- the snapshot side -----------------------------------------------------------------------


def _family(definition: MetricDef, labels: Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(definition.name, definition.help, labels=labels)


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

    def replace(self, snapshot: Mapping[str, Any]) -> None:
        try:
            families = self._build(snapshot)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"malformed snapshot: {error!r}") from error
        self._families = families

    def _build(self, snapshot: Mapping[str, Any]) -> tuple[Metric, ...]:
        def families(defs: Mapping[str, MetricDef]) -> dict[str, GaugeMetricFamily]:
            return {k: _family(d, _label_names(d, self.agent_labels)) for k, d in defs.items()}

        stats, samples = families(WINDOW_STATS), families(WINDOW_SAMPLES)
        values, sla = families(WINDOW_VALUES), families(WINDOW_SLA)
        for window, rows in snapshot["windows"].items():
            if window not in WINDOWS:
                raise ValueError(f"unknown window {window!r}")
            for dims, kpis in self._rows(rows):
                labels = (window, *dims)
                for dist in DISTRIBUTIONS:
                    _add_distribution(stats, samples, dist, labels, kpis[dist.output])
                for key, family in values.items():
                    group, _, field = key.partition(".")
                    value = kpis[group][field] if field else kpis[group]
                    if value is not None:
                        family.add_metric(labels, value)
                for target in SlaTarget:
                    outcome = kpis["sla"][target.value]
                    for key, family in sla.items():
                        if outcome[key] is not None:
                            family.add_metric((*labels, target.value), outcome[key])
        backlog = _family(BACKLOG, BACKLOG.labels)
        data = snapshot["backlog"]
        backlog.add_metric(("", "", ""), data["total"])
        for position, key in enumerate(("by_status", "by_priority", "by_team")):
            for name, count in data[key].items():
                split = ["", "", ""]
                split[position] = _dimension_value(name)
                backlog.add_metric(split, count)
        sla_now = snapshot["sla_now"]
        at_risk, running = _family(AT_RISK, ("target",)), _family(BREACHED_RUNNING, ("target",))
        for target in SlaTarget:
            at_risk.add_metric((target.value,), sla_now["at_risk"][target.value])
            running.add_metric((target.value,), sla_now["breached_running"][target.value])
        as_of = GaugeMetricFamily(
            SNAPSHOT_TIME.name,
            SNAPSHOT_TIME.help,
            value=parse_rfc3339(snapshot["as_of"]) / MICROS_PER_SECOND,
        )
        return (
            *stats.values(),
            *samples.values(),
            *values.values(),
            *sla.values(),
            backlog,
            at_risk,
            running,
            as_of,
        )

    def _rows(self, window: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], Any]]:
        """(dimension label values, K) of the overall row and every per-dimension row."""
        width = 4 if self.agent_labels else 3
        yield ("",) * width, window["overall"]
        kinds = ("team", "channel", "priority", "agent")[:width]
        for position, kind in enumerate(kinds):
            for key, kpis in window.get(f"by_{kind}", {}).items():
                dims = [""] * width
                dims[position] = _dimension_value(key)
                yield tuple(dims), kpis


def _dimension_value(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"dimension key {key!r} is not a non-empty string")
    return key


def _add_distribution(
    stats: Mapping[str, GaugeMetricFamily],
    samples: Mapping[str, GaugeMetricFamily],
    dist: Distribution,
    labels: tuple[str, ...],
    data: Mapping[str, Any],
) -> None:
    samples[dist.output].add_metric(labels, data["count"])
    family = stats[dist.output]
    for stat in STATS:
        value = data[stat]
        if value is not None:
            family.add_metric((*labels, stat), value)
