"""``ticketpulse deadletter``: what landed in the dead-letter topic, and why.

On call, the first question after a dead-letter alert is "which events, from where, for what
reason". This command reads the topic with its own consumer: no consumer group, nothing
committed, so it never moves anyone's offsets. It takes the worker's Kafka settings (bootstrap,
SASL, topic name), so it reads what the worker writes. Parsing, the summary and the output
are pure functions of the records; only ``_read`` talks to Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from streams.domain.instant import (
    MICROS_PER_SECOND,
    Instant,
    format_rfc3339,
    parse_duration,
    parse_rfc3339,
)
from streams.errors import ConfigError

DEFAULT_LIMIT = 20  # without --since or --summary: the last 20, like a tail
EVENT_WIDTH = 60
_MICROS_PER_MS = 1000
STOP_SECONDS = 5.0  # after Ctrl-C, the longest the command takes to close its consumer
# Positions in parser messages vary per message; without them one defect counts as one reason.
_POSITION = re.compile(r" at (?:line \d+ column \d+|byte \d+|character \d+)$")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-letter record: its fields (docs/events.md) and where it sits in the topic."""

    at: Instant  # the record's Kafka timestamp: when the worker dead-lettered the event
    error: str
    event: Any
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    partition: int
    offset: int

    @classmethod
    def from_record(
        cls, timestamp_ms: int, partition: int, offset: int, value: bytes | None
    ) -> DeadLetter:
        """Parse a record's value; one that is not a dead letter is shown, not dropped."""
        text = (value or b"").decode("utf-8", errors="replace")
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        at = timestamp_ms * _MICROS_PER_MS
        if not isinstance(record, dict) or not isinstance(record.get("error"), str):
            return cls(
                at,
                "(deadletter): not a dead-letter record",
                text,
                None,
                None,
                None,
                partition,
                offset,
            )
        return cls(
            at,
            record["error"],
            record.get("event"),
            _text_or_none(record.get("source_topic")),
            _int_or_none(record.get("partition")),
            _int_or_none(record.get("offset")),
            partition,
            offset,
        )

    @property
    def reason(self) -> str:
        """The error without a parser's position: what ``--summary`` counts by."""
        return _POSITION.sub("", self.error)

    @property
    def source(self) -> str:
        if self.source_topic is None:
            return "-"  # not from Kafka: POST /events or a file replay
        return f"{self.source_topic}/{self.source_partition}@{self.source_offset}"

    def as_json(self) -> dict[str, Any]:
        return {
            "at": format_rfc3339(self.at),
            "error": self.error,
            "event": self.event,
            "source_topic": self.source_topic,
            "partition": self.source_partition,
            "offset": self.source_offset,
            "deadletter_partition": self.partition,
            "deadletter_offset": self.offset,
        }


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def since_instant(text: str, now: Instant) -> Instant:
    """``--since``: a duration back from now (``15m``, ``2h``) or an RFC 3339 instant."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_rfc3339(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration like 15m or 2h nor an RFC 3339 instant "
            "like 2026-11-02T09:00:00Z"
        ) from None


# -- output --------------------------------------------------------------------------------


def _event_text(event: Any) -> str:
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= EVENT_WIDTH else text[: EVENT_WIDTH - 1] + "…"


def _time_text(at: Instant) -> str:
    return format_rfc3339(at - at % MICROS_PER_SECOND)


@dataclass(frozen=True, slots=True)
class Table:
    """The human view; widths fixed by the first rows so that followed rows line up."""

    source_width: int
    reason_width: int

    @classmethod
    def fitting(cls, letters: Sequence[DeadLetter]) -> Table:
        return cls(
            max([len("source"), 24, *(len(letter.source) for letter in letters)]),
            max([len("reason"), 30, *(len(letter.error) for letter in letters)]),
        )

    def header(self) -> str:
        return self._line("time", "source", "reason", "event")

    def row(self, letter: DeadLetter) -> str:
        return self._line(
            _time_text(letter.at), letter.source, letter.error, _event_text(letter.event)
        )

    def _line(self, at: str, source: str, reason: str, event: str) -> str:
        return (
            f"{at:<20}  {source:<{self.source_width}}  {reason:<{self.reason_width}}  {event}"
        ).rstrip()


@dataclass(frozen=True, slots=True)
class ReasonCount:
    reason: str
    count: int
    source_topics: tuple[str, ...]
    first: Instant
    last: Instant

    def as_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "count": self.count,
            "source_topics": list(self.source_topics),
            "first": format_rfc3339(self.first),
            "last": format_rfc3339(self.last),
        }


def summarize(letters: Iterable[DeadLetter]) -> list[ReasonCount]:
    """Counts per reason, most frequent first (then by reason, for a stable order)."""
    groups: dict[str, list[DeadLetter]] = {}
    for letter in letters:
        groups.setdefault(letter.reason, []).append(letter)
    counts = [
        ReasonCount(
            reason,
            len(group),
            tuple(sorted({g.source_topic or "-" for g in group})),
            min(g.at for g in group),
            max(g.at for g in group),
        )
        for reason, group in groups.items()
    ]
    return sorted(counts, key=lambda c: (-c.count, c.reason))


def summary_lines(counts: Sequence[ReasonCount]) -> list[str]:
    total = sum(c.count for c in counts)
    if not counts:
        return ["no dead letters"]
    width = max(len("reason"), *(len(c.reason) for c in counts))
    lines = [f"{'count':>7}  {'reason':<{width}}  {'last':<20}  source topics"]
    lines += [
        f"{c.count:>7}  {c.reason:<{width}}  {_time_text(c.last):<20}  {', '.join(c.source_topics)}"
        for c in counts
    ]
    lines.append(f"{total:>7}  dead letters, {len(counts)} reasons")
    return lines


# -- Kafka --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Where to read: the worker's settings, possibly overridden on the command line."""

    bootstrap: str
    options: Mapping[str, Any]
    topic: str
    describe: str  # bootstrap and authentication, for errors (never the password)


