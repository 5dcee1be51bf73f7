"""The live worker bounds what one ticket holds: a 5,000-event loop is cut at the limit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiokafka import AIOKafkaConsumer

from streams.domain.instant import MICROS_PER_MINUTE, ceil_minute, format_rfc3339
from streams.domain.timeline import EVENT_LIMIT
from tests.support.workers import now_micros

from .test_worker import converge
from .workers import Run, produce, shifted_golden

LOOP = 5000
LIMIT_REASON = f"ticket_id: ticket has reached the limit of {EVENT_LIMIT} contact.* events"


def auto_reply_loop(start: int) -> list[tuple[str, bytes, bytes]]:
    """Ticket L1 created at ``start``, 5,000 contacts from a loop, then solved and rated."""

    def event(topic: str, n: int, at: int, **fields: Any) -> tuple[str, bytes, bytes]:
        body = {"event_id": f"L1-{n}", "occurred_at": format_rfc3339(at), "ticket_id": "L1"}
        return topic, b"L1", json.dumps(body | fields).encode()

    second = 1_000_000
    out = [
        event(
            "tickets", 0, start, type="ticket.created", channel="email", priority="low", team="ops"
        )
    ]
    for n in range(1, LOOP + 1):
        at = start + n * second // 2
        if n % 2:
            out.append(event("contacts", n, at, type="contact.inbound", channel="email"))
        else:
            out.append(
                event("contacts", n, at, type="contact.outbound", channel="email", agent_id="bot")
            )
    end = start + LOOP * second // 2
    out.append(
        event("tickets", LOOP + 1, end + second, type="ticket.status_changed", status="solved")
    )
    out.append(event("surveys", LOOP + 2, end + 2 * second, type="survey.csat", score=2))
    return out


async def read_deadletters(run: Run, wanted: int) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        run.topics["deadletter"],
        bootstrap_servers=run.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        for _ in range(120):
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                found += [json.loads(m.value) for m in messages]
            if sum(d["error"] == LIMIT_REASON for d in found) >= wanted:
                break
    finally:
        await consumer.stop()
    return found


def test_a_ticket_in_a_loop_is_cut_at_the_limit_and_equals_replay(run: Run) -> None:
    worker = run.start_worker()
    as_of = ceil_minute(now_micros())
    records = shifted_golden(as_of) + auto_reply_loop(as_of - 50 * MICROS_PER_MINUTE)
    asyncio.run(produce(run, records))
    live, expected = converge(worker, records, timeout=120)
    assert live == expected, worker.tail()

    over = LOOP - EVENT_LIMIT
    letters = [d for d in asyncio.run(read_deadletters(run, over)) if d["error"] == LIMIT_REASON]
    assert len(letters) == over
    assert {d["event"]["ticket_id"] for d in letters} == {"L1"}
    assert {d["source_topic"] for d in letters} == {run.topics["contacts"]}
    # the events kept are the first 1,000 contacts as sent: the dead letters are the rest
    assert sorted(int(d["event"]["event_id"][3:]) for d in letters) == list(
        range(EVENT_LIMIT + 1, LOOP + 1)
    )
    status, ticket = worker.get("/tickets/L1")
    assert status == 200 and ticket["events"] == EVENT_LIMIT + 3  # its record, from Redis
    assert ticket["status"] == "solved"  # the loop did not crowd out the ticket's events
    assert [f["value"] for f in ticket["facts"] if f["kind"] == "csat"] == [2]
