"""The simulator's Kafka output, and pacing for sending simulated traffic in real time.

``KafkaSink`` fits the simulator's sink seam (``send(emitted)``, ``close()``, see
``streams.simulator.simulate``). It produces each ``Emitted`` as it is, valid or not: an invalid
event travels to the topic it was meant for with its raw text, because that is how invalid
events reach the worker and its dead-letter path. Messages are handed to the producer
without waiting, and their delivery reports are awaited every ``flush_every`` messages or
``flush_interval`` seconds, so the simulator runs at batch speed yet a broker error stops it
within one flush.

The simulator does not pace (its generator is pure and the pump sends as fast as the sink
takes events), so pacing lives here, and only here, as a ``Pacer`` a sink waits on:
- ``EmitClock`` sends each event when its ``emit_at`` comes on the wall clock (optionally
  faster). With ``--start now`` the events' timestamps then track real time, which the live
  worker's minute windows and SLA deadlines assume. The rate follows the simulation's own
  (``--rate`` on average, busier office hours).
- ``TokenBucket`` caps the rate at a steady events per second, whatever the timestamps say:
  for load tests, where a fixed throughput matters more than aligned clocks.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from streams.domain.instant import MICROS_PER_SECOND
from streams.emit import (
    auth_from_env,
    bootstrap_from_env,
    delivered,
    producer_config,
    start_producer,
)
from streams.errors import TransientError
from streams.simulator.simulation import Emitted
from streams.topic_names import TopicNames

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Pacer(Protocol):
    """Waits until the next event may be sent."""

    async def wait(self, emitted: Emitted) -> None: ...


class TokenBucket:
    """At most ``rate`` events per second on average and ``burst`` at once.

    A token is taken per event; when none is left the caller sleeps until one has been
    earned. The balance may go below zero (a debt the next caller also waits out), so
    the long-run rate is exact and one sleep per event suffices.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError("rate: must be positive")
        self.rate = rate
        self.burst = max(1.0, rate / 10) if burst is None else burst
        if not self.burst >= 1:
            raise ValueError("burst: must be at least 1")
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()

    async def wait(self, emitted: Emitted | None = None) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1
        if self._tokens < 0:
            await self._sleep(-self._tokens / self.rate)


class EmitClock:
    """Each event waits until its ``emit_at``, on a wall clock anchored at the first event.

    ``speed`` 2 runs the simulation twice as fast as real time. An event already due (the
    producer fell behind) goes at once; the schedule does not drift, it catches up.
    """

    def __init__(
        self,
        speed: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not speed > 0:
            raise ValueError("speed: must be positive")
        self.speed = speed
        self._clock = clock
        self._sleep = sleep
        self._origin: tuple[int, float] | None = None

    async def wait(self, emitted: Emitted) -> None:
        if self._origin is None:
            self._origin = (emitted.emit_at, self._clock())
            return
        first_emit, first_wall = self._origin
        due = first_wall + (emitted.emit_at - first_emit) / MICROS_PER_SECOND / self.speed
        delay = due - self._clock()
        if delay > 0:
            await self._sleep(delay)


class KafkaSink:
    """Produces simulated events to Kafka: value = the JSONL line, key = the ticket_id, or
    the account_id of an account event (on the accounts topic), so Kafka's default
    partitioner places each as ``streams.emit`` does.

    The producer starts on the first ``send``, inside the running loop, so the simulator
    can make the sink before ``asyncio.run``. Address, topic names and authentication
    default as for ``streams.emit.Emitter``. ``sent`` counts messages per topic.
    """

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        *,
        topics: TopicNames | None = None,
        pacer: Pacer | None = None,
        flush_every: int = 2000,
        flush_interval: float = 0.5,
        clock: Clock = time.monotonic,
        client_id: str = "ticketpulse-simulate",
        linger_ms: int = 20,
        **producer_options: Any,
    ) -> None:
        if flush_every < 1:
            raise ValueError("flush_every: must be at least 1")
        self.topics = TopicNames.from_env() if topics is None else topics
        self.pacer = pacer
        self.flush_every = flush_every
        self.flush_interval = flush_interval
        self.sent: Counter[str] = Counter()
        self._config = producer_config(
            bootstrap_servers or bootstrap_from_env(),
            {
                **auth_from_env(),
                "client_id": client_id,
                "linger_ms": linger_ms,
                **producer_options,
            },
        )
        self._clock = clock
        self._producer: Any = None
        self._pending: list[asyncio.Future[Any]] = []
        self._flushed_at = clock()

    async def send(self, emitted: Emitted) -> None:
        if self.pacer is not None:
            await self.pacer.wait(emitted)
        if self._producer is None:
            self._producer = await start_producer(self._config)
            self._flushed_at = self._clock()
        topic = self.topics.name_of(emitted.topic)
        from aiokafka.errors import KafkaError

        try:
            future = await self._producer.send(
                topic, value=emitted.line().encode(), key=emitted.key.encode()
            )
        except KafkaError as error:
            raise TransientError(f"kafka: could not queue an event: {error}") from error
        self._pending.append(future)
        self.sent[topic] += 1
        if (
            len(self._pending) >= self.flush_every
            or self._clock() - self._flushed_at >= self.flush_interval
        ):
            await self.flush()

    async def flush(self) -> None:
        """Wait until Kafka has acknowledged every message sent so far."""
        pending, self._pending = self._pending, []
        self._flushed_at = self._clock()
        await delivered(pending)

    async def close(self) -> None:
        """Flush, then stop the producer (also after a failed flush)."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            await self.flush()
        finally:
            await producer.stop()
