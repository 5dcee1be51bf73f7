"""Order, duplicates and recomputation: properties that must hold for any ticket."""

from __future__ import annotations

from collections import Counter
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain import ticket
from streams.domain.events import Event
from streams.domain.instant import parse_rfc3339
from streams.domain.ticket import evaluate
from streams.domain.timeline import Timeline
from streams.live.batch import Message
from streams.live.partition_replay import TOPIC, PartitionReplay

from ..support.scratch import Scratch
from .conftest import SIMPLE_POLICIES, SPEC_POLICIES, Events, policies_from

POLICY_SETS = [policies_from(SIMPLE_POLICIES), policies_from(SPEC_POLICIES)]
NOW = parse_rfc3339("2026-11-04T12:00:00Z")


@st.composite
def ticket_events(draw: st.DrawFn, ticket_id: str = "T1") -> list[Event]:
    t = Events(ticket_id=ticket_id)
    events = [
        t.created(
            draw(st.integers(-3, 3)),
            priority=draw(st.sampled_from(["low", "normal", "high", "urgent"])),
            team=draw(st.sampled_from(["billing", "vip", "tech"])),
            channel=draw(st.sampled_from(["email", "chat", "phone"])),
        )
    ]
    for _ in range(draw(st.integers(0, 14))):
        minute = draw(st.integers(-5, 3000))
        kind = draw(
            st.sampled_from(["in", "out", "note", "status", "assign", "prio", "csat", "nps"])
        )
        if kind == "in":
            events.append(t.inbound(minute, public=draw(st.booleans())))
        elif kind in ("out", "note"):
            events.append(
                t.reply(minute, agent=draw(st.sampled_from(["a1", "a2"])), public=kind == "out")
            )
        elif kind == "status":
            status = draw(st.sampled_from(["open", "pending", "on_hold", "solved", "closed"]))
            events.append(t.status(minute, status))
        elif kind == "assign":
            team = draw(st.sampled_from([None, "billing", "vip"]))
            events.append(t.assign(minute, draw(st.sampled_from(["a1", "a2"])), team=team))
        elif kind == "prio":
            events.append(t.priority(minute, draw(st.sampled_from(["normal", "urgent"]))))
        elif kind == "csat":
            events.append(t.csat(minute, draw(st.integers(1, 5))))
        else:
            events.append(t.nps(minute, draw(st.integers(0, 10))))
    return events


def facts_and_clocks(events: list[Event], policy_index: int, now: int = NOW) -> tuple[object, ...]:
    timeline = Timeline("T1")
    for event in events:
        timeline.add(event)
    view = evaluate("T1", timeline.events, POLICY_SETS[policy_index], now)
    return (Counter(view.facts), view.clocks, view.status, view.team, view.priority)


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(0, 1))
def test_any_arrival_order_gives_the_same_facts(data: st.DataObject, policy: int) -> None:
    events = data.draw(ticket_events())
    shuffled = data.draw(st.permutations(events))
    assert facts_and_clocks(shuffled, policy) == facts_and_clocks(events, policy)


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(0, 1))
def test_duplicates_change_nothing(data: st.DataObject, policy: int) -> None:
    events = data.draw(ticket_events())
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=6))
    mixed = data.draw(st.permutations(events + repeats))
    assert facts_and_clocks(mixed, policy) == facts_and_clocks(events, policy)


@settings(max_examples=100, deadline=None)
@given(st.data(), st.integers(0, 1))
def test_incremental_engine_equals_computing_from_scratch(data: st.DataObject, policy: int) -> None:
    """The planner's retract-then-add on every late event and every clock tick, with its
    store's indexes, equals one evaluation of every ticket from scratch."""
    tickets = [data.draw(ticket_events(ticket_id=f"T{i}")) for i in range(3)]
    arrivals = data.draw(st.permutations([e for events in tickets for e in events]))
    live = PartitionReplay(POLICY_SETS[policy])
    ticks = sorted(data.draw(st.lists(st.integers(0, len(arrivals)), max_size=4)))
    for position, event in enumerate(arrivals):
        if ticks and ticks[0] == position:
            ticks.pop(0)
            tick = NOW - 600_000_000 * (len(ticks) + 1)
            live.apply([], tick, wake=list(live.ticket_ids()))
        live.apply([(Message(TOPIC, 0, position, b""), event)], NOW)
    live.apply([], NOW, wake=list(live.ticket_ids()))

    scratch = Scratch(POLICY_SETS[policy])
    scratch.ingest_all(arrivals)
    assert live.snapshot(NOW) == scratch.snapshot(NOW)


@settings(max_examples=300, deadline=None)
@given(ticket_events(), st.integers(0, 1), st.integers(0, 3000))
def test_every_kept_deadline_is_the_one_computed_from_scratch(
    events: list[Event], policy: int, minutes: int
) -> None:
    """``change_status`` recomputes a deadline only when the status pauses or resumes it."""
    timeline = Timeline("T1")
    for event in events:
        timeline.add(event)
    original = ticket._State.apply

    def apply_and_check(state: ticket._State, event: Event) -> None:
        original(state, event)
        for clock in state.clocks.values():
            assert clock.deadline == state._deadline(clock)

    with mock.patch.object(ticket._State, "apply", apply_and_check):
        evaluate("T1", timeline.events, POLICY_SETS[policy], NOW - minutes * 60_000_000)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.sampled_from(["low", "normal", "high", "urgent"]),
            st.sampled_from(["billing", "vip", "tech", ""]),
            st.sampled_from(["email", "chat", "phone"]),
        ),
        max_size=20,
    )
)
def test_remembered_policy_choice_is_what_select_chooses(
    asks: list[tuple[int, str, str, str]],
) -> None:
    for policy, priority, team, channel in asks:
        policies = POLICY_SETS[policy]
        chosen = policies.select(priority=priority, team=team, channel=channel)
        assert ticket._select(policies, priority, team, channel) is chosen


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(0, 1))
def test_going_on_from_a_walk_equals_evaluating_from_scratch(
    data: st.DataObject, policy: int
) -> None:
    """``evaluate_on`` with the walk it returned last time (events arriving in any order,
    ``now`` moving on or back) gives exactly what ``evaluate`` gives from scratch."""
    events = data.draw(ticket_events())
    arrivals = data.draw(st.permutations(events))
    policies = POLICY_SETS[policy]
    timeline = Timeline("T1")
    walk = None
    for event in arrivals:
        timeline.add(event)
        timeline.withdrawn.clear()
        now = NOW - 60_000_000 * data.draw(st.integers(0, 3000))
        view, walk = ticket.evaluate_on(
            "T1", timeline.events, policies, now, walk, timeline.rewrites
        )
        assert view == evaluate("T1", timeline.events, policies, now)


def test_a_walk_goes_on_over_events_that_come_in_order() -> None:
    """In-order events at a later ``now`` continue the same walk rather than a new one."""
    t = Events("T1")
    timeline = Timeline("T1")
    policies = POLICY_SETS[1]
    walk = None
    states = []
    for minutes, event in enumerate((t.created(0), t.reply(10), t.inbound(20), t.reply(30))):
        timeline.add(event)
        view, walk = ticket.evaluate_on(
            "T1", timeline.events, policies, t.at(40 + minutes), walk, timeline.rewrites
        )
        assert walk is not None
        states.append(walk.state)
        assert view == evaluate("T1", timeline.events, policies, t.at(40 + minutes))
    assert all(state is states[0] for state in states)
    assert walk.applied == 4
