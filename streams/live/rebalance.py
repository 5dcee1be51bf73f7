"""The consumer group follows Redis: partitions adopted at each rebalance, positions committed.

Redis holds each partition's applied offsets; the group's committed offsets are only a hint
(and what lag tools read). At each rebalance the assigned partitions are claimed and adopted
from Redis before anything is consumed, Redis's positions are committed where the group
disagrees, and the seek that ends the rebalance lands on them (``seek_after_faust``). Every
second the positions Redis holds are committed, and each owned partition's state is checked
against Redis (``StateGuard``): a Redis gone back is consumed again, a lost marker exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import faust
from faust.types import TP

from streams.errors import TransientError
from streams.live.consumer import FaustConsumer
from streams.live.metrics import Metrics
from streams.live.recovery import (
    BEHIND,
    LOST_STATE_EXIT,
    MARKER_GONE,
    StateGuard,
    positions,
    seek_after_faust,
)
from streams.live.settings import WorkerSettings
from streams.live.worker import Worker

log = logging.getLogger(__name__)


class Rebalance:
    """Faust's rebalance signals and the commit and watch timers, for one app and worker."""

    def __init__(
        self,
        app: faust.App,
        consumer: FaustConsumer,
        worker: Worker,
        guard: StateGuard,
        settings: WorkerSettings,
        metrics: Metrics,
    ) -> None:
        self.app = app
        self.consumer = consumer
        self.worker = worker
        self.guard = guard
        self.settings = settings
        self.metrics = metrics
        # Set once the partitions of the current rebalance are claimed and adopted; Faust's
        # recovery seeks them right after ``on_rebalance_complete``, which waits for it.
        self.adopted = asyncio.Event()
        self.committed: dict[TP, int] = {}  # what ``commit_positions`` last committed

    def connect(self) -> None:
        """Connect to the app's rebalance signals and start the timers with the app."""
        app = self.app
        app.on_partitions_assigned.connect(self.on_assigned)
        app.on_rebalance_complete.connect(self.follow_redis)
        app.timer(interval=1.0)(self.commit_positions)
        app.timer(interval=1.0)(self.watch_state)
        app.on_partitions_revoked.connect(self.on_revoked)

    def redis_positions(self) -> dict[TP, int]:
        """Assigned input partition -> the offset after the last one Redis applied."""
        applied = {p: dict(state.offsets) for p, state in self.worker.states.items()}
        assignment = self.app.consumer.assignment()
        return {
            TP(topic, partition): offset
            for (topic, partition), offset in positions(applied, self.settings.input_topics).items()
            if TP(topic, partition) in assignment
        }

    async def on_assigned(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Patches Faust's consumer, once, before anything is delivered: records fetched
        # as a rebalance stops the flow are dropped, and fetched again after this seek.
        seek_after_faust(self.app.consumer, self.redis_positions, self.worker.sought)
        try:
            await self.adopt(args[0] if args else kwargs.get("assigned", set()))
        finally:
            self.adopted.set()

    async def adopt(self, assigned: Any) -> None:
        worker = self.worker
        mine = {tp.partition for tp in assigned if tp.topic in self.settings.input_topics}
        gone = (worker.owned or set(worker.states)) - mine
        await worker.revoke(gone)
        for partition in sorted(mine - set(worker.states)):
            async with worker.locks[partition]:
                if partition not in worker.states:
                    await self.guard.claim(partition)  # a partition whose state is gone is wiped
        await worker.assign(mine)

    async def follow_redis(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Commit Redis's positions just before Faust seeks every partition to its committed
        offset: the worker continues after what Redis holds, whatever the group committed
        (Redis emptied, restored from a backup, or offsets reset by an operator)."""
        # adopting waits for Redis; consuming before it is done would be wrong
        while not self.adopted.is_set():
            if self.worker.stopping.is_set():
                return
            try:
                await asyncio.wait_for(self.adopted.wait(), self.settings.session_timeout_seconds)
            except TimeoutError:
                log.warning("still adopting the assigned partitions (is Redis up?)")
        try:
            # Only where Redis and the group disagree (Redis emptied or restored, offsets
            # reset, or nothing committed yet). The positions themselves are set right
            # after Faust's own seek (``seek_after_faust``).
            wanted = await self.consumer.disagreeing(self.redis_positions())
            if wanted and not await self.consumer.commit(wanted):
                log.warning("could not commit Redis's positions (rebalancing again): %s", wanted)
        except Exception as error:  # a newer rebalance took these partitions: it seeks anew
            log.warning("positions from Redis not committed (%r); the next rebalance will", error)
        self.committed.clear()  # the next commit sends every assigned partition's position

    async def commit_positions(self) -> None:
        """Commit what Redis holds, so that the group's offsets (what lag tools read) follow
        the worker: its batches bypass Faust's acks, from which Faust would commit."""
        if not self.adopted.is_set():
            return  # rebalancing: ``follow_redis`` commits at its end
        committed = self.committed
        wanted = {tp: at for tp, at in self.redis_positions().items() if committed.get(tp) != at}
        if not wanted:
            return
        try:
            if await self.consumer.commit(wanted):
                committed.update(wanted)
        except Exception as error:  # a rebalance began: the next tick, or its end, commits
            log.info("positions not committed (%r); retrying", error)

    async def watch_state(self) -> None:
        """Consume again what Redis lost (it went back: restored from an older copy), and
        exit for a supervised restart and a rebuild if it lost a partition's marker."""
        worker = self.worker
        for partition in sorted(worker.states):
            async with worker.locks[partition]:
                state = worker.states.get(partition)
                if state is None:
                    continue
                try:
                    problem, missed = await self.guard.intact(
                        partition, state.offsets, state.writes
                    )
                    for topic in self.settings.input_topics:  # acknowledged (deleted): back to 0
                        self.metrics.set_missed_offsets_recorded(
                            topic, partition, missed.get(topic, 0)
                        )
                    if problem == BEHIND:
                        await worker.resync(partition)
                except TransientError:  # the store's form of every Redis connection error
                    return  # Redis is down (or loading): batches retry, /readyz is not ready
                if problem == MARKER_GONE:
                    # Until the restart, a batch starting past Redis's (emptied) offsets
                    # seeks back instead of being applied: nothing is written past a gap.
                    log.critical("partition %d: %s; exiting to rebuild it", partition, problem)
                    os._exit(LOST_STATE_EXIT)

    async def on_revoked(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        self.adopted.clear()  # a rebalance: the next assignment must be adopted before seeking
        revoked = args[0] if args else kwargs.get("revoked", set())
        await self.worker.revoke(
            {tp.partition for tp in revoked if tp.topic in self.settings.input_topics}
        )
