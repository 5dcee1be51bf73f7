"""Batch delivery: Faust's fetch loop hands each fetched batch whole to one coroutine."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest

from streams.live.batch import Message
from streams.live.batch_delivery import (
    deliver_whole,
    drain_batches,
    install,
    install_on,
    limit_fetch_wait,
    to_messages,
)


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass
class Record:
    offset: int
    value: bytes | None
    key: bytes | None = None


class Stopped(Exception):
    pass


class FakeConsumer:
    """What the drain uses of Faust's consumer: fetches, the flow, read offsets, stopping."""

    consumer_stopped_errors = (Stopped,)

    def __init__(self, fetches: list[tuple[dict[Any, list[Record]], bool]]) -> None:
        self.fetches = fetches  # each: (records, whether the flow is active as they arrive)
        self._stopped = asyncio.Event()
        self._read_offset: defaultdict[Any, int | None] = defaultdict(lambda: None)
        self.flow_active = True
        self.should_stop = False
        self.app = type("App", (), {"monitor": type("Monitor", (), {})()})()
        self.app.monitor.stream_inbound_time = {}
        self.transport = type("Transport", (), {"app": type("A", (), {"should_stop": True})()})()

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        if not self.fetches:
            self._stopped.set()
            return {}, set()
        records, active = self.fetches.pop(0)
        self.flow_active = active
        return records, set(records)


class FakeFetcher:
    def __init__(self) -> None:
        self._stopped = asyncio.Event()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_each_fetch_is_delivered_whole_in_order() -> None:
    a, b = TP("support.tickets", 0), TP("support.contacts", 1)
    consumer = FakeConsumer(
        [
            ({a: [Record(5, b"x", b"t1"), Record(6, None)], b: [Record(9, b"y")]}, True),
            ({}, True),
            ({a: [Record(7, b"z")]}, True),
        ]
    )
    delivered: list[list[Message]] = []

    async def deliver(messages: list[Message]) -> None:
        delivered.append(messages)

    run(drain_batches(consumer, FakeFetcher(), deliver))
    assert delivered == [
        [
            Message("support.tickets", 0, 5, b"x", b"t1"),
            Message("support.tickets", 0, 6, b"", None),
            Message("support.contacts", 1, 9, b"y", None),
        ],
        [Message("support.tickets", 0, 7, b"z", None)],
    ]
    assert consumer._read_offset[a] == 7 and consumer._read_offset[b] == 9
    assert set(consumer.app.monitor.stream_inbound_time) == {a, b}


def test_records_fetched_as_the_flow_stops_are_not_delivered() -> None:
    a = TP("support.tickets", 0)
    consumer = FakeConsumer([({a: [Record(1, b"x")]}, False), ({a: [Record(1, b"x")]}, True)])
    delivered: list[list[Message]] = []

    async def deliver(messages: list[Message]) -> None:
        delivered.append(messages)

    run(drain_batches(consumer, FakeFetcher(), deliver))
    assert delivered == [[Message("support.tickets", 0, 1, b"x", None)]]


def test_the_loop_ends_when_the_fetcher_stops() -> None:
    a = TP("support.tickets", 0)
    consumer = FakeConsumer([({a: [Record(i, b"x")]}, True) for i in range(10)])
    fetcher = FakeFetcher()
    seen: list[int] = []

    async def deliver(messages: list[Message]) -> None:
        seen.append(messages[0].offset)
        if len(seen) == 3:
            fetcher._stopped.set()

    run(drain_batches(consumer, fetcher, deliver))
    assert seen == [0, 1, 2]


def test_broker_stopping_the_consumer_ends_the_loop_when_the_app_stops() -> None:
    consumer = FakeConsumer([])

    async def fail(timeout: float) -> Any:
        raise Stopped()

    consumer._wait_next_records = fail  # type: ignore[method-assign]

    async def deliver(messages: list[Message]) -> None:
        raise AssertionError("nothing to deliver")

    run(drain_batches(consumer, FakeFetcher(), deliver))  # returns, does not raise
    consumer.transport.app.should_stop = False
    with pytest.raises(Stopped):
        run(drain_batches(consumer, FakeFetcher(), deliver))


