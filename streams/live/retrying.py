"""Retrying Redis through an outage, until the worker stops.

The worker never gives up on Redis while it runs: a batch waits for it (its offsets are not
committed meanwhile) and is applied once Redis is back. A shutdown must not wait for it,
though: once ``stopping`` is set, a retry ends by cancelling its caller, as the shutdown
cancels everything else. Nothing is lost: what Redis holds stays, Kafka redelivers the rest.

The waits have full jitter (``backoff``): workers that lost Redis in the same instant do not
all come back in the same instant, again and again. Hand-written rather than tenacity: this
loop wraps every Redis call of the worker, and tenacity's ``AsyncRetrying`` costs about 12 µs
a call that succeeds at once against 0.2 µs here (``bench/bench_retry.py``), while its hooks for
"give up once stopping" and "count each failure" would make the code no shorter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_BACKOFF = 0.05  # seconds: the ceiling of the first wait, doubled after each failure


async def retry(
    operation: Callable[[], Awaitable[T]],
    stopping: asyncio.Event,
    max_backoff: float,
    retryable: tuple[type[Exception], ...],
    on_failure: Callable[[Exception], None] = lambda error: None,
) -> T:
    """``operation()``, again after each ``retryable`` failure, backing off from 50 ms to
    ``max_backoff`` (``backoff``); raises ``CancelledError`` once ``stopping`` is set."""
    waits: Iterator[float] | None = None  # made on the first failure: most calls succeed
    while True:
        try:
            return await operation()
        except retryable as error:
            on_failure(error)
            if stopping.is_set():
                raise asyncio.CancelledError("stopping: not retrying Redis") from None
            waits = waits or backoff(FIRST_BACKOFF, max_backoff)
            delay = next(waits)
            log.warning("transient failure, retrying in %.3fs: %s", delay, error)
            if await stopped_within(stopping, delay):
                raise asyncio.CancelledError("stopping: not retrying Redis") from None


def backoff(
    first: float, cap: float, uniform: Callable[[float, float], float] = random.uniform
) -> Iterator[float]:
    """Waits with full jitter: the n-th drawn from [0, min(first * 2**n, cap)]."""
    ceiling = min(first, cap)
    while True:
        yield uniform(0.0, ceiling)
        ceiling = min(ceiling * 2, cap)


async def stopped_within(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``, or less if ``stopping`` is set meanwhile; whether it is."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
    return stopping.is_set()
