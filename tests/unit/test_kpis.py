"""KPI counters: what one fact adds, and how counters read back as the spec's K."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.facts import Fact, FactKind, SlaTarget
from streams.domain.kpis import (
    GAMMA,
    KpiCounters,
    bin_index,
    bin_names,
    fact_counters,
    fact_dimensions,
    kpis_of,
)

SECOND = 1_000_000


def k_json(counters: Mapping[str, int]) -> dict[str, Any]:
    """The spec's ``K`` object of some counters."""
    return kpis_of(counters).to_json()


def fact(kind: FactKind, value: int = 0, agent: str | None = "a1", **kw: object) -> Fact:
    fields: dict[str, object] = {"team": "billing", "channel": "email", "priority": "high"}
    fields.update(kw)
    return Fact(0, kind, value, agent=agent, **fields)  # type: ignore[arg-type]


def counters_of(facts: Iterable[Fact]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for f in facts:
        for name, value in fact_counters(f):
            total[name] += value
    return {name: value for name, value in total.items() if value}


def nearest_rank(samples: list[int], p: int) -> int:
    ordered = sorted(samples)
    return ordered[math.ceil(p / 100 * len(ordered)) - 1]


EMPTY_D = {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None}
EMPTY_S = {"met": 0, "breached": 0, "compliance": None}
EMPTY_K = {
    "first_reply_seconds": EMPTY_D,
    "reply_seconds": EMPTY_D,
    "resolution_seconds": EMPTY_D,
    "full_resolution_seconds": EMPTY_D,
    "touches_to_close": EMPTY_D,
    "handle_seconds": EMPTY_D,
    "tickets_created": 0,
    "tickets_solved": 0,
    "reopened": 0,
    "one_touch": 0,
    "zero_touch": 0,
    "fcr_rate": None,
    "csat": {"responses": 0, "satisfied": 0, "percent": None},
    "nps": {"responses": 0, "promoters": 0, "passives": 0, "detractors": 0, "score": None},
    "sla": {"first_reply": EMPTY_S, "next_reply": EMPTY_S, "resolution": EMPTY_S},
}


# --- dimensions ----------------------------------------------------------------------------


def test_dimensions_include_agent_only_when_known() -> None:
    with_agent = fact(FactKind.REPLY, 5, agent="ana")
    without = fact(FactKind.CREATED, agent=None)
    assert fact_dimensions(with_agent) == (
        ("overall", ""),
        ("team", "billing"),
        ("channel", "email"),
        ("priority", "high"),
        ("agent", "ana"),
    )
    assert fact_dimensions(without) == (
        ("overall", ""),
        ("team", "billing"),
        ("channel", "email"),
        ("priority", "high"),
    )


# --- fact -> counters ----------------------------------------------------------------------


def test_plain_counters_per_kind() -> None:
    assert dict(fact_counters(fact(FactKind.CREATED))) == {"created": 1}
    assert dict(fact_counters(fact(FactKind.REOPEN))) == {"reopened": 1}
    assert dict(fact_counters(fact(FactKind.CSAT, 4))) == {
        "csat.responses": 1,
        "csat.satisfied": 1,
    }
    assert dict(fact_counters(fact(FactKind.CSAT, 3))) == {"csat.responses": 1}
    assert dict(fact_counters(fact(FactKind.NPS, 9))) == {"nps.responses": 1, "nps.promoters": 1}
    assert dict(fact_counters(fact(FactKind.NPS, 8))) == {"nps.responses": 1, "nps.passives": 1}
    assert dict(fact_counters(fact(FactKind.NPS, 6))) == {
        "nps.responses": 1,
        "nps.detractors": 1,
    }
    met = fact(FactKind.SLA_MET, target=SlaTarget.NEXT_REPLY)
    breached = fact(FactKind.SLA_BREACHED, target=SlaTarget.RESOLUTION)
    assert dict(fact_counters(met)) == {"sla.next_reply.met": 1}
    assert dict(fact_counters(breached)) == {"sla.resolution.breached": 1}


def test_a_sample_adds_count_sum_and_its_bin() -> None:
    value = 90 * SECOND
    count_name, sum_name = bin_names("reply", bin_index(value))
    assert dict(fact_counters(fact(FactKind.REPLY, value))) == {
        "reply:n": 1,
        "reply:s": value,
        count_name: 1,
        sum_name: value,
    }
    resolution = dict(fact_counters(fact(FactKind.RESOLUTION, value)))
    assert resolution["solved"] == 1
    assert resolution["resolution:n"] == 1


def test_touches_to_close_counts_one_and_zero_touch() -> None:
    one = dict(fact_counters(fact(FactKind.TOUCHES_TO_CLOSE, 1)))
    zero = dict(fact_counters(fact(FactKind.TOUCHES_TO_CLOSE, 0)))
    two = dict(fact_counters(fact(FactKind.TOUCHES_TO_CLOSE, 2)))
    assert one["one_touch"] == 1 and "zero_touch" not in one
    assert zero == {"touches:n": 1, "touches:z:n": 1, "zero_touch": 1}
    assert "one_touch" not in two and "zero_touch" not in two
    assert two["touches:s"] == 2


@pytest.mark.parametrize(
    "bad",
    [
        fact(FactKind.REPLY, -1),
        fact(FactKind.CSAT, 6),
        fact(FactKind.CSAT, 0),
        fact(FactKind.NPS, 11),
        fact(FactKind.SLA_MET),
    ],
)
def test_impossible_facts_are_refused(bad: Fact) -> None:
    with pytest.raises(ValueError):
        fact_counters(bad)


# --- bins ----------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=10**13))
def test_a_value_lies_in_its_bin(value: int) -> None:
    i = bin_index(value)
    slack = 1e-12
    assert GAMMA ** (i - 1) * (1 - slack) < value <= GAMMA**i * (1 + slack)


def test_small_integers_have_a_bin_each() -> None:
    assert len({bin_index(v) for v in range(101)}) == 101


# --- the counter bag -----------------------------------------------------------------------

sample_kinds = st.sampled_from(
    [FactKind.FIRST_REPLY, FactKind.REPLY, FactKind.RESOLUTION, FactKind.FULL_RESOLUTION]
)
any_fact = st.one_of(
    st.builds(fact, sample_kinds, st.integers(0, 10 * 86_400 * SECOND)),
    st.builds(fact, st.just(FactKind.TOUCHES_TO_CLOSE), st.integers(0, 30)),
    st.builds(fact, st.just(FactKind.CSAT), st.integers(1, 5)),
    st.builds(fact, st.just(FactKind.NPS), st.integers(0, 10)),
    st.builds(fact, st.sampled_from([FactKind.CREATED, FactKind.REOPEN])),
    st.builds(
        fact,
        st.sampled_from([FactKind.SLA_MET, FactKind.SLA_BREACHED]),
        target=st.sampled_from(list(SlaTarget)),
    ),
)


@given(st.lists(any_fact, max_size=30))
def test_bag_reads_back_as_the_flat_sum(facts: list[Fact]) -> None:
    flat = counters_of(facts)
    bag = KpiCounters()
    for f in facts:
        for name, value in fact_counters(f):
            bag.add(name, value)
    assert dict(bag) == flat
    assert len(bag) == len(flat)
    assert all(bag[name] == value for name, value in flat.items())
    assert k_json(bag) == k_json(flat)


@given(st.lists(any_fact, max_size=30), st.lists(any_fact, max_size=30))
def test_retracting_everything_leaves_an_empty_bag(kept: list[Fact], gone: list[Fact]) -> None:
    bag = KpiCounters(counters_of(kept))
    for f in gone:
        for name, value in fact_counters(f):
            bag.add(name, value)
    for f in gone:
        for name, value in fact_counters(f):
            bag.add(name, -value)
    assert dict(bag) == counters_of(kept)
    bag.update(counters_of(kept), -1)
    assert not bag
    assert dict(bag) == {}
    assert k_json(bag) == EMPTY_K


@given(st.lists(any_fact, max_size=30), st.lists(any_fact, max_size=10))
def test_items_reads_the_same_pairs_as_the_generic_mapping(
    facts: list[Fact], retracted: list[Fact]
) -> None:
    # items() reads the bins directly (fast path for encoding window sums); it must give
    # exactly the pairs, in the order, that iterating the names and looking each up gives
    bag = KpiCounters(counters_of(facts))
    for f in retracted:  # may leave a bin with a count but no sum, or negative values
        for name, value in fact_counters(f):
            bag.add(name, -value)
    generic = [(name, bag[name]) for name in bag]
    assert list(bag.items()) == generic
    assert len(bag.items()) == len(generic)
    assert all(pair in bag.items() for pair in generic)


@given(st.lists(any_fact, max_size=30), st.lists(any_fact, max_size=10))
def test_a_bag_built_at_once_equals_one_built_counter_by_counter(
    facts: list[Fact], retracted: list[Fact]
) -> None:
    # the mapping may hold zeros, negative values and bins with a count but no sum (or the
    # reverse), as a window's summed buckets do after retractions
    counters: Counter[str] = Counter(counters_of(facts))
    for f in retracted:
        for name, value in fact_counters(f):
            counters[name] -= value
    one_by_one = KpiCounters()
    for name, value in counters.items():
        one_by_one.add(name, value)
    at_once = KpiCounters(counters)
    assert list(at_once.items()) == list(one_by_one.items())
    assert at_once.wire() == one_by_one.wire()
    assert dict(at_once) == {name: value for name, value in counters.items() if value}


@given(
    st.lists(any_fact, max_size=30),
    st.lists(any_fact, max_size=30),
    st.lists(any_fact, max_size=10),
    st.sampled_from([1, -1]),
)
def test_merging_a_whole_bag_equals_adding_it_counter_by_counter(
    held: list[Fact], more: list[Fact], retracted: list[Fact], sign: int
) -> None:
    assert_merges_as_adds(held, more, retracted, sign)


@given(
    st.lists(st.builds(fact, sample_kinds, st.integers(0, 10 * 86_400 * SECOND)), min_size=60),
    st.lists(any_fact, max_size=3),
    st.lists(any_fact, max_size=2),
    st.sampled_from([1, -1]),
)
def test_merging_a_few_bins_into_many_equals_adding_them_counter_by_counter(
    held: list[Fact], more: list[Fact], retracted: list[Fact], sign: int
) -> None:
    # fewer than 1/FEW_BINS of the bins held go one by one: the same result
    assert_merges_as_adds(held, more, retracted, sign)


def assert_merges_as_adds(
    held: list[Fact], more: list[Fact], retracted: list[Fact], sign: int
) -> None:
    # update and add_wire merge each distribution's bins in one pass over both sorted arrays;
    # they must leave what adding each counter on its own leaves (the same bins, in order,
    # none with both count and sum zero), with zeros, negative values and cancellations
    counters: Counter[str] = Counter(counters_of(more))
    for f in retracted:
        for name, value in fact_counters(f):
            counters[name] -= value
    one_by_one = KpiCounters(counters_of(held))
    for name, value in counters.items():
        one_by_one.add(name, sign * value)
    updated = KpiCounters(counters_of(held))
    updated.update(counters, sign)
    # (the order of the distributions may differ: adding one counter at a time can empty a
    # distribution and start it again, last)
    assert updated.wire() == one_by_one.wire()
    assert dict(updated) == dict(one_by_one)
    signed = KpiCounters({name: sign * value for name, value in counters.items()})
    wired = KpiCounters(counters_of(held))
    wired.add_wire(*signed.wire())
    assert wired.wire() == one_by_one.wire()
    assert dict(wired) == dict(one_by_one)


def test_bin_arrays_of_different_lengths_are_refused() -> None:
    bag = KpiCounters(counters_of([fact(FactKind.REPLY, 60 * SECOND)]))
    [(metric, (indexes, counts, _))] = bag.wire()[1].items()
    with pytest.raises(ValueError, match="different lengths"):
        bag.add_wire({}, {metric: (indexes, counts, [])})


def test_missing_counter_is_a_key_error() -> None:
    bag = KpiCounters({"created": 2})
    count_name, sum_name = bin_names("reply", 7)
    for name in ("solved", count_name, sum_name):
        with pytest.raises(KeyError):
            bag[name]


# --- counters -> K -------------------------------------------------------------------------


def test_empty_counters_render_zeros_and_nulls() -> None:
    assert k_json({}) == EMPTY_K


def test_distributions_by_hand() -> None:
    resolutions = [60, 120, 120, 3600]
    touches = [0, 1, 1, 2, 3]
    facts = [fact(FactKind.RESOLUTION, s * SECOND) for s in resolutions]
    facts += [fact(FactKind.TOUCHES_TO_CLOSE, t) for t in touches]
    k = k_json(counters_of(facts))
    # p50 rank ceil(2.0) = 2, p90 rank ceil(3.6) = 4, p99 rank ceil(3.96) = 4
    assert k["resolution_seconds"] == {
        "count": 4,
        "mean": 975.0,
        "p50": 120.0,
        "p90": 3600.0,
        "p99": 3600.0,
    }
    # p50 rank ceil(2.5) = 3 -> 1 touch; p90 rank ceil(4.5) = 5 -> 3 touches
    assert k["touches_to_close"] == {"count": 5, "mean": 1.4, "p50": 1.0, "p90": 3.0, "p99": 3.0}
    assert k["tickets_solved"] == 4
    assert k["first_reply_seconds"] == EMPTY_D


def test_fcr_counts_only_solves_with_a_touch() -> None:
    facts = [fact(FactKind.TOUCHES_TO_CLOSE, t) for t in (0, 0, 1, 1, 1, 2, 4)]
    k = k_json(counters_of(facts))
    assert (k["one_touch"], k["zero_touch"]) == (3, 2)
    assert k["fcr_rate"] == 3 / 5


def test_fcr_is_null_when_every_solve_had_zero_touches() -> None:
    k = k_json(counters_of([fact(FactKind.TOUCHES_TO_CLOSE, 0)]))
    assert k["zero_touch"] == 1
    assert k["fcr_rate"] is None


def test_csat_nps_and_compliance_by_hand() -> None:
    facts = [fact(FactKind.CSAT, s) for s in (5, 4, 3, 1)]
    facts += [fact(FactKind.NPS, s) for s in (10, 9, 8, 6, 0, 7, 10)]
    facts += [fact(FactKind.SLA_MET, target=SlaTarget.FIRST_REPLY)] * 3
    facts += [fact(FactKind.SLA_BREACHED, target=SlaTarget.FIRST_REPLY)]
    facts += [fact(FactKind.SLA_BREACHED, target=SlaTarget.RESOLUTION)] * 2
    k = k_json(counters_of(facts))
    assert k["csat"] == {"responses": 4, "satisfied": 2, "percent": 50.0}
    assert k["nps"] == {
        "responses": 7,
        "promoters": 3,
        "passives": 2,
        "detractors": 2,
        "score": 100 / 7,
    }
    assert k["sla"] == {
        "first_reply": {"met": 3, "breached": 1, "compliance": 0.75},
        "next_reply": EMPTY_S,
        "resolution": {"met": 0, "breached": 2, "compliance": 0.0},
    }


def test_nps_can_be_negative() -> None:
    k = k_json(counters_of([fact(FactKind.NPS, s) for s in (0, 3, 9)]))
    assert k["nps"]["score"] == pytest.approx(-100 / 3)


def test_key_order_is_the_spec_order() -> None:
    assert list(k_json({})) == list(EMPTY_K)
    assert list(k_json({})["first_reply_seconds"]) == ["count", "mean", "p50", "p90", "p99"]


def test_inconsistent_bins_are_refused() -> None:
    count_name, sum_name = bin_names("reply", bin_index(SECOND))
    with pytest.raises(ValueError):
        k_json({"reply:n": 2, "reply:s": 2 * SECOND, count_name: 1, sum_name: SECOND})
    with pytest.raises(ValueError):
        k_json({"reply:n": 1, "reply:s": SECOND})


# --- percentiles and means against the raw samples -----------------------------------------

# Clustered values put several distinct samples in one bin, the sketch's worst case.
clustered = st.integers(1, 10**6).flatmap(
    lambda base: st.lists(st.integers(base, base + base // 50 + 1), min_size=1, max_size=60)
)
spread = st.lists(st.integers(0, 30 * 86_400 * SECOND), min_size=1, max_size=200)


@given(st.one_of(clustered, spread))
def test_percentiles_within_one_percent_and_mean_exact(samples: list[int]) -> None:
    k = k_json(counters_of(fact(FactKind.REPLY, v) for v in samples))
    d = k["reply_seconds"]
    assert d["count"] == len(samples)
    exact_mean = Fraction(sum(samples), len(samples) * SECOND)
    assert abs(Fraction(d["mean"]) - exact_mean) <= abs(exact_mean) * Fraction(1, 10**9)
    for p in (50, 90, 99):
        exact = nearest_rank(samples, p) / SECOND
        assert abs(d[f"p{p}"] - exact) <= 0.01 * exact * (1 + 1e-9), (p, exact, d)


@given(st.lists(st.integers(0, 100), min_size=1, max_size=100))
def test_touch_percentiles_are_exact(samples: list[int]) -> None:
    d = k_json(counters_of(fact(FactKind.TOUCHES_TO_CLOSE, v) for v in samples))["touches_to_close"]
    assert [d["p50"], d["p90"], d["p99"]] == [nearest_rank(samples, p) for p in (50, 90, 99)]


def _bin_edges(index: int) -> tuple[int, int]:
    """The smallest and largest integer in a bin."""
    lo = math.floor(GAMMA ** (index - 1)) - 2
    while bin_index(lo) < index:
        lo += 1
    hi = math.ceil(GAMMA**index) + 2
    while bin_index(hi) > index:
        hi -= 1
    return lo, hi


def test_worst_case_bin_stays_within_one_percent() -> None:
    # The median is the lowest value of a bin whose other samples all sit at its top.
    lo, hi = _bin_edges(bin_index(3600 * SECOND))
    assert bin_index(lo) == bin_index(hi) and hi > lo * 1.0099
    samples = [SECOND] * 999 + [lo] + [hi] * 1000
    d = k_json(counters_of(fact(FactKind.REPLY, v) for v in samples))["reply_seconds"]
    assert nearest_rank(samples, 50) == lo
    assert abs(d["p50"] - lo / SECOND) <= 0.01 * lo / SECOND


@given(st.lists(any_fact, min_size=1, max_size=20), st.lists(any_fact, min_size=1, max_size=20))
def test_rendering_follows_later_changes(first: list[Fact], later: list[Fact]) -> None:
    bag = KpiCounters(counters_of(first))
    assert k_json(bag) == k_json(counters_of(first))
    bag.update(counters_of(later))
    assert k_json(bag) == k_json(counters_of(first + later))
    bag.update(counters_of(first), -1)
    assert k_json(bag) == k_json(counters_of(later))


def test_replacing_a_sample_moves_the_percentiles() -> None:
    kept, old, new = (fact(FactKind.REPLY, s * SECOND) for s in (600, 60, 300))
    bag = KpiCounters(counters_of([kept, old]))
    assert k_json(bag)["reply_seconds"]["p50"] == 60.0
    bag.update(counters_of([old]), -1)
    bag.update(counters_of([new]))
    assert k_json(bag)["reply_seconds"]["p50"] == 300.0
