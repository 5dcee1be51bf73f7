"""Emitting events from services: valid by construction, routed to their topic and key.

The builders return the wire form of spec section 1 (a plain dict) only after the decoder
the worker runs has accepted it, so a service learns about a bad field where it builds the
event instead of finding it later in the dead-letter topic. ``Emitter`` produces events to
Kafka with the guarantees the worker relies on: the key is the ``ticket_id`` (every event of
a ticket on one partition number; an account event's key is its ``account_id``, on the
accounts topic), ``acks="all"`` and an idempotent producer (a broker
retry never writes a message twice). ``SyncEmitter`` offers the same to code without an
event loop.

aiokafka is imported only when a producer starts, so that ``TopicNames`` and the builders
cost nothing to import (the worker and the simulator use them too).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Coroutine, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from types import TracebackType
from typing import Any, TypeVar

from streams.domain.account_decode import decode_any
from streams.domain.account_events import (
    ACCOUNT_TYPES,
    AccountEventType,
    LeadSource,
    MrrReason,
    TouchChannel,
)
from streams.domain.decode import InvalidEvent
from streams.domain.events import TOPIC_OF, Channel, EventType, Priority, Status
from streams.domain.instant import format_rfc3339, from_datetime
from streams.errors import TransientError
from streams.kafka_auth import KafkaAuth

# TopicNames is part of this module's API: services import it from here
from streams.topic_names import DEFAULT_TOPICS as DEFAULT_TOPICS
from streams.topic_names import TopicNames as TopicNames

T = TypeVar("T")

When = datetime | str | None
"""``occurred_at``: an aware datetime, RFC 3339 text, or None for now."""

# The producer settings the worker's exactly-once-in-effect design relies on.
_GUARANTEES = {"acks": "all", "enable_idempotence": True}


DEFAULT_BOOTSTRAP = "127.0.0.1:19092"  # the local stack's Kafka


def bootstrap_from_env(env: Mapping[str, str] | None = None) -> str:
    """``TICKETPULSE_KAFKA_BOOTSTRAP`` as the worker reads it, else the local stack's Kafka."""
    env = os.environ if env is None else env
    return env.get("TICKETPULSE_KAFKA_BOOTSTRAP") or DEFAULT_BOOTSTRAP


def auth_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The worker's ``TICKETPULSE_KAFKA_SECURITY_PROTOCOL`` / ``_SASL_*`` variables as aiokafka
    options (empty for PLAINTEXT), so a service configured like the worker connects like it.
    Options given explicitly to a producer win over these."""
    return KafkaAuth.from_env(env).aiokafka_options()


_EVENT_TYPES = frozenset(member.value for member in EventType)


def topic_for(event: Mapping[str, Any], topics: TopicNames = DEFAULT_TOPICS) -> str:
    """The topic an event belongs on, from its ``type``; ValueError for an unknown type."""
    kind = event.get("type")
    if isinstance(kind, str) and kind in ACCOUNT_TYPES:
        return topics.accounts
    if not isinstance(kind, str) or kind not in _EVENT_TYPES:
        raise ValueError(f"type: unknown event type {kind!r}")
    return topics.name_of(TOPIC_OF[EventType(kind)])


def key_for(event: Mapping[str, Any]) -> bytes:
    """The message key: the ``account_id`` of an account event, else the ``ticket_id``."""
    name = "account_id" if event.get("type") in ACCOUNT_TYPES else "ticket_id"
    return str(event[name]).encode()


# -- event ids ---------------------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_id_lock = threading.Lock()
_last_id = (0, 0)  # (milliseconds, random part) of the id made last


def new_event_id() -> str:
    """A ULID: 26 characters, unique, and sorting in creation order within a process.

    The spec breaks ties between events of equal time and kind by ``event_id``, so ids
    that sort like their creation keep such events in the order a service made them.
    """
    global _last_id
    millis = time.time_ns() // 1_000_000
    with _id_lock:
        last_millis, last_random = _last_id
        if millis <= last_millis:  # same millisecond, or the clock stepped back
            millis, random_part = last_millis, last_random + 1
        else:
            random_part = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big")
        _last_id = (millis, random_part)
    value = (millis << _RANDOM_BITS) | (random_part & ((1 << _RANDOM_BITS) - 1))
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


# -- builders ----------------------------------------------------------------------------


def _stamp(occurred_at: When) -> str:
    if occurred_at is None:
        return format_rfc3339(from_datetime(datetime.now(UTC)))
    if isinstance(occurred_at, datetime):
        try:
            return format_rfc3339(from_datetime(occurred_at))
        except ValueError as error:
            raise ValueError(f"occurred_at: {error}") from None
    return occurred_at


def _wire(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _event(
    event_type: EventType | AccountEventType,
    ticket_id: str,
    fields: Mapping[str, Any],
    *,
    occurred_at: When,
    event_id: str | None,
    extra: Mapping[str, Any] | None,
    subject: str = "ticket_id",
) -> dict[str, Any]:
    """The event's wire form; ``subject`` names the id it is about (``account_id`` for CRM)."""
    event: dict[str, Any] = {
        "event_id": new_event_id() if event_id is None else event_id,
        "type": event_type.value,
        "occurred_at": _stamp(occurred_at),
        subject: ticket_id,
    }
    event.update((name, _wire(value)) for name, value in fields.items() if value is not None)
    for name, value in (extra or {}).items():
        if name in event or name in fields:
            raise ValueError(f"{name}: is a field of {event_type.value}, not an extra field")
        event[name] = value
    validate(event)
    return event


