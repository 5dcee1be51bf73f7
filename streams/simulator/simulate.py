"""``ticketpulse simulate``: write simulated support traffic as an events file (JSONL).

The command only wires things: options become a ``SimulationConfig``, the pure generator
yields ``Emitted`` values, and ``pump`` hands them to a ``Sink``. Sinks are asynchronous so
that a Kafka producer (and real-time pacing) can replace the file sink without touching the
generator or the pump.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import IO, Protocol

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from streams.domain.instant import (
    MICROS_PER_SECOND,
    Instant,
    floor_minute,
    from_datetime,
    parse_duration,
    parse_rfc3339,
)
from streams.errors import ConfigError
from streams.simulator.simulation import (
    DEFAULT_SHIFTS,
    ROUND_THE_CLOCK_SHIFTS,
    Emitted,
    Intent,
    SimulationConfig,
    generate,
    take,
)

DEFAULT_START = "2026-11-02T08:00:00Z"  # a Monday morning: the same file for the same seed
REALTIME_DURATION = "52w"  # --realtime without --events or --duration: a year of traffic
PROGRESS_FROM = 100_000  # events; smaller outputs finish before a bar would help
PROGRESS_STEP = 5_000


class Sink(Protocol):
    """Where emitted events go: a file now, Kafka later."""

    async def send(self, emitted: Emitted) -> None: ...

    async def close(self) -> None: ...


class JsonlSink:
    """One JSON object per line; raw defective text as it is."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    async def send(self, emitted: Emitted) -> None:
        self.stream.write(emitted.line())
        self.stream.write("\n")

    async def close(self) -> None:
        self.stream.flush()


async def pump(
    events: Iterable[Emitted],
    sink: Sink,
    on_progress: Callable[[int, Emitted], None] | None = None,
) -> Counter[Intent]:
    """Send every event to the sink in order, then close it; counts by intent."""
    counts: Counter[Intent] = Counter()
    sent = 0
    try:
        for emitted in events:
            await sink.send(emitted)
            counts[emitted.intent] += 1
            sent += 1
            if on_progress is not None and sent % PROGRESS_STEP == 0:
                on_progress(sent, emitted)
    finally:
        await sink.close()
    return counts


def parse_start(text: str) -> Instant:
    """``--start``: an RFC 3339 instant, or ``now`` (the current UTC minute)."""
    if text == "now":
        return floor_minute(from_datetime(datetime.now(UTC)))
    try:
        return parse_rfc3339(text)
    except ValueError as error:
        raise click.BadParameter(f"{text!r}: {error}", param_hint="--start") from error


def check_usage(
    out: str | None,
    kafka: str | None,
    realtime: bool,
    max_rate: float | None,
    count: int | None,
    duration: str | None,
) -> str | None:
    """The option combinations click cannot check; the ``--duration`` to run (None: ``--events``).

    A ``--realtime`` run with neither ``--events`` nor ``--duration`` goes on for a year.
    """
    if (out is None) == (kafka is None):
        raise click.UsageError("give exactly one of --out and --kafka")
    if realtime and max_rate:
        raise click.UsageError("--realtime and --max-rate pace differently: choose one")
    if duration is None and count is None and realtime:
        duration = REALTIME_DURATION
    if (count is None) == (duration is None):
        raise click.UsageError("give exactly one of --events and --duration")
    return duration


@click.command("simulate")
@click.option("--out", "out", type=click.Path(dir_okay=False, allow_dash=True),
              help="JSONL file to write; - for stdout.")  # fmt: skip
@click.option("--kafka", "kafka", metavar="BOOTSTRAP",
              help="Produce to Kafka (TICKETPULSE_TOPIC_* names) instead of a file.")  # fmt: skip
@click.option("--realtime", is_flag=True,
              help="With --kafka: send events at their simulated time (--start now).")  # fmt: skip
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="With --realtime: simulated s per real s.")  # fmt: skip
@click.option("--max-rate", type=click.FloatRange(min=0, min_open=True),
              help="With --kafka: at most this many events per second (load tests).")  # fmt: skip
@click.option("--events", "count", type=click.IntRange(min=1), help="Stop after N events.")
@click.option("--duration", help="Stop after this much simulated time (90s, 15m, 4h, 3d, 1w).")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=5.0,
              show_default=True, help="Mean events per second of simulated time.")  # fmt: skip
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--start", "start_text", default=DEFAULT_START, show_default=True,
              help="First instant (RFC 3339), or 'now'.")  # fmt: skip
