"""``POST /events`` bodies are Kafka transactions, and the worker reads committed records.

Each committed transaction leaves a commit marker in every partition it wrote, an offset
the worker never receives; an aborted one leaves its records (never delivered) and an abort
marker. Neither is a missed offset nor a reason to seek back, nor consumer lag.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from streams.domain.instant import MICROS_PER_SECOND, format_rfc3339
from streams.live import api
from streams.live.kafka_out import KafkaOut
from streams.live.settings import WorkerSettings
from tests.support.workers import (
    Topics,
    WorkerProcess,
    iter_until,
    now_micros,
    post,
    read_topics_until,
)

from .test_worker_http import lag_series
from .workers import Run, produce

BODIES = 5
PER_BODY = 60


def created(prefix: str, n: int, start: int) -> tuple[bytes, bytes]:
    """A ``ticket.created`` event (key, value) of ticket ``{prefix}-{n}``."""
    ticket = f"{prefix}-{n}"
    event = {
        "event_id": f"{ticket}-c",
        "type": "ticket.created",
        "occurred_at": format_rfc3339(start + n * MICROS_PER_SECOND),
        "ticket_id": ticket,
        "channel": "email",
        "priority": "normal",
        "team": "billing",
    }
    return ticket.encode(), json.dumps(event).encode()


async def aborted(run: Run, records: list[tuple[bytes, bytes]]) -> None:
    """Produce ``records`` in a transaction, then abort it."""
    producer = AIOKafkaProducer(
        bootstrap_servers=run.bootstrap, transactional_id=f"{run.name}-aborted"
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        futures = [await producer.send(run.topics["tickets"], v, key=k) for k, v in records]
        await asyncio.gather(*futures)
        await producer.abort_transaction()
    finally:
        await producer.stop()


def tickets_created(worker: WorkerProcess, want: int) -> int | None:
    """The 24 h count of created tickets once it reaches ``want`` (or the last seen)."""
    count = None
    for _ in iter_until(60, interval=0.5):
        status, snapshot = worker.get("/kpis")
        if status == 200:
            count = snapshot["windows"]["24h"]["overall"]["tickets_created"]
            if count == want:
                break
    return count


def missed_offsets(worker: WorkerProcess, topic: str) -> tuple[float, float]:
    """(``ticketpulse_missed_offsets_total``, ``..._recorded`` of partition 0) of a topic."""
    metrics = worker.metrics()
    total = metrics[f'ticketpulse_missed_offsets_total{{topic="{topic}"}}']
    recorded = metrics.get(f'ticketpulse_missed_offsets_recorded{{partition="0",topic="{topic}"}}')
    return total, recorded or 0.0


async def delete_before(run: Run, topic: str, offset: int) -> None:
    """What retention does: the partition's records before ``offset`` are gone."""
    admin = AIOKafkaAdminClient(bootstrap_servers=run.bootstrap)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(offset)})
    finally:
        await admin.close()


def test_transactions_leave_no_missed_offsets_no_seek_back_and_no_lag(run: Run) -> None:
    worker = run.start_worker()
    start = now_micros() - 3600 * MICROS_PER_SECOND
    for body in range(BODIES):
        lines = [created("T", body * PER_BODY + n, start)[1] for n in range(PER_BODY)]
        status, reply = post(worker.url + "/events", b"\n".join(lines), "application/x-ndjson")
        assert (status, reply) == (202, {"accepted": PER_BODY, "rejected": 0})
    asyncio.run(aborted(run, [created("A", n, start) for n in range(100)]))
    plain = [created("P", n, start) for n in range(200)]
    asyncio.run(produce(run, [("tickets", key, value) for key, value in plain]))

    want = BODIES * PER_BODY + len(plain)  # the aborted 100 never count
    assert tickets_created(worker, want) == want, worker.tail()
    lag: dict[str, float] = {}
    for _ in iter_until(20, interval=0.5):
        lag = lag_series(worker.url)
        if lag and not any(lag.values()):
            break
    assert lag and not any(lag.values()), lag
    metrics = worker.metrics()
    missed = {
        k: v
        for k, v in metrics.items()
        if k.startswith(("ticketpulse_missed_offsets_total", "ticketpulse_missed_offsets_rec"))
    }
    assert missed and not any(missed.values()), missed
    seeks = [v for k, v in metrics.items() if k.startswith("ticketpulse_seek_backs_total")]
    assert seeks == [0], worker.tail()


