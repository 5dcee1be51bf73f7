"""What the in-memory store models beyond the contract: expiry, on its injected clock.

As the Redis store's TTLs (tests/integration/test_store.py): closed tickets' records and
minute buckets expire; open tickets' records never do.
"""

from __future__ import annotations

import pytest

from streams.live.stores.memory import MemoryStore
from streams.live.writes import BucketValues, PartitionWrites
from tests.stores.contract import EMAIL, MIN, T0, full_writes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_closed_records_expire_open_ones_persist() -> None:
    clock = Clock()
    store = MemoryStore(closed_ticket_ttl=3000, clock=clock)
    await store.apply(full_writes())  # T-2 closed, T-1 open
    clock.now += 2999
    assert set(await store.load_tickets(3, ["T-1", "T-2"])) == {"T-1", "T-2"}

    # written again without being closed: persists; closing alone sets the TTL
    await store.apply(PartitionWrites(3, tickets={"T-2": b"reopened"}, closed={"T-1"}))
    clock.now += 2999
    assert await store.load_tickets(3, ["T-1", "T-2"]) == {
        "T-1": b'{"n":1,"e":[]}',
        "T-2": b"reopened",
    }
    clock.now += 1
    assert await store.load_tickets(3, ["T-1", "T-2"]) == {"T-2": b"reopened"}


async def test_buckets_expire_unless_written_again_and_leave_the_index() -> None:
    clock = Clock()
    store = MemoryStore(bucket_ttl=5000, clock=clock)
    await store.apply(full_writes())  # increments at T0 and T0 + MIN
    clock.now += 4000
    await store.apply(PartitionWrites(3, bucket_values={T0 + MIN: BucketValues({EMAIL: 9})}))
    clock.now += 1000

    assert await store.load_buckets(3, 0) == {T0 + MIN: {EMAIL: 9}}
    # an expired bucket counts afresh: its old fields are gone
    await store.apply(PartitionWrites(3, buckets={T0: {EMAIL: 1}}))
    assert await store.load_buckets(3, 0) == {T0: {EMAIL: 1}, T0 + MIN: {EMAIL: 9}}
    clock.now += 5000
    assert await store.load_buckets(3, 0) == {}
    assert await store.has_state(3) is True  # offsets and the rest do not expire


def test_ttls_must_be_positive() -> None:
    with pytest.raises(ValueError, match="TTL"):
        MemoryStore(bucket_ttl=0)