@click.option("--invalid-share", type=click.FloatRange(0, 1, max_open=True), default=0.01,
              show_default=True, help="Share of defective events.")  # fmt: skip
@click.option("--duplicate-share", type=click.FloatRange(0, 1, max_open=True), default=0.01,
              show_default=True, help="Share of events sent twice.")  # fmt: skip
@click.option("--late-share", type=click.FloatRange(0, 1, max_open=True), default=0.02,
              show_default=True, help="Share of events sent after later ones.")  # fmt: skip
@click.option("--daily-cycle/--flat", default=True, show_default=True,
              help="Busier office hours and quieter weekends, or a flat rate.")  # fmt: skip
@click.option("--accounts-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="CRM account events per ticket event (accounts topic); 0: none.")  # fmt: skip
@click.option("--round-the-clock", is_flag=True,
              help="A desk staffed at every hour of every day, at a flat rate (implies --flat): "
              "replies and solves at any hour, as `make demo` shows.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
def simulate(
    out: str | None,
    kafka: str | None,
    realtime: bool,
    speed: float,
    max_rate: float | None,
    count: int | None,
    duration: str | None,
    rate: float,
    seed: int,
    start_text: str,
    invalid_share: float,
    duplicate_share: float,
    late_share: float,
    daily_cycle: bool,
    accounts_rate: float,
    round_the_clock: bool,
    quiet: bool,
) -> None:
    """Write simulated ticket, contact, survey (and account) events as JSONL, or produce them
    to Kafka."""
    duration = check_usage(out, kafka, realtime, max_rate, count, duration)
    start = parse_start(start_text)
    until = None
    expected = float(count or 0)
    if duration is not None:
        try:
            span = parse_duration(duration)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--duration") from error
        until = start + span
        expected = rate * (1 + accounts_rate) * span / MICROS_PER_SECOND
    try:
        config = SimulationConfig(
            seed=seed,
            events_per_second=rate,
            invalid_share=invalid_share,
            duplicate_share=duplicate_share,
            late_share=late_share,
            daily_cycle=daily_cycle and not round_the_clock,
            shifts=ROUND_THE_CLOCK_SHIFTS if round_the_clock else DEFAULT_SHIFTS,
            accounts_rate=accounts_rate,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    events = take(generate(config, start), count=count, until=until)
    console = Console(stderr=True)
    if kafka is not None:
        from streams.simulator.kafka_sink import EmitClock, KafkaSink, Pacer, TokenBucket

        pacer: Pacer | None = None
        if realtime:
            pacer = EmitClock(speed)
        elif max_rate:
            pacer = TokenBucket(max_rate)
        try:
            kafka_sink = KafkaSink(kafka, pacer=pacer)
        except ConfigError as error:  # TICKETPULSE_KAFKA_SECURITY_PROTOCOL / _SASL_*
            raise click.UsageError(str(error)) from error
        if quiet or realtime or expected < PROGRESS_FROM:
            counts = asyncio.run(pump(events, kafka_sink))
        else:
            counts = _with_progress(events, kafka_sink, console, count, start, until)
        out = f"kafka {kafka}"
    else:
        assert out is not None
        with click.open_file(out, "w", encoding="utf-8") as stream:
            sink = JsonlSink(stream)
            if quiet or expected < PROGRESS_FROM:
                counts = asyncio.run(pump(events, sink))
            else:
                counts = _with_progress(events, sink, console, count, start, until)
    if not quiet:
        total = sum(counts.values())
        detail = ", ".join(f"{counts[intent]} {intent.value}" for intent in Intent)
        console.print(f"wrote {total} events ({detail}) to {out}", highlight=False, soft_wrap=True)


def _with_progress(
    events: Iterable[Emitted],
    sink: Sink,
    console: Console,
    count: int | None,
    start: Instant,
    until: Instant | None,
) -> Counter[Intent]:
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn() if count is not None else "{task.percentage:>3.0f}%",
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        if count is not None:
            task = progress.add_task("simulating events", total=count)
        else:
            assert until is not None
            task = progress.add_task("simulating time", total=(until - start) / MICROS_PER_SECOND)

        def advance(sent: int, emitted: Emitted) -> None:
            done = sent if count is not None else (emitted.emit_at - start) / MICROS_PER_SECOND
            progress.update(task, completed=done)

        return asyncio.run(pump(events, sink, advance))
