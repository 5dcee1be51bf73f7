"""The snapshot (spec section 5): what replay prints, Redis holds and ``GET /kpis`` serves.

Built from window counters, the backlog and the SLA clocks "now". ``Snapshot`` is its typed
form, passed between the layers (``as_of`` an ``Instant``, not text); ``Snapshot.to_json``
is the one place that gives the spec's JSON, and ``Snapshot.from_json`` reads it back (from
Redis or HTTP). Key order follows the spec; the keys of ``by_*`` and backlog maps are sorted
so that equal states print equal bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
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
from streams.domain.instant import Instant, format_rfc3339, parse_rfc3339
from streams.domain.kpis import OVERALL, DimKey, Kpis, kpis_of
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Backlog:
        return cls(
            total=int(data["total"]),
            by_status=dict(data["by_status"]),
            by_priority=dict(data["by_priority"]),
            by_team=dict(data["by_team"]),
        )

    def folded(self, limits: KeyLimits = SNAPSHOT_LIMITS) -> Backlog:
        """The same backlog with teams beyond ``limits.team`` folded (``folding.py``)."""
        teams = fold_counts(_sorted_counts(self.by_team), limits.team, limits.kept_teams)
        return Backlog(
            total=self.total,
            by_status=_sorted_counts(self.by_status),
            by_priority=_sorted_counts(self.by_priority),
            by_team=_sorted_counts(teams),
        )

    def to_json(self, limits: KeyLimits | None = SNAPSHOT_LIMITS) -> dict[str, Any]:
        """The backlog object, folded with ``limits`` (None: as it is, already folded)."""
        backlog = self if limits is None else self.folded(limits)
        return {
            "total": backlog.total,
            "by_status": _sorted_counts(backlog.by_status),
            "by_priority": _sorted_counts(backlog.by_priority),
            "by_team": _sorted_counts(backlog.by_team),
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SlaNow:
        return cls(at_risk=dict(data["at_risk"]), breached_running=dict(data["breached_running"]))

    def to_json(self) -> dict[str, Any]:
        return {"at_risk": dict(self.at_risk), "breached_running": dict(self.breached_running)}


@dataclass(frozen=True, slots=True)
class Window:
    """One window's KPIs: ``overall`` and, per dimension in ``DIMENSIONS`` order, its keys'
    ``K`` (sorted keys; only keys with facts)."""

    overall: Kpis
    by: Mapping[str, Mapping[str, Kpis]]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Window:
        """A rendered window; a dimension it lacks (written by a version without it) is
        empty, one this version does not know is left out."""
        return cls(
            overall=Kpis.from_json(data["overall"]),
            by={
                kind: {key: Kpis.from_json(k) for key, k in data.get(f"by_{kind}", {}).items()}
                for kind in DIMENSIONS
            },
        )

    def to_json(self, only: str | None = None) -> dict[str, Any]:
        """The window's object; with ``only`` a dimension, ``overall`` and that one map."""
        rendered: dict[str, Any] = {"overall": self.overall.to_json()}
        for kind, members in self.by.items():
            if only is None or kind == only:
                rendered[f"by_{kind}"] = {key: k.to_json() for key, k in members.items()}
        return rendered


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The snapshot, typed. ``windows`` holds exactly 1h, 24h and 7d, in that order;
    ``accounts`` is replay's optional account section (``account_snapshot.py``), kept as
    its JSON object."""

    as_of: Instant
    windows: Mapping[str, Window]
    backlog: Backlog
    sla_now: SlaNow
    accounts: Mapping[str, Any] | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Snapshot:
        """A snapshot's JSON object (``GET /kpis``, Redis's ``<prefix>:snapshot``).

        Raises ``ValueError`` (``KeyError``, ``TypeError``) for one that is not a snapshot.
        """
        windows = data["windows"]
        if set(windows) != set(WINDOWS):
            raise ValueError(f"windows must be {sorted(WINDOWS)}, got {sorted(windows)}")
        accounts = data.get("accounts")
        return cls(
            as_of=parse_rfc3339(data["as_of"]),
            windows={name: Window.from_json(windows[name]) for name in WINDOWS},
            backlog=Backlog.from_json(data["backlog"]),
            sla_now=SlaNow.from_json(data["sla_now"]),
            accounts=None if accounts is None else dict(accounts),
        )

    def with_accounts(self, accounts: Mapping[str, Any]) -> Snapshot:
        return Snapshot(self.as_of, self.windows, self.backlog, self.sla_now, accounts)

    def to_json(self) -> dict[str, Any]:
        """The spec's JSON object, in its key order (``accounts`` last, when present).

        The ``accounts`` object is shared with this snapshot, not copied: do not change it."""
        data: dict[str, Any] = {
            "as_of": format_rfc3339(self.as_of),
            "windows": {name: window.to_json() for name, window in self.windows.items()},
            "backlog": self.backlog.to_json(None),
            "sla_now": self.sla_now.to_json(),
        }
        if self.accounts is not None:
            data["accounts"] = self.accounts
        return data


def _render_window(counters: WindowCounters, limits: KeyLimits) -> Window:
    groups: dict[str, dict[str, Mapping[str, int]]] = {kind: {} for kind in DIMENSIONS}
    for dim, values in counters.items():
        if dim == OVERALL:
            continue
        kind, key = dim
        if kind not in groups:
            raise ValueError(f"unknown dimension {kind!r}")
        if values:
            groups[kind][key] = values
    by: dict[str, Mapping[str, Kpis]] = {}
    for kind, members in groups.items():
        bound = limits.of(kind)
        kept = fold_counters(members, *bound) if bound else members
        by[kind] = {key: kpis_of(kept[key]) for key in sorted(kept)}
    return Window(kpis_of(counters.get(OVERALL, {})), by)


def build_snapshot(
    as_of: Instant,
    windows: Mapping[str, WindowCounters],
    backlog: Backlog,
    sla_now: SlaNow,
    limits: KeyLimits = SNAPSHOT_LIMITS,
) -> Snapshot:
    """The snapshot; ``windows`` must hold exactly 1h, 24h, 7d.

    ``limits`` bounds the team and agent maps (docs/snapshot.md); the Prometheus mirror
    passes smaller ones.
    """
    if set(windows) != set(WINDOWS):
        raise ValueError(f"windows must be {sorted(WINDOWS)}, got {sorted(windows)}")
    return Snapshot(
        as_of=as_of,
        windows={name: _render_window(windows[name], limits) for name in WINDOWS},
        backlog=backlog.folded(limits),
        sla_now=sla_now,
    )


def fits(snapshot: Snapshot, limits: KeyLimits) -> bool:
    """Whether every team and agent map of a snapshot has at most ``limits`` keys besides the
    kept ones and ``OTHER``: then it needs no second build with those limits (an already
    folded snapshot, with smaller limits than these, fits)."""
    maps: list[tuple[Collection[str], str]] = []
    for window in snapshot.windows.values():
        maps += [(window.by.get("team", {}), "team"), (window.by.get("agent", {}), "agent")]
    maps.append((snapshot.backlog.by_team, "team"))
    for keys, kind in maps:
        bound = limits.of(kind)
        if bound is not None and len(keys) > bound[0]:
            limit, kept = bound
            if sum(key not in kept and key != OTHER for key in keys) > limit:
                return False
    return True


def dumps_snapshot(snapshot: Snapshot | Mapping[str, Any], indent: int | None = None) -> str:
    """JSON text in the snapshot's own key order, ending with a newline; of a ``Snapshot`` or
    of its JSON object (replay's result)."""
    data = snapshot.to_json() if isinstance(snapshot, Snapshot) else snapshot
    return json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
