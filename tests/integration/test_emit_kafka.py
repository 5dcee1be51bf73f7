"""Emitting to the real Kafka: topics, keys, values and partitions as consumed back, batches,
threads, the simulator's sink, and the examples of docs/emitting.md run as written."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import socket
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import murmur2

from streams.domain.instant import parse_rfc3339
from streams.emit import (
    Emitter,
    SyncEmitter,
    TopicNames,
    contact_inbound,
    contact_outbound,
    csat,
    nps,
    outgoing,
    priority_changed,
    status_changed,
    ticket_assigned,
    ticket_created,
    topic_for,
)
from streams.errors import TransientError
from streams.simulator.kafka_sink import KafkaSink
from streams.simulator.simulate import pump
from streams.simulator.simulation import Intent, SimulationConfig, generate, take

PARTITIONS = 3
DOC = Path(__file__).parents[2] / "docs" / "emitting.md"


def fresh_topics() -> TopicNames:
    tag = uuid.uuid4().hex[:8]
    return TopicNames(
        tickets=f"t-{tag}.tickets",
        contacts=f"t-{tag}.contacts",
        surveys=f"t-{tag}.surveys",
        deadletter=f"t-{tag}.deadletter",
    )


async def create(bootstrap: str, topics: TopicNames) -> TopicNames:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, PARTITIONS, replication_factor=1) for name in topics.inputs]
        )
    finally:
        await admin.close()
    return topics


async def consume(
    bootstrap: str, topics: TopicNames, names: tuple[str, ...] = ()
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every message of the input topics (or ``names``): read up to their end offsets, so
    none is missed."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in names or topics.inputs for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        records: list[ConsumerRecord[bytes, bytes]] = []
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batch = await asyncio.wait_for(consumer.getmany(*remaining, timeout_ms=1000), 30)
            for tp, messages in batch.items():
                records.extend(messages)
                if messages[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


def partition_of(ticket_id: str) -> int:
    return int(murmur2(ticket_id.encode()) & 0x7FFFFFFF) % PARTITIONS


def lifecycle(ticket_id: str, minute: int = 0) -> list[dict[str, Any]]:
    def at(offset: int) -> str:
        return f"2026-11-02T09:{minute + offset:02d}:00Z"

    return [
        ticket_created(ticket_id, "email", "normal", "billing", occurred_at=at(0)),
        ticket_assigned(ticket_id, "ag-1", occurred_at=at(1)),
        priority_changed(ticket_id, "high", occurred_at=at(2)),
        contact_inbound(ticket_id, "email", occurred_at=at(3)),
        contact_outbound(ticket_id, "ag-1", "email", occurred_at=at(4)),
        status_changed(ticket_id, "solved", occurred_at=at(5)),
        csat(ticket_id, 5, occurred_at=at(6)),
        nps(ticket_id, 9, occurred_at=at(7)),
    ]


async def test_send_routes_each_type_to_its_topic_keyed_by_ticket(kafka_bootstrap: str) -> None:
    topics = await create(kafka_bootstrap, fresh_topics())
    events = lifecycle("T-route")
    async with Emitter(kafka_bootstrap, topics=topics) as emitter:
        deliveries = [await emitter.send(event) for event in events]
    records = await consume(kafka_bootstrap, topics)

    assert len(records) == len(events)
    by_id = {json.loads(r.value)["event_id"]: r for r in records}
    for event, delivery in zip(events, deliveries, strict=True):
        record = by_id[event["event_id"]]
        assert record.topic == topic_for(event, topics) == delivery.topic
        assert record.key == b"T-route"
        assert record.value == outgoing(event, topics).value
        assert json.loads(record.value) == event
        assert (record.partition, record.offset) == (delivery.partition, delivery.offset)
        assert record.partition == partition_of("T-route")
    assert Counter(r.topic for r in records) == {
        topics.tickets: 4,
        topics.contacts: 2,
        topics.surveys: 2,
    }


async def test_send_many_keeps_tickets_on_one_partition_and_their_order(
    kafka_bootstrap: str,
) -> None:
    topics = await create(kafka_bootstrap, fresh_topics())
    tickets = [f"T-{n}" for n in range(12)]
    events = [event for n, t in enumerate(tickets) for event in lifecycle(t, minute=n)]
    async with Emitter(kafka_bootstrap, topics=topics) as emitter:
        deliveries = await emitter.send_many(events)
    assert [d.event_id for d in deliveries] == [e["event_id"] for e in events]
    records = await consume(kafka_bootstrap, topics)

    assert sorted(json.loads(r.value)["event_id"] for r in records) == sorted(
        e["event_id"] for e in events
    )
    partitions: defaultdict[bytes, set[int]] = defaultdict(set)
    for record in records:
        partitions[record.key].add(record.partition)
    assert partitions == {t.encode(): {partition_of(t)} for t in tickets}
    position = {e["event_id"]: index for index, e in enumerate(events)}
    streams: defaultdict[tuple[str, int], list[ConsumerRecord[bytes, bytes]]] = defaultdict(list)
    for record in records:
        streams[(record.topic, record.partition)].append(record)
    for stream in streams.values():
        stream.sort(key=lambda r: r.offset)
        sent_order = [position[json.loads(r.value)["event_id"]] for r in stream]
        assert sent_order == sorted(sent_order), "a batch must keep its order per partition"


async def test_a_batch_with_one_invalid_event_produces_nothing(kafka_bootstrap: str) -> None:
    topics = await create(kafka_bootstrap, fresh_topics())
    good = lifecycle("T-batch")
    bad = dict(good[-1], score=11)
    async with Emitter(kafka_bootstrap, topics=topics) as emitter:
        with pytest.raises(ValueError, match=r"^score: "):
            await emitter.send_many([*good, bad])
        assert await consume(kafka_bootstrap, topics) == []
        delivery = await emitter.send(good[0])
    assert (delivery.topic, delivery.offset) == (topics.tickets, 0)


async def test_sync_emitter_sends_from_many_threads(kafka_bootstrap: str) -> None:
    topics = await create(kafka_bootstrap, fresh_topics())
    events = [csat(f"T-{n}", 1 + n % 5) for n in range(40)]

    def run() -> list[str]:
        with SyncEmitter(kafka_bootstrap, topics=topics) as emitter, ThreadPoolExecutor(4) as pool:
            return [d.event_id for d in pool.map(emitter.send, events)]

    sent = await asyncio.to_thread(run)
    records = await consume(kafka_bootstrap, topics)
    assert sent == [e["event_id"] for e in events]
    assert sorted(r.value for r in records) == sorted(outgoing(e, topics).value for e in events)


async def test_unreachable_kafka_is_a_transient_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientError, match="cannot connect"):
        async with Emitter(f"127.0.0.1:{port}", request_timeout_ms=2000):
            pass


async def test_kafka_sink_produces_a_simulated_stream_as_emitted(kafka_bootstrap: str) -> None:
    topics = await create(kafka_bootstrap, fresh_topics())
    config = SimulationConfig(
        seed=3, events_per_second=50, invalid_share=0.1, duplicate_share=0.05, late_share=0.05
    )
    emitted = list(take(generate(config, parse_rfc3339("2026-11-02T08:00:00Z")), count=400))
    assert any(isinstance(e.value, str) for e in emitted), "the stream must hold raw text"
    sink = KafkaSink(kafka_bootstrap, topics=topics, flush_every=50)
    counts = await pump(emitted, sink)
    records = await consume(kafka_bootstrap, topics)

    assert counts[Intent.INVALID] > 0 and counts[Intent.DUPLICATE] > 0
    expected = Counter(
        (topics.name_of(e.topic), e.key.encode(), e.line().encode()) for e in emitted
    )
    assert Counter((r.topic, r.key, r.value) for r in records) == expected
    assert sink.sent == Counter(topics.name_of(e.topic) for e in emitted)
    for topic in topics.inputs:  # each partition holds its events in emission order
        for partition in range(PARTITIONS):
            got = [
                r.value
                for r in sorted(records, key=lambda r: r.offset)
                if (r.topic, r.partition) == (topic, partition)
            ]
            want = [
                e.line().encode()
                for e in emitted
                if topics.name_of(e.topic) == topic and partition_of(e.key) == partition
            ]
            assert got == want


def doc_examples() -> list[str]:
    """The Python blocks of docs/emitting.md that follow a ``<!-- tested -->`` marker."""
    text = DOC.read_text(encoding="utf-8")
    return re.findall(r"<!-- tested[^>]*-->\s*```python\n(.*?)```", text, flags=re.S)


async def test_doc_examples_run_as_written(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = await create(kafka_bootstrap, fresh_topics())
    monkeypatch.setenv("TICKETPULSE_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("TICKETPULSE_TOPIC_TICKETS", topics.tickets)
    monkeypatch.setenv("TICKETPULSE_TOPIC_CONTACTS", topics.contacts)
    monkeypatch.setenv("TICKETPULSE_TOPIC_SURVEYS", topics.surveys)

    def run(code: str) -> None:
        exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_example__"})

    examples = doc_examples()
    assert len(examples) == 2, "the marked examples of docs/emitting.md were not found"
    for code in examples:
        await asyncio.to_thread(run, code)
    records = await consume(kafka_bootstrap, topics)

    events = [json.loads(r.value) for r in records]
    assert {r.key for r in records} == {b"T-1001"}
    assert sorted(e["type"] for e in events) == sorted(
        [
            "ticket.created",
            "contact.inbound",
            "contact.outbound",
            "ticket.status_changed",
        ]
    )
    for record, event in zip(records, events, strict=True):
        assert record.topic == topic_for(event, topics)


async def test_kafka_sink_sends_simulated_account_events_to_the_accounts_topic(
    kafka_bootstrap: str,
) -> None:
    """Account events go to the accounts topic keyed by account_id, on the partition Kafka's
    default partitioner gives that key (as ``Emitter`` places them), in emission order."""
    topics = dataclasses.replace(fresh_topics(), accounts=f"t-{uuid.uuid4().hex[:8]}.accounts")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topics.accounts, PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    config = SimulationConfig(seed=4, events_per_second=0.05, accounts_rate=0.05)
    start = parse_rfc3339("2026-11-02T08:00:00Z")
    emitted = [e for e in take(generate(config, start), count=3000) if e.topic == "accounts"]
    assert len(emitted) > 1000
    sink = KafkaSink(kafka_bootstrap, topics=topics, flush_every=500)
    await pump(emitted, sink)
    records = await consume(kafka_bootstrap, topics, (topics.accounts,))

    assert sink.sent == Counter({topics.accounts: len(emitted)})
    for record in records:
        event = json.loads(record.value)
        assert event["type"].startswith("account.")
        assert record.key == event["account_id"].encode()
        assert record.partition == partition_of(event["account_id"])
    for partition in range(PARTITIONS):
        got = [r.value for r in sorted(records, key=lambda r: r.offset) if r.partition == partition]
        want = [e.line().encode() for e in emitted if partition_of(e.key) == partition]
        assert got == want and want
