"""The seek that ends a rebalance lands on Redis's positions, after Faust's own seek."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP

from streams.live.recovery import seek_after_faust


class FakeConsumer:
    """What ``seek_after_faust`` uses of Faust's consumer: ``perform_seek`` and ``seek``."""

    def __init__(self, refuse: set[TP] | None = None) -> None:
        self.calls: list[Any] = []
        self.refuse = refuse or set()

    async def perform_seek(self) -> None:
        self.calls.append("faust")

    async def seek(self, tp: TP, offset: int) -> None:
        if tp in self.refuse:
            raise RuntimeError(f"{tp} is not assigned")
        self.calls.append((tp.topic, tp.partition, offset))


def test_every_partition_is_sought_to_redis_after_faust_seeks() -> None:
    consumer = FakeConsumer(refuse={TP("t.contacts", 1)})
    wanted = {TP("t.tickets", 1): 12, TP("t.surveys", 0): 0, TP("t.contacts", 1): 3}
    seek_after_faust(consumer, lambda: wanted)
    seek_after_faust(consumer, lambda: {})  # installed once: the first positions stay
    asyncio.run(consumer.perform_seek())
    # Faust first, then each partition (a refused one is left to the next rebalance),
    # zero included: aiokafka's own seek to committed skips offset 0
    assert consumer.calls == ["faust", ("t.surveys", 0, 0), ("t.tickets", 1, 12)]


def test_positions_are_read_when_the_seek_runs_not_when_installed() -> None:
    consumer = FakeConsumer()
    wanted: dict[TP, int] = {}
    seek_after_faust(consumer, lambda: dict(wanted))
    wanted[TP("t.tickets", 2)] = 40  # adopted after installing, before the rebalance ends
    asyncio.run(consumer.perform_seek())
    assert consumer.calls == ["faust", ("t.tickets", 2, 40)]
