"""The snapshot (spec section 5): what replay prints, Redis holds and ``GET /kpis`` serves.

Built from window counters, the backlog and the SLA clocks "now". Key order follows the spec;
the keys of ``by_*`` and backlog maps are sorted so that equal states print equal bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.domain.catalog import DIMENSIONS
from streams.domain.events import BACKLOG_STATUSES, Status
from streams.domain.facts import SlaTarget
from streams.domain.folding import (
    OTHER,
    SNAPSHOT_LIMITS,
    KeyLimits,
    fold_counters,
    fold_counts,
)
from streams.domain.instant import Instant, format_rfc3339
from streams.domain.kpis import OVERALL, DimKey, render_kpis
from streams.domain.windows import WINDOWS

WindowCounters = Mapping[DimKey, Mapping[str, int]]


def _sorted_counts(counts: Mapping[str, int]) -> dict[str, int]:
    return {key: counts[key] for key in sorted(counts) if counts[key]}


@dataclass(frozen=True, slots=True)
class Backlog:
    """Tickets now in new, open, pending or on_hold; maps hold only keys with a ticket."""

    total: int = 0
    by_status: Mapping[str, int] = field(default_factory=dict)
    by_priority: Mapping[str, int] = field(default_factory=dict)
    by_team: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_tickets(cls, tickets: Iterable[tuple[str, str, str]]) -> Backlog:
        """Count (status, priority, team) triples; tickets not in a backlog status are skipped."""
        return cls.from_counts(Counter(tickets).items())

    @classmethod
    def from_counts(cls, counts: Iterable[tuple[tuple[str, str, str], int]]) -> Backlog:
        """Sum tickets counted per (status, priority, team); keys not in a backlog status, and
        counts of zero or less, are skipped. The worker's backlog hashes hold such counts."""
        statuses: Counter[str] = Counter()
        priorities: Counter[str] = Counter()
        teams: Counter[str] = Counter()
        for (status, priority, team), count in counts:
            if count <= 0 or Status(status) not in BACKLOG_STATUSES:
                continue
            statuses[status] += count
            priorities[priority] += count
            teams[team] += count
        return cls(
            total=statuses.total(),
            by_status=_sorted_counts(statuses),
            by_priority=_sorted_counts(priorities),
            by_team=_sorted_counts(teams),
        )

    def to_json(self, limits: KeyLimits = SNAPSHOT_LIMITS) -> dict[str, Any]:
        """The backlog object; teams beyond ``limits.team`` are folded (``folding.py``)."""
        teams = fold_counts(_sorted_counts(self.by_team), limits.team, limits.kept_teams)
        return {
            "total": self.total,
            "by_status": _sorted_counts(self.by_status),
            "by_priority": _sorted_counts(self.by_priority),
            "by_team": _sorted_counts(teams),
        }


def _per_target(counts: Mapping[str, int], what: str) -> dict[str, int]:
    unknown = set(counts) - {t.value for t in SlaTarget}
    if unknown:
        raise ValueError(f"{what}: unknown SLA targets {sorted(unknown)}")
    return {t.value: counts.get(t.value, 0) for t in SlaTarget}


@dataclass(frozen=True, slots=True)
class SlaNow:
    """Running clocks per target: at risk, and past their deadline; every target is present."""

    at_risk: Mapping[str, int] = field(default_factory=dict)
    breached_running: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at_risk", _per_target(self.at_risk, "at_risk"))
        object.__setattr__(
            self, "breached_running", _per_target(self.breached_running, "breached_running")
        )

    def to_json(self) -> dict[str, Any]:
        return {"at_risk": dict(self.at_risk), "breached_running": dict(self.breached_running)}


def _render_window(counters: WindowCounters, limits: KeyLimits) -> dict[str, Any]:
    groups: dict[str, dict[str, Mapping[str, int]]] = {kind: {} for kind in DIMENSIONS}
    for dim, values in counters.items():
        if dim == OVERALL:
            continue
        kind, key = dim
        if kind not in groups:
            raise ValueError(f"unknown dimension {kind!r}")
        if values:
            groups[kind][key] = values
    rendered: dict[str, Any] = {"overall": render_kpis(counters.get(OVERALL, {}))}
    for kind, members in groups.items():
        bound = limits.of(kind)
        kept = fold_counters(members, *bound) if bound else members
        rendered[f"by_{kind}"] = {key: render_kpis(kept[key]) for key in sorted(kept)}
    return rendered


def build_snapshot(
    as_of: Instant,
    windows: Mapping[str, WindowCounters],
    backlog: Backlog,
    sla_now: SlaNow,
    limits: KeyLimits = SNAPSHOT_LIMITS,
) -> dict[str, Any]:
    """The snapshot dict, in the spec's key order; ``windows`` must hold exactly 1h, 24h, 7d.

    ``limits`` bounds the team and agent maps (docs/snapshot.md); the Prometheus mirror
    passes smaller ones.
    """
    if set(windows) != set(WINDOWS):
        raise ValueError(f"windows must be {sorted(WINDOWS)}, got {sorted(windows)}")
    return {
        "as_of": format_rfc3339(as_of),
        "windows": {name: _render_window(windows[name], limits) for name in WINDOWS},
        "backlog": backlog.to_json(limits),
        "sla_now": sla_now.to_json(),
    }


def fits(snapshot: Mapping[str, Any], limits: KeyLimits) -> bool:
    """Whether every team and agent map of a snapshot has at most ``limits`` keys besides the
    kept ones and ``OTHER``: then it needs no second build with those limits (an already
    folded snapshot, with smaller limits than these, fits)."""
    maps = [(window["by_team"], "team") for window in snapshot["windows"].values()]
    maps += [(window["by_agent"], "agent") for window in snapshot["windows"].values()]
    maps.append((snapshot["backlog"]["by_team"], "team"))
    for keys, kind in maps:
        bound = limits.of(kind)
        if bound is not None and len(keys) > bound[0]:
            limit, kept = bound
            if sum(key not in kept and key != OTHER for key in keys) > limit:
                return False
    return True


def dumps_snapshot(snapshot: Mapping[str, Any], indent: int | None = None) -> str:
    """JSON text in the snapshot's own key order, ending with a newline."""
    return json.dumps(snapshot, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
