"""Rolling windows over minute buckets, checked against brute force over the raw facts."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.facts import Fact, FactDiff, FactKind, SlaTarget
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.domain.kpis import CREATED, OVERALL, DimKey, fact_counters, fact_dimensions, kpis_of
from streams.domain.windows import WINDOWS, Windows, bucket_deltas, drop_zeros

MINUTE = MICROS_PER_MINUTE
SECOND = 1_000_000
T0 = parse_rfc3339("2026-11-02T09:00:00Z")
SMALL = {"10m": 10 * MINUTE, "1h": 60 * MINUTE}


def k_json(counters: Mapping[str, int]) -> dict[str, Any]:
    """The spec's ``K`` object of some counters."""
    return kpis_of(counters).to_json()


def make(
    time: int,
    kind: FactKind = FactKind.CREATED,
    value: int = 0,
    team: str = "t1",
    agent: str | None = None,
    target: SlaTarget | None = None,
) -> Fact:
    return Fact(time, kind, value, team, "email", "high", agent, target)


def expected(facts: Iterable[Fact], as_of: int, width: int) -> dict[DimKey, dict[str, int]]:
    """Brute force: the counters of every fact in [as_of - width, as_of), per dimension."""
    sums: dict[DimKey, Counter[str]] = {}
    for f in facts:
        if as_of - width <= f.time < as_of:
            for dim in fact_dimensions(f):
                for name, value in fact_counters(f):
                    sums.setdefault(dim, Counter())[name] += value
    return {d: {k: v for k, v in c.items() if v} for d, c in sums.items() if +c}


def as_dicts(window: Mapping[DimKey, Mapping[str, int]]) -> dict[DimKey, dict[str, int]]:
    return {dim: dict(counters) for dim, counters in window.items()}


# --- strategies ----------------------------------------------------------------------------

SPAN = 3 * 60 * MINUTE
kinds_with_values = st.one_of(
    st.tuples(
        st.sampled_from([FactKind.FIRST_REPLY, FactKind.REPLY, FactKind.RESOLUTION]),
        st.integers(0, 5 * 86_400 * SECOND),
    ),
    st.tuples(st.just(FactKind.TOUCHES_TO_CLOSE), st.integers(0, 6)),
    st.tuples(st.just(FactKind.CSAT), st.integers(1, 5)),
    st.tuples(st.just(FactKind.NPS), st.integers(0, 10)),
    st.tuples(st.sampled_from([FactKind.CREATED, FactKind.REOPEN]), st.just(0)),
)
facts_st = st.builds(
    lambda t, kv, team, agent: make(t, kv[0], kv[1], team, agent),
    st.integers(T0, T0 + SPAN - 1) | st.sampled_from([T0, T0 + 10 * MINUTE, T0 + 60 * MINUTE]),
    kinds_with_values,
    st.sampled_from(["t1", "t2"]),
    st.sampled_from([None, "a1", "a2"]),
)
minutes_st = st.integers(-20, 200).map(lambda m: T0 + m * MINUTE)


# --- bucket deltas -------------------------------------------------------------------------


def test_deltas_land_in_the_minute_of_the_fact() -> None:
    f = make(T0 + 59 * SECOND + 999_999, agent="a1")
    deltas = bucket_deltas(FactDiff(added=(f,)))
    assert deltas == {
        T0: {
            ("overall", ""): {"created": 1},
            ("team", "t1"): {"created": 1},
            ("channel", "email"): {"created": 1},
            ("priority", "high"): {"created": 1},
            ("agent", "a1"): {"created": 1},
        }
    }