def validate(event: Mapping[str, Any]) -> None:
    """Raise ValueError with the decoder's ``field: reason`` unless the event is valid."""
    decoded = decode_any(event)
    if isinstance(decoded, InvalidEvent):
        raise ValueError(decoded.error)


def ticket_created(
    ticket_id: str,
    channel: Channel | str,
    priority: Priority | str,
    team: str,
    *,
    account_id: str | None = None,
    requester_id: str | None = None,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    fields = {
        "channel": channel,
        "priority": priority,
        "team": team,
        "account_id": account_id,
        "requester_id": requester_id,
    }
    return _event(
        EventType.TICKET_CREATED,
        ticket_id,
        fields,
        occurred_at=occurred_at,
        event_id=event_id,
        extra=extra,
    )


def ticket_assigned(
    ticket_id: str,
    agent_id: str,
    *,
    team: str | None = None,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An assignment; give ``team`` only when the ticket moves to another team."""
    return _event(
        EventType.TICKET_ASSIGNED,
        ticket_id,
        {"agent_id": agent_id, "team": team},
        occurred_at=occurred_at,
        event_id=event_id,
        extra=extra,
    )


def priority_changed(
    ticket_id: str,
    priority: Priority | str,
    *,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return _event(
        EventType.TICKET_PRIORITY_CHANGED,
        ticket_id,
        {"priority": priority},
        occurred_at=occurred_at,
        event_id=event_id,
        extra=extra,
    )


def status_changed(
    ticket_id: str,
    status: Status | str,
    *,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return _event(
        EventType.TICKET_STATUS_CHANGED,
        ticket_id,
        {"status": status},
        occurred_at=occurred_at,
        event_id=event_id,
        extra=extra,
    )


def contact_inbound(
    ticket_id: str,
    channel: Channel | str,
    *,
    public: bool = True,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A customer's message, chat or call."""
    return _event(
        EventType.CONTACT_INBOUND,
        ticket_id,
        {"channel": channel, "public": public},
        occurred_at=occurred_at,
        event_id=event_id,
        extra=extra,
    )


def contact_outbound(
    ticket_id: str,
    agent_id: str,
    channel: Channel | str,
    *,
    public: bool = True,
    duration_seconds: float | None = None,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An agent's reply (a touch), or with ``public=False`` an internal note (no touch)."""
    fields = {
        "agent_id": agent_id,
        "channel": channel,
        "public": public,
        "duration_seconds": duration_seconds,
    }
    return _event(
        EventType.CONTACT_OUTBOUND,
        ticket_id,
        fields,
        occurred_at=occurred_at,
        event_id=event_id,
        extra=extra,
    )


def csat(
    ticket_id: str,
    score: int,
    *,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A CSAT answer, 1 to 5."""
    return _event(
        EventType.SURVEY_CSAT,
        ticket_id,
        {"score": score},
        occurred_at=occurred_at,
        event_id=event_id,
        extra=extra,
    )


def nps(
    ticket_id: str,
    score: int,
    *,
    account_id: str | None = None,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An NPS answer, 0 to 10."""
    return _event(
        EventType.SURVEY_NPS,
        ticket_id,
        {"score": score, "account_id": account_id},
        occurred_at=occurred_at,
        event_id=event_id,
        extra=extra,
    )


# -- account events (topic crm.accounts, key account_id) ----------------------------------


def _account_event(
    event_type: AccountEventType,
    account_id: str,
    fields: Mapping[str, Any],
    occurred_at: When,
    event_id: str | None,
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return _event(
        event_type,
        account_id,
        fields,
        occurred_at=occurred_at,
        event_id=event_id,
        extra=extra,
        subject="account_id",
    )


def lead_created(
    account_id: str,
    source: LeadSource | str,
    *,
    segment: str | None = None,
    manager: str | None = None,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A new lead: the account starts (docs/accounts.md)."""
    fields = {"source": source, "segment": segment, "manager": manager}
    return _account_event(
        AccountEventType.LEAD_CREATED, account_id, fields, occurred_at, event_id, extra
    )


def account_assigned(
    account_id: str,
    manager: str,
    *,
    segment: str | None = None,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A manager takes the account; give ``segment`` only when it changes."""
    fields = {"manager": manager, "segment": segment}
    return _account_event(
        AccountEventType.ASSIGNED, account_id, fields, occurred_at, event_id, extra
    )


def account_touched(
    account_id: str,
    channel: TouchChannel | str,
    *,
    manager: str | None = None,
    duration_seconds: float | None = None,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A manager's touch (email, call, meeting...); ``manager`` defaults to the account's."""
    fields = {"channel": channel, "manager": manager, "duration_seconds": duration_seconds}
    return _account_event(
        AccountEventType.TOUCHED, account_id, fields, occurred_at, event_id, extra
    )


def account_converted(
    account_id: str,
    mrr: float,
    *,
    segment: str | None = None,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The account becomes a customer (or comes back) with this monthly recurring revenue."""
    fields = {"mrr": mrr, "segment": segment}
    return _account_event(
        AccountEventType.CONVERTED, account_id, fields, occurred_at, event_id, extra
    )


def mrr_changed(
    account_id: str,
    mrr: float,
    reason: MrrReason | str,
    *,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A customer's new MRR and why (upsell, cross_sell, downgrade, price_change)."""
    fields = {"mrr": mrr, "reason": reason}
    return _account_event(
        AccountEventType.MRR_CHANGED, account_id, fields, occurred_at, event_id, extra
    )


def account_churned(
    account_id: str,
    *,
    voluntary: bool = True,
    reason: str | None = None,
    occurred_at: When = None,
    event_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A customer leaves (or a lead is lost); ``voluntary=False`` for e.g. a failed payment."""
    fields = {"voluntary": voluntary, "reason": reason}
    return _account_event(
        AccountEventType.CHURNED, account_id, fields, occurred_at, event_id, extra
    )


# -- producing ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One Kafka message: an event's topic, key and value."""

    topic: str
    key: bytes
    value: bytes


def encode_json(value: Any) -> bytes:
    """Compact JSON in UTF-8, the value format of every ticketpulse topic."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def outgoing(event: Mapping[str, Any], topics: TopicNames = DEFAULT_TOPICS) -> Outgoing:
    """Validate and route an event; ValueError with ``field: reason`` if it is invalid."""
    validate(event)
    return Outgoing(topic_for(event, topics), key_for(event), encode_json(event))


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where Kafka stored an event."""

    event_id: str
    topic: str
    partition: int
    offset: int


def producer_config(bootstrap_servers: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """aiokafka producer settings with the guarantees forced on; weakening them is an error."""
    clash = sorted(name for name in _GUARANTEES if name in options)
    if clash:
        raise ValueError(f"{', '.join(clash)}: fixed by ticketpulse (acks=all, idempotence)")
    return {"bootstrap_servers": bootstrap_servers, **options, **_GUARANTEES}


async def start_producer(config: Mapping[str, Any]) -> Any:
    """A started AIOKafkaProducer; TransientError if Kafka cannot be reached."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    producer = AIOKafkaProducer(**config)
    try:
        await producer.start()
    except (KafkaError, OSError) as error:
        await producer.stop()
        where = config["bootstrap_servers"]
        raise TransientError(f"kafka: cannot connect to {where}: {error}") from error
    return producer


async def delivered(futures: Iterable[asyncio.Future[Any]]) -> list[Any]:
    """Await delivery reports; a Kafka failure becomes a TransientError."""
    from aiokafka.errors import KafkaError

    try:
        return await asyncio.gather(*futures)
    except KafkaError as error:
        raise TransientError(f"kafka: delivery failed: {error}") from error


class Emitter:
    """Produces events to Kafka; ``send`` returns once every in-sync replica has the event.

    Without arguments the address, topic names and authentication come from the worker's
    environment variables (``bootstrap_from_env``, ``TopicNames.from_env``,
    ``auth_from_env``). Retrying after a TransientError is safe: the worker ignores an
    ``event_id`` it has seen. Extra keyword arguments go to ``aiokafka.AIOKafkaProducer``
    (TLS, SASL, ``linger_ms``...) and win over the environment.
    """

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        *,
        topics: TopicNames | None = None,
        client_id: str = "ticketpulse-emit",
        **producer_options: Any,
    ) -> None:
        self.topics = TopicNames.from_env() if topics is None else topics
        self._config = producer_config(
            bootstrap_servers or bootstrap_from_env(),
            {**auth_from_env(), "client_id": client_id, **producer_options},
        )
        self._producer: Any = None

    async def start(self) -> None:
        if self._producer is None:
            self._producer = await start_producer(self._config)

    async def stop(self) -> None:
        """Deliver what is pending, then close the connections."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def __aenter__(self) -> Emitter:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def send(self, event: Mapping[str, Any]) -> Delivery:
        """Validate, route and produce one event; return where it was stored."""
        return (await self.send_many([event]))[0]

    async def send_many(self, events: Iterable[Mapping[str, Any]]) -> list[Delivery]:
        """Produce a batch: all are validated before any is sent, then all are awaited.

        Sending every message before awaiting any lets the producer fill whole batches, so a
        batch costs about one round trip instead of one per event.
        """
        batch = list(events)
        messages = [outgoing(event, self.topics) for event in batch]
        producer = self._require_started()
        from aiokafka.errors import KafkaError

        try:
            futures = [
                await producer.send(message.topic, value=message.value, key=message.key)
                for message in messages
            ]
        except KafkaError as error:
            raise TransientError(f"kafka: could not queue the events: {error}") from error
        reports = await delivered(futures)
        return [
            Delivery(str(event["event_id"]), report.topic, report.partition, report.offset)
            for event, report in zip(batch, reports, strict=True)
        ]

    def _require_started(self) -> Any:
        if self._producer is None:
            raise RuntimeError("Emitter is not started: use `async with` or `await start()`")
        return self._producer


class SyncEmitter:
    """``Emitter`` for code without an event loop (threads, WSGI apps, scripts).

    It runs one event loop in a daemon thread for its whole life, so the producer and its
    connections are made once and shared; ``asyncio.run`` per call would reconnect to
    Kafka on every send and cannot run inside a thread that already has a loop. Safe to
    call from many threads at once. Each call waits at most ``timeout`` seconds.
    """

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        *,
        topics: TopicNames | None = None,
        timeout: float = 60.0,
        **producer_options: Any,
    ) -> None:
        self.timeout = timeout
        self._emitter = Emitter(bootstrap_servers, topics=topics, **producer_options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="ticketpulse-emit", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._call(self._emitter.start())
        except BaseException:
            self._shut_loop()
            raise

    def stop(self) -> None:
        if self._loop is None:
            return
        try:
            self._call(self._emitter.stop())
        finally:
            self._shut_loop()

    def __enter__(self) -> SyncEmitter:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def send(self, event: Mapping[str, Any]) -> Delivery:
        return self._call(self._emitter.send(event))

    def send_many(self, events: Iterable[Mapping[str, Any]]) -> list[Delivery]:
        return self._call(self._emitter.send_many(list(events)))

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("SyncEmitter is not started: use `with` or call start()")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(self.timeout)
        except TimeoutError:
            future.cancel()
            raise TransientError(f"kafka: no answer within {self.timeout} s") from None

    def _shut_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
