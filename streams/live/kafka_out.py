"""The worker's Kafka producers: dead letters, tickets' links to accounts, and the events
``POST /events`` accepts.

Dead letters and links go through one idempotent producer (acks=all). A ``POST /events`` body goes
through a transactional one (idempotent, acks=all too), one Kafka transaction per body, so
that consumers reading committed see all of a body or none of it, even when a broker dies
half-way. Both start on first use: a worker that never dead-letters nor takes a ``POST``
opens no producer connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from streams.domain.events import Topic
from streams.live import api
from streams.live.settings import WorkerSettings

log = logging.getLogger(__name__)

# Kafka aborts a transaction left open this long (a worker that died mid-body).
TRANSACTION_TIMEOUT_MS = 60_000


def transactional_id(settings: WorkerSettings, host: str | None = None) -> str:
    """The ``POST /events`` producer's transactional id: stable for a worker (its group,
    host and HTTP port), so that a restarted worker fences the producer of its previous
    life and settles the transaction that one left open; distinct between the workers
    of a group, which produce in parallel."""
    return f"{settings.group_id}.post-events.{host or socket.gethostname()}:{settings.web_port}"


class KafkaOut:
    """One idempotent producer (acks=all) for the dead-letter topic, and one transactional
    producer for ``POST /events`` (ticket, contact and survey events to their topics,
    account events to the accounts one), bodies one after another."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.topics = settings.topics
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._transactional: AIOKafkaProducer | None = None
        self._body_lock = asyncio.Lock()  # one transaction open at a time per producer

    def _options(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.settings.kafka_bootstrap,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 5,
            "request_timeout_ms": int(self.settings.produce_timeout_seconds * 1000),
            **self.settings.kafka_auth.aiokafka_options(),
        }

    async def producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(**self._options())
                await producer.start()
                self._producer = producer
            return self._producer

    async def send(self, records: Sequence[dict[str, Any]]) -> None:
        """Dead letters: JSON values, keyed by the original ticket id when there is one."""
        producer = await self.producer()
        futures = []
        for record in records:
            event = record.get("event")
            ticket = event.get("ticket_id") if isinstance(event, dict) else None
            key = ticket.encode() if isinstance(ticket, str) else None
            value = json.dumps(record, separators=(",", ":"), default=str).encode()
            futures.append(await producer.send(self.topics.deadletter, value, key=key))
        await asyncio.gather(*futures)

    async def send_links(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Tickets' links to their accounts (``streams.live.account_outbox``), keyed by
        account id: Kafka's default partitioner puts each on its account's partition."""
        producer = await self.producer()
        topic = self.topics.account_support
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)

    async def send_events(self, records: Sequence[api.Encoded]) -> None:
        """``POST /events``: the body in one transaction, committed, or aborted and the error
        raised (nothing written); ``api.CommitUnknown`` when Kafka did not confirm the
        commit in time. Records are encoded off the event loop; the loop gets its turn
        between thousands, so a large request does not hold up probes and batches."""
        async with self._body_lock:
            producer = await self._transactional_producer()
            try:
                async with asyncio.timeout(self.settings.produce_timeout_seconds):
                    await producer.begin_transaction()
                    futures = []
                    for number, (kind, key, value) in enumerate(records, start=1):
                        futures.append(await producer.send(self._topic(kind), value, key=key))
                        if number % 1000 == 0:
                            await asyncio.sleep(0)
                    await asyncio.gather(*futures)
            except TimeoutError as error:
                await self._abort(producer)
                wait = self.settings.produce_timeout_seconds
                raise TimeoutError(f"not all acknowledged within {wait:g} s") from error
            except BaseException:
                await self._abort(producer)
                raise
            await self._commit(producer)

    async def _transactional_producer(self) -> AIOKafkaProducer:
        if self._transactional is None:
            producer = AIOKafkaProducer(
                **self._options(),
                transactional_id=transactional_id(self.settings),
                transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._transactional = producer
        return self._transactional

    async def _abort(self, producer: AIOKafkaProducer) -> None:
        """Abort the open transaction; a producer that cannot (fenced, or Kafka gone) is
        dropped: its transaction is aborted by Kafka (timeout, or the next producer with the
        same id) and never committed, as no commit was asked."""
        try:
            async with asyncio.timeout(self.settings.produce_timeout_seconds):
                await producer.abort_transaction()
        except Exception as error:
            log.warning("POST /events: aborting the transaction failed (%s); new producer", error)
            await self._drop(producer)

    async def _commit(self, producer: AIOKafkaProducer) -> None:
        """Ask for the commit and wait for Kafka's answer, which aiokafka retries to get: a
        refusal means aborted (nothing written); no answer within the transaction timeout
        leaves the outcome unknown (``api.CommitUnknown``)."""
        wait = TRANSACTION_TIMEOUT_MS / 1000 + self.settings.produce_timeout_seconds
        try:
            async with asyncio.timeout(wait):
                await producer.commit_transaction()
        except TimeoutError as error:
            await self._drop(producer)
            raise api.CommitUnknown(f"no answer to the commit within {wait:g} s") from error
        except BaseException:
            await self._abort(producer)
            raise

    async def _drop(self, producer: AIOKafkaProducer) -> None:
        if self._transactional is producer:
            self._transactional = None
        try:
            await producer.stop()
        except Exception as error:  # already broken: nothing more to release
            log.debug("stopping a failed transactional producer: %s", error)

    def _topic(self, kind: str) -> str:
        if kind == api.ACCOUNTS:
            return self.topics.accounts
        return self.topics.name_of(Topic(kind))

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        if self._transactional is not None:
            await self._drop(self._transactional)