def test_deltas_of_a_correction_cancel_what_did_not_change() -> None:
    old = make(T0, FactKind.REPLY, 60 * SECOND, team="t1")
    new = make(T0 + 5 * SECOND, FactKind.REPLY, 60 * SECOND, team="t2")
    deltas = bucket_deltas(FactDiff(retracted=(old,), added=(new,)))
    flat = {
        (m, d, n): v for m, dims in deltas.items() for d, c in dims.items() for n, v in c.items()
    }
    assert {dim for _, dim, _ in flat} == {("team", "t1"), ("team", "t2")}
    assert all(v == -60 * SECOND for (_, d, n), v in flat.items() if d[1] == "t1" and ":s" in n)
    assert bucket_deltas(FactDiff(retracted=(old,), added=(old,))) == {}


def test_zeros_and_the_levels_they_empty_are_dropped_in_place() -> None:
    deltas = {
        T0: {("team", "a"): {"x": 0, "y": 2}, ("team", "b"): {"x": 0}},
        T0 + MINUTE: {("all", ""): {"x": 0}},
    }
    assert drop_zeros(deltas) is deltas
    assert deltas == {T0: {("team", "a"): {"y": 2}}}


@settings(max_examples=150, deadline=None)
@given(st.lists(facts_st, max_size=30), st.lists(facts_st, max_size=30), minutes_st)
def test_direct_apply_equals_the_summed_deltas_the_live_path_writes(
    first: list[Fact], second: list[Fact], as_of: int
) -> None:
    # replay applies diffs straight into the buckets, the live path sums a batch's deltas
    # (bucket_deltas) first: both must leave the same buckets and the same running windows
    direct, flat = Windows(SMALL), Windows(SMALL)
    for store in (direct, flat):
        store.window("1h", as_of)  # a running sum that later diffs must move
    diffs = (
        FactDiff(added=tuple(first)),
        FactDiff(retracted=tuple(first[::2]), added=tuple(second)),
    )
    for diff in diffs:
        direct.apply(diff)
        flat.apply_deltas(bucket_deltas(diff))
    assert {m: as_dicts(b) for m, b in direct.buckets().items()} == {
        m: as_dicts(b) for m, b in flat.buckets().items()
    }
    for name in SMALL:
        assert as_dicts(direct.window(name, as_of)) == as_dicts(flat.window(name, as_of))


# --- window boundaries ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(WINDOWS))
def test_window_boundary_includes_start_and_excludes_as_of(name: str) -> None:
    width = WINDOWS[name]
    as_of = T0 + 10 * 86_400 * SECOND
    store = Windows()
    store.apply(
        FactDiff(
            added=(
                make(as_of - width - 1, team="before-start"),
                make(as_of - width, team="at-start"),
                make(as_of - 1, team="last-micro"),
                make(as_of, team="at-as-of"),
            )
        )
    )
    teams = {key for kind, key in store.window(name, as_of) if kind == "team"}
    assert teams == {"at-start", "last-micro"}
    assert store.window(name, as_of)[("overall", "")]["created"] == 2


def test_fixed_widths() -> None:
    assert WINDOWS == {"1h": 3_600 * SECOND, "24h": 86_400 * SECOND, "7d": 7 * 86_400 * SECOND}


def test_as_of_must_be_a_whole_minute_and_the_window_known() -> None:
    store = Windows()
    with pytest.raises(ValueError):
        store.window("1h", T0 + 1)
    with pytest.raises(ValueError):
        store.window("2h", T0)
    with pytest.raises(ValueError):
        store.prune(T0 + SECOND)


def test_future_facts_wait_in_buckets_until_as_of_passes_them() -> None:
    store = Windows(SMALL)
    assert as_dicts(store.window("10m", T0)) == {}
    store.apply(FactDiff(added=(make(T0 + 30 * SECOND), make(T0 - MINUTE))))
    assert store.window("10m", T0)[("overall", "")]["created"] == 1
    assert store.window("10m", T0 + MINUTE)[("overall", "")]["created"] == 2
    assert store.window("10m", T0 + 10 * MINUTE)[("overall", "")]["created"] == 1
    assert as_dicts(store.window("10m", T0 + 11 * MINUTE)) == {}


