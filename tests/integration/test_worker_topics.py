"""Topics and keys on the real Kafka: the worker's partition count is the topics' count, and
an event keyed or placed elsewhere than its ticket's partition is dead-lettered."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.domain.instant import MICROS_PER_SECOND, ceil_minute, format_rfc3339
from streams.live.api import partition_of
from streams.stack.ports import free_ports
from tests.support.workers import iter_until, now_micros

from .workers import Run, partition_counts, produce, read_topic, shifted_golden


def golden_tickets(records: list[tuple[str, bytes, bytes]]) -> set[str]:
    return {key.decode() for topic, key, _ in records if topic == "tickets" and key}


def test_topics_are_created_with_the_configured_count_and_tickets_found_there(run: Run) -> None:
    run.partitions = 6  # the broker's default is 4 (``kafka_partitions``)
    worker = run.start_worker()
    assert asyncio.run(partition_counts(run)) == {topic: 6 for topic in run.topics.values()}

    records = shifted_golden(ceil_minute(now_micros()))
    asyncio.run(produce(run, records))
    tickets = golden_tickets(records)
    found: dict[str, Any] = {}
    for _ in iter_until(40):
        for ticket in tickets - set(found):
            status, body = worker.get(f"/tickets/{ticket}")
            if status == 200:
                found[ticket] = body
        if set(found) == tickets:
            break
    assert set(found) == tickets, worker.tail()
    assert {t: b["partition"] for t, b in found.items()} == {t: partition_of(t, 6) for t in tickets}
    assert len({b["partition"] for b in found.values()}) > 4  # partitions 4 and 5 are used


def test_a_worker_configured_for_another_count_than_the_topics_refuses_to_start(
    run: Run,
) -> None:
    async def create(partitions: int) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=run.bootstrap)
        await admin.start()
        try:
            await admin.create_topics(
                [
                    NewTopic(t, num_partitions=partitions, replication_factor=1)
                    for t in run.topics.values()
                ]
            )
        finally:
            await admin.close()

    asyncio.run(create(4))
    run.partitions = 6
    done = subprocess.run(
        [sys.executable, "-m", "streams", "worker", "--web-port", str(free_ports(1)[0])],
        env=run.env(),
        cwd=run.log_dir,
        capture_output=True,
        text=True,
        timeout=30,  # it stops at once; the old worker ran on (TimeoutExpired)
        check=False,
    )
    assert done.returncode != 0, done.stderr[-2000:]
    message = done.stderr.strip().splitlines()[-1]
    assert "configured 6 partitions" in message
    assert f"{run.topics['tickets']} has 4" in message
    assert asyncio.run(partition_counts(run)) == {topic: 4 for topic in run.topics.values()}


def test_events_keyed_or_placed_elsewhere_are_dead_lettered_and_counted(run: Run) -> None:
    worker = run.start_worker()
    at = now_micros() - 600 * MICROS_PER_SECOND
    tickets = [f"K{n}" for n in range(8)]
    created = [
        (
            "tickets",
            t.encode(),
            json.dumps(
                {
                    "event_id": f"{t}-c",
                    "type": "ticket.created",
                    "occurred_at": format_rfc3339(at),
                    "ticket_id": t,
                    "channel": "chat",
                    "priority": "low",
                    "team": "billing",
                }
            ).encode(),
        )
        for t in tickets
    ]
    asyncio.run(produce(run, created))

    def reply(ticket: str) -> bytes:
        event = {
            "event_id": f"{ticket}-r",
            "type": "contact.outbound",
            "occurred_at": format_rfc3339(at + 60 * MICROS_PER_SECOND),
            "ticket_id": ticket,
            "agent_id": "a1",
            "channel": "chat",
        }
        return json.dumps(event).encode()

    async def send_misplaced() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=run.bootstrap, acks="all")
        await producer.start()
        try:
            topic = run.topics["contacts"]
            await producer.send_and_wait(topic, reply("K0"), key=b"K0")  # placed right
            await producer.send_and_wait(topic, reply("K1"), key=b"acct-1")
            await producer.send_and_wait(topic, reply("K2"), key=None)
            wrong = (partition_of("K3", run.partitions) + 1) % run.partitions
            await producer.send_and_wait(topic, reply("K3"), key=b"K3", partition=wrong)
        finally:
            await producer.stop()

    asyncio.run(send_misplaced())
    found = asyncio.run(read_topic(run, "deadletter", 3))
    assert sorted((d["event"]["ticket_id"], d["error"][:11]) for d in found) == [
        ("K1", "(key): mess"),
        ("K2", "(key): the "),
        ("K3", "(partition)"),
    ]
    assert {d["source_topic"] for d in found} == {run.topics["contacts"]}
    contacts = run.topics["contacts"]
    counted = {
        f'ticketpulse_deadletter_total{{topic="{contacts}"}}': 3.0,
        f'ticketpulse_events_total{{outcome="misplaced",topic="{contacts}",'
        'type="contact.outbound"}': 3.0,
    }
    metrics: dict[str, float] = {}
    for _ in iter_until(10):  # counted once Redis holds the batch, after its dead letters
        metrics = worker.metrics()
        if all(metrics.get(name) == value for name, value in counted.items()):
            break
    assert {name: metrics.get(name) for name in counted} == counted
    # only K0's reply reached its ticket; the others keep no stray copy of their ticket
    replies = {t: worker.get(f"/tickets/{t}")[1]["events"] for t in tickets[:4]}
    assert replies == {"K0": 2, "K1": 1, "K2": 1, "K3": 1}


def test_the_log_of_a_worker_not_on_a_terminal_is_plain_and_quiet_at_start(run: Run) -> None:
    worker = run.start_worker()
    asyncio.run(produce(run, shifted_golden(ceil_minute(now_micros()))[:5]))
    for _ in iter_until(20):  # applied and published
        if worker.get("/kpis")[0] == 200:
            break
    worker.process.terminate()
    worker.process.wait(30)
    text = worker.log.read_text(errors="replace")
    assert "\x1b[" not in text  # Faust's spinner: ANSI codes, meant for a terminal
    assert [line for line in text.splitlines() if " ERROR " in line] == []
