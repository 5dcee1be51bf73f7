"""The batch planner against replay: same facts, however the stream is cut and restarted."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from streams.domain.facts import SlaTarget
from streams.domain.instant import parse_rfc3339
from streams.domain.policies import PolicySet, load_policies
from streams.domain.records import decode_record
from streams.domain.timeline import CLOSED_REASON
from streams.domain.windows import WINDOWS, MinuteDeltas, Windows
from streams.live.batch import Message, PartitionState, decode_batch, plan
from streams.live.placement import Placement, partition_of
from streams.live.window_sums import add_window_sums, assemble_snapshot, empty_window_sums
from streams.live.writes import PartitionWrites, bucket_field
from streams.replay import replay_lines

GOLDEN = Path(__file__).parent.parent / "golden"
AS_OF = parse_rfc3339("2026-11-03T12:00:00Z")


class Model:
    """What Redis would hold after applying writes: the semantics of PartitionWrites."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}
        self.buckets: Counter[tuple[int, str]] = Counter()
        self.backlog: Counter[str] = Counter()
        self.due: dict[Any, dict[str, int]] = defaultdict(dict)
        self.breached: dict[Any, dict[str, int]] = defaultdict(dict)
        self.offsets: dict[str, int] = {}

    def apply(self, writes: PartitionWrites) -> None:
        for ticket_id, blob in writes.tickets.items():
            if blob is None:
                self.records.pop(ticket_id, None)
            else:
                self.records[ticket_id] = blob
        self.buckets.update(
            {(m, f): v for m, fields in writes.buckets.items() for f, v in fields.items()}
        )
        for minute, change in writes.bucket_values.items():
            for name, value in change.values.items():
                self.buckets[(minute, name)] = value
            for name in change.removed:
                self.buckets[(minute, name)] = 0
            if change.empty:  # the bucket goes: it must hold nothing else
                held = {f for (m, f), v in self.buckets.items() if m == minute and v}
                assert not held, f"an emptied bucket {minute} still held {held}"
        self.backlog.update(writes.backlog)
        for target, changes in writes.due.items():
            for ticket_id, deadline in changes.items():
                if deadline is None:
                    self.due[target].pop(ticket_id, None)
                else:
                    self.due[target][ticket_id] = deadline
        for target, deadlines in writes.breached.items():
            for ticket_id, deadline in deadlines.items():
                if deadline is None:
                    self.breached[target].pop(ticket_id, None)
                else:
                    self.breached[target][ticket_id] = deadline
        self.offsets.update(writes.offsets)


def golden_messages(partitions: int = 1) -> list[Message]:
    topics = {
        "ticket": "support.tickets",
        "contact": "support.contacts",
        "survey": "support.surveys",
    }
    offsets: Counter[tuple[str, int]] = Counter()
    messages = []
    for line in (GOLDEN / "events.jsonl").read_bytes().splitlines():
        try:
            data = json.loads(line)
            kind = str(data.get("type", "ticket")).split(".")[0]
            ticket = str(data.get("ticket_id", ""))
        except ValueError:
            kind, ticket = "ticket", ""
        topic = topics.get(kind, "support.tickets")
        partition = sum(ticket.encode()) % partitions
        messages.append(Message(topic, partition, offsets[(topic, partition)], line))
        offsets[(topic, partition)] += 1
    return messages


def run(
    state: PartitionState,
    model: Model,
    messages: list[Message],
    policies: PolicySet,
    now: int,
) -> list[dict[str, Any]]:
    batch = decode_batch(messages, model.offsets)
    missing = state.missing_for(batch)
    state.load({t: model.records[t] for t in missing if t in model.records}, missing, policies)
    result = plan(state, batch, policies, now)
    model.apply(result.writes)
    state.windows.apply_deltas(result.window_deltas)
    if state.exact_from is not None:  # the cache holds these minutes as Redis does
        exact_from = state.exact_from
        assert cached_fields(state.windows, exact_from) == model_fields(model, exact_from)
    return result.deadletters


