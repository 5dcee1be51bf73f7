"""The inline first step of Faust's delivery: same outcome as mode's task-based wait_first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.live.fast_delivery import _finish, inline_first_step, install


class Recorder:
    """Stands in for mode's ``wait_first``: records what reaches it, then races like mode."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def __call__(self, *coros: Any, timeout: Any = None) -> Any:
        self.calls.append(coros)
        tasks = [asyncio.ensure_future(c if asyncio.iscoroutine(c) else c.wait()) for c in coros]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            return [t.result() for t in tasks if t.done()]
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()


def test_a_callback_that_never_waits_completes_inline() -> None:
    delivered: list[int] = []

    async def deliver(n: int) -> None:
        delivered.append(n)

    async def main() -> None:
        original = Recorder()
        wait_first = inline_first_step(original)
        suspended = asyncio.Event()
        for n in range(3):
            await wait_first(deliver(n), suspended.wait())
        assert original.calls == []  # no task, no asyncio.wait

    asyncio.run(main())
    assert delivered == [0, 1, 2]


def test_a_callback_that_waits_finishes_in_a_task_with_its_results() -> None:
    seen: list[Any] = []

    async def deliver(queue: asyncio.Queue[int]) -> None:
        await queue.put(1)  # the queue is full: waits for room
        seen.append("put")
        await asyncio.sleep(0)  # a bare yield on the way
        seen.append(await asyncio.wait_for(asyncio.sleep(0.01, "slept"), 1))

    async def main() -> None:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        queue.put_nowait(0)
        original = Recorder()
        wait_first = inline_first_step(original)
        asyncio.get_running_loop().call_later(0.01, queue.get_nowait)
        await wait_first(deliver(queue), asyncio.Event().wait())
        assert len(original.calls) == 1
        assert list(queue._queue) == [1]  # type: ignore[attr-defined]

    asyncio.run(main())
    assert seen == ["put", "slept"]


def test_an_error_after_a_wait_reaches_the_caller() -> None:
    async def deliver(fut: asyncio.Future[int]) -> None:
        value = await fut
        raise ValueError(f"bad {value}")

    async def main() -> None:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, fut.set_result, 7)
        with pytest.raises(ValueError, match="bad 7"):
            await inline_first_step(Recorder())(deliver(fut), asyncio.Event().wait())

    asyncio.run(main())


def test_a_failed_future_raises_inside_the_callback_where_it_can_be_handled() -> None:
    async def deliver(fut: asyncio.Future[int]) -> str:
        try:
            await fut
        except KeyError:
            return "handled"
        return "not raised"

    async def main() -> None:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        coro = deliver(fut)
        yielded = coro.send(None)
        asyncio.get_running_loop().call_later(0.01, fut.set_exception, KeyError("k"))
        assert await _finish(coro, yielded) == "handled"

    asyncio.run(main())


def test_a_suspend_abandons_a_waiting_callback_and_runs_its_cleanup() -> None:
    cleaned: list[str] = []

    async def deliver(queue: asyncio.Queue[int]) -> None:
        try:
            await queue.put(1)
        except asyncio.CancelledError:
            cleaned.append("cancelled")
            raise

    async def main() -> None:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        queue.put_nowait(0)
        suspend = asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, suspend.set)
        await inline_first_step(Recorder())(deliver(queue), suspend.wait())
        await asyncio.sleep(0)  # let the cancelled task run its except block
        assert list(queue._queue) == [0]  # type: ignore[attr-defined]
        assert not queue._putters  # type: ignore[attr-defined]

    asyncio.run(main())
    assert cleaned == ["cancelled"]


def test_other_calls_go_to_the_original() -> None:
    async def main() -> None:
        original = Recorder()
        wait_first = inline_first_step(original)
        event = asyncio.Event()
        event.set()
        await wait_first(event.wait(), timeout=1.0)
        await wait_first(event, event.wait())
        assert len(original.calls) == 2

    asyncio.run(main())


def test_install_wraps_once() -> None:
    class Consumer:
        async def wait_first(self, *coros: Any, timeout: Any = None) -> None:
            return None

    consumer = Consumer()
    assert install(consumer)
    wrapped = consumer.wait_first
    assert not install(consumer)
    assert consumer.wait_first is wrapped


def test_a_suspend_cancels_a_callback_that_only_yields_the_loop() -> None:
    outcome: list[str] = []

    async def deliver() -> None:
        try:
            for _ in range(10_000):
                await asyncio.sleep(0)  # a bare yield: no future to cancel
            outcome.append("finished")
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    async def main() -> None:
        suspend = asyncio.Event()
        asyncio.get_running_loop().call_soon(suspend.set)
        await inline_first_step(Recorder())(deliver(), suspend.wait())
        for _ in range(3):
            await asyncio.sleep(0)

    asyncio.run(main())
    assert outcome == ["cancelled"]
