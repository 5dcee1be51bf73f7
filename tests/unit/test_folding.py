"""Bounded team and agent maps: the busiest keys stay, the rest fold into ``(other)``, as a
function of the facts alone (any order, any split into partitions)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.facts import Fact, FactDiff, FactKind, SlaTarget
from streams.domain.folding import OTHER, SNAPSHOT_LIMITS, KeyLimits, fold_counts, kept_keys
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.domain.kpis import DimKey, KpiCounters, fact_count, fact_counters
from streams.domain.snapshot import Backlog, SlaNow, build_snapshot
from streams.domain.windows import WINDOWS, Windows

AS_OF = parse_rfc3339("2026-11-02T10:00:00Z")
KINDS = (FactKind.CREATED, FactKind.REPLY, FactKind.CSAT, FactKind.SLA_MET, FactKind.REOPEN)


def make_fact(minutes_ago: int, kind: FactKind, team: str, agent: str | None) -> Fact:
    value = {FactKind.CSAT: 5, FactKind.REPLY: 90_000_000}.get(kind, 0)
    target = SlaTarget.FIRST_REPLY if kind is FactKind.SLA_MET else None
    time = AS_OF - minutes_ago * MICROS_PER_MINUTE
    return Fact(time, kind, value, team, "email", "high", agent, target)


facts_strategy = st.lists(
    st.builds(
        make_fact,
        st.integers(1, 3000),
        st.sampled_from(KINDS),
        st.sampled_from(["a", "b", "c", "d", "e", "f", OTHER]),
        st.one_of(st.none(), st.sampled_from(["x", "y", "z", "w"])),
    ),
    max_size=40,
)


def window_sums(facts: Sequence[Fact]) -> dict[str, Mapping[DimKey, Mapping[str, int]]]:
    store = Windows()
    store.apply(FactDiff(added=tuple(facts)))
    return {name: store.window(name, AS_OF) for name in WINDOWS}


def snapshot(windows: Mapping[str, Any], backlog: Backlog, limits: KeyLimits) -> dict[str, Any]:
    return build_snapshot(AS_OF, windows, backlog, SlaNow(), limits).to_json()


def merged(parts: Sequence[Mapping[str, Mapping[DimKey, Mapping[str, int]]]]) -> dict[str, Any]:
    """Partitions' window sums added up, as the live worker merges them."""
    total: dict[str, dict[DimKey, KpiCounters]] = {name: {} for name in WINDOWS}
    for part in parts:
        for name, dims in part.items():
            for dim, counters in dims.items():
                total[name].setdefault(dim, KpiCounters()).update(dict(counters))
    return total


@given(
    facts=facts_strategy,
    partitions=st.integers(1, 4),
    seed=st.integers(0, 2**32),
    team=st.integers(1, 4),
    agent=st.integers(1, 3),
    kept=st.sets(st.sampled_from(["a", "f", "q"])),
)
@settings(max_examples=150, deadline=None)
def test_the_snapshot_is_the_same_for_any_order_and_any_partitions(
    facts: list[Fact], partitions: int, seed: int, team: int, agent: int, kept: set[str]
) -> None:
    limits = KeyLimits(team=team, agent=agent, kept_teams=frozenset(kept))
    rng = random.Random(seed)
    tickets = [("open", "high", f.team) for f in facts]
    whole = snapshot(window_sums(facts), Backlog.from_tickets(tickets), limits)
    shuffled = facts[:]
    rng.shuffle(shuffled)
    parts: list[list[Fact]] = [[] for _ in range(partitions)]
    for one in shuffled:
        parts[rng.randrange(partitions)].append(one)
    rng.shuffle(tickets)
    split = merged([window_sums(part) for part in parts])
    assert snapshot(split, Backlog.from_tickets(tickets), limits) == whole