def cached_fields(windows: Windows, since: int) -> dict[tuple[int, str], int]:
    return {
        (minute, bucket_field(dim, value, counter)): n
        for minute, bucket in windows.buckets().items()
        if minute >= since
        for (dim, value), counters in bucket.items()
        for counter, n in counters.items()
    }


def model_fields(model: Model, since: int) -> dict[tuple[int, str], int]:
    return {(m, f): v for (m, f), v in model.buckets.items() if m >= since and v}


def adopt(model: Model, exact_from: int | None) -> PartitionState:
    """A new owner of the partition: with a horizon, it loads the buckets from there on."""
    state = PartitionState(0)
    if exact_from is None:
        return state
    state.windows.apply_deltas(deltas_of(model, exact_from))
    state.exact_from = exact_from
    return state


def replay_snapshot(policies: PolicySet) -> dict[str, Any]:
    with (GOLDEN / "events.jsonl").open("rb") as handle:
        return replay_lines(iter(handle), policies, AS_OF).snapshot


@pytest.fixture(scope="module")
def policies() -> PolicySet:
    return load_policies(GOLDEN / "policies.yaml")


def deltas_of(model: Model, since: int = 0) -> MinuteDeltas:
    deltas: MinuteDeltas = {}
    for (minute, field), value in model.buckets.items():
        dim, dim_value, counter = field.split("\x1f")
        if value and minute >= since:
            deltas.setdefault(minute, {}).setdefault((dim, dim_value), {})[counter] = value
    return deltas


def windows_from_buckets(model: Model) -> Windows:
    windows = Windows()
    windows.apply_deltas(deltas_of(model))
    return windows


# None: every bucket change as an increment (no cache of the buckets); a horizon: the
# buckets from there on cached and written as values, the older ones as increments
HORIZONS = (None, parse_rfc3339("2026-11-02T09:00:00Z"), parse_rfc3339("2026-11-03T10:00:00Z"))


@pytest.mark.parametrize("exact_from", HORIZONS)
@pytest.mark.parametrize("seed", range(5))
def test_batches_and_restarts_equal_replay(
    policies: PolicySet, seed: int, exact_from: int | None
) -> None:
    rng = random.Random(seed)
    messages = [m for m in golden_messages() if m.value.find(b'"2026-11-03T12:00:00Z"') < 0]
    model = Model()
    state = adopt(model, exact_from)
    deadletters: list[dict[str, Any]] = []
    position = 0
    while position < len(messages):
        size = rng.randint(1, 12)
        chunk = messages[position : position + size]
        if rng.random() < 0.3:  # a crash after the Redis write, before the Kafka commit
            deadletters += run(state, model, chunk, policies, AS_OF)
            state = adopt(model, exact_from)  # a new worker: only Redis survives
            deadletters += run(state, model, chunk, policies, AS_OF)  # redelivered
        elif rng.random() < 0.2:  # a crash before the Redis write: nothing happened
            state = adopt(model, exact_from)
            deadletters += run(state, model, chunk, policies, AS_OF)
        else:
            deadletters += run(state, model, chunk, policies, AS_OF)
        position += size

    expected = replay_snapshot(policies)
    windows = windows_from_buckets(model)
    sums = empty_window_sums()
    add_window_sums(sums, {name: windows.window(name, AS_OF) for name in WINDOWS})
    snapshot = assemble_snapshot(AS_OF, sums, [], []).to_json()
    for name in WINDOWS:
        assert snapshot["windows"][name] == expected["windows"][name]
    backlog = {k: v for k, v in model.backlog.items() if v}
    assert sum(backlog.values()) == expected["backlog"]["total"]
    # each ticket counted under its current status, priority and team (a priority or team
    # change of an open ticket moves it)
    for position, name in enumerate(("by_status", "by_priority", "by_team")):
        counts: Counter[str] = Counter()
        for key, count in backlog.items():
            counts[key.split("\x1f")[position]] += count
        assert dict(counts) == expected["backlog"][name], name
    breached = {t.value: len(m) for t, m in model.breached.items()}
    assert {k: v for k, v in breached.items() if v} == {
        k: v for k, v in expected["sla_now"]["breached_running"].items() if v
    }
    reasons = sorted(d["error"].split(":")[0] for d in deadletters)
    assert reasons == sorted(["(json)", "type", "score", "ticket_id", "occurred_at", "ticket_id"])
    assert (
        next(d for d in deadletters if d["error"] == CLOSED_REASON)["event"]["ticket_id"] == "G08"
    )


