"""Faust's delivery without four tasks per message: the callback's first step runs inline.

Faust's fetch loop (``Consumer._drain_messages``) hands every fetched message to the topic
conductor through ``await self.wait_first(callback(message), self.suspend_flow.wait())``:
mode's ``wait_first`` wraps the callback, the suspend event, and the service's stopped and
crashed events in four tasks and an ``asyncio.wait``, so that a callback blocked on a full
stream buffer can be abandoned when a rebalance suspends the flow. Almost always the
callback does not block at all, and those four tasks are the largest part of Faust's
per-message cost.

``install`` replaces ``wait_first`` on the worker's consumer with one that runs the
callback's first step inline; a callback that has to wait continues in a task under the
original ``wait_first``, so a rebalance still abandons it. ``TP_INLINE=1
bench/bench_faust_ceiling.py`` measures it: Faust's own CPU per message falls by about 40%.

Without a loop turn per message, a whole fetched run reaches the stream buffers before a
rebalance's revoke handler runs, and is dropped from them there. That is safe only because
the worker seeks every partition back to Redis's position after each rebalance
(``streams.live.recovery.seek_after_faust``): before that seek existed, records of a
partition with no committed offset were lost (the broker-kill fault scenario failed 3 of 6
runs with this step); with it, 6 of 6 and the two-workers test 6 of 6.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

WaitFirst = Callable[..., Awaitable[Any]]


async def _finish(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """Drive a coroutine that already took its first step and yielded ``yielded``.

    This is what an asyncio task does with each step: wait for the future the coroutine
    yielded (None: it only gave up the loop), then resume it, which reads the future's
    outcome (result, error or cancellation) itself. A cancellation of this task while it
    waits cancels that future, so it reaches the coroutine the same way.
    """
    while True:
        error: BaseException | None = None
        try:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                # a future yielded to a task is marked "blocking"; the task clears the mark
                # as it takes the future over, and so must we before awaiting it
                yielded._asyncio_future_blocking = False
                await yielded
        except asyncio.CancelledError as cancelled:
            if yielded is None or not yielded.cancelled():
                error = cancelled  # this task was cancelled, not through the future
        except BaseException:
            pass  # the future's own error: the coroutine raises it from ``result()``
        try:
            yielded = coro.throw(error) if error is not None else coro.send(None)
        except StopIteration as stop:
            return stop.value


def inline_first_step(original: WaitFirst) -> WaitFirst:
    """``wait_first`` that runs a delivery callback inline until it would have to wait."""

    async def wait_first(*coros: Any, timeout: Any = None) -> Any:
        if len(coros) != 2 or timeout is not None or not asyncio.iscoroutine(coros[0]):
            return await original(*coros, timeout=timeout)
        delivery, suspended = coros
        try:
            yielded = delivery.send(None)
        except StopIteration:
            if asyncio.iscoroutine(suspended):
                suspended.close()  # never started: close it so it is not reported as such
            return None  # the fetch loop ignores the result
        return await original(_finish(delivery, yielded), suspended)

    return wait_first


def install(consumer: Any) -> bool:
    """Put the inline-first ``wait_first`` on a Faust consumer; False if already there."""
    if getattr(consumer, "_tp_inline_first_step", False):
        return False
    consumer.wait_first = inline_first_step(consumer.wait_first)
    consumer._tp_inline_first_step = True
    return True
