"""Redis is the truth, and Kafka positions follow it: rebuilding after Redis lost its state.

The worker skips messages at or below the offsets Redis says are applied (``{p}:off``). That
makes redelivery harmless, but it cannot bring back what Redis lost: after Redis restarts
empty, or is restored from an older backup, the consumer group's committed offsets are ahead
of the state, and the batches in between would be missing for good. So:

- **Positions from Redis.** When a worker takes over a partition, it commits, for each input
  topic, Redis's applied offset + 1 (offset 0 when Redis has none) to the consumer group just
  before Faust seeks the partition to its committed offsets, and seeks it there itself right
  after (``seek_after_faust``). Kafka's own committed offsets are only a hint; the worker
  always continues exactly after what Redis holds.
- **A marker per partition.** ``{<prefix>:p<p>}:epoch`` is written when a worker takes over a
  partition and never by a batch. A partition without it has lost its state (or part of it:
  batches applied after an empty restart and before anyone noticed): its keys are deleted and
  it is rebuilt from the start of the topics. That needs Kafka to still hold every event of
  the tickets that matter (docs/faults.md: the retention requirement).
- **Never past Redis.** A batch that starts past Redis's applied offset + 1 is not applied:
  the partition is sought back there and consumed again (``streams.live.continuity``), unless
  the consumer was just positioned there (a real gap). So when Redis goes back (restored from
  an older copy) no partition writes past what it lost.
- **A watch while running.** Every second the worker checks, for each partition it owns and
  with no batch in flight, that the marker is there and that Redis's offsets (and its count
  of writes, ``{p}:writes``) are not behind the ones it applied. Behind: it reloads the
  partition and seeks it back (an idle partition would otherwise never fetch the lost
  records again). No marker: Redis lost the partition's state; it exits (code 75) so that
  its supervisor restarts it, and the restart wipes and rebuilds as above (meanwhile the
  rule above keeps every partition from writing past a gap).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from streams.errors import TransientError
from streams.live.retrying import retry
from streams.live.stores.protocol import Store

log = logging.getLogger(__name__)
T = TypeVar("T")
LOST_STATE_EXIT = 75  # EX_TEMPFAIL: restart me
MARKER_GONE = "its state marker is gone (Redis emptied or restarted without its data)"
BEHIND = "Redis went back (restored from an older copy)"


class StateGuard:
    """Claims partitions (rebuilding those whose state is gone) and watches owned ones."""

    def __init__(
        self, store: Store, max_backoff: float = 5.0, stopping: asyncio.Event | None = None
    ) -> None:
        self.store = store
        self.max_backoff = max_backoff
        self.stopping = stopping if stopping is not None else asyncio.Event()
        self.rebuilt: list[int] = []

    async def claim(self, partition: int) -> bool:
        """Make sure the partition's state is whole; True when it had to be rebuilt (wiped)."""
        if await self._retry(lambda: self.store.has_marker(partition)):
            return False
        deleted = 0
        # A partition without any state has nothing to wipe (a new one: no keyspace scan).
        if await self._retry(lambda: self.store.has_state(partition)):
            deleted = await self._retry(lambda: self.store.wipe(partition))
        token = f"{os.getpid()}@{time.time():.3f}"
        await self._retry(lambda: self.store.set_marker(partition, token))
        self.rebuilt.append(partition)
        log.warning(
            "partition %d: Redis holds no state marker for it (new, emptied or restarted "
            "without its data); deleted %d stale keys, rebuilding from the start of the topics",
            partition,
            deleted,
        )
        return True

    async def intact(
        self, partition: int, applied: Mapping[str, int], writes: int
    ) -> tuple[str, dict[str, int]]:
        """('' if Redis still holds what this worker applied to the partition,
        ``MARKER_GONE`` if it lost the partition's state, ``BEHIND`` if its applied offsets
        or its count of writes went back; topic -> the offsets never received that Redis
        records for it)."""
        found = await self.store.check(partition)
        if not found.marker:
            return MARKER_GONE, found.missed
        if any(found.offsets.get(t, -1) < o for t, o in applied.items()):
            return BEHIND, found.missed
        if found.writes < writes:
            return BEHIND, found.missed
        return "", found.missed

    async def _retry(self, operation: Callable[[], Awaitable[T]]) -> T:
        return await retry(operation, self.stopping, self.max_backoff, (TransientError,))


def positions(
    applied: Mapping[int, Mapping[str, int]], topics: Iterable[str]
) -> dict[tuple[str, int], int]:
    """(topic, partition) -> the offset to consume next: after what Redis applied, else 0."""
    return {
        (topic, partition): offsets.get(topic, -1) + 1
        for partition, offsets in applied.items()
        for topic in topics
    }


def seek_after_faust(
    consumer: Any,
    wanted: Callable[[], Mapping[Any, int]],
    sought: Callable[[str, int, int], None] = lambda topic, partition, offset: None,
) -> None:
    """Make the seek that ends each rebalance land on Redis's positions, whatever Faust did.

    Faust seeks every partition to its committed offset just before it resumes the flow,
    but aiokafka's ``seek_to_committed`` skips partitions whose committed offset is 0 or
    absent. Records fetched during the rebalance and dropped by Faust (its fetch loop
    discards what arrives while the flow is stopped, and its stream buffers are cleared)
    have moved such a partition's position past them, and Faust keeps a stale *read
    offset* below which it drops records silently: they would be skipped for good.
    Seeking each assigned partition to Redis's position with Faust's own ``seek`` (which
    also resets the read offset), right after Faust's seek, closes both. ``sought`` is told
    each (topic, partition, offset) sought to. Idempotent.
    """
    if getattr(consumer, "_ticketpulse_seeks", False):
        return
    faust_seek = consumer.perform_seek

    async def perform_seek() -> None:
        await faust_seek()
        for tp, offset in sorted(wanted().items()):
            try:
                await consumer.seek(tp, offset)
            except Exception as error:  # taken by a newer rebalance: that one seeks anew
                log.warning("could not seek %s to %d (%r)", tp, offset, error)
                continue
            sought(tp.topic, tp.partition, offset)

    consumer.perform_seek = perform_seek
    consumer._ticketpulse_seeks = True