def test_redelivered_batch_changes_nothing(policies: PolicySet) -> None:
    messages = golden_messages()
    model, state = Model(), PartitionState(0)
    run(state, model, messages, policies, AS_OF)
    before = (dict(model.buckets), dict(model.backlog), dict(model.records))
    batch = decode_batch(messages, model.offsets)
    assert batch.skipped == len(messages) and not batch.events
    result = plan(state, batch, policies, AS_OF)
    assert not result.writes.buckets and not result.writes.bucket_values
    assert not result.writes.tickets
    assert (dict(model.buckets), dict(model.backlog), dict(model.records)) == before


def test_offsets_never_received_are_reported_as_gaps() -> None:
    """Per topic, the offsets missing between Redis's applied offset (or the batch's last)
    and each message: a consecutive stream, a redelivery or an out-of-order record has none."""
    value = b"{}"
    messages = [
        Message("support.tickets", 0, offset, value) for offset in (3, 4, 5, 9, 10, 7, 12)
    ] + [Message("support.contacts", 0, offset, value) for offset in (0, 1, 4)]
    batch = decode_batch(messages, {"support.tickets": 4})
    assert batch.skipped == 2
    assert batch.gaps == [
        ("support.tickets", 6, 3),
        ("support.tickets", 11, 1),
        ("support.contacts", 2, 2),
    ]
    assert batch.last_offsets == {"support.tickets": 12, "support.contacts": 4}
    assert len(batch.invalid) == 8  # 5, 9, 10, 7, 12 and three contacts: all still decoded
    assert decode_batch(messages[:3], {}).gaps == [("support.tickets", 0, 3)]
    assert decode_batch(messages[1:3], {"support.tickets": 3}).gaps == []


def test_wake_records_breach_without_event(policies: PolicySet) -> None:
    created = json.dumps(
        {
            "event_id": "w1",
            "type": "ticket.created",
            "occurred_at": "2026-11-03T11:00:00Z",
            "ticket_id": "W",
            "channel": "chat",
            "priority": "urgent",
            "team": "billing",
        }
    ).encode()
    model, state = Model(), PartitionState(0)
    now = parse_rfc3339("2026-11-03T11:01:00Z")
    batch = decode_batch([Message("support.tickets", 0, 0, created)], model.offsets)
    state.load({}, state.missing_for(batch), policies)
    first = plan(state, batch, policies, now)
    model.apply(first.writes)
    assert first.writes.wake["W"] == parse_rfc3339("2026-11-03T11:15:00Z")
    assert not model.breached

    later = parse_rfc3339("2026-11-03T11:15:01Z")
    woken = plan(state, decode_batch([], model.offsets), policies, later, wake=["W"])
    model.apply(woken.writes)
    assert [f.kind.value for f in woken.added_facts] == ["sla_breached"]
    assert {t.value for t, members in model.breached.items() if "W" in members} == {"first_reply"}
    # with the deadline it missed: GET /sla/at-risk lists the longest overdue first
    assert model.breached[SlaTarget.FIRST_REPLY]["W"] == parse_rfc3339("2026-11-03T11:15:00Z")
    again = plan(state, decode_batch([], model.offsets), policies, later, wake=["W"])
    assert again.added_facts == [] and not again.window_deltas