def test_maps_within_the_limits_are_untouched() -> None:
    facts = [make_fact(5, FactKind.CREATED, f"team-{i}", f"ag-{i}") for i in range(40)]
    windows = window_sums(facts)
    backlog = Backlog.from_tickets(("open", "low", f.team) for f in facts)
    unbounded = KeyLimits(team=10**9, agent=10**9)
    assert snapshot(windows, backlog, KeyLimits(team=40, agent=40)) == snapshot(
        windows, backlog, unbounded
    )


def test_a_map_over_the_limit_keeps_the_busiest_keys_and_sums_the_rest() -> None:
    # team-i has i + 1 facts; the 1,001 busiest teams stay, 199 fold.
    teams = [f"team-{i:04}" for i in range(1200)]
    facts = [
        make_fact(5 + n % 50, FactKind.CREATED if n % 2 else FactKind.REPLY, team, None)
        for i, team in enumerate(teams)
        for n in range(i % 7 + 1)
    ]
    snap = build_snapshot(AS_OF, window_sums(facts), Backlog(), SlaNow()).to_json()
    by_team = snap["windows"]["1h"]["by_team"]
    volume = Counter(f.team for f in facts)
    ranked = sorted(teams, key=lambda t: (-volume[t], t))
    assert set(by_team) == {*ranked[: SNAPSHOT_LIMITS.team], OTHER}
    folded = ranked[SNAPSHOT_LIMITS.team :]
    created = sum(1 for f in facts if f.team in folded and f.kind is FactKind.CREATED)
    replies = sum(1 for f in facts if f.team in folded and f.kind is FactKind.REPLY)
    assert by_team[OTHER]["tickets_created"] == created
    assert by_team[OTHER]["reply_seconds"]["count"] == replies
    assert by_team[OTHER]["reply_seconds"]["p50"] == 90.0
    overall = snap["windows"]["1h"]["overall"]
    assert sum(k["tickets_created"] for k in by_team.values()) == overall["tickets_created"]


def test_the_backlog_folds_teams_by_open_tickets() -> None:
    tickets = [("open", "low", f"t{i:04}") for i in range(1005) for _ in range(1 + (i < 3))]
    by_team = Backlog.from_tickets(tickets).to_json()["by_team"]
    assert len(by_team) == 1001
    assert by_team["t0000"] == 2
    assert by_team[OTHER] == 5  # t1000 .. t1004: the smallest counts, then the last names
    assert sum(by_team.values()) == len(tickets)


def test_kept_teams_stay_and_a_team_named_other_shares_the_fold() -> None:
    counts = {"billing": 1, "(other)": 9, "tech": 5, "junk-1": 2, "junk-2": 3}
    folded = fold_counts(counts, 1, frozenset({"billing"}))
    assert folded == {"billing": 1, "(other)": 19}
    assert fold_counts(counts, 2, frozenset()) == {"(other)": 15, "tech": 5}


@given(
    volumes=st.dictionaries(st.text(max_size=3), st.integers(0, 5), max_size=12),
    limit=st.integers(1, 5),
    seed=st.integers(0, 2**32),
)
def test_kept_keys_depend_on_the_volumes_only(
    volumes: dict[str, int], limit: int, seed: int
) -> None:
    items = list(volumes.items())
    random.Random(seed).shuffle(items)
    kept = kept_keys(volumes, limit, frozenset())
    assert kept == kept_keys(dict(items), limit, frozenset())
    assert len(kept) == min(limit, len(volumes))
    for key in kept:  # no key left out is busier, or as busy and sorted first
        assert all((-volumes[key], key) < (-volumes[o], o) for o in volumes if o not in kept)


def test_fact_count_counts_each_kind_of_fact_once() -> None:
    for kind in FactKind:
        value = 4 if kind in (FactKind.CSAT, FactKind.TOUCHES_TO_CLOSE) else 1
        target = SlaTarget.RESOLUTION if kind.value.startswith("sla") else None
        one = Fact(AS_OF, kind, value, "t", "email", "low", None, target)
        assert fact_count(dict(fact_counters(one))) == 1, kind
        assert fact_count(KpiCounters(dict(fact_counters(one)))) == 1, kind
