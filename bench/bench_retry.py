"""What wrapping a Redis call in a retry costs when it succeeds at once: ours against tenacity.

    .venv/bin/python bench/bench_retry.py

The worker wraps every Redis call in ``streams.live.retrying.retry``. This times that with an
operation that succeeds at once, against tenacity's ``AsyncRetrying`` with the same policy
(retry on the same errors, full-jitter exponential waits). tenacity is not a dependency: the
copy pip vendors is used when it is not installed. Prints microseconds per call, the best of
five rounds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from streams.errors import TransientError
from streams.live.retrying import retry

ROUNDS, NUMBER = 5, 20_000

try:
    import tenacity
except ImportError:  # pip's own copy
    from pip._vendor import tenacity  # type: ignore[no-redef]


async def succeed() -> int:
    return 1


async def ours(stopping: asyncio.Event) -> None:
    await retry(succeed, stopping, 5.0, (TransientError,))


async def theirs(stopping: asyncio.Event) -> None:
    async for attempt in tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception_type(TransientError),
        wait=tenacity.wait_random_exponential(0.05, max=5.0),
        reraise=True,
    ):
        with attempt:
            await succeed()


async def best(call: Callable[[asyncio.Event], Awaitable[Any]]) -> float:
    stopping = asyncio.Event()
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(NUMBER):
            await call(stopping)
        rounds.append(time.perf_counter() - started)
    return min(rounds) / NUMBER * 1e6


async def main() -> None:
    print(f"streams.live.retrying.retry  {await best(ours):6.2f} µs/call")
    print(f"tenacity.AsyncRetrying       {await best(theirs):6.2f} µs/call")


if __name__ == "__main__":
    asyncio.run(main())