def test_a_breached_clock_keeps_its_breach_time_when_its_deadline_moves(
    policies: PolicySet,
) -> None:
    """The late index orders GET /sla/at-risk by how long a clock has been breached: a
    priority change afterwards moves the clock's deadline, not the moment it breached."""

    def event(n: int, at: str, **fields: str) -> Message:
        body = {"event_id": f"m{n}", "occurred_at": at, "ticket_id": "M", **fields}
        return Message("support.tickets", 0, n, json.dumps(body).encode())

    opened = {"channel": "chat", "priority": "urgent", "team": "billing"}
    created = event(0, "2026-11-03T11:00:00Z", type="ticket.created", **opened)
    model, state = Model(), PartitionState(0)
    batch = decode_batch([created], model.offsets)
    state.load({}, state.missing_for(batch), policies)
    model.apply(plan(state, batch, policies, parse_rfc3339("2026-11-03T11:01:00Z")).writes)
    woken = plan(
        state,
        decode_batch([], model.offsets),
        policies,
        parse_rfc3339("2026-11-03T11:16:00Z"),
        wake=["M"],
    )
    model.apply(woken.writes)
    breach = parse_rfc3339("2026-11-03T11:15:00Z")
    assert model.breached[SlaTarget.FIRST_REPLY] == {"M": breach}

    lowered = event(1, "2026-11-03T11:20:00Z", type="ticket.priority_changed", priority="high")
    moved = plan(
        state,
        decode_batch([lowered], model.offsets),
        policies,
        parse_rfc3339("2026-11-03T11:21:00Z"),
    )
    model.apply(moved.writes)
    clocks = state.tickets["M"].view.clocks
    (clock,) = [c for c in clocks if c.target is SlaTarget.FIRST_REPLY]
    assert clock.deadline != breach  # the standard policy's deadline
    assert model.breached[SlaTarget.FIRST_REPLY] == {"M": breach}


def step(state: PartitionState, model: Model, messages: list[Message], policies: PolicySet) -> Any:
    """One batch as the worker applies it: missing records loaded from (modelled) Redis."""
    batch = decode_batch(messages, model.offsets)
    missing = state.missing_for(batch)
    state.load({t: model.records[t] for t in missing if t in model.records}, missing, policies)
    result = plan(state, batch, policies, parse_rfc3339("2026-11-03T12:00:00Z"))
    model.apply(result.writes)
    return result


def ticket_message(offset: int, **event: Any) -> Message:
    topic = "support." + {"contact": "contacts", "survey": "surveys"}.get(
        event["type"].split(".")[0], "tickets"
    )
    fields = {"ticket_id": "N", "occurred_at": "2026-11-03T11:00:00Z", **event}
    return Message(topic, 0, offset, json.dumps(fields).encode())


@pytest.mark.parametrize("expired", [False, True])
def test_a_ticket_not_yet_created_expires_until_its_creation_arrives(
    policies: PolicySet, expired: bool
) -> None:
    model, state = Model(), PartitionState(0)
    reply = ticket_message(0, event_id="n2", type="contact.outbound", channel="chat", agent_id="a1")
    early = step(state, model, [reply], policies)
    assert "N" in early.writes.tickets and "N" in early.writes.closed  # no creation yet
    assert "N" not in state.tickets  # kept in Redis only, where it expires
    if expired:  # its creation came more than 8 days later: Redis dropped the record
        del model.records["N"]

    created = ticket_message(
        1, event_id="n1", type="ticket.created", channel="chat", priority="low", team="billing"
    )
    late = step(state, model, [created], policies)
    assert "N" in late.writes.tickets and "N" not in late.writes.closed  # open: persists
    kinds = [f.kind.value for f in late.added_facts]
    # expired, the worker that saw the reply forgets it as a new owner would
    assert kinds[0] == "created" and ("first_reply" in kinds) is not expired


