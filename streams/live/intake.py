"""``POST /events`` at the edge: what one request may cost the worker, and what it answers.

The body is read whole, chunk by chunk, up to ``max_body_bytes`` (413 beyond, whether the
size was announced or not); it is parsed, validated and encoded in a thread of its own, one
body at a time, so a large body does not hold up the event loop that also applies batches
and answers probes; and at most ``concurrency`` requests are in flight (reading, parsing or
producing). One more answers 503 with ``Retry-After`` at once, without reading its body,
which bounds the memory requests can take to about that many bodies and their events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from streams.live import api

BODY_SECONDS = 60.0  # the longest a client may take to send its body: then 408
RETRY_AFTER_BUSY = 1
RETRY_AFTER_KAFKA = 5


class Chunks(Protocol):
    """What ``read_body`` needs of aiohttp's ``StreamReader``."""

    async def readany(self) -> bytes: ...


async def read_body(stream: Chunks, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past ``limit`` bytes (the rest unread).

    ``readany`` returns what has arrived so far, so a single read would cut a body that
    comes in several writes or chunks; only an empty read means the end.
    """
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.readany():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Intake:
    """The request side of ``POST /events``; ``send`` produces the validated events."""

    def __init__(
        self,
        max_bytes: int,
        concurrency: int,
        send: Callable[[Sequence[api.Encoded]], Awaitable[None]],
        body_seconds: float = BODY_SECONDS,
    ) -> None:
        self.max_bytes = max_bytes
        self.concurrency = concurrency
        self.body_seconds = body_seconds
        self._send = send
        self._slots = asyncio.Semaphore(concurrency)
        # One thread: with the GIL more would not parse faster, only take the event loop's
        # turns more often (a parse holds the GIL for its whole call).
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="post-events")

    async def post(self, length: int | None, content_type: str, stream: Chunks) -> Answer:
        if length is not None and length > self.max_bytes:
            return self._too_large()
        unsupported = api.unsupported_type(content_type)
        if unsupported is not None:
            return Answer(*unsupported)
        if self._slots.locked():
            busy = f"(server): {self.concurrency} requests in flight already; retry later"
            return Answer(503, {"error": busy}, {"Retry-After": str(RETRY_AFTER_BUSY)})
        async with self._slots:
            try:
                async with asyncio.timeout(self.body_seconds):
                    body = await read_body(stream, self.max_bytes)
            except TimeoutError:
                error = f"(body): not received within {self.body_seconds:g} s"
                return Answer(408, {"error": error})
            if body is None:
                return self._too_large()
            loop = asyncio.get_running_loop()
            parsed = await loop.run_in_executor(
                self._pool, api.parse_events_body, body, content_type
            )
            del body  # not held while Kafka acknowledges
            status, reply = await api.post_events(parsed, self._send)
        if status == 503:
            return Answer(status, reply, {"Retry-After": str(RETRY_AFTER_KAFKA)})
        return Answer(status, reply)

    def _too_large(self) -> Answer:
        return Answer(413, {"error": f"(body): larger than {self.max_bytes} bytes"})

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
