"""The watch of owned partitions (``Rebalance.watch_state``) over a store that fails.

The store turns Redis's connection errors into ``TransientError`` on every path the watch
takes (its check; the reload of a partition that went back retries them itself), so the
watch handles that one error and imports nothing of Redis.
"""

from __future__ import annotations

from typing import Any, cast

from streams.errors import TransientError
from streams.live.rebalance import Rebalance
from streams.live.recovery import StateGuard
from streams.live.settings import WorkerSettings
from streams.live.stores.memory import MemoryStore
from streams.live.stores.protocol import PartitionCheck
from tests.unit.test_worker_memory import worker


class FailingStore(MemoryStore):
    """A memory store whose check fails as a Redis that went away."""

    def __init__(self) -> None:
        super().__init__()
        self.failing_check = False

    async def check(self, partition: int) -> PartitionCheck:
        if self.failing_check:
            raise TransientError("redis check: Connection refused")
        return await super().check(partition)


def rebalance(store: FailingStore) -> tuple[Rebalance, Any]:
    live = worker(store)
    settings = WorkerSettings(group_id="watch-test")
    app, consumer = cast(Any, None), cast(Any, None)  # the watch uses neither
    return Rebalance(app, consumer, live, StateGuard(store), settings, live.metrics), live


async def test_a_transient_check_failure_ends_the_watch_quietly() -> None:
    store = FailingStore()
    watch, live = rebalance(store)
    await StateGuard(store).claim(0)
    await live.assign({0})
    store.failing_check = True
    await watch.watch_state()  # no error: the next tick checks again
    assert set(live.states) == {0}
