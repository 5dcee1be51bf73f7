"""The state guard (claims, rebuilds, the watch) over the in-memory store, without Redis."""

from __future__ import annotations

from streams.live.recovery import BEHIND, MARKER_GONE, StateGuard
from streams.live.stores.memory import MemoryStore
from streams.live.writes import PartitionWrites

WRITES = PartitionWrites(2, backlog={"open": 1}, offsets={"t": 9}, missed={"t": 3})


async def test_a_new_partition_is_claimed_without_a_wipe_then_kept() -> None:
    store = MemoryStore()
    guard = StateGuard(store)
    await store.apply(PartitionWrites(5, offsets={"t": 1}))  # another partition's state

    assert await guard.claim(2) is True  # no marker: (re)built
    assert guard.rebuilt == [2]
    await store.apply(WRITES)
    assert await guard.claim(2) is False  # its marker is there: the state is whole
    assert await store.backlog(2) == {"open": 1}
    assert await store.load_offsets(5) == {"t": 1}


async def test_a_partition_that_lost_its_marker_is_wiped() -> None:
    store = MemoryStore()
    await store.apply(WRITES)  # state written, the marker gone (Redis restored without it)

    assert await StateGuard(store).claim(2) is True
    assert await store.load_offsets(2) == {}
    assert await store.backlog(2) == {}
    assert await store.has_marker(2) is True


async def test_the_watch_tells_marker_gone_behind_and_intact() -> None:
    store = MemoryStore()
    guard = StateGuard(store)
    assert await guard.intact(2, {}, 0) == (MARKER_GONE, {})
    await guard.claim(2)
    await store.apply(WRITES)

    assert await guard.intact(2, {"t": 9}, 1) == ("", {"t": 3})
    assert await guard.intact(2, {"t": 10}, 1) == (BEHIND, {"t": 3})  # offsets went back
    assert await guard.intact(2, {"t": 9}, 2) == (BEHIND, {"t": 3})  # writes went back
    assert await guard.intact(2, {"u": 0}, 1) == (BEHIND, {"t": 3})  # a topic it never had
