"""The worker's Kafka producer: dead letters, tickets' links to accounts, and the events
``POST /events`` accepts.

One idempotent producer (acks=all), started on first use, so that a worker that never
dead-letters nor takes a ``POST`` opens no producer connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from streams.domain.events import Topic
from streams.live import api
from streams.live.settings import WorkerSettings


class KafkaOut:
    """One idempotent producer (acks=all) for the dead-letter topic and ``POST /events``
    (ticket, contact and survey events to their topics, account events to the accounts one)."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.topics = settings.topics
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.settings.kafka_bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=5,
                    request_timeout_ms=int(self.settings.produce_timeout_seconds * 1000),
                    **self.settings.kafka_auth.aiokafka_options(),
                )
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
        """``POST /events``: records encoded off the event loop; the loop gets its turn
        between thousands, so a large request does not hold up probes and batches."""
        producer = await self.producer()
        futures = []
        for number, (kind, key, value) in enumerate(records, start=1):
            topic = self._topic(kind)
            futures.append(await producer.send(topic, value, key=key))
            if number % 1000 == 0:
                await asyncio.sleep(0)
        await asyncio.gather(*futures)

    def _topic(self, kind: str) -> str:
        if kind == api.ACCOUNTS:
            return self.topics.accounts
        return self.topics.name_of(Topic(kind))

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
