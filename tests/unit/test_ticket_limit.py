"""The per-ticket limit of accepted events: bounded records, same events kept live and in replay."""

from __future__ import annotations

import json
import random

from streams.domain.events import Event
from streams.domain.facts import FactKind
from streams.domain.policies import PolicySet
from streams.domain.records import decode_record, encode_record
from streams.domain.ticket import evaluate
from streams.domain.timeline import EVENT_LIMIT, Arrival, Timeline, refusal
from streams.live.batch import Message, PartitionState, decode_batch, plan
from streams.live.partition_replay import replay_log

from .conftest import Events

LIMIT_REASON = f"ticket_id: ticket has reached the limit of {EVENT_LIMIT} contact.* events"


def auto_reply_loop(t: Events, pairs: int, start: float = 1) -> list[Event]:
    """An auto-responder and a bot answering each other every few seconds."""
    events = []
    for i in range(pairs):
        events += [t.inbound(start + i / 10), t.reply(start + i / 10 + 0.05)]
    return events


def test_a_ticket_keeps_at_most_the_limit_of_each_topic(simple_policies: PolicySet) -> None:
    t = Events()
    timeline = Timeline("T1")
    assert timeline.add(t.created(0)) is Arrival.ACCEPTED
    loop = auto_reply_loop(t, EVENT_LIMIT)  # twice the limit of contact events
    arrivals = [timeline.add(e) for e in loop]
    assert arrivals.count(Arrival.ACCEPTED) == EVENT_LIMIT
    assert arrivals[EVENT_LIMIT:] == [Arrival.OVER_LIMIT] * EVENT_LIMIT
    assert refusal(Arrival.OVER_LIMIT, loop[-1]) == LIMIT_REASON
    # the loop does not crowd out the ticket's own events nor its surveys
    for event in (t.status(2000, "solved"), t.status(3000, "closed"), t.csat(3100, 4)):
        assert timeline.add(event) is Arrival.ACCEPTED
    assert len(timeline.events) == EVENT_LIMIT + 4
    view = evaluate("T1", timeline.events, simple_policies, t.at(4000))
    assert [f.value for f in view.facts if f.kind is FactKind.CSAT] == [4]
    assert [f.kind for f in view.facts if f.kind is FactKind.FULL_RESOLUTION]


def test_duplicates_and_events_after_closed_do_not_count_towards_the_limit() -> None:
    t = Events()
    timeline = Timeline("T1")
    replies = [t.reply(i) for i in range(1, EVENT_LIMIT)]
    for event in [t.created(0), *replies, t.status(EVENT_LIMIT, "closed")]:
        assert timeline.add(event) is Arrival.ACCEPTED
    assert timeline.add(replies[0]) is Arrival.DUPLICATE
    assert timeline.add(t.reply(EVENT_LIMIT + 1)) is Arrival.REJECTED  # after closed
    assert timeline.add(t.reply(EVENT_LIMIT - 0.5)) is Arrival.ACCEPTED  # the 1000th contact
    assert timeline.add(t.reply(EVENT_LIMIT - 0.4)) is Arrival.OVER_LIMIT