@pytest.mark.parametrize("expired", [False, True])
def test_a_closed_ticket_counts_a_late_survey_until_its_record_expires(
    policies: PolicySet, expired: bool
) -> None:
    model, state = Model(), PartitionState(0)
    created = ticket_message(
        0, event_id="n1", type="ticket.created", channel="chat", priority="low", team="billing"
    )
    closed = ticket_message(1, event_id="n2", type="ticket.status_changed", status="closed")
    first = step(state, model, [created, closed], policies)
    assert "N" in first.writes.closed and "N" not in state.tickets
    # a contact after closed is refused: the record is read, not written, nor kept
    contact = ticket_message(
        0, event_id="n3", type="contact.inbound", channel="chat", occurred_at="2026-11-03T11:30:00Z"
    )
    assert [d["error"] for d in step(state, model, [contact], policies).deadletters] == [
        CLOSED_REASON
    ]
    assert "N" not in state.tickets
    if expired:
        del model.records["N"]
    survey = ticket_message(0, event_id="n4", type="survey.csat", score=4)
    late = step(state, model, [survey], policies)
    assert [f.value for f in late.added_facts if f.kind.value == "csat"] == ([] if expired else [4])


def test_a_closed_ticket_read_for_a_duplicate_only_does_not_stay_cached(
    policies: PolicySet,
) -> None:
    """A batch whose events of a ticket all change nothing writes no record for it; if that
    record expires, the ticket leaves the cache all the same, as Redis may drop it."""
    model, state = Model(), PartitionState(0)
    created = ticket_message(
        0, event_id="n1", type="ticket.created", channel="chat", priority="low", team="billing"
    )
    closed = ticket_message(1, event_id="n2", type="ticket.status_changed", status="closed")
    step(state, model, [created, closed], policies)
    state.retired.clear()  # read back from its record, as by a new owner
    duplicate = ticket_message(2, event_id="n2", type="ticket.status_changed", status="closed")
    again = step(state, model, [duplicate], policies)
    assert sum(n for (_, _, outcome), n in again.outcomes.items() if outcome == "duplicate") == 1
    assert "N" not in again.writes.tickets
    assert "N" not in state.tickets


@pytest.mark.parametrize("redis_holds", ["the record written", "another record", "nothing"])
def test_an_expiring_ticket_is_taken_back_only_while_redis_holds_its_record(
    policies: PolicySet, redis_holds: str
) -> None:
    """A ticket awaiting its creation leaves the cache after each batch; its next batch takes
    its state back instead of decoding the record, but only if Redis holds that very record,
    and plans exactly what a new owner of the partition (decoding the record) plans."""
    model, state = Model(), PartitionState(0)
    reply = ticket_message(0, event_id="n2", type="contact.outbound", channel="chat", agent_id="a1")
    step(state, model, [reply], policies)
    assert "N" not in state.tickets and state.retired["N"][0] == model.records["N"]
    timeline = state.retired["N"][1].timeline
    if redis_holds == "another record":  # a later batch's, applied by another worker
        inbound = ticket_message(1, event_id="n3", type="contact.inbound", channel="chat")
        step(PartitionState(0), model, [inbound], policies)
    elif redis_holds == "nothing":  # expired
        del model.records["N"]
    owner_model = Model()  # a new owner, reading what Redis holds now
    owner_model.records, owner_model.offsets = dict(model.records), dict(model.offsets)
    created = ticket_message(
        2, event_id="n1", type="ticket.created", channel="chat", priority="low", team="billing"
    )
    late = step(state, model, [created], policies)
    assert (state.tickets["N"].timeline is timeline) is (redis_holds == "the record written")
    assert "N" not in state.retired
    owner = PartitionState(0, offsets=dict(owner_model.offsets))
    expected = step(owner, owner_model, [created], policies)
    assert late.writes == expected.writes
    assert late.added_facts == expected.added_facts
    assert state.tickets["N"].view == owner.tickets["N"].view


