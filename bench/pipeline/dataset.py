"""The fixed data set: seeded simulator events, cached once, moved to now, produced to Kafka.

The cache (``~/.cache/ticketpulse/bench/dataset-<events>-rate<r>-seed<s>[-acc<a>].jsonl``) holds
one ``[topic, key, line]`` per simulated message in emit order, exactly what ``ticketpulse
simulate`` would send (with ``--accounts-rate`` above 0, the simulated CRM's account events
too, on the accounts topic). The live worker evaluates with the wall clock, so each run moves
every timestamp by the same whole number of minutes, so that the last event is a minute or two
before the start of the run, and writes that moved file (``events.jsonl``, plain JSONL) into
the run folder: it is what Kafka gets and what ``ticketpulse replay`` is run on. A line whose
timestamp cannot be read is kept as it is (it is then invalid for the decoder too).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from streams.domain.instant import (
    MICROS_PER_MINUTE,
    Instant,
    floor_minute,
    parse_rfc3339,
)
from streams.simulator.simulate import DEFAULT_START
from streams.simulator.simulation import SimulationConfig, generate, take

TOPICS = ("tickets", "contacts", "surveys")
ACCOUNTS = "accounts"  # the CRM's topic, an input when the data set has account events


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ticketpulse" / "bench"


@dataclass(frozen=True, slots=True)
class Message:
    topic: str  # logical: tickets, contacts, surveys or accounts
    key: str
    line: str


def cached_dataset(events: int, rate: float, seed: int, accounts_rate: float = 0.0) -> Path:
    """The cached simulation for these settings, generated on first use."""
    crm = f"-acc{accounts_rate:g}" if accounts_rate > 0 else ""
    path = cache_dir() / f"dataset-{events}-rate{rate:g}-seed{seed}{crm}.jsonl"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    started = time.perf_counter()
    # without CRM events unless asked, so the default scenario stays comparable across runs
    config = SimulationConfig(seed=seed, events_per_second=rate, accounts_rate=accounts_rate)
    with partial.open("w", encoding="utf-8") as out:
        for emitted in take(generate(config, parse_rfc3339(DEFAULT_START)), count=events):
            topic = emitted.topic if isinstance(emitted.topic, str) else emitted.topic.value
            out.write(json.dumps([topic, emitted.key, emitted.line()]))
            out.write("\n")
    partial.rename(path)
    print(f"generated {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def read_dataset(path: Path) -> Iterator[Message]:
    with path.open(encoding="utf-8") as lines:
        for row in lines:
            topic, key, line = json.loads(row)
            yield Message(topic, key, line)


def _occurred_at(line: str) -> tuple[dict[str, Any], str] | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("occurred_at"), str):
        return None
    return data, data["occurred_at"]


def latest_instant(path: Path) -> Instant:
    """The latest readable ``occurred_at`` in the data set."""
    latest = 0
    for message in read_dataset(path):
        found = _occurred_at(message.line)
        if found is None:
            continue
        try:
            latest = max(latest, parse_rfc3339(found[1]))
        except ValueError:
            continue
    return latest


def shift_text(text: str, delta: timedelta) -> str | None:
    """An RFC 3339 timestamp moved by ``delta``, in its own UTC offset and style."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    moved = (moment + delta).isoformat()
    return moved.replace("+00:00", "Z") if text.endswith(("Z", "z")) else moved


def shift_line(line: str, delta: timedelta) -> str:
    found = _occurred_at(line)
    if found is None:
        return line
    data, text = found
    moved = shift_text(text, delta)
    if moved is None:
        return line
    data["occurred_at"] = moved
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def shift_delta(latest: Instant, now: Instant) -> timedelta:
    """Whole minutes that put ``latest`` two minutes before the current minute."""
    minutes = (floor_minute(now) - 2 * MICROS_PER_MINUTE - floor_minute(latest)) // (
        MICROS_PER_MINUTE
    )
    return timedelta(minutes=minutes)


def write_shifted(source: Path, out: Path, delta: timedelta) -> list[Message]:
    """Write the moved plain JSONL to ``out``; the moved messages, in order."""
    messages: list[Message] = []
    with out.open("w", encoding="utf-8") as plain:
        for message in read_dataset(source):
            line = shift_line(message.line, delta)
            messages.append(Message(message.topic, message.key, line))
            plain.write(line)
            plain.write("\n")
    return messages


def create_topics(
    bootstrap: str, names: list[str], partitions: int, replication_factor: int = 1
) -> None:
    """Create the topics with ``partitions`` (the broker's auto-creation would give its default).

    Existing topics must already have that many partitions.
    """
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=30).topics
    missing = [name for name in names if name not in existing]
    if missing:
        futures = admin.create_topics(
            [
                NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)
                for name in missing
            ]
        )
        for future in futures.values():
            future.result(30)
    deadline = time.monotonic() + 30
    while True:
        found = admin.list_topics(timeout=30).topics
        counts = {name: len(found[name].partitions) if name in found else 0 for name in names}
        if all(count == partitions for count in counts.values()):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"topics: want {partitions} partitions each, have {counts}")
        time.sleep(0.2)


def produce(
    bootstrap: str,
    topics: dict[str, str],
    messages: list[Message],
    partitions: int,
    replication_factor: int = 1,
) -> dict[str, int]:
    """Send every message (acks=all, murmur2 keys like the Java client); messages per topic."""

    from confluent_kafka import Producer

    create_topics(bootstrap, list(topics.values()), partitions, replication_factor)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "compression.type": "none",
            "partitioner": "murmur2_random",
            "queue.buffering.max.messages": 500_000,
        }
    )
    errors: list[str] = []

    def report(error: Any, _message: Any) -> None:
        if error is not None:
            errors.append(str(error))

    counts = dict.fromkeys(topics.values(), 0)
    for message in messages:
        topic = topics[message.topic]
        while True:
            try:
                producer.produce(
                    topic,
                    value=message.line.encode(),
                    key=message.key.encode() if message.key else None,
                    on_delivery=report,
                )
                break
            except BufferError:
                producer.poll(0.05)
        counts[topic] += 1
        producer.poll(0)
    left = producer.flush(120)
    if left or errors:
        raise RuntimeError(f"produce: {left} undelivered, errors: {errors[:3]}")
    return counts