# --- retraction ----------------------------------------------------------------------------


@given(st.lists(facts_st, max_size=25), minutes_st)
def test_apply_then_retract_leaves_nothing(facts: list[Fact], as_of: int) -> None:
    store = Windows(SMALL)
    store.window("1h", as_of)  # running sums are live while facts come and go
    diff = FactDiff(added=tuple(facts))
    store.apply(diff)
    assert as_dicts(store.window("1h", as_of)) == expected(facts, as_of, SMALL["1h"])
    store.apply(FactDiff(retracted=diff.added))
    assert store.buckets() == {}
    assert as_dicts(store.window("1h", as_of)) == {}
    assert as_dicts(store.window("10m", as_of)) == {}


def test_a_dimension_disappears_with_its_last_fact() -> None:
    store = Windows(SMALL)
    f = make(T0, agent="a9", team="solo")
    store.apply(FactDiff(added=(f, make(T0, team="other"))))
    assert ("agent", "a9") in store.window("1h", T0 + MINUTE)
    store.apply(FactDiff(retracted=(f,)))
    window = store.window("1h", T0 + MINUTE)
    assert ("agent", "a9") not in window and ("team", "solo") not in window
    assert ("team", "other") in window


def test_a_sum_of_facts_not_yet_expanded_follows_what_changes_them() -> None:
    """A window read before ``apply``'s facts are expanded into buckets sums them directly;
    adding facts, pruning their minutes or expanding them makes the next read count again."""
    store = Windows(SMALL)
    store.apply(FactDiff(added=(make(T0 + 55 * MINUTE), make(T0 + 57 * MINUTE))))
    as_of = T0 + 60 * MINUTE
    assert store.window("10m", as_of)[OVERALL][CREATED] == 2
    store.apply(FactDiff(added=(make(T0 + 59 * MINUTE),)))
    assert store.window("10m", as_of)[OVERALL][CREATED] == 3
    store.prune(T0 + 56 * MINUTE)  # the fact of minute 55 is forgotten
    assert store.window("10m", as_of)[OVERALL][CREATED] == 2
    store.buckets()  # expanded: the same sums, from the buckets
    assert store.window("10m", as_of)[OVERALL][CREATED] == 2
    assert store.window("1h", as_of)[OVERALL][CREATED] == 2


# --- incremental movement == brute force ---------------------------------------------------

