"""Dead letters on the real Redis: counted under their own topic, the same in any order."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from streams.domain.instant import parse_rfc3339
from streams.live.batch import Message
from streams.topic_names import DEFAULT_TOPICS
from tests.integration.workers import in_process_worker

NOW = parse_rfc3339("2026-11-03T12:00:00Z")
TICKETS, CONTACTS = DEFAULT_TOPICS.tickets, DEFAULT_TOPICS.contacts


@pytest.fixture
async def client(redis_url: str) -> Any:
    connection = aioredis.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


def event(event_id: str, type_: str, minute: int, **fields: Any) -> bytes:
    at = f"2026-11-03T10:{minute:02d}:00Z"
    data = {"event_id": event_id, "type": type_, "occurred_at": at, "ticket_id": "D1", **fields}
    return json.dumps(data).encode()


CREATED = event("d1", "ticket.created", 0, channel="chat", priority="low", team="billing")
CLOSED = event("d2", "ticket.status_changed", 10, status="closed")
LATE_REPLY = event("d3", "contact.outbound", 20, agent_id="a1", channel="chat")


@pytest.mark.parametrize(
    "batches",
    [
        # the reply read after the close, in one batch with it
        [[(TICKETS, CREATED), (TICKETS, CLOSED), (CONTACTS, LATE_REPLY)]],
        # the reply read before the close, in an earlier batch: withdrawn when it comes
        [[(TICKETS, CREATED), (CONTACTS, LATE_REPLY)], [(TICKETS, CLOSED)]],
    ],
    ids=["after", "before"],
)
async def test_a_reply_after_the_close_is_dead_lettered_under_its_own_topic(
    client: aioredis.Redis, batches: list[list[tuple[str, bytes]]]
) -> None:
    worker = in_process_worker(client, f"d{uuid.uuid4().hex[:8]}", NOW)
    sent: list[dict[str, Any]] = []

    class Keep:
        async def send(self, records: Any) -> None:
            sent.extend(records)

    worker.deadletters = Keep()
    offsets = {TICKETS: 0, CONTACTS: 0}
    for batch in batches:
        messages = []
        for topic, value in batch:
            messages.append(Message(topic, 0, offsets[topic], value, b"D1"))
            offsets[topic] += 1
        await worker.handle(messages)

    assert [(d["event"]["event_id"], d["source_topic"]) for d in sent] == [("d3", CONTACTS)]
    registry = worker.metrics.registry
    assert registry.get_sample_value("ticketpulse_deadletter_total", {"topic": CONTACTS}) == 1
    assert registry.get_sample_value("ticketpulse_deadletter_total", {"topic": TICKETS}) is None
    assert registry.get_sample_value("ticketpulse_deadletter_total", {"topic": ""}) is None
    ticket = await worker.store.load_tickets(0, ["D1"])
    assert json.loads(ticket["D1"])["r"] == ["d3"]
