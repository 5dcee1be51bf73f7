"""The fact difference that windows and metrics are corrected by."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from streams.domain.facts import NO_DIFF, Fact, FactKind, SlaTarget, diff_facts

POOL = [
    Fact(time=t, kind=kind, value=v, team="a", channel="email", priority="low")
    for t in (1, 2)
    for kind in (FactKind.CREATED, FactKind.REPLY)
    for v in (0, 5)
]
facts = st.lists(st.sampled_from(POOL), max_size=12)


@given(facts, facts)
def test_diff_is_the_multiset_difference(old: list[Fact], new: list[Fact]) -> None:
    diff = diff_facts(old, new)
    assert Counter(diff.retracted) == Counter(old) - Counter(new)
    assert Counter(diff.added) == Counter(new) - Counter(old)
    assert list(diff.retracted) == sorted(diff.retracted)
    assert list(diff.added) == sorted(diff.added)


@given(facts, facts, facts)
def test_a_shared_prefix_changes_nothing(
    prefix: list[Fact], old: list[Fact], new: list[Fact]
) -> None:
    assert diff_facts(prefix + old, prefix + new) == diff_facts(old, new)


def test_equal_lists_give_no_diff_and_reordering_is_no_change() -> None:
    assert diff_facts(POOL, list(POOL)) is NO_DIFF
    assert not diff_facts(POOL, list(reversed(POOL)))
    assert diff_facts(POOL[:2], POOL[:3]).added == (POOL[2],)
    assert diff_facts(POOL[:3], POOL[:2]).retracted == (POOL[2],)


def test_facts_alike_but_for_an_agent_only_one_has_still_sort() -> None:
    """Two clocks met at one instant: first reply (by agent a1) and resolution (no agent).
    Sorting them (``diff_facts`` does) raised TypeError, and the batch with them failed."""
    reply = Fact(1, FactKind.SLA_MET, 0, "a", "email", "low", "a1", SlaTarget.FIRST_REPLY)
    resolution = Fact(1, FactKind.SLA_MET, 0, "a", "email", "low", None, SlaTarget.RESOLUTION)
    unassigned = Fact(1, FactKind.SLA_MET, 0, "a", "email", "low", "a1", None)
    assert sorted([reply, resolution, unassigned]) == [resolution, unassigned, reply]
    assert diff_facts([], [reply, resolution]).added == (resolution, reply)


ORDERED = [
    Fact(t, kind, v, "a", "email", "low", agent, target)
    for t in (1, 2)
    for kind in (FactKind.SLA_MET, FactKind.REPLY)
    for v in (0, 5)
    for agent in (None, "a1")
    for target in (None, SlaTarget.FIRST_REPLY)
]


@given(st.sampled_from(ORDERED), st.sampled_from(ORDERED))
def test_fact_order_is_the_order_of_its_fields(a: Fact, b: Fact) -> None:
    """Comparing the time first (the usual difference) orders as the whole field tuple does."""
    key_a, key_b = a._order(), b._order()
    assert (a < b, a <= b, a > b, a >= b) == (
        key_a < key_b,
        key_a <= key_b,
        key_a > key_b,
        key_a >= key_b,
    )