op_st = st.one_of(
    # the flag: through the summed deltas of the live path (``apply_deltas``), not ``apply``
    st.tuples(st.just("add"), st.lists(facts_st, min_size=1, max_size=5), st.booleans()),
    st.tuples(st.just("retract"), st.integers(0, 10**6), st.booleans()),
    st.tuples(st.just("read"), st.sampled_from(list(SMALL))),
    st.tuples(st.just("move"), st.sampled_from(list(SMALL)), st.integers(-12, 12)),
    st.tuples(st.just("jump"), st.sampled_from(list(SMALL)), minutes_st),
    st.tuples(st.just("prune"), st.integers(-5, 60).map(lambda m: T0 + m * MINUTE)),
    # expand the facts ``apply`` keeps aside, between reads that summed them unexpanded
    st.tuples(st.just("expand")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(op_st, max_size=40))
def test_incremental_windows_equal_brute_force(ops: list[tuple[Any, ...]]) -> None:
    """Windows read now and then, so that changes wait between reads and across moves, and
    facts taken by ``apply`` are summed before they are expanded into buckets or after."""
    store = Windows(SMALL)

    def apply(diff: FactDiff, flat: bool) -> None:
        if flat:
            store.apply_deltas(bucket_deltas(diff))
        else:
            store.apply(diff)

    def check(name: str) -> None:
        assert as_dicts(store.window(name, as_of[name])) == expected(live, as_of[name], SMALL[name])

    live: list[Fact] = []
    as_of = dict.fromkeys(SMALL, T0 + 60 * MINUTE)  # the middle of the facts' span
    pruned_before: int | None = None

    def kept(f: Fact) -> bool:
        return pruned_before is None or f.time - f.time % MINUTE >= pruned_before

    for op in ops:
        if op[0] == "add":
            apply(FactDiff(added=tuple(op[1])), op[2])
            live += [f for f in op[1] if kept(f)]
            if pruned_before is not None:  # late facts before the prune point are forgotten too
                store.prune(pruned_before)
        elif op[0] == "retract" and live:
            apply(FactDiff(retracted=(live.pop(op[1] % len(live)),)), op[2])
        elif op[0] == "move":
            as_of[op[1]] += op[2] * MINUTE
        elif op[0] == "jump":
            as_of[op[1]] = op[2]
        elif op[0] == "prune":
            pruned_before = max(pruned_before or op[1], op[1])
            store.prune(pruned_before)
            live = [f for f in live if kept(f)]
        elif op[0] == "read":
            check(op[1])
        elif op[0] == "expand":
            store.buckets()
    for name in SMALL:
        check(name)


@settings(max_examples=200, deadline=None)
@given(st.lists(facts_st, max_size=60), st.lists(minutes_st, min_size=1, max_size=8))
def test_moved_window_equals_a_fresh_store(facts: list[Fact], path: list[int]) -> None:
    moved = Windows(SMALL)
    moved.apply(FactDiff(added=tuple(facts)))
    for as_of in path:
        moved.window("1h", as_of)
    fresh = Windows(SMALL)
    fresh.apply(FactDiff(added=tuple(facts)))
    assert as_dicts(moved.window("1h", path[-1])) == as_dicts(fresh.window("1h", path[-1]))


# --- rendered aggregates against the raw samples -------------------------------------------


def _nearest_rank(samples: list[int], p: int) -> int:
    return sorted(samples)[math.ceil(p / 100 * len(samples)) - 1]


@settings(max_examples=150, deadline=None)
@given(st.lists(facts_st, max_size=80), minutes_st)
def test_window_kpis_match_the_raw_facts(facts: list[Fact], as_of: int) -> None:
    store = Windows(SMALL)
    store.apply(FactDiff(added=tuple(facts)))
    window = store.window("1h", as_of)
    inside = [f for f in facts if as_of - SMALL["1h"] <= f.time < as_of]
    for dim in {d for f in inside for d in fact_dimensions(f)}:
        mine = [f for f in inside if dim in fact_dimensions(f)]
        k = k_json(window[dim])
        assert k["tickets_created"] == sum(f.kind is FactKind.CREATED for f in mine)
        assert k["reopened"] == sum(f.kind is FactKind.REOPEN for f in mine)
        assert k["tickets_solved"] == sum(f.kind is FactKind.RESOLUTION for f in mine)
        assert k["csat"]["responses"] == sum(f.kind is FactKind.CSAT for f in mine)
        for kind, key, unit in (
            (FactKind.REPLY, "reply_seconds", SECOND),
            (FactKind.FIRST_REPLY, "first_reply_seconds", SECOND),
            (FactKind.RESOLUTION, "resolution_seconds", SECOND),
            (FactKind.TOUCHES_TO_CLOSE, "touches_to_close", 1),
        ):
            samples = [f.value for f in mine if f.kind is kind]
            d = k[key]
            assert d["count"] == len(samples)
            if not samples:
                assert d["mean"] is d["p50"] is d["p90"] is d["p99"] is None
                continue
            exact_mean = Fraction(sum(samples), len(samples) * unit)
            assert abs(Fraction(d["mean"]) - exact_mean) <= exact_mean * Fraction(1, 10**9)
            for p in (50, 90, 99):
                exact = _nearest_rank(samples, p) / unit
                assert abs(d[f"p{p}"] - exact) <= 0.01 * exact * (1 + 1e-9)
    assert set(window) == {d for f in inside for d in fact_dimensions(f)}
