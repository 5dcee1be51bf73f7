"""Retrying Redis through an outage, until the worker stops.

The worker never gives up on Redis while it runs: a batch waits for it (its offsets are not
committed meanwhile) and is applied once Redis is back. A shutdown must not wait for it,
though: once ``stopping`` is set, a retry ends by cancelling its caller, as the shutdown
cancels everything else. Nothing is lost: what Redis holds stays, Kafka redelivers the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


async def retry(
    operation: Callable[[], Awaitable[T]],
    stopping: asyncio.Event,
    max_backoff: float,
    retryable: tuple[type[Exception], ...],
    on_failure: Callable[[Exception], None] = lambda error: None,
) -> T:
    """``operation()``, again after each ``retryable`` failure, backing off from 50 ms to
    ``max_backoff``; raises ``CancelledError`` once ``stopping`` is set."""
    delay = 0.05
    while True:
        try:
            return await operation()
        except retryable as error:
            on_failure(error)
            if stopping.is_set():
                raise asyncio.CancelledError("stopping: not retrying Redis") from None
            log.warning("transient failure, retrying in %.2fs: %s", delay, error)
            if await stopped_within(stopping, delay):
                raise asyncio.CancelledError("stopping: not retrying Redis") from None
            delay = min(delay * 2, max_backoff)


async def stopped_within(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``, or less if ``stopping`` is set meanwhile; whether it is."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
    return stopping.is_set()
