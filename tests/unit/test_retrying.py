"""Retries of Redis last while the worker runs and end as soon as it stops."""

from __future__ import annotations

import asyncio

import pytest

from streams.errors import TransientError
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
