"""``ticketpulse deadletter`` against the real Kafka: the letters the worker's producer writes,
read back as JSON, as a table, counted by reason, since an instant, and followed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from click.testing import CliRunner, Result

from streams.cli import main
from streams.domain.decode import InvalidEvent, deadletter_record, decode_event
from streams.domain.instant import parse_rfc3339
from streams.live.kafka_out import KafkaOut
from streams.live.settings import WorkerSettings
from streams.live.topics import ensure_topics

HOUR_MS = 3_600_000

# Three kinds of defect; the two JSON errors differ only in the parser's position.
OLD = [b'{"event_id":"E-1","type":"survey.csat"', b'{"event_id":"E-10"']
RECENT = [
    b'{"event_id":"E-2","type":"ticket.merged","occurred_at":"2026-11-02T09:00:00Z",'
    b'"ticket_id":"T-2"}',
    b'{"event_id":"E-3","type":"ticket.merged","occurred_at":"2026-11-02T09:01:00Z",'
    b'"ticket_id":"T-3"}',
    b'{"event_id":"E-4","type":"survey.csat","occurred_at":"2026-11-02T09:02:00Z",'
    b'"ticket_id":"T-4","score":7,"comment":"' + b"x" * 200 + b'"}',
]


def letter(raw: bytes, offset: int) -> dict[str, Any]:
    invalid = decode_event(raw)
    assert isinstance(invalid, InvalidEvent)
    return deadletter_record(invalid, source_topic="support.surveys", partition=1, offset=offset)


@dataclass(frozen=True)
class Letters:
    topic: str
    bootstrap: str
    old: list[dict[str, Any]]
    recent: list[dict[str, Any]]
    cut_ms: int  # between the old and the recent ones


async def _produce(bootstrap: str, topic: str) -> Letters:
    await ensure_topics(bootstrap, [topic], 2)
    old = [letter(raw, 100 + i) for i, raw in enumerate(OLD)]
    recent = [letter(raw, 200 + i) for i, raw in enumerate(RECENT)]
    now_ms = int(time.time() * 1000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:  # written two hours ago: the worker's producer cannot backdate
        for i, record in enumerate(old):
            value = json.dumps(record, separators=(",", ":")).encode()
            await producer.send_and_wait(
                topic, value, partition=i % 2, timestamp_ms=now_ms - 2 * HOUR_MS + i
            )
    finally:
        await producer.stop()
    out = KafkaOut(WorkerSettings(kafka_bootstrap=bootstrap, topic_deadletter=topic))
    try:  # the recent ones as the worker writes them
        for record in recent:  # one at a time: their order is the order of their timestamps
            await out.send([record])
    finally:
        await out.stop()
    return Letters(topic, bootstrap, old, recent, now_ms - HOUR_MS)


@pytest.fixture(scope="module")
def letters(kafka_bootstrap: str) -> Letters:
    return asyncio.run(_produce(kafka_bootstrap, f"t-{uuid.uuid4().hex[:8]}.deadletter"))


def run(letters: Letters, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["deadletter", "--kafka", letters.bootstrap, "--topic", letters.topic, *args]
    )


def json_lines(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return [json.loads(line) for line in result.stdout.splitlines()]


def shown(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The dead-letter fields of ``--json`` lines, as they were produced."""
    keys = ("error", "event", "source_topic", "partition", "offset")
    return [{key: obj[key] for key in keys} for obj in objects]


def test_json_shows_every_letter_oldest_first(letters: Letters) -> None:
    objects = json_lines(run(letters, "--json"))
    assert shown(objects) == letters.old + letters.recent
    times = [parse_rfc3339(obj["at"]) for obj in objects]
    assert times == sorted(times)
    places = {(obj["deadletter_partition"], obj["deadletter_offset"]) for obj in objects}
    assert len(places) == len(objects)  # where each letter sits in the dead-letter topic


def test_limit_keeps_the_last_ones(letters: Letters) -> None:
    assert shown(json_lines(run(letters, "--json", "--limit", "2"))) == letters.recent[-2:]


