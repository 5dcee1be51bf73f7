"""Spec sections 2-4, rule by rule, on one ticket at a time."""

from __future__ import annotations

from collections.abc import Iterable

from streams.domain.clocks import ClockPhase
from streams.domain.events import Event, Status
from streams.domain.facts import Fact, FactKind, SlaTarget
from streams.domain.instant import MICROS_PER_MINUTE, MICROS_PER_SECOND, parse_rfc3339
from streams.domain.policies import PolicySet
from streams.domain.ticket import TicketView, evaluate
from streams.domain.timeline import Arrival, Timeline

from .conftest import Events

MIN = MICROS_PER_MINUTE
FAR = parse_rfc3339("2027-01-01T00:00:00Z")


def view_of(events: Iterable[Event], policies: PolicySet, now: int = FAR) -> TicketView:
    timeline = Timeline("T1")
    for event in events:
        timeline.add(event)
    return evaluate("T1", timeline.events, policies, now)


def of_kind(view: TicketView, kind: FactKind, target: SlaTarget | None = None) -> list[Fact]:
    return [f for f in view.facts if f.kind is kind and (target is None or f.target is target)]


def values(view: TicketView, kind: FactKind) -> list[int]:
    return [f.value for f in of_kind(view, kind)]


def sla(view: TicketView, target: SlaTarget) -> list[tuple[str, int]]:
    """(met|breached, minutes after the ticket's creation) for one target."""
    created = view.created_at
    assert created is not None
    return [
        ("met" if f.kind is FactKind.SLA_MET else "breached", (f.time - created) // MIN)
        for f in view.facts
        if f.target is target
    ]


def test_first_reply_time_and_sla_met(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of([t.created(0), t.reply(10, agent="ann")], simple_policies)
    assert values(view, FactKind.FIRST_REPLY) == [10 * MIN]
    assert values(view, FactKind.REPLY) == [10 * MIN]
    assert sla(view, SlaTarget.FIRST_REPLY) == [("met", 10)]
    assert {f.agent for f in of_kind(view, FactKind.FIRST_REPLY)} == {"ann"}


def test_internal_note_is_neither_touch_nor_reply(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of(
        [t.created(0), t.reply(5, public=False), t.reply(20), t.status(30, "solved")],
        simple_policies,
    )
    assert values(view, FactKind.FIRST_REPLY) == [20 * MIN]
    assert sla(view, SlaTarget.FIRST_REPLY) == [("breached", 15)]
    assert values(view, FactKind.TOUCHES_TO_CLOSE) == [1]


def test_handle_time_is_each_call_of_a_touch_for_the_touching_agent(
    simple_policies: PolicySet,
) -> None:
    t = Events()
    view = view_of(
        [
            t.created(0),
            t.assign(1, "bob"),
            t.reply(5, agent="ann", call=312.5),
            t.inbound(10),
            t.reply(20, agent="cat", call=0),  # a call of 0 s is a sample
            t.reply(25, agent="dan", public=False, call=900),  # a note is no touch
            t.reply(30, agent="ann"),  # an email: no duration, no sample
            t.status(40, "solved"),
            t.reply(50, agent="ann", call=60),  # a touch while solved is still a call
            t.status(60, "closed"),
            t.reply(70, agent="ann", call=100),  # after closed: takes no part
        ],
        simple_policies,
    )
    handle = [(f.time - view.created_at, f.value, f.agent) for f in of_kind(view, FactKind.HANDLE)]
    assert handle == [
        (5 * MIN, 312_500_000, "ann"),
        (20 * MIN, 0, "cat"),
        (50 * MIN, 60 * MICROS_PER_SECOND, "ann"),
    ]
    assert {f.team for f in of_kind(view, FactKind.HANDLE)} == {"support"}
    assert values(view, FactKind.TOUCHES_TO_CLOSE) == [3]  # calls are touches like any other


def test_second_inbound_does_not_restart_next_reply_clock(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of(
        [t.created(0), t.reply(5), t.inbound(10), t.inbound(20), t.reply(50)], simple_policies
    )
    assert values(view, FactKind.REPLY) == [5 * MIN, 40 * MIN]
    assert sla(view, SlaTarget.NEXT_REPLY) == [("breached", 40)]


def test_inbound_before_first_touch_starts_no_clock(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of([t.created(0), t.inbound(2), t.reply(5), t.reply(8)], simple_policies)
    assert values(view, FactKind.REPLY) == [5 * MIN]
    assert sla(view, SlaTarget.NEXT_REPLY) == []


def test_private_inbound_starts_no_clock(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of(
        [t.created(0), t.reply(5), t.inbound(6, public=False), t.reply(9)], simple_policies
    )
    assert values(view, FactKind.REPLY) == [5 * MIN]


def test_reopen_keeps_first_resolution_and_counts_reopen(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of(
        [
            t.created(0),
            t.reply(5),
            t.status(60, "solved"),
            t.status(120, "open"),
            t.inbound(125),
            t.reply(130),
            t.status(180, "solved"),
        ],
        simple_policies,
    )
    assert values(view, FactKind.RESOLUTION) == [60 * MIN]
    assert values(view, FactKind.TOUCHES_TO_CLOSE) == [1]
    assert [f.time for f in of_kind(view, FactKind.REOPEN)] == [t.at(120)]
    assert values(view, FactKind.REPLY) == [5 * MIN, 5 * MIN]
    assert sla(view, SlaTarget.RESOLUTION) == [("met", 60)]


def test_inbound_while_solved_starts_no_clock(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of(
        [t.created(0), t.reply(5), t.status(10, "solved"), t.inbound(11), t.reply(100)],
        simple_policies,
    )
    assert values(view, FactKind.REPLY) == [5 * MIN]
    assert sla(view, SlaTarget.NEXT_REPLY) == []


def test_pending_pauses_the_resolution_clock(simple_policies: PolicySet) -> None:
    t = Events()
    base = [t.created(0), t.reply(5), t.status(30, "pending"), t.status(90, "open")]
    # 30 min elapsed before the pause, 90 after it: the 2h target is reached at minute 180.
    met = view_of([*base, t.status(180, "solved")], simple_policies)
    assert sla(met, SlaTarget.RESOLUTION) == [("met", 180)]
    late = view_of([*base, t.status(181, "solved")], simple_policies)
    assert sla(late, SlaTarget.RESOLUTION) == [("breached", 180)]
    assert values(late, FactKind.RESOLUTION) == [181 * MIN]


def test_paused_clock_has_no_deadline_and_is_not_at_risk(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of(
        [t.created(0), t.reply(5), t.status(30, "on_hold")], simple_policies, now=t.at(500)
    )
    (clock,) = [c for c in view.clocks if c.target is SlaTarget.RESOLUTION]
    assert clock.paused and clock.deadline is None and clock.phase is ClockPhase.PAUSED
    assert not clock.at_risk(t.at(500), 15 * MIN)
    assert sla(view, SlaTarget.RESOLUTION) == []


def test_solve_stops_reply_clocks(simple_policies: PolicySet) -> None:
    t = Events()
    zero_touch = view_of([t.created(0), t.status(10, "solved")], simple_policies)
    assert sla(zero_touch, SlaTarget.FIRST_REPLY) == [("met", 10)]
    assert values(zero_touch, FactKind.FIRST_REPLY) == []
    assert values(zero_touch, FactKind.TOUCHES_TO_CLOSE) == [0]

    u = Events()
    open_next = view_of(
        [u.created(0), u.reply(5), u.inbound(10), u.status(50, "solved")], simple_policies
    )
    assert sla(open_next, SlaTarget.NEXT_REPLY) == [("breached", 40)]
    assert values(open_next, FactKind.REPLY) == [5 * MIN]
    assert all(not c.running for c in open_next.clocks)

    w = Events()
    early = view_of(
        [w.created(0), w.reply(5), w.inbound(10), w.status(20, "solved")], simple_policies
    )
    assert sla(early, SlaTarget.NEXT_REPLY) == [("met", 20)]


def test_breach_at_deadline_without_further_event(simple_policies: PolicySet) -> None:
    t = Events()
    events = [t.created(0)]
    at_deadline = view_of(events, simple_policies, now=t.at(15))
    assert sla(at_deadline, SlaTarget.FIRST_REPLY) == []
    assert at_deadline.next_deadline == t.at(15)
    (clock,) = [c for c in at_deadline.clocks if c.target is SlaTarget.FIRST_REPLY]
    assert clock.at_risk(t.at(15), 15 * MIN)

    after = view_of(events, simple_policies, now=t.at(15) + 1)
    assert sla(after, SlaTarget.FIRST_REPLY) == [("breached", 15)]
    (clock,) = [c for c in after.clocks if c.target is SlaTarget.FIRST_REPLY]
    assert clock.breached_running() and clock.phase is ClockPhase.BREACHED
    # Only the resolution clock is still ahead.
    assert after.next_deadline == t.at(120)


def test_met_exactly_at_deadline(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of([t.created(0), t.reply(15)], simple_policies)
    assert sla(view, SlaTarget.FIRST_REPLY) == [("met", 15)]


def test_priority_change_to_a_deadline_already_past_breaches_now(
    spec_policies: PolicySet,
) -> None:
    t = Events()  # Monday 10:00 Berlin: the standard policy gives 4 business hours.
    view = view_of([t.created(0), t.priority(20, "urgent"), t.reply(30)], spec_policies)
    breaches = of_kind(view, FactKind.SLA_BREACHED, SlaTarget.FIRST_REPLY)
    assert [(f.time, f.priority) for f in breaches] == [(t.at(20), "urgent")]
    assert of_kind(view, FactKind.SLA_MET, SlaTarget.FIRST_REPLY) == []
    assert view.policy == "urgent"
    assert values(view, FactKind.FIRST_REPLY) == [30 * MIN]


def test_policy_change_moves_running_deadline(spec_policies: PolicySet) -> None:
    t = Events()
    view = view_of(
        [t.created(0, priority="urgent"), t.priority(5, "normal")], spec_policies, now=t.at(60)
    )
    (clock,) = [c for c in view.clocks if c.target is SlaTarget.FIRST_REPLY]
    # 4 business hours from Monday 10:00 Berlin = 14:00 Berlin = 13:00Z.
    assert clock.deadline == parse_rfc3339("2026-11-02T13:00:00Z")
    assert sla(view, SlaTarget.FIRST_REPLY) == []


def test_recorded_breach_stays_after_policy_change(spec_policies: PolicySet) -> None:
    t = Events()
    view = view_of(
        [t.created(0, priority="urgent"), t.priority(20, "normal"), t.reply(30)], spec_policies
    )
    assert sla(view, SlaTarget.FIRST_REPLY) == [("breached", 15)]


def test_business_hours_over_a_weekend(spec_policies: PolicySet) -> None:
    # Friday 2026-11-06 15:00 Berlin: 2h left on Friday, 2h on Monday from 09:00.
    t = Events(start=parse_rfc3339("2026-11-06T14:00:00Z"))
    view = view_of([t.created(0)], spec_policies, now=t.at(1))
    (clock,) = [c for c in view.clocks if c.target is SlaTarget.FIRST_REPLY]
    assert clock.deadline == parse_rfc3339("2026-11-09T10:00:00Z")


def test_business_hours_over_holidays(spec_policies: PolicySet) -> None:
    # Wednesday 2026-12-23 15:00 Berlin; 24th and 25th are holidays, then the weekend.
    t = Events(start=parse_rfc3339("2026-12-23T14:00:00Z"))
    view = view_of([t.created(0)], spec_policies, now=t.at(1))
    (clock,) = [c for c in view.clocks if c.target is SlaTarget.FIRST_REPLY]
    assert clock.deadline == parse_rfc3339("2026-12-28T10:00:00Z")


def test_split_shift_and_met_at_the_deadline(spec_policies: PolicySet) -> None:
    # Friday 12:00 Berlin: 12-13 and 14-17 make the 4 hours; deadline Friday 17:00 Berlin.
    t = Events(start=parse_rfc3339("2026-11-06T11:00:00Z"))
    view = view_of([t.created(0), t.reply(300)], spec_policies)
    assert sla(view, SlaTarget.FIRST_REPLY) == [("met", 300)]
    late = view_of([t.created(0), t.reply(301)], spec_policies)
    assert sla(late, SlaTarget.FIRST_REPLY) == [("breached", 300)]


def test_business_hours_across_dst_end(spec_policies: PolicySet) -> None:
    # Friday 2026-10-23 16:00 CEST (14:00Z): 1h on Friday; Berlin leaves summer time on
    # Sunday 25th; Monday 09:00 CET is 08:00Z, plus 3h = 11:00Z.
    t = Events(start=parse_rfc3339("2026-10-23T14:00:00Z"))
    view = view_of([t.created(0)], spec_policies, now=t.at(1))
    (clock,) = [c for c in view.clocks if c.target is SlaTarget.FIRST_REPLY]
    assert clock.deadline == parse_rfc3339("2026-10-26T11:00:00Z")


def test_closed_without_solve_counts_as_solved(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of([t.created(0), t.reply(5), t.status(40, "closed")], simple_policies)
    assert values(view, FactKind.RESOLUTION) == [40 * MIN]
    assert values(view, FactKind.FULL_RESOLUTION) == [40 * MIN]
    assert values(view, FactKind.TOUCHES_TO_CLOSE) == [1]
    assert view.status is Status.CLOSED and not view.in_backlog


def test_full_resolution_after_solve(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of(
        [t.created(0), t.reply(5), t.status(40, "solved"), t.status(3000, "closed")],
        simple_policies,
    )
    assert values(view, FactKind.RESOLUTION) == [40 * MIN]
    assert values(view, FactKind.FULL_RESOLUTION) == [3000 * MIN]
    assert values(view, FactKind.REOPEN) == []


def test_events_after_closed_are_rejected_but_surveys_accepted(
    simple_policies: PolicySet,
) -> None:
    t = Events()
    timeline = Timeline("T1")
    for event in [t.created(0), t.reply(5), t.status(40, "closed")]:
        assert timeline.add(event) is Arrival.ACCEPTED
    assert timeline.add(t.inbound(50)) is Arrival.REJECTED
    assert timeline.add(t.status(60, "open")) is Arrival.REJECTED
    assert timeline.add(t.csat(70, 5)) is Arrival.ACCEPTED
    view = evaluate("T1", timeline.events, simple_policies, FAR)
    assert values(view, FactKind.CSAT) == [5]
    assert values(view, FactKind.REOPEN) == []


def test_late_closed_withdraws_events_already_accepted_after_it(
    simple_policies: PolicySet,
) -> None:
    t = Events()
    inbound, csat = t.inbound(50), t.csat(55, 4)
    timeline = Timeline("T1")
    for event in (t.created(0), t.reply(5), inbound, csat):
        assert timeline.add(event) is Arrival.ACCEPTED
    assert timeline.add(t.status(40, "closed")) is Arrival.ACCEPTED
    assert timeline.withdrawn == [inbound]  # the survey stays
    assert inbound not in timeline.events and csat in timeline.events
    assert timeline.add(inbound) is Arrival.DUPLICATE  # a copy is not refused twice
    view = evaluate("T1", timeline.events, simple_policies, FAR)
    assert view.anomalies == 0
    assert sla(view, SlaTarget.NEXT_REPLY) == []


def test_duplicate_event_id_changes_nothing(simple_policies: PolicySet) -> None:
    t = Events()
    created, reply = t.created(0), t.reply(5)
    timeline = Timeline("T1")
    assert timeline.add(created) is Arrival.ACCEPTED
    assert timeline.add(reply) is Arrival.ACCEPTED
    assert timeline.add(reply) is Arrival.DUPLICATE
    assert len(timeline.events) == 2


def test_events_before_created_are_anomalies(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of([t.inbound(-5), t.reply(-3), t.created(0), t.reply(10)], simple_policies)
    assert view.anomalies == 2
    assert values(view, FactKind.FIRST_REPLY) == [10 * MIN]


def test_no_facts_until_created_is_known(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of([t.reply(5), t.status(10, "solved")], simple_policies)
    assert view.facts == () and view.status is None


def test_second_created_is_an_anomaly(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of([t.created(0), t.created(5, priority="urgent", team="x")], simple_policies)
    assert values(view, FactKind.CREATED) == [0]
    assert view.anomalies == 1 and view.team == "support"


def test_dimensions_follow_the_fact_time(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of(
        [
            t.created(0, team="billing", channel="chat"),
            t.assign(1, "bob"),
            t.reply(3, agent="carol"),
            t.assign(10, "dan", team="tech"),
            t.status(20, "solved"),
            t.csat(30, 4),
        ],
        simple_policies,
    )
    first = of_kind(view, FactKind.FIRST_REPLY)[0]
    assert (first.team, first.channel, first.agent) == ("billing", "chat", "carol")
    created = of_kind(view, FactKind.CREATED)[0]
    assert created.agent is None
    solved = of_kind(view, FactKind.RESOLUTION)[0]
    assert (solved.team, solved.channel, solved.agent) == ("tech", "chat", "dan")
    survey = of_kind(view, FactKind.CSAT)[0]
    assert (survey.team, survey.agent, survey.value) == ("tech", "dan", 4)


def test_team_change_reselects_policy(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of([t.created(0), t.assign(2, "ann", team="vip")], simple_policies, now=t.at(3))
    assert view.policy == "vip"
    (clock,) = view.clocks  # vip tracks only first_reply
    assert clock.target is SlaTarget.FIRST_REPLY and clock.deadline == t.at(5)


def test_ticket_no_policy_matches_has_no_clocks() -> None:
    from .conftest import policies_from

    policies = policies_from(
        "policies:\n  - name: only-vip\n    match: {team: vip}\n    targets: {first_reply: 5m}\n"
    )
    t = Events()
    view = view_of([t.created(0), t.reply(30)], policies)
    assert view.clocks == () and sla(view, SlaTarget.FIRST_REPLY) == []
    assert values(view, FactKind.FIRST_REPLY) == [30 * MIN]


def test_events_at_or_after_now_take_no_part(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of([t.created(0), t.reply(10)], simple_policies, now=t.at(10))
    assert values(view, FactKind.FIRST_REPLY) == []
    assert view.status is Status.NEW


def test_one_touch_and_seconds(simple_policies: PolicySet) -> None:
    t = Events()
    view = view_of([t.created(0), t.reply(0.5), t.status(1, "solved")], simple_policies)
    assert values(view, FactKind.FIRST_REPLY) == [30 * MICROS_PER_SECOND]
    assert values(view, FactKind.TOUCHES_TO_CLOSE) == [1]


def test_worked_example_of_the_docs(spec_policies: PolicySet) -> None:
    """The worked example in docs/kpis.md, step by step."""
    t = Events()
    hour = 60
    events = [
        t.created(0, team="billing"),
        t.assign(5, "ann"),
        t.reply(40, agent="ann"),
        t.reply(60, agent="bob", public=False),
        t.inbound(90),
        t.inbound(120),
        t.reply(210, agent="ann"),
        t.status(240, "pending"),
        t.status(24 * hour, "open"),
        t.status(25 * hour, "solved"),
        t.csat(26 * hour, 5),
    ]
    during = view_of(events[:6], spec_policies, now=t.at(150))
    (next_reply,) = [c for c in during.clocks if c.target is SlaTarget.NEXT_REPLY]
    assert next_reply.deadline == parse_rfc3339("2026-11-03T10:30:00Z")
    view = view_of(events, spec_policies, now=t.at(27 * hour))
    assert values(view, FactKind.FIRST_REPLY) == [2400 * MICROS_PER_SECOND]
    assert values(view, FactKind.REPLY) == [2400 * MICROS_PER_SECOND, 7200 * MICROS_PER_SECOND]
    assert values(view, FactKind.RESOLUTION) == [90000 * MICROS_PER_SECOND]
    assert values(view, FactKind.TOUCHES_TO_CLOSE) == [2]
    assert sla(view, SlaTarget.FIRST_REPLY) == [("met", 40)]
    assert sla(view, SlaTarget.NEXT_REPLY) == [("met", 210)]
    assert sla(view, SlaTarget.RESOLUTION) == [("met", 25 * hour)]
    assert values(view, FactKind.CSAT) == [5]