class Unreachable(Exception):
    """Kafka did not answer within the timeout."""


async def _read(
    source: Source,
    *,
    since: Instant | None,
    limit: int,
    follow: bool,
    timeout: float,
    emit: Callable[[list[DeadLetter]], None],
) -> bool:
    """Emit the selected dead letters (oldest first), then, with ``follow``, new ones as they
    come. False when the topic does not exist."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import KafkaError

    consumer = AIOKafkaConsumer(
        bootstrap_servers=source.bootstrap,
        group_id=None,  # no group: nothing joined, nothing committed
        enable_auto_commit=False,
        client_id="ticketpulse-deadletter",
        request_timeout_ms=max(int(timeout * 1000), 1000),
        **source.options,
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout)
        # A consumer without a subscription tracks no topic: fetch the metadata of all
        # (``topics()`` would fetch it without keeping it for ``partitions_for_topic``).
        await asyncio.wait_for(consumer._client.force_metadata_update(), timeout)
        return await _select(consumer, source.topic, since, limit, follow, emit)
    except TimeoutError:
        raise Unreachable(f"no answer within {timeout:g} s") from None
    except (KafkaError, OSError) as error:
        raise Unreachable(str(error) or type(error).__name__) from error
    finally:
        # bounded: Ctrl-C must end the command even when the consumer's close hangs on a
        # fetch in flight (seen once in a test run: the process never exited)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(consumer.stop(), STOP_SECONDS)


async def _select(
    consumer: Any,
    topic: str,
    since: Instant | None,
    limit: int,
    follow: bool,
    emit: Callable[[list[DeadLetter]], None],
) -> bool:
    """Seek to the selection's start, read it up to the end offsets, emit it, then follow."""
    from aiokafka import TopicPartition

    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        return False
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    ends = await consumer.end_offsets(tps)
    starts = await consumer.beginning_offsets(tps)
    if since is not None:
        found = await consumer.offsets_for_times({tp: since // _MICROS_PER_MS for tp in tps})
        starts = {tp: ends[tp] if found[tp] is None else found[tp].offset for tp in tps}
    if limit:
        starts = {tp: max(starts[tp], ends[tp] - limit) for tp in tps}
    for tp in tps:
        consumer.seek(tp, starts[tp])
    selected: list[DeadLetter] = []
    newer: list[DeadLetter] = []  # written after the start: only --follow shows them
    pending = {tp for tp in tps if starts[tp] < ends[tp]}
    while pending:
        batch = await consumer.getmany(*pending, timeout_ms=500)
        for tp, records in batch.items():
            for record in records:
                (selected if record.offset < ends[tp] else newer).append(_letter(record))
        pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    emit(_in_order(selected)[-limit:] if limit else _in_order(selected))
    while follow:
        if newer:
            emit(_in_order(newer))
        batch = await consumer.getmany(timeout_ms=1000)
        newer = [_letter(record) for records in batch.values() for record in records]
    return True


def _in_order(letters: list[DeadLetter]) -> list[DeadLetter]:
    return sorted(letters, key=lambda d: (d.at, d.partition, d.offset))


def _letter(record: Any) -> DeadLetter:
    return DeadLetter.from_record(record.timestamp, record.partition, record.offset, record.value)


# -- the command ---------------------------------------------------------------------------


class _Printer:
    """Prints what ``_read`` emits in the chosen form; the summary waits for everything."""

    def __init__(self, *, as_json: bool, summary: bool) -> None:
        self.as_json = as_json
        self.summary = summary
        self.table: Table | None = None
        self.seen: list[DeadLetter] = []

    def __call__(self, letters: list[DeadLetter]) -> None:
        if self.summary:
            self.seen += letters
            return
        if self.as_json:
            for letter in letters:
                click.echo(json.dumps(letter.as_json(), ensure_ascii=False, separators=(",", ":")))
            return
        if self.table is None:
            self.table = Table.fitting(letters)
            click.echo(self.table.header())
        for letter in letters:
            click.echo(self.table.row(letter))

    def finish(self) -> None:
        if not self.summary:
            return
        counts = summarize(self.seen)
        if self.as_json:
            for count in counts:
                click.echo(json.dumps(count.as_json(), ensure_ascii=False, separators=(",", ":")))
        else:
            click.echo("\n".join(summary_lines(counts)))


@click.command()
@click.option(
    "--since",
    help="Only dead letters written since then: a duration back from now (15m, 2h, 1d) "
    "or an RFC 3339 instant.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    help=f"Only the last N (0: all). Default {DEFAULT_LIMIT}; all with --since or --summary.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new dead letters (Ctrl-C stops).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, for scripts.")
@click.option("--summary", is_flag=True, help="Counts per error reason instead of the letters.")
@click.option("--kafka", "kafka_bootstrap", help="Bootstrap servers [TICKETPULSE_KAFKA_BOOTSTRAP].")
@click.option("--topic", help="Dead-letter topic [TICKETPULSE_TOPIC_DEADLETTER].")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for Kafka before giving up.",
)
def deadletter(
    since: str | None,
    limit: int | None,
    follow: bool,
    as_json: bool,
    summary: bool,
    kafka_bootstrap: str | None,
    topic: str | None,
    timeout: float,
) -> None:
    """Show dead-lettered events with their reasons (docs/events.md), oldest first."""
    from streams.live.settings import WorkerSettings

    if summary and follow:
        raise click.UsageError("--summary counts what is there; it cannot --follow")
    try:
        start = None if since is None else since_instant(since, time.time_ns() // 1000)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    if limit is None:
        limit = 0 if since is not None or summary else DEFAULT_LIMIT
    try:
        settings = WorkerSettings.from_env(kafka_bootstrap=kafka_bootstrap, topic_deadletter=topic)
        auth = settings.kafka_auth
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    source = Source(
        settings.kafka_bootstrap,
        auth.aiokafka_options(),
        settings.topic_deadletter,
        f"{settings.kafka_bootstrap} as {auth.describe()}",
    )
    # aiokafka logs each failed connection; the one error below says it once.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    printer = _Printer(as_json=as_json, summary=summary)
    if follow:
        signal.signal(signal.SIGINT, _interrupted)
    try:
        found = asyncio.run(
            _read(source, since=start, limit=limit, follow=follow, timeout=timeout, emit=printer)
        )
    except Unreachable as error:
        raise click.ClickException(f"kafka: cannot reach {source.describe}: {error}") from None
    except KeyboardInterrupt:
        return
    if not found:
        click.echo(
            f"no topic {source.topic} on {source.bootstrap}: nothing was dead-lettered "
            "there (the worker creates it when it starts)",
            err=True,
        )
    printer.finish()


def _interrupted(signum: int, frame: Any) -> None:
    """Ctrl-C while following: stop as Python would, and exit 0 regardless after
    ``STOP_SECONDS`` should closing the consumer hang."""
    timer = threading.Timer(STOP_SECONDS * 2, os._exit, (0,))
    timer.daemon = True
    timer.start()
    raise KeyboardInterrupt
