"""Dead letters after ``closed`` do not depend on the order events arrive in.

A ticket's events come from three topics, interleaved however the consumer fetches them, in
batches of any size, with copies, and with the worker's cache rebuilt from Redis between
batches. Whatever the order, the refused events are the ticket and contact events sorting
after the ticket's first effective close (one after its earliest ``ticket.created``), each
dead-lettered once, with its own topic.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.events import TOPIC_OF, Event, EventType, Status
from streams.domain.timeline import CLOSED_REASON
from streams.live.batch import Message, PartitionState, decode_batch, plan
from streams.live.metrics import Metrics
from streams.live.partition_replay import replay_log
from streams.topic_names import DEFAULT_TOPICS

from .conftest import SIMPLE_POLICIES, Events, policies_from
from .test_batch import Model
from .test_ticket_properties import NOW, ticket_events

POLICIES = policies_from(SIMPLE_POLICIES)
SURVEYS = {EventType.SURVEY_CSAT, EventType.SURVEY_NPS}


@st.composite
def closing_tickets(draw: st.DrawFn) -> list[Event]:
    """Two tickets' events, each with closes (and maybe an earlier ``ticket.created``
    that makes a close effective), and copies of some events."""
    events: list[Event] = []
    for ticket_id in ("T1", "T2"):
        own = draw(ticket_events(ticket_id))
        t = Events(ticket_id=ticket_id)
        t._ids = itertools.count(100)  # after the ids ticket_events gave
        for _ in range(draw(st.integers(1, 2))):
            own.append(t.status(draw(st.integers(-10, 3000)), "closed"))
        if draw(st.booleans()):
            own.append(t.created(draw(st.integers(-20, 10))))
        events += own
    copies = draw(st.lists(st.sampled_from(events), max_size=4))
    return events + copies


def refused_by_the_rule(events: list[Event]) -> Counter[tuple[str, str, str]]:
    """(event_id, error, topic) of each event the contract refuses, once per event."""
    refused: Counter[tuple[str, str, str]] = Counter()
    unique = {e.event_id: e for e in events}.values()
    for ticket_id in {e.ticket_id for e in unique}:
        own = [e for e in unique if e.ticket_id == ticket_id]
        created = [e.sort_key for e in own if e.type is EventType.TICKET_CREATED]
        closes = [
            e.sort_key
            for e in own
            if e.status is Status.CLOSED and created and e.sort_key > min(created)
        ]
        if not closes:
            continue
        for event in own:
            if event.type not in SURVEYS and event.sort_key > min(closes):
                topic = DEFAULT_TOPICS.name_of(TOPIC_OF[event.type])
                refused[(event.event_id, CLOSED_REASON, topic)] += 1
    return refused


def live_deadletters(
    events: list[Event], cuts: list[int], reload: list[bool]
) -> list[dict[str, Any]]:
    """Dead letters of the planner fed ``events`` in this order, cut into batches at
    ``cuts``; before a batch marked in ``reload`` its cache is rebuilt from the records."""
    offsets: Counter[str] = Counter()
    messages = []
    for event in events:
        topic = DEFAULT_TOPICS.name_of(TOPIC_OF[event.type])
        value = json.dumps(event.to_json()).encode()
        messages.append(Message(topic, 0, offsets[topic], value, event.ticket_id.encode()))
        offsets[topic] += 1
    model, state = Model(), PartitionState(0)
    deadletters: list[dict[str, Any]] = []
    bounds = sorted({0, len(messages), *(c % (len(messages) + 1) for c in cuts)})
    for number, (start, end) in enumerate(itertools.pairwise(bounds)):
        if reload[number % len(reload)]:
            state = PartitionState(0, offsets=dict(model.offsets))
        batch = decode_batch(messages[start:end], model.offsets)
        missing = state.missing_for(batch)
        state.load({t: model.records[t] for t in missing if t in model.records}, missing, POLICIES)
        result = plan(state, batch, POLICIES, NOW)
        model.apply(result.writes)
        deadletters += result.deadletters
        metrics = Metrics()  # every outcome the planner counts is a known one
        for (topic, type_, outcome), count in result.outcomes.items():
            metrics.count_events(topic, type_, outcome, count)
    return deadletters


def summary(deadletters: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    return Counter((d["event"]["event_id"], d["error"], d["source_topic"]) for d in deadletters)


@settings(max_examples=300, deadline=None)
@given(
    events=closing_tickets(),
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(0, 60), max_size=6),
    reload=st.lists(st.booleans(), min_size=1, max_size=4),
)
def test_any_arrival_order_dead_letters_the_same_events(
    events: list[Event], order: Any, cuts: list[int], reload: list[bool]
) -> None:
    expected = refused_by_the_rule(events)
    in_time_order = sorted(events, key=lambda e: e.sort_key)
    assert summary(live_deadletters(in_time_order, [], [False])) == expected
    shuffled = list(events)
    order.shuffle(shuffled)
    deadletters = live_deadletters(shuffled, cuts, reload)
    assert summary(deadletters) == expected
    assert {d["partition"] for d in deadletters} <= {0}


@settings(max_examples=200, deadline=None)
@given(events=closing_tickets(), order=st.randoms(use_true_random=False))
def test_replay_refuses_the_same_events_in_any_line_order(events: list[Event], order: Any) -> None:
    shuffled = list(events)
    order.shuffle(shuffled)
    lines = [json.dumps(e.to_json()).encode() for e in shuffled]
    result = replay_log(lines, POLICIES, NOW)
    assert result.counts["rejected"] == sum(refused_by_the_rule(events).values())
    unique = len({e.event_id for e in events})
    assert result.counts["accepted"] + result.counts["rejected"] == unique