def test_a_priority_change_in_a_later_batch_moves_the_ticket_in_the_backlog(
    policies: PolicySet,
) -> None:
    """The planner recomputes a ticket's backlog key only when status, priority or team
    change: a priority change alone, status unchanged, must still move the count."""
    lines = [
        b'{"event_id": "p-1", "type": "ticket.created", "occurred_at": "2026-11-03T10:00:00Z",'
        b' "ticket_id": "P1", "channel": "phone", "priority": "normal", "team": "tech"}',
        b'{"event_id": "p-2", "type": "ticket.priority_changed",'
        b' "occurred_at": "2026-11-03T10:20:00Z", "ticket_id": "P1", "priority": "urgent"}',
    ]
    state, model = PartitionState(0), Model()
    for offset, line in enumerate(lines):  # one batch each: the second sees the first's view
        run(state, model, [Message("support.tickets", 0, offset, line)], policies, AS_OF)
    assert {k: v for k, v in model.backlog.items() if v} == {"new\x1furgent\x1ftech": 1}


def test_events_keyed_or_placed_elsewhere_than_their_ticket_are_dead_lettered(
    policies: PolicySet,
) -> None:
    """With the live worker's placement check, a valid event whose key is not its ticket_id
    (another key, none) or whose partition is not its ticket's is dead-lettered and counted
    ``misplaced``, by its own topic; a well placed one is applied."""
    partitions = 4
    home = partition_of(b"T1", partitions)

    def reply(event_id: str) -> bytes:
        event = {
            "event_id": event_id,
            "type": "contact.outbound",
            "occurred_at": "2026-11-03T11:00:00Z",
            "ticket_id": "T1",
            "agent_id": "a1",
            "channel": "chat",
        }
        return json.dumps(event).encode()

    other = (home + 1) % partitions
    messages = [
        Message("support.contacts", home, 0, reply("r1"), b"T1"),
        Message("support.contacts", home, 1, reply("r2"), b"acct-1"),
        Message("support.contacts", home, 2, reply("r3"), None),
        Message("support.contacts", other, 0, reply("r4"), b"T1"),
    ]
    placement = Placement(partitions)
    decoded = [decode_batch([m], {}, placement) for m in messages]
    assert [len(d.events) for d in decoded] == [1, 0, 0, 0]
    assert all(len(d.misplaced) == 1 and not d.invalid for d in decoded[1:])

    state = PartitionState(home)
    batch = decode_batch(messages[:3], {}, placement)
    state.load({}, state.missing_for(batch), policies)
    result = plan(state, batch, policies, parse_rfc3339("2026-11-03T12:00:00Z"))
    assert [d["event"]["event_id"] for d in result.deadletters] == ["r2", "r3"]
    assert [d["error"] for d in result.deadletters] == [
        "(key): message key 'acct-1' is not the event's ticket_id 'T1'",
        "(key): the message has no key; it must be the event's ticket_id",
    ]
    assert {d["source_topic"] for d in result.deadletters} == {"support.contacts"}
    assert result.outcomes == Counter(
        {
            ("support.contacts", "contact.outbound", "accepted"): 1,
            ("support.contacts", "contact.outbound", "misplaced"): 2,
        }
    )
    assert batch.last_offsets == {"support.contacts": 2}  # applied all the same
    # T1 was never created, so its record is written (to expire) and not cached
    timeline, _ = decode_record("T1", result.writes.tickets["T1"])
    assert [e.event_id for e in timeline.events] == ["r1"]
    wrong = decoded[3].misplaced[0][2]
    assert wrong == (
        f"(partition): on partition {other}, but Kafka's default partitioner puts "
        f"ticket_id 'T1' on partition {home} of 4"
    )
    # the partition the producers' default partitioner picks (aiokafka's, as Java's)
    keys = [f"T{n}".encode() for n in range(50)]
    assert [partition_of(k, 6) for k in keys] == [
        DefaultPartitioner()(k, list(range(6)), list(range(6))) for k in keys
    ]
