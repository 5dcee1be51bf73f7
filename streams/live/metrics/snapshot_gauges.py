"""The snapshot gauges: every ``ticketpulse_window_*``, backlog and SLA-now gauge and the
account gauges (``account_gauges``), rebuilt whole from each published ``Snapshot`` (the
corrected truth, equal to ``GET /kpis``)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from streams.domain.account_thresholds import NO_AT_RISK_MRR_ALERTS, AtRiskMrrLimits
from streams.domain.catalog import DIMENSIONS, DISTRIBUTIONS
from streams.domain.facts import SlaTarget
from streams.domain.instant import MICROS_PER_SECOND
from streams.domain.kpis import Kpis
from streams.domain.snapshot import Snapshot, Window
from streams.domain.windows import WINDOWS
from streams.live.metrics.account_gauges import add_account_gauges
from streams.live.metrics.definitions import (
    AT_RISK,
    BACKLOG,
    BREACHED_RUNNING,
    DIMS,
    SNAPSHOT_METRICS,
    SNAPSHOT_PUBLISHED,
    SNAPSHOT_TIME,
    STATS,
    WINDOW_METRICS,
    WINDOW_SAMPLES,
    WINDOW_SLA,
    WINDOW_STATS,
    WINDOW_VALUES,
    MetricDef,
)


def _label_names(definition: MetricDef, agent_labels: bool) -> tuple[str, ...]:
    """With agent labels, window gauges get ``agent`` after their dimensions."""
    if not agent_labels or definition not in WINDOW_METRICS:
        return definition.labels
    width = 1 + len(DIMS)
    return (*definition.labels[:width], "agent", *definition.labels[width:])


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


class SnapshotCollector(Collector):
    """Gauges rebuilt from each snapshot: scraping reads them, nothing is ever left stale.

    ``replace`` builds new families and swaps them in whole, so a scrape from another thread
    sees either the old or the new snapshot, never a mixture.
    """

    def __init__(
        self,
        agent_labels: bool,
        account_limit: int = 200,
        at_risk_mrr: AtRiskMrrLimits = NO_AT_RISK_MRR_ALERTS,
    ) -> None:
        self.agent_labels = agent_labels
        self.account_limit = account_limit  # segment and manager label values
        self.at_risk_mrr = at_risk_mrr
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
        add_account_gauges(gauges.add, snapshot.accounts, self.account_limit, self.at_risk_mrr)
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


# (gauge name, catalog key) of the counts and ratios
_VALUE_NAMES = tuple((d.name, key) for key, d in WINDOW_VALUES.items())


def _add_row(gauges: _Gauges, labels: dict[str, str], kpis: Kpis) -> None:
    """The gauges of one K: label dicts are shared by every sample with the same labels."""
    for dist, data in zip(DISTRIBUTIONS, kpis.distributions, strict=True):
        gauges.add(WINDOW_SAMPLES[dist.key].name, labels, data.count)
        name = WINDOW_STATS[dist.key].name
        for stat in STATS:
            gauges.add(name, {**labels, "stat": stat}, data.stat(stat))
    for name, key in _VALUE_NAMES:
        gauges.add(name, labels, kpis.value(key))
    for target, outcome in zip(SlaTarget, kpis.sla, strict=True):
        with_target = {**labels, "target": target.value}
        for key, definition in WINDOW_SLA.items():
            gauges.add(definition.name, with_target, outcome.field(key))
