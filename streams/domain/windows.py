"""Rolling windows over minute buckets of KPI counters (spec section 5).

A fact at time t is in a window of width W at ``as_of`` if ``as_of - W <= t < as_of``; as_of
is a whole minute, so a window is exactly the sum of the minute buckets in that range.
``add_bucket_deltas`` turns a ticket's fact difference into bucket increments, summed over a
batch; the live planner sends exactly those to Redis and to its cache (``apply_deltas``).
``Windows`` is the in-memory store: it keeps a running sum per window for the last as_of it
was read at and moves it bucket by bucket, so reading a window costs the minutes it moved,
not the minutes it spans. Replay applies each diff straight into the buckets (``apply``):
the same increments without a batch's sum in between (tested equal). Those facts wait, per
minute, and a window read while they wait sums them with the buckets directly, without
expanding them into buckets (``_Running.direct``, counted again once they change): replay
reads once, at the end, so it never builds buckets at all, and the facts of minutes pruned
before then (a third of a long log's, older than its last week) are never counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from streams.domain.facts import Fact, FactDiff
from streams.domain.instant import MICROS_PER_MINUTE, Instant, Micros, floor_minute
from streams.domain.kpis import (
    DimKey,
    Increments,
    KpiCounters,
    fact_counters,
    fact_dimensions,
)
from streams.domain.tiered_buckets import merge_into

WINDOWS: dict[str, Micros] = {
    "1h": 60 * MICROS_PER_MINUTE,
    "24h": 24 * 60 * MICROS_PER_MINUTE,
    "7d": 7 * 24 * 60 * MICROS_PER_MINUTE,
}

Bucket = dict[DimKey, dict[str, int]]
# A batch's counter increments: minute start -> dimension key -> counter -> delta. Nested like
# the buckets, so summing a fact's increments costs a lookup per level, not a key tuple each.
MinuteDeltas = dict[Instant, Bucket]


def bucket_deltas(diff: FactDiff) -> MinuteDeltas:
    """Counter increments per minute start, dimension key and counter; zeros are dropped."""
    deltas: MinuteDeltas = {}
    add_bucket_deltas(diff, deltas)
    return drop_zeros(deltas)


def add_bucket_deltas(diff: FactDiff, into: MinuteDeltas) -> None:
    """Add a diff's increments to ``into``, which may then hold zeros (a batch's running sum)."""
    for sign, facts in ((-1, diff.retracted), (1, diff.added)):
        for fact in facts:
            minute = floor_minute(fact.time)
            bucket = into.get(minute)
            if bucket is None:
                bucket = into[minute] = {}
            _add_fact(bucket, fact, sign)


def _add_fact(totals: Bucket, fact: Fact, sign: int) -> None:
    """Add (``sign`` 1) or subtract (-1) the counters of ``fact`` to ``totals``, per key."""
    increments = fact_counters(fact)
    for dim in fact_dimensions(fact):
        total = totals.get(dim)
        if total is None:
            total = totals[dim] = {}
        _add_increments(total, increments, sign)


def _add_increments(total: dict[str, int], increments: Increments, sign: int) -> None:
    """Add (``sign`` 1) or subtract (-1) one fact's counter increments to ``total``."""
    for name, value in increments:
        total[name] = total.get(name, 0) + sign * value


def drop_zeros(deltas: MinuteDeltas) -> MinuteDeltas:
    """Drop the zero increments, and the levels they leave empty, in place (what a batch
    writes); returns ``deltas``. Zeros are rare (a fact retracted and added back within one
    batch), so nothing is copied."""
    empty_minutes: list[Instant] = []
    for minute, bucket in deltas.items():
        empty_dims: list[DimKey] = []
        for dim, counters in bucket.items():
            if 0 in counters.values():
                for name in [name for name, value in counters.items() if not value]:
                    del counters[name]
                if not counters:
                    empty_dims.append(dim)
        for dim in empty_dims:
            del bucket[dim]
        if not bucket:
            empty_minutes.append(minute)
    for minute in empty_minutes:
        del deltas[minute]
    return deltas