def test_records_deleted_by_retention_are_still_counted_exactly_among_transactions(
    run: Run,
) -> None:
    """One partition: a committed body (10 records and its marker), 40 plain records, all
    applied; the worker stopped, 50 more produced and the first 30 of them deleted; the
    restarted worker counts those 30 missed, not one more, and no marker of the bodies."""
    run.partitions = 1
    topic = run.topics["tickets"]
    start = now_micros() - 3600 * MICROS_PER_SECOND
    worker = run.start_worker()
    body = b"\n".join(created("B", n, start)[1] for n in range(10))
    assert post(worker.url + "/events", body, "application/x-ndjson")[0] == 202
    asyncio.run(produce(run, [("tickets", *created("P", n, start)) for n in range(40)]))
    assert tickets_created(worker, 50) == 50, worker.tail()
    assert worker.stop(30) == 0
    asyncio.run(produce(run, [("tickets", *created("L", n, start)) for n in range(50)]))
    asyncio.run(delete_before(run, topic, 81))  # offsets 51..80: 30 of the 50

    worker = run.start_worker()
    assert tickets_created(worker, 70) == 70, worker.tail()
    body = b"\n".join(created("C", n, start)[1] for n in range(10))
    assert post(worker.url + "/events", body, "application/x-ndjson")[0] == 202
    assert tickets_created(worker, 80) == 80, worker.tail()
    assert missed_offsets(worker, topic) == (30, 30), worker.tail()


def body_records(prefix: str, count: int) -> list[api.Encoded]:
    start = now_micros() - 3600 * MICROS_PER_SECOND
    body = b"\n".join(created(prefix, n, start)[1] for n in range(count))
    parsed = api.parse_events_body(body, "application/x-ndjson")
    assert isinstance(parsed, api.ParsedBatch) and not parsed.rejected
    return parsed.records


async def test_a_body_not_acknowledged_in_time_is_aborted_and_a_restarted_worker_fences(
    run: Run,
) -> None:
    """The worker's own producer on the real Kafka: 20,000 events cannot all be acknowledged
    within 50 ms, so the transaction is aborted and nothing of it is readable; a producer with
    the same transactional id (the worker restarted) fences the old one and commits."""

    def out(timeout: float) -> KafkaOut:
        settings = WorkerSettings(
            kafka_bootstrap=run.bootstrap,
            group_id=run.name,
            topic_tickets=run.topics["tickets"],
            topic_contacts=run.topics["contacts"],
            topic_surveys=run.topics["surveys"],
            produce_timeout_seconds=timeout,
        )
        return KafkaOut(settings)

    hasty, restarted = out(0.05), out(20)
    try:
        with pytest.raises(TimeoutError, match=r"not all acknowledged within 0\.05 s"):
            await hasty.send_events(body_records("X", 20_000))
        await restarted.send_events(body_records("Y", 50))
        with pytest.raises(Exception, match=r"(?i)fenced"):  # the zombie of the worker
            await hasty.send_events(body_records("Z", 5))
    finally:
        await hasty.stop()
        await restarted.stop()
    want = sorted(f"Y-{n}" for n in range(50))

    def ids(read: Topics) -> list[str]:
        return sorted(json.loads(value)["ticket_id"] for value in read.values)

    read = await read_topics_until(run.bootstrap, [run.topics["tickets"]], lambda r: ids(r) == want)
    assert ids(read) == want
