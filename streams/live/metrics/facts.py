"""The fact metrics: histograms and counters of facts as first seen, one row per label set.

Counts are plain ints kept per (team, channel, priority) row and turned into families at
scrape time; team and agent values beyond their ``KeyLimits`` share the row of ``"(other)"``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate
from threading import Lock

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from streams.domain.catalog import DISTRIBUTIONS
from streams.domain.facts import Fact, FactKind, SlaTarget
from streams.domain.folding import OTHER, KeyLimits
from streams.domain.instant import MICROS_PER_SECOND, Instant
from streams.domain.kpis import fact_counters, sla_counter
from streams.live.metrics.definitions import (
    AGENT_REPLY,
    FACT_COUNTERS,
    FACT_HISTOGRAMS,
    FACTS_FOLDED,
    LAST_BREACH,
    SLA_BREACHED,
    SLA_BREACHED_RECENT,
    SLA_MET,
    SLA_MET_RECENT,
    MetricDef,
)

# The distribution a fact kind samples (a catalog counter prefix).
_SAMPLED: dict[FactKind, str] = {d.facts[0]: d.counter for d in DISTRIBUTIONS}
_DISTRIBUTION = {d.counter: d for d in DISTRIBUTIONS}


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


class FactCollector(Collector):
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
        plain = self._plain
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
                # what the plain counters depend on: never a duration's value
                value = fact.value if metric is None or metric == "touches" else 0
                key = (fact.kind, value, fact.target)
                names = plain.get(key)
                if names is None:
                    names = self._plain_counters(key)
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

    def _plain_counters(self, key: tuple[FactKind, int, SlaTarget | None]) -> tuple[str, ...]:
        """The plain counters a fact of ``key`` (kind, value, target) adds to, cached."""
        kind, value, target = key
        probe = Fact(0, kind, value, "", "", "", None, target)
        names = self._plain[key] = tuple(
            name for name, _ in fact_counters(probe) if ":" not in name
        )
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