def _whole_minute(instant: Instant, what: str) -> None:
    if instant % MICROS_PER_MINUTE:
        raise ValueError(f"{what} must be a whole UTC minute, got {instant}")


@dataclass(slots=True)
class _Running:
    """The sum of the buckets in [as_of - width, as_of), or nothing yet (as_of None).

    Increments to minutes the window holds, and the minutes a move adds or drops, wait in
    ``pending``, summed per counter, until the window is read: the bins of ``sums`` cost a
    lookup and a bisection per change, and the live worker changes the same counters with
    every batch but reads once a second. ``sums`` plus ``pending`` is always the window.
    """

    width: Micros
    as_of: Instant | None = None
    sums: dict[DimKey, KpiCounters] = field(default_factory=dict)
    pending: dict[DimKey, dict[str, int]] = field(default_factory=dict)
    # summed from the buckets and the facts not yet expanded (``Windows._recompute``): valid
    # while those facts are neither expanded, added to nor pruned
    direct: bool = False

    def holds(self, minute: Instant) -> bool:
        return self.as_of is not None and self.as_of - self.width <= minute < self.as_of

    def reset(self) -> None:
        """Forget the sum: the next read computes it again."""
        self.as_of = None
        self.sums.clear()
        self.pending.clear()
        self.direct = False

    def add(self, dim: DimKey, name: str, delta: int) -> None:
        counters = self.pending.get(dim)
        if counters is None:
            counters = self.pending[dim] = {}
        counters[name] = counters.get(name, 0) + delta

    def settle(self) -> None:
        """Move the pending increments into ``sums``."""
        sums = self.sums
        for dim, counters in self.pending.items():
            running = sums.get(dim)
            if running is None:
                running = sums[dim] = KpiCounters()
            running.update(counters)
            if not running:
                del sums[dim]
        self.pending.clear()

    def add_bucket(self, bucket: Bucket, sign: int) -> None:
        """Add (or subtract) a whole minute to the pending increments: a window that moves
        by many minutes reaches each counter's bin once, in ``settle``."""
        pending = self.pending
        for dim, counters in bucket.items():
            waiting = pending.get(dim)
            if waiting is None:
                pending[dim] = {name: sign * value for name, value in counters.items()}
                continue
            for name, value in counters.items():
                waiting[name] = waiting.get(name, 0) + sign * value