def test_to_messages_keeps_partition_order() -> None:
    a, b = TP("t", 0), TP("t", 1)
    records = {b: [Record(3, b"b")], a: [Record(1, b"a"), Record(2, b"c")]}
    assert [(m.partition, m.offset) for m in to_messages(records)] == [(1, 3), (0, 1), (0, 2)]


def test_one_cancellation_lets_the_batch_finish() -> None:
    finished: list[str] = []

    async def batch() -> None:
        await asyncio.sleep(0.05)
        finished.append("applied")

    async def main() -> None:
        loop = asyncio.create_task(deliver_whole(batch()))
        await asyncio.sleep(0.01)
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
        assert finished == ["applied"]  # the cancellation came through only afterwards

    run(main())


def test_a_second_cancellation_cancels_the_batch() -> None:
    finished: list[str] = []
    cancelled: list[bool] = []

    async def batch() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        finished.append("applied")

    async def main() -> None:
        loop = asyncio.create_task(deliver_whole(batch()))
        await asyncio.sleep(0.01)
        loop.cancel()
        await asyncio.sleep(0.01)
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
        await asyncio.sleep(0)

    run(main())
    assert finished == [] and cancelled == [True]


def test_install_replaces_the_fetch_loop_once() -> None:
    consumer = FakeConsumer([])

    async def deliver(messages: list[Message]) -> None:
        pass

    assert install(consumer, deliver)
    drain = consumer._drain_messages  # type: ignore[attr-defined]
    assert not install(consumer, deliver)
    assert consumer._drain_messages is drain  # type: ignore[attr-defined]
    run(drain(FakeFetcher()))  # the installed loop runs (and ends: no fetches left)


def test_install_on_patches_the_consumer_the_app_makes() -> None:
    made: list[FakeConsumer] = []

    class App:
        def _new_consumer(self) -> FakeConsumer:
            made.append(FakeConsumer([]))
            return made[-1]

    async def deliver(messages: list[Message]) -> None:
        pass

    app = App()
    install_on(app, deliver)
    assert made == []  # nothing is made before Faust asks
    consumer = app._new_consumer()
    assert consumer is made[0] and consumer._tp_batch_delivery  # type: ignore[attr-defined]


def test_limit_fetch_wait_sets_the_wait_of_the_consumer_faust_creates() -> None:
    class Client:
        _fetch_max_wait_ms = 1500  # what Faust's driver passes

    class Thread:
        def _create_worker_consumer(self, transport: Any) -> Client:
            return Client()

    consumer = FakeConsumer([])
    consumer._thread = Thread()  # type: ignore[attr-defined]
    limit_fetch_wait(consumer, 100)
    client = consumer._thread._create_worker_consumer(None)  # type: ignore[attr-defined]
    assert client._fetch_max_wait_ms == 100


def test_install_on_limits_the_fetch_wait_when_asked() -> None:
    class Client:
        _fetch_max_wait_ms = 1500

    class Thread:
        def _create_worker_consumer(self, transport: Any) -> Client:
            return Client()

    class App:
        def _new_consumer(self) -> FakeConsumer:
            consumer = FakeConsumer([])
            consumer._thread = Thread()  # type: ignore[attr-defined]
            return consumer

    async def deliver(messages: list[Message]) -> None:
        pass

    for wait, expected in ((None, 1500), (250, 250)):
        app = App()
        install_on(app, deliver, wait)
        thread = app._new_consumer()._thread  # type: ignore[attr-defined]
        assert thread._create_worker_consumer(None)._fetch_max_wait_ms == expected


def test_install_on_reads_committed_records_only_when_asked() -> None:
    class Client:
        _isolation_level = "read_uncommitted"  # what Faust's driver passes without its EOS

    class Thread:
        def _create_worker_consumer(self, transport: Any) -> Client:
            return Client()

    class App:
        def _new_consumer(self) -> FakeConsumer:
            consumer = FakeConsumer([])
            consumer._thread = Thread()  # type: ignore[attr-defined]
            return consumer

    async def deliver(messages: list[Message]) -> None:
        pass

    for committed, expected in ((False, "read_uncommitted"), (True, "read_committed")):
        app = App()
        install_on(app, deliver, 100, committed_only=committed)
        client = app._new_consumer()._thread._create_worker_consumer(None)  # type: ignore[attr-defined]
        assert (client._isolation_level, client._fetch_max_wait_ms) == (expected, 100)