@pytest.mark.parametrize("since", ["1h", "cut"])
def test_since_uses_the_records_time(letters: Letters, since: str) -> None:
    if since == "cut":
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(letters.cut_ms / 1000))
    assert shown(json_lines(run(letters, "--json", "--since", since))) == letters.recent
    assert json_lines(run(letters, "--json", "--since", "2100-01-01T00:00:00Z")) == []


def test_summary_counts_per_reason(letters: Letters) -> None:
    assert letters.old[0]["error"] != letters.old[1]["error"]  # columns 38 and 18
    counts = json_lines(run(letters, "--summary", "--json"))
    assert [(c["reason"], c["count"], c["source_topics"]) for c in counts] == [
        ("(json): invalid JSON: EOF while parsing an object", 2, ["support.surveys"]),
        ("type: unknown event type 'ticket.merged'", 2, ["support.surveys"]),
        ("score: must be an integer from 1 to 5", 1, ["support.surveys"]),
    ]
    json_first, json_last, merged_first, merged_last = (
        parse_rfc3339(c[key]) for c in counts[:2] for key in ("first", "last")
    )
    assert json_first < json_last < merged_first <= merged_last
    recent = json_lines(run(letters, "--summary", "--json", "--since", "1h"))
    assert [(c["reason"], c["count"]) for c in recent] == [
        ("type: unknown event type 'ticket.merged'", 2),
        ("score: must be an integer from 1 to 5", 1),
    ]
    table = run(letters, "--summary")
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[-1].split() == ["5", "dead", "letters,", "3", "reasons"]


def test_the_table_shows_time_source_reason_and_a_cut_event(letters: Letters) -> None:
    result = run(letters, "--since", "1h")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["time", "source", "reason", "event"]
    assert len(rows) == 3
    assert "support.surveys/1@202" in rows[2]
    assert "score: must be an integer from 1 to 5" in rows[2]
    assert rows[2].endswith("…")
    assert '{"event_id":"E-4"' in rows[2]


def test_a_missing_topic_is_said_and_not_an_error(letters: Letters) -> None:
    result = CliRunner().invoke(
        main, ["deadletter", "--kafka", letters.bootstrap, "--topic", "t-missing-topic", "--json"]
    )
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no topic t-missing-topic" in result.stderr


def test_reading_joins_no_consumer_group(letters: Letters) -> None:
    async def groups() -> list[Any]:
        admin = AIOKafkaAdminClient(bootstrap_servers=letters.bootstrap)
        await admin.start()
        try:
            return list(await admin.list_consumer_groups())
        finally:
            await admin.close()

    before = asyncio.run(groups())
    assert json_lines(run(letters, "--json"))
    assert asyncio.run(groups()) == before


def test_unreachable_kafka_fails_clearly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    result = CliRunner().invoke(
        main, ["deadletter", "--kafka", f"127.0.0.1:{port}", "--timeout", "5"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: kafka: cannot reach 127.0.0.1:{port} as PLAINTEXT:")


@pytest.fixture
def follower(letters: Letters) -> Iterator[subprocess.Popen[str]]:
    command = [sys.executable, "-m", "streams", "deadletter", "--follow", "--json"]
    process = subprocess.Popen(
        [*command, "--kafka", letters.bootstrap, "--topic", letters.topic, "--since", "1h"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate()


def test_follow_prints_new_letters_as_they_come(
    letters: Letters, follower: subprocess.Popen[str]
) -> None:
    assert follower.stdout is not None
    first = [json.loads(follower.stdout.readline()) for _ in letters.recent]
    assert shown(first) == letters.recent
    new = letter(b"[1, 2]", 300)

    async def send() -> None:
        out = KafkaOut(
            WorkerSettings(kafka_bootstrap=letters.bootstrap, topic_deadletter=letters.topic)
        )
        try:
            await out.send([new])
        finally:
            await out.stop()

    asyncio.run(send())
    assert shown([json.loads(follower.stdout.readline())]) == [new]
    follower.send_signal(signal.SIGINT)
    assert follower.wait(timeout=30) == 0