class Windows:
    """Minute buckets of counters and a running sum per named window.

    ``window()`` returns a live read-only view: it stays valid until the next call that
    changes the store, and must not be mutated.
    """

    def __init__(self, widths: Mapping[str, Micros] = WINDOWS) -> None:
        for name, width in widths.items():
            if width <= 0 or width % MICROS_PER_MINUTE:
                raise ValueError(f"window {name!r}: width must be a positive whole minute")
        self._buckets: dict[Instant, Bucket] = {}
        self._running = {name: _Running(width) for name, width in widths.items()}
        self._dims: dict[DimKey, DimKey] = {}
        self._floor: Instant | None = None  # ``apply`` ignores facts before it
        # facts ``apply`` took and has not expanded yet: minute -> (retracted, added); the
        # buckets do not hold them until ``_expand_deferred``, nor do the running sums, but
        # those summed with them (``_Running.direct``, while ``_direct`` is True)
        self._deferred: dict[Instant, tuple[list[Fact], list[Fact]]] = {}
        self._direct = False

    def forget_before(self, before: Instant) -> None:
        """Prune before ``before`` for good: ``apply`` ignores facts there from now on.

        For a reader that will never ask for a window reaching before ``before`` (replay:
        its ``as_of`` never moves back, so nothing older than a week before the data seen so
        far is ever read). A fact counted before the floor passed it and retracted after
        leaves a stale count in a bucket that is never read.
        """
        if self._floor is None or before > self._floor:
            self._floor = before
        self.prune(self._floor)

    def apply(self, diff: FactDiff) -> None:
        """Retract and add one ticket's changed facts, into their buckets.

        The same increments as ``apply_deltas(bucket_deltas(diff))`` without summing them
        first: replay counts every fact here. The facts wait per minute: a window read sums
        them directly, and they are expanded into buckets when the buckets are read
        (``buckets``, ``bucket``) or a window already summed without them is read; ``prune``
        drops those of the minutes it forgets.
        """
        if self._direct:
            self._drop_direct()
        deferred, floor = self._deferred, self._floor
        for side, facts in ((0, diff.retracted), (1, diff.added)):
            for fact in facts:
                minute = floor_minute(fact.time)
                if floor is not None and minute < floor:
                    continue
                waiting = deferred.get(minute)
                if waiting is None:
                    waiting = deferred[minute] = ([], [])
                waiting[side].append(fact)

    def _drop_direct(self) -> None:
        """The facts not yet expanded change: the sums that counted them are computed again."""
        for running in self._running.values():
            if running.direct:
                running.reset()
        self._direct = False

    def _expand_deferred(self) -> None:
        deferred = self._deferred
        if not deferred:
            return
        if self._direct:
            self._drop_direct()
        for minute, (retracted, added) in deferred.items():
            self._expand(minute, -1, retracted)
            self._expand(minute, 1, added)
        deferred.clear()

    def _expand(self, minute: Instant, sign: int, facts: list[Fact]) -> None:
        """Add (``sign`` 1) or retract (-1) facts of one minute to its bucket and windows."""
        if not facts:
            return
        buckets, interned = self._buckets, self._dims
        running = [w for w in self._running.values() if w.holds(minute)]
        bucket = buckets.get(minute)
        if bucket is None:
            bucket = buckets[minute] = {}
        for fact in facts:
            increments = fact_counters(fact)
            for dim in fact_dimensions(fact):
                counters = bucket.get(dim)
                if counters is None:
                    dim = interned.setdefault(dim, dim)
                    counters = bucket[dim] = {}
                for name, value in increments:
                    total = counters.get(name, 0) + sign * value
                    if total:
                        counters[name] = total
                    else:
                        counters.pop(name, None)
                if not counters:
                    del bucket[dim]
                for window in running:
                    for name, value in increments:
                        window.add(dim, name, sign * value)
        if not bucket:
            del buckets[minute]

    def apply_deltas(self, deltas: MinuteDeltas) -> None:
        """Add counter increments to their buckets and to every window that holds them
        (those of minutes before the ``forget_before`` floor are ignored, as ``apply`` does)."""
        buckets, interned, floor = self._buckets, self._dims, self._floor
        spans = [
            (w.as_of - w.width, w.as_of, w.pending)
            for w in self._running.values()
            if w.as_of is not None
        ]
        for minute, dims in deltas.items():
            if floor is not None and minute < floor:
                continue
            holding = [pending for start, end, pending in spans if start <= minute < end]
            bucket = buckets.get(minute)
            if bucket is None:
                bucket = buckets[minute] = {}
            for dim, increments in dims.items():
                counters = bucket.get(dim)
                if counters is None:
                    dim = interned.setdefault(dim, dim)
                    counters = bucket[dim] = {}
                for name, delta in increments.items():
                    if not delta:
                        continue
                    value = counters.get(name, 0) + delta
                    if value:
                        counters[name] = value
                    else:
                        del counters[name]
                    for pending in holding:
                        waiting = pending.get(dim)
                        if waiting is None:
                            waiting = pending[dim] = {}
                        waiting[name] = waiting.get(name, 0) + delta
                if not counters:
                    del bucket[dim]
            if not bucket:
                del buckets[minute]

    def window(self, name: str, as_of: Instant) -> Mapping[DimKey, Mapping[str, int]]:
        """The non-zero counters per dimension key of the facts in [as_of - W, as_of)."""
        _whole_minute(as_of, "as_of")
        try:
            running = self._running[name]
        except KeyError:
            raise ValueError(f"unknown window {name!r}") from None
        if self._deferred and (running.as_of is None or running.direct):
            # Summed from the facts themselves, not expanded into buckets first: a reader
            # that reads once (replay, at its end) never pays for the buckets.
            if running.as_of != as_of:
                self._recompute(running, as_of)
        else:
            self._expand_deferred()
            if running.as_of != as_of:
                self._move(running, as_of)
        running.settle()
        return MappingProxyType(running.sums)

    def prune(self, before: Instant) -> None:
        """Forget the buckets of minutes that start before ``before`` (a whole minute)."""
        _whole_minute(before, "before")
        if self._direct:
            self._drop_direct()
        # facts not yet expanded are in no bucket and no running sum: dropping them is the
        # same as expanding them and pruning their bucket
        for minute in [m for m in self._deferred if m < before]:
            del self._deferred[minute]
        for minute in [m for m in self._buckets if m < before]:
            bucket = self._buckets.pop(minute)
            for running in self._running.values():
                if running.holds(minute):
                    running.add_bucket(bucket, -1)

    def buckets(self) -> Mapping[Instant, Mapping[DimKey, Mapping[str, int]]]:
        """The stored minute buckets (read-only), e.g. to compare with another store."""
        self._expand_deferred()
        return MappingProxyType(self._buckets)

    def bucket(self, minute: Instant) -> Bucket | None:
        """One stored minute bucket, or None: the store's own dict, which must not be
        mutated (a ``dict``, not a read-only view, so that compiled readers index it fast)."""
        self._expand_deferred()
        return self._buckets.get(minute)

    def _move(self, running: _Running, as_of: Instant) -> None:
        old, width = running.as_of, running.width
        if old is None or 2 * abs(as_of - old) >= width:
            self._recompute(running, as_of)
            return
        # Minutes that enter the window are added and minutes that leave it subtracted,
        # whichever way as_of moved.
        if as_of > old:
            self._add_range(running, old, as_of, 1)
            self._add_range(running, old - width, as_of - width, -1)
        else:
            self._add_range(running, as_of, old, -1)
            self._add_range(running, as_of - width, old - width, 1)
        running.as_of = as_of

    def _add_range(self, running: _Running, start: Instant, end: Instant, sign: int) -> None:
        for minute in range(start, end, MICROS_PER_MINUTE):
            bucket = self._buckets.get(minute)
            if bucket is not None:
                running.add_bucket(bucket, sign)

    def _recompute(self, running: _Running, as_of: Instant) -> None:
        # Sum into plain dicts first: far cheaper than maintaining the bins on every add.
        totals: dict[DimKey, dict[str, int]] = {}
        for minute in range(as_of - running.width, as_of, MICROS_PER_MINUTE):
            bucket = self._buckets.get(minute)
            if bucket is None:
                continue
            merge_into(totals, bucket)
        # The waiting facts, summed per set of keys first (most facts share theirs with many:
        # a team, a channel, a priority, an agent), then added under each key of the set.
        start = as_of - running.width
        by_keys: dict[tuple[DimKey, ...], dict[str, int]] = {}
        for minute, (retracted, added) in self._deferred.items():
            if start <= minute < as_of:
                for fact in retracted:
                    _add_by_keys(by_keys, fact, -1)
                for fact in added:
                    _add_by_keys(by_keys, fact, 1)
        for dims, counters in by_keys.items():
            for dim in dims:
                merge_into(totals, {dim: counters})
        running.direct = bool(self._deferred)
        self._direct = self._direct or running.direct
        running.sums.clear()
        running.pending.clear()  # the buckets hold them
        for dim, total in totals.items():
            bag = KpiCounters(total)
            if bag:
                running.sums[dim] = bag
        running.as_of = as_of


def _add_by_keys(by_keys: dict[tuple[DimKey, ...], dict[str, int]], fact: Fact, sign: int) -> None:
    """Add (``sign`` 1) or subtract (-1) the counters of ``fact`` under its set of keys."""
    dims = fact_dimensions(fact)
    counters = by_keys.get(dims)
    if counters is None:
        counters = by_keys[dims] = {}
    _add_increments(counters, fact_counters(fact), sign)
