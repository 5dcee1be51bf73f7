"""Emitting: builders make events the decoder accepts, bad inputs name their field, routing,
the Kafka message form, producer guarantees, and the simulator sink's pacing on a fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from streams.domain.decode import decode_event
from streams.domain.events import Channel, Event, EventType, Priority, Status, Topic
from streams.domain.instant import from_datetime, parse_rfc3339
from streams.emit import (
    Emitter,
    SyncEmitter,
    TopicNames,
    bootstrap_from_env,
    contact_inbound,
    contact_outbound,
    csat,
    new_event_id,
    nps,
    outgoing,
    priority_changed,
    producer_config,
    status_changed,
    ticket_assigned,
    ticket_created,
    topic_for,
)
from streams.live.settings import WorkerSettings
from streams.simulator.kafka_sink import EmitClock, KafkaSink, TokenBucket
from streams.simulator.simulation import Emitted

AT = "2026-11-02T09:15:00Z"
CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def decoded(event: dict[str, Any]) -> Event:
    result = decode_event(event)
    assert isinstance(result, Event), result
    return result


# -- builders ------------------------------------------------------------------------------


def test_ticket_created_places_every_field() -> None:
    event = ticket_created(
        "T-1",
        "chat",
        Priority.URGENT,
        "billing",
        account_id="acc-7",
        requester_id="req-9",
        occurred_at=AT,
        event_id="e-1",
    )
    assert event == {
        "event_id": "e-1",
        "type": "ticket.created",
        "occurred_at": AT,
        "ticket_id": "T-1",
        "channel": "chat",
        "priority": "urgent",
        "team": "billing",
        "account_id": "acc-7",
        "requester_id": "req-9",
    }
    got = decoded(event)
    assert (got.type, got.channel, got.priority, got.team) == (
        EventType.TICKET_CREATED,
        Channel.CHAT,
        Priority.URGENT,
        "billing",
    )
    assert (got.account_id, got.requester_id, got.occurred_at) == (
        "acc-7",
        "req-9",
        parse_rfc3339(AT),
    )


def test_optional_fields_left_out_are_absent_not_null() -> None:
    event = ticket_created("T-1", "email", "normal", "tech", occurred_at=AT)
    assert set(event) == {"event_id", "type", "occurred_at", "ticket_id", "channel"} | {
        "priority",
        "team",
    }
    assert "team" not in ticket_assigned("T-1", "ag-1", occurred_at=AT)


BUILT: list[tuple[Callable[[], dict[str, Any]], dict[str, Any]]] = [
    (
        lambda: ticket_assigned("T-2", "ag-3", team="returns", occurred_at=AT),
        {"type": EventType.TICKET_ASSIGNED, "agent_id": "ag-3", "team": "returns"},
    ),
    (
        lambda: priority_changed("T-2", "high", occurred_at=AT),
        {"type": EventType.TICKET_PRIORITY_CHANGED, "priority": Priority.HIGH},
    ),
    (
        lambda: status_changed("T-2", Status.ON_HOLD, occurred_at=AT),
        {"type": EventType.TICKET_STATUS_CHANGED, "status": Status.ON_HOLD},
    ),
    (
        lambda: contact_inbound("T-2", "phone", occurred_at=AT),
        {"type": EventType.CONTACT_INBOUND, "channel": Channel.PHONE, "public": True},
    ),
    (
        lambda: contact_outbound("T-2", "ag-3", "phone", duration_seconds=312.5, occurred_at=AT),
        {
            "type": EventType.CONTACT_OUTBOUND,
            "agent_id": "ag-3",
            "channel": Channel.PHONE,
            "public": True,
            "duration_seconds": 312.5,
            "is_touch": True,
        },
    ),
    (
        lambda: contact_outbound("T-2", "ag-3", "email", public=False, occurred_at=AT),
        {"type": EventType.CONTACT_OUTBOUND, "public": False, "is_touch": False},
    ),
    (lambda: csat("T-2", 4, occurred_at=AT), {"type": EventType.SURVEY_CSAT, "score": 4}),
    (
        lambda: nps("T-2", 0, account_id="acc-1", occurred_at=AT),
        {"type": EventType.SURVEY_NPS, "score": 0, "account_id": "acc-1"},
    ),
]


@pytest.mark.parametrize(("build", "expected"), BUILT)
def test_each_builder_makes_a_valid_event_with_its_fields(
    build: Callable[[], dict[str, Any]], expected: dict[str, Any]
) -> None:
    event = build()
    got = decoded(event)
    assert got.ticket_id == "T-2"
    assert got.occurred_at == parse_rfc3339(AT)
    for name, value in expected.items():
        assert getattr(got, name) == value, name
    assert got.extra == {}, "a builder must not add fields the type does not carry"
    assert json.loads(json.dumps(event)) == event, "plain JSON types only"


def test_enum_arguments_become_plain_strings() -> None:
    event = ticket_created("T-1", Channel.WEB, Priority.LOW, "tech", occurred_at=AT)
    assert type(event["channel"]) is str and type(event["priority"]) is str
    assert json.dumps(event).count('"web"') == 1


def test_occurred_at_defaults_to_now_in_utc() -> None:
    before = from_datetime(datetime.now(UTC))
    event = csat("T-1", 5)
    after = from_datetime(datetime.now(UTC))
    assert event["occurred_at"].endswith("Z")
    assert before <= parse_rfc3339(event["occurred_at"]) <= after


def test_occurred_at_as_an_aware_datetime_is_written_in_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    event = csat("T-1", 5, occurred_at=datetime(2026, 11, 2, 10, 15, tzinfo=berlin))
    assert event["occurred_at"] == AT


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^occurred_at: "):
        csat("T-1", 5, occurred_at=datetime(2026, 11, 2, 10, 15))


def test_extra_fields_are_kept_and_cannot_shadow_event_fields() -> None:
    event = ticket_created("T-1", "email", "normal", "tech", extra={"subject": "Refund"})
    assert decoded(event).extra == {"subject": "Refund"}
    with pytest.raises(ValueError, match=r"^type: "):
        csat("T-1", 5, extra={"type": "survey.nps"})
    with pytest.raises(ValueError, match=r"^team: "):
        ticket_assigned("T-1", "ag-1", extra={"team": "tech"})


INVALID: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("ticket_id", lambda: csat("", 5)),
    ("ticket_id", lambda: csat("   ", 5)),
    ("event_id", lambda: csat("T-1", 5, event_id="")),
    ("occurred_at", lambda: csat("T-1", 5, occurred_at="2026-11-02 09:15")),
    ("occurred_at", lambda: csat("T-1", 5, occurred_at="1970-01-01T00:00:00Z")),
    ("channel", lambda: ticket_created("T-1", "fax", "normal", "tech")),
    ("priority", lambda: ticket_created("T-1", "email", "URGENT", "tech")),
    ("team", lambda: ticket_created("T-1", "email", "normal", "")),
    ("account_id", lambda: ticket_created("T-1", "email", "normal", "tech", account_id="")),
    ("agent_id", lambda: ticket_assigned("T-1", "")),
    ("priority", lambda: priority_changed("T-1", "critical")),
    ("status", lambda: status_changed("T-1", "archived")),
    ("channel", lambda: contact_inbound("T-1", "E-Mail")),
    ("duration_seconds", lambda: contact_outbound("T-1", "ag", "phone", duration_seconds=-1)),
    ("score", lambda: csat("T-1", 0)),
    ("score", lambda: csat("T-1", 6)),
    ("score", lambda: csat("T-1", True)),
    ("score", lambda: csat("T-1", 4.5)),  # type: ignore[arg-type]
    ("score", lambda: nps("T-1", 11)),
    ("score", lambda: nps("T-1", -1)),
]


@pytest.mark.parametrize(("field", "build"), INVALID)
def test_invalid_input_raises_value_error_naming_the_field(
    field: str, build: Callable[[], dict[str, Any]]
) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: \S") as caught:
        build()
    assert "\n" not in str(caught.value)


def test_the_error_is_the_decoders_error() -> None:
    raw = {"event_id": "e", "type": "survey.csat", "occurred_at": AT, "ticket_id": "T", "score": 9}
    invalid = decode_event(raw)
    with pytest.raises(ValueError) as caught:
        csat("T", 9, occurred_at=AT, event_id="e")
    assert str(caught.value) == getattr(invalid, "error", None)


# -- event ids -----------------------------------------------------------------------------


def test_event_ids_are_ulids_unique_and_sorted_in_creation_order() -> None:
    ids = [new_event_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(len(i) == 26 and set(i) <= CROCKFORD for i in ids)


def test_builders_give_fresh_ids_unless_told() -> None:
    first, second = csat("T-1", 5), csat("T-1", 5)
    assert first["event_id"] != second["event_id"]
    assert csat("T-1", 5, event_id="crm-42")["event_id"] == "crm-42"


# -- routing and the message form ----------------------------------------------------------

ROUTES = [
    (lambda: ticket_created("T", "email", "normal", "x"), "support.tickets"),
    (lambda: ticket_assigned("T", "a"), "support.tickets"),
    (lambda: priority_changed("T", "low"), "support.tickets"),
    (lambda: status_changed("T", "solved"), "support.tickets"),
    (lambda: contact_inbound("T", "chat"), "support.contacts"),
    (lambda: contact_outbound("T", "a", "chat"), "support.contacts"),
    (lambda: csat("T", 3), "support.surveys"),
    (lambda: nps("T", 9), "support.surveys"),
]


@pytest.mark.parametrize(("build", "topic"), ROUTES)
def test_topic_for_routes_by_type(build: Callable[[], dict[str, Any]], topic: str) -> None:
    event = build()
    assert topic_for(event, TopicNames()) == topic
    custom = TopicNames(tickets="t", contacts="c", surveys="s", deadletter="d")
    short = {"support.tickets": "t", "support.contacts": "c", "support.surveys": "s"}
    assert topic_for(event, custom) == short[topic]


@pytest.mark.parametrize("kind", [None, 7, "ticket.merged", "Ticket.Created"])
def test_topic_for_refuses_an_unknown_type(kind: object) -> None:
    with pytest.raises(ValueError, match=r"^type: "):
        topic_for({"type": kind}, TopicNames())


def test_topic_names_default_to_the_spec_and_follow_the_worker_environment() -> None:
    assert TopicNames() == TopicNames.from_env({})
    assert TopicNames().deadletter == "support.deadletter"
    names = TopicNames.from_env(
        {"TICKETPULSE_TOPIC_CONTACTS": "prod.contacts", "TICKETPULSE_TOPIC_DEADLETTER": "dlq"}
    )
    assert names == TopicNames(contacts="prod.contacts", deadletter="dlq")
    assert names.name_of(Topic.CONTACTS) == "prod.contacts"
    assert names.inputs == ("support.tickets", "prod.contacts", "support.surveys")
    assert bootstrap_from_env({}) == "127.0.0.1:19092"
    assert bootstrap_from_env({"TICKETPULSE_KAFKA_BOOTSTRAP": "k:9092"}) == "k:9092"


def test_one_prefix_moves_every_topic_and_a_topic_variable_still_wins() -> None:
    """The emitters and the worker read ``TICKETPULSE_TOPIC_PREFIX`` alike."""
    env = {"TICKETPULSE_TOPIC_PREFIX": "eu.", "TICKETPULSE_TOPIC_SURVEYS": "shared.surveys"}
    names = TopicNames.from_env(env)
    assert names == TopicNames(
        tickets="eu.tickets",
        contacts="eu.contacts",
        surveys="shared.surveys",
        deadletter="eu.deadletter",
        account_support="eu.account_support",
    )
    settings = WorkerSettings.from_env(env)
    assert settings.topics == names
    # the worker also consumes the accounts topic, which the prefix does not move, and its
    # internal account support topic
    assert settings.input_topics == (
        "eu.tickets",
        "eu.contacts",
        "shared.surveys",
        "crm.accounts",
        "eu.account_support",
    )
    assert WorkerSettings.from_env({}).topics == TopicNames() == TopicNames.from_env({})
    crm = {"TICKETPULSE_TOPIC_ACCOUNTS": "eu.crm"}
    assert WorkerSettings.from_env(crm).topics == TopicNames.from_env(crm)
    assert WorkerSettings.from_env(crm).input_topics[-2] == "eu.crm"


def test_outgoing_is_keyed_by_ticket_with_compact_utf8_json() -> None:
    event = contact_inbound("Tö-1", "email", occurred_at=AT, extra={"note": "Grüße"})
    message = outgoing(event, TopicNames(contacts="c"))
    assert message.topic == "c"
    assert message.key == "Tö-1".encode()
    assert json.loads(message.value) == event
    assert b" " not in message.value and "Grüße".encode() in message.value


def test_outgoing_validates_hand_made_events() -> None:
    event = csat("T", 5)
    event["score"] = 7
    with pytest.raises(ValueError, match=r"^score: "):
        outgoing(event)


def test_producer_guarantees_cannot_be_weakened() -> None:
    config = producer_config("k:9092", {"linger_ms": 5})
    assert (config["acks"], config["enable_idempotence"], config["linger_ms"]) == ("all", True, 5)
    with pytest.raises(ValueError, match="acks"):
        producer_config("k:9092", {"acks": 1})
    with pytest.raises(ValueError, match="enable_idempotence"):
        Emitter("k:9092", enable_idempotence=False)


async def test_emitter_validates_before_it_needs_kafka_and_refuses_to_send_unstarted() -> None:
    emitter = Emitter("127.0.0.1:1")
    with pytest.raises(ValueError, match=r"^ticket_id: "):
        await emitter.send({"event_id": "e", "type": "survey.csat", "occurred_at": AT})
    with pytest.raises(RuntimeError, match="not started"):
        await emitter.send(csat("T", 5))


def test_sync_emitter_refuses_to_send_unstarted() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        SyncEmitter("127.0.0.1:1").send(csat("T", 5))


# -- pacing (a fake clock: sleeping advances it) -------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def emitted_at(seconds: float) -> Emitted:
    return Emitted(csat("T", 5, occurred_at=AT), Topic.SURVEYS, "T", round(seconds * 1e6))


async def test_token_bucket_holds_the_rate_after_its_burst() -> None:
    fake = FakeTime()
    bucket = TokenBucket(rate=10, burst=3, clock=fake.clock, sleep=fake.sleep)
    start = fake.now
    for _ in range(23):
        await bucket.wait(emitted_at(0))
    assert len(fake.sleeps) == 20  # the first 3 are the burst
    assert fake.sleeps == pytest.approx([0.1] * 20)
    assert fake.now - start == pytest.approx(2.0)


async def test_token_bucket_refills_while_idle_but_never_beyond_the_burst() -> None:
    fake = FakeTime()
    bucket = TokenBucket(rate=5, burst=2, clock=fake.clock, sleep=fake.sleep)
    for _ in range(2):
        await bucket.wait(emitted_at(0))
    fake.now += 60  # a long pause earns 300 tokens, the bucket keeps 2
    for _ in range(3):
        await bucket.wait(emitted_at(0))
    assert fake.sleeps == pytest.approx([0.2])


def test_pacers_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(5, burst=0.5)
    with pytest.raises(ValueError, match="speed"):
        EmitClock(speed=0)


async def test_emit_clock_sends_each_event_at_its_emit_time_scaled_by_speed() -> None:
    fake = FakeTime()
    pacer = EmitClock(speed=2, clock=fake.clock, sleep=fake.sleep)
    start = fake.now
    sent_at = []
    for at in (100.0, 101.0, 101.0, 104.0):
        await pacer.wait(emitted_at(at))
        sent_at.append(fake.now - start)
    assert sent_at == pytest.approx([0.0, 0.5, 0.5, 2.0])


async def test_emit_clock_catches_up_instead_of_drifting() -> None:
    fake = FakeTime()
    pacer = EmitClock(clock=fake.clock, sleep=fake.sleep)
    start = fake.now
    await pacer.wait(emitted_at(0))
    fake.now += 5  # the producer stalled for 5 s
    await pacer.wait(emitted_at(2))  # overdue: no sleep
    await pacer.wait(emitted_at(6))  # back on the original schedule
    assert fake.sleeps == pytest.approx([1.0])
    assert fake.now - start == pytest.approx(6.0)


def test_kafka_sink_checks_its_settings_without_connecting() -> None:
    with pytest.raises(ValueError, match="flush_every"):
        KafkaSink("127.0.0.1:1", flush_every=0)
    with pytest.raises(ValueError, match="acks"):
        KafkaSink("127.0.0.1:1", acks=1)
    sink = KafkaSink(topics=TopicNames(surveys="s"))
    assert sink.topics.name_of(Topic.SURVEYS) == "s"
