"""Retries of Redis last while the worker runs and end as soon as it stops."""

from __future__ import annotations

import asyncio

import pytest

from streams.errors import TransientError
from streams.live import retrying
from streams.live.retrying import retry


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientError("redis: connection refused")
        return "done"


async def test_retries_until_the_operation_succeeds() -> None:
    flaky = Flaky(failures=3)
    seen: list[Exception] = []
    result = await retry(flaky, asyncio.Event(), 0.01, (TransientError,), seen.append)
    assert (result, flaky.calls, len(seen)) == ("done", 4, 3)


async def test_stopping_ends_a_retry_in_its_backoff_by_cancelling() -> None:
    stopping = asyncio.Event()
    flaky = Flaky(failures=10**9)
    task = asyncio.ensure_future(retry(flaky, stopping, 3600.0, (TransientError,)))
    while flaky.calls < 3:  # backing off, an hour at most between tries
        await asyncio.sleep(0.01)
    stopping.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert flaky.calls < 10


async def test_a_failure_once_stopping_is_not_retried() -> None:
    stopping = asyncio.Event()
    stopping.set()
    flaky = Flaky(failures=1)
    with pytest.raises(asyncio.CancelledError):
        await retry(flaky, stopping, 1.0, (TransientError,))
    assert flaky.calls == 1


async def test_other_errors_are_not_retried() -> None:
    async def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await retry(broken, asyncio.Event(), 1.0, (TransientError,))


async def test_waits_are_jittered_below_a_doubling_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Full jitter: workers that lost Redis together do not retry in lockstep."""
    waits: list[float] = []

    async def waited(stopping: asyncio.Event, seconds: float) -> bool:
        waits.append(seconds)
        return False

    monkeypatch.setattr(retrying, "stopped_within", waited)
    flaky = Flaky(failures=12)
    assert await retry(flaky, asyncio.Event(), 1.0, (TransientError,)) == "done"
    ceilings = [min(retrying.FIRST_BACKOFF * 2**n, 1.0) for n in range(12)]
    assert len(waits) == 12
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(waits, ceilings, strict=True))
    assert len(set(waits)) == 12 and sum(waits) < sum(ceilings)  # drawn, not the ceilings


def test_backoff_draws_each_wait_up_to_the_ceiling() -> None:
    drawn: list[tuple[float, float]] = []

    def top(low: float, high: float) -> float:
        drawn.append((low, high))
        return high

    waits = retrying.backoff(0.05, 0.3, top)
    assert [next(waits) for _ in range(5)] == [0.05, 0.1, 0.2, 0.3, 0.3]
    assert all(low == 0 for low, _ in drawn)
