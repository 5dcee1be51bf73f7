"""The store contract (``tests/stores/contract.py``) against a real redis-server, and against a
real Redis Cluster (3 masters, 3 replicas) through a ``redis+cluster://`` URL.

Each test works under its own key prefix on the session's Redis or cluster.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from streams.live.store import RedisSettings, RedisStore
from tests.stores.contract import StoreContract

pytestmark = pytest.mark.integration


class TestRedisStore(StoreContract):
    @pytest.fixture
    async def store(self, redis_url: str) -> AsyncIterator[RedisStore]:
        store = RedisStore.from_settings(RedisSettings(redis_url, f"c{uuid.uuid4().hex[:10]}"))
        yield store
        await store.aclose()


class TestRedisClusterStore(StoreContract):
    @pytest.fixture
    async def store(self, redis_cluster_url: str) -> AsyncIterator[RedisStore]:
        settings = RedisSettings(redis_cluster_url, f"c{uuid.uuid4().hex[:10]}")
        store = RedisStore.from_settings(settings)
        yield store
        await store.aclose()