def test_the_kept_events_do_not_depend_on_how_the_topics_interleave() -> None:
    """A ticket's events of one topic arrive in the order they were sent; the topics do not."""
    t = Events()
    contacts = auto_reply_loop(t, EVENT_LIMIT // 2 + 50)
    rng = random.Random(3)
    tickets = [t.created(0), *(t.assign(rng.uniform(0, 200), f"a{i}") for i in range(30))]
    surveys = [t.csat(rng.uniform(0, 200), 5) for _ in range(3)]
    kept = None
    for seed in range(5):
        rng = random.Random(seed)
        queues = [list(contacts), list(tickets), list(surveys)]
        timeline = Timeline("T1")
        while any(queues):
            queue = rng.choice([q for q in queues if q])
            timeline.add(queue.pop(0))
        ids = [e.event_id for e in timeline.events]
        assert len(ids) == EVENT_LIMIT + len(tickets) + len(surveys)
        assert kept is None or ids == kept
        kept = ids


def test_a_stored_record_reads_back_whole_and_still_at_the_limit() -> None:
    t = Events()
    timeline = Timeline("T1")
    for event in [t.created(0), *auto_reply_loop(t, EVENT_LIMIT // 2)]:
        timeline.add(event)
    restored, _ = decode_record("T1", encode_record(timeline, 0))
    assert restored.events == timeline.events
    assert restored.add(t.inbound(5000)) is Arrival.OVER_LIMIT
    assert restored.add(t.assign(5000, "a2")) is Arrival.ACCEPTED


def test_replay_dead_letters_events_over_the_limit(simple_policies: PolicySet) -> None:
    t = Events()
    events = [t.created(0), *auto_reply_loop(t, EVENT_LIMIT), t.status(3000, "closed")]
    lines = [json.dumps(e.to_json()).encode() for e in events]
    result = replay_log(lines, simple_policies, t.at(4000))
    assert result.counts["accepted"] == EVENT_LIMIT + 2
    assert result.counts["over_limit"] == EVENT_LIMIT
    assert {reason for _, reason in result.errors} == {LIMIT_REASON}
    assert [line for line, _ in result.errors] == list(range(EVENT_LIMIT + 2, 2 * EVENT_LIMIT + 2))
    assert result.snapshot["backlog"]["total"] == 0  # its closed still counts


def test_the_planner_dead_letters_events_over_the_limit_and_leaves_the_record(
    simple_policies: PolicySet,
) -> None:
    t = Events()
    events = [t.created(0), *auto_reply_loop(t, EVENT_LIMIT // 2)]
    extra = [t.inbound(3000), t.reply(3001)]
    topics = {"ticket": "support.tickets", "contact": "support.contacts"}
    messages = [
        Message(topics[e.type.value.split(".")[0]], 0, offset, json.dumps(e.to_json()).encode())
        for offset, e in enumerate([*events, *extra])
    ]
    now = t.at(4000)
    state = PartitionState(0)
    first = decode_batch(messages[: len(events)], {})
    state.load({}, state.missing_for(first), simple_policies)
    full = plan(state, first, simple_policies, now)
    assert not full.deadletters and "T1" in full.writes.tickets

    over = plan(
        state, decode_batch(messages[len(events) :], full.writes.offsets), simple_policies, now
    )
    assert [(d["error"], d["offset"]) for d in over.deadletters] == [
        (LIMIT_REASON, len(events)),
        (LIMIT_REASON, len(events) + 1),
    ]
    assert over.deadletters[0]["event"]["event_id"] == extra[0].event_id
    assert over.outcomes[("support.contacts", "contact.inbound", "over_limit")] == 1
    assert not over.writes.tickets  # nothing accepted: the record is not written again
    assert len(state.tickets["T1"].timeline.events) == EVENT_LIMIT + 1


def test_the_planner_counts_events_of_tickets_not_yet_created(
    simple_policies: PolicySet,
) -> None:
    t = Events()
    reply, created, inbound = t.reply(5), t.created(0), t.inbound(6)
    messages = [
        Message("support.contacts", 0, 0, json.dumps(reply.to_json()).encode()),
        Message("support.tickets", 0, 0, json.dumps(created.to_json()).encode()),
        Message("support.contacts", 0, 1, json.dumps(inbound.to_json()).encode()),
    ]
    state = PartitionState(0)
    batch = decode_batch(messages, {})
    state.load({}, state.missing_for(batch), simple_policies)
    result = plan(state, batch, simple_policies, t.at(10))
    assert result.awaiting_creation == 1  # the reply; the inbound came after its creation


def test_a_loop_after_closed_keeps_a_bounded_memory_of_its_refusals() -> None:
    """Refused ids are remembered (a copy is a duplicate) only up to the limit, so a closed
    ticket in an auto-reply loop keeps a bounded record."""
    t = Events()
    timeline = Timeline("T1")
    for event in (t.created(0), t.status(1, "closed")):
        assert timeline.add(event) is Arrival.ACCEPTED
    after = [t.reply(2 + i / 10) for i in range(3 * EVENT_LIMIT)]
    assert {timeline.add(e) for e in after} == {Arrival.REJECTED}
    assert EVENT_LIMIT <= len(timeline.refused_ids) <= EVENT_LIMIT + 1
    assert timeline.add(after[0]) is Arrival.DUPLICATE  # an early refusal is remembered
    assert timeline.add(after[-1]) is Arrival.REJECTED  # a late one is refused again
    stored, _ = decode_record("T1", encode_record(timeline, t.at(10_000)))
    assert len(stored.refused_ids) <= EVENT_LIMIT + 1
