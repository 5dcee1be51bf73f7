"""Bounded maps: a free-text dimension keeps its busiest keys and sums the rest into ``OTHER``.

Team and agent are free strings, so a producer sending junk (a typo per ticket, ids in the
team field) would grow the snapshot and the Prometheus series with every distinct value.
The rule depends only on the counts being folded, never on arrival order, partitions or
workers, so live and replay agree: a map with more than ``limit`` keys (not counting keys
that must stay) keeps the ``limit`` keys with the largest volume, ties going to the key
that sorts first, and sums every other key into the single key ``OTHER``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from streams.domain.kpis import KpiCounters, fact_count

OTHER: Final = "(other)"


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """How many keys a ``team`` or ``agent`` map keeps before folding; ``kept_teams`` always
    keep their own key and do not count against the limit."""

    team: int = 1000
    agent: int = 5000
    kept_teams: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.team < 1 or self.agent < 1:
            raise ValueError(f"key limits must be at least 1, got {self.team}, {self.agent}")

    def of(self, kind: str) -> tuple[int, frozenset[str]] | None:
        """The limit and the kept keys of a dimension; None for the enumerations."""
        if kind == "team":
            return self.team, self.kept_teams
        if kind == "agent":
            return self.agent, frozenset()
        return None


# The snapshot's own limits (docs/snapshot.md): far above any real help desk, so real data is
# never folded; only the Prometheus labels use smaller ones.
SNAPSHOT_LIMITS: Final = KeyLimits()


def kept_keys(volumes: Mapping[str, int], limit: int, always: frozenset[str]) -> set[str]:
    """The keys that keep their own entry: those in ``always``, and of the others the
    ``limit`` with the largest volume (ties: the key that sorts first)."""
    others = [key for key in volumes if key not in always]
    if len(others) <= limit:
        return set(volumes)
    top = heapq.nsmallest(limit, others, key=lambda key: (-volumes[key], key))
    return {*top, *(key for key in volumes if key in always)}


def fold_counts(counts: Mapping[str, int], limit: int, always: frozenset[str]) -> dict[str, int]:
    """Counts (a backlog map) with the keys beyond the limit summed into ``OTHER``."""
    kept = kept_keys(counts, limit, always)
    if len(kept) == len(counts):
        return dict(counts)
    folded = {key: count for key, count in counts.items() if key in kept}
    rest = sum(count for key, count in counts.items() if key not in kept)
    folded[OTHER] = folded.get(OTHER, 0) + rest
    return folded


def fold_counters(
    members: Mapping[str, Mapping[str, int]], limit: int, always: frozenset[str]
) -> Mapping[str, Mapping[str, int]]:
    """Window counters per key, the keys beyond the limit summed into ``OTHER``; a key's
    volume is its number of facts (``fact_count``)."""
    if len(members) <= limit:
        return members
    kept = kept_keys({key: fact_count(c) for key, c in members.items()}, limit, always)
    if len(kept) == len(members):
        return members
    folded: dict[str, Mapping[str, int]] = {k: c for k, c in members.items() if k in kept}
    rest = [c for k, c in members.items() if k not in kept]
    if OTHER in folded:
        rest.append(folded[OTHER])
    folded[OTHER] = _summed(rest)
    return folded


def _summed(bags: Iterable[Mapping[str, int]]) -> KpiCounters:
    total = KpiCounters()
    for bag in bags:
        if isinstance(bag, KpiCounters):
            total.add_wire(*bag.wire())
        else:
            total.update(bag if isinstance(bag, dict) else dict(bag))
    return total
