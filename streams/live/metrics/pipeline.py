"""The pipeline's health metrics: events read, dead letters, offsets, lag, batches, up.

Label children are cached per label set, so the hot path never builds one twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.domain.events import EventType
from streams.live.metrics.definitions import (
    AWAITING_CREATION,
    BATCH_SECONDS,
    BATCH_SIZE,
    COMMITTED_OFFSET,
    CONSUMER_LAG,
    DEADLETTERS,
    EVENT_TIME_LAG,
    EVENTS,
    MISSED_OFFSETS,
    MISSED_OFFSETS_RECORDED,
    NOT_OWNED,
    OUTCOMES,
    REDELIVERED,
    SEEK_BACKS,
    WORKER_UP,
    MetricDef,
)

_EVENT_TYPES = frozenset(t.value for t in EventType)
_Labelled = TypeVar("_Labelled", Counter, Gauge)


def _child(
    children: dict[tuple[str, ...], _Labelled], metric: _Labelled, key: tuple[str, ...]
) -> _Labelled:
    """The label child of ``key``, made once: ``labels()`` takes a lock and builds a key."""
    child = children.get(key)
    if child is None:
        child = children[key] = metric.labels(*key)
    return child


def _make(definition: MetricDef, registry: CollectorRegistry) -> Any:
    kind, name, labels = definition.kind, definition.name, definition.labels
    if kind == "counter":
        return Counter(name, definition.help, labels, registry=registry)
    if kind == "histogram":
        buckets = definition.buckets
        return Histogram(name, definition.help, labels, registry=registry, buckets=buckets)
    return Gauge(name, definition.help, labels, registry=registry)


class PipelineMetrics:
    """Counters, gauges and histograms of the pipeline, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._events: Counter = _make(EVENTS, registry)
        self._deadletters: Counter = _make(DEADLETTERS, registry)
        self._awaiting_creation: Counter = _make(AWAITING_CREATION, registry)
        self._redelivered: Counter = _make(REDELIVERED, registry)
        self._not_owned: Counter = _make(NOT_OWNED, registry)
        self._missed_offsets: Counter = _make(MISSED_OFFSETS, registry)
        self._missed_children: dict[tuple[str, ...], Counter] = {}
        self._missed_recorded: Gauge = _make(MISSED_OFFSETS_RECORDED, registry)
        self._missed_recorded_children: dict[tuple[str, ...], Gauge] = {}
        self._seek_backs: Counter = _make(SEEK_BACKS, registry)
        self._event_time_lag: Gauge = _make(EVENT_TIME_LAG, registry)
        self._batch_seconds: Histogram = _make(BATCH_SECONDS, registry)
        self._batch_size: Histogram = _make(BATCH_SIZE, registry)
        self._committed: Gauge = _make(COMMITTED_OFFSET, registry)
        self._lag: Gauge = _make(CONSUMER_LAG, registry)
        self._up: Gauge = _make(WORKER_UP, registry)
        self._up.set(0)
        self._event_children: dict[tuple[str, ...], Counter] = {}
        self._deadletter_children: dict[tuple[str, ...], Counter] = {}
        self._partitions: set[tuple[str, str]] = set()

    def count_events(self, topic: str, type_: str, outcome: str, n: int = 1) -> None:
        """Count read events; a type that is not in the contract is counted as ``invalid``."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome {outcome!r} is not one of {sorted(OUTCOMES)}")
        key = (topic, type_ if type_ in _EVENT_TYPES else "invalid", outcome)
        _child(self._event_children, self._events, key).inc(n)

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
        _child(self._missed_children, self._missed_offsets, (topic,)).inc(n)

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
        self._partitions.add(key)
        return _child(self._missed_recorded_children, self._missed_recorded, key)

    def count_seek_back(self) -> None:
        self._seek_backs.inc()

    def count_deadletters(self, topic: str, n: int = 1) -> None:
        _child(self._deadletter_children, self._deadletters, (topic,)).inc(n)

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
