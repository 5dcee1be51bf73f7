"""The store contract (``tests/stores/contract.py``) against the in-memory store."""

from __future__ import annotations

import pytest

from streams.live.stores.memory import MemoryStore
from tests.stores.contract import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()
