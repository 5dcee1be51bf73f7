"""When the worker publishes the snapshot: soon after new data, paced, and at least every interval.

A timer that publishes every second adds up to a second to every number a lead sees, and
a breach recorded by the scanner waits for it too. The ``Publisher`` publishes as soon as a
batch or a breach scan has changed something, but not sooner than ``min_gap`` after the
previous publish started, and spends at most the ``Pacer``'s share of the time publishing
(merging a week of windows grows with the data). With nothing new it still publishes every
``interval``: at-risk counts and the window edges move with the clock alone. While the
worker catches up on a backlog (more than a batch is waiting in Kafka after what it
applied, ``Worker.lag``), it publishes only every ``interval``: a fresher snapshot of old data
is not worth the time taken from the batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Pacer:
    """Keeps publishing the snapshot to at most ``share`` of the time.

    Merging and encoding a week of window sums grows with the data; run too often it would
    crowd out the batches. After a run of ``d`` seconds the next may start ``d / share``
    seconds after the run started.
    """

    share: float = 0.25
    not_before: float = 0.0

    def ran(self, started: float, finished: float) -> None:
        self.not_before = started + (finished - started) / self.share


@dataclass(slots=True)
class Publisher:
    publish: Callable[[], Awaitable[object]]
    interval: float  # the longest time between two publishes
    min_gap: float  # the shortest time between the starts of two publishes
    pacer: Pacer = field(default_factory=Pacer)
    clock: Callable[[], float] = time.monotonic
    fresh: asyncio.Event = field(default_factory=asyncio.Event)
    last_start: float = float("-inf")
    catching_up: bool = False

    def changed(self, backlog: bool = False) -> None:
        """Something new is in the worker's state: publish it soon, or with ``backlog``
        (more is waiting to be applied) at the interval."""
        self.catching_up = backlog
        self.fresh.set()

    async def run(self) -> None:
        """Publish until cancelled; a failed publish is logged and retried on the next turn."""
        while True:
            await self.wait_turn()
            try:
                await self.publish_now()
            except Exception:
                log.exception(
                    "publishing the snapshot failed; trying again in %.1fs", self.interval
                )
                await asyncio.sleep(self.interval)

    async def wait_turn(self) -> None:
        """Until there is something new (or ``interval`` passed) and the pacing allows."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.fresh.wait(), self.interval)
        gap = self.interval if self.catching_up else self.min_gap
        ready = max(self.pacer.not_before, self.last_start + gap)
        wait = ready - self.clock()
        if wait > 0:
            await asyncio.sleep(wait)

    async def publish_now(self) -> None:
        self.fresh.clear()  # what arrives from here on is published next time
        started = self.last_start = self.clock()
        await self.publish()
        self.pacer.ran(started, self.clock())
