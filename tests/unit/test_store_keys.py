"""The Redis key layout (docs/redis.md), built without a server: the hash tag per partition."""

from __future__ import annotations

from redis.asyncio import Redis

from streams.live.store import RedisStore


def test_keys_carry_the_partition_hash_tag() -> None:
    store = RedisStore(Redis(), "tp")
    assert store.key(7) == "{tp:p7}"
    assert store.key(7, "off") == "{tp:p7}:off"
    assert store.key(7, "t", "T-1") == "{tp:p7}:t:T-1"
    assert store.key(12, "due", "first_reply") == "{tp:p12}:due:first_reply"
    assert RedisStore(Redis(), "other").key(7, "b", "60000000") == "{other:p7}:b:60000000"


def test_a_batchs_record_keys_share_one_prefix() -> None:
    """A batch writes and reads many records: their keys are the partition's prefix plus the
    ticket id, the same keys ``key`` names one by one."""
    store = RedisStore(Redis(), "tp")
    for partition in (0, 7):
        for ticket in ("T-1", "t:with:colons", "é"):
            assert store._ticket_keys(partition) + ticket == store.key(partition, "t", ticket)
