"""The publisher: soon after new data, paced by its gap and share, at least every interval."""

from __future__ import annotations

import asyncio
import time

import pytest

from streams.live.publisher import Pacer, Publisher


class Recorder:
    def __init__(self, takes: float = 0.0) -> None:
        self.starts: list[float] = []
        self.takes = takes

    async def __call__(self) -> None:
        self.starts.append(time.monotonic())
        if self.takes:
            time.sleep(self.takes)  # CPU-bound, as merging the windows is


async def run_for(publisher: Publisher, seconds: float, poke_every: float | None = None) -> None:
    task = asyncio.create_task(publisher.run())
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if poke_every is not None:
            publisher.changed()
        await asyncio.sleep(poke_every or 0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_new_data_is_published_well_before_the_interval() -> None:
    recorder = Recorder()
    publisher = Publisher(recorder, interval=30.0, min_gap=0.0)
    task = asyncio.create_task(publisher.run())
    await asyncio.sleep(0.05)
    assert recorder.starts == []  # nothing new yet, and the interval is far
    poked = time.monotonic()
    publisher.changed()
    for _ in range(100):  # up to a second on a busy machine
        if recorder.starts:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert len(recorder.starts) == 1 and recorder.starts[0] - poked < 1.0  # not the 30 s


async def test_with_nothing_new_it_publishes_every_interval() -> None:
    recorder = Recorder()
    await run_for(Publisher(recorder, interval=0.1, min_gap=0.0), 0.55)
    assert 2 <= len(recorder.starts) <= 6  # fewer only on a very busy machine


async def test_constant_news_is_published_at_most_once_per_gap() -> None:
    recorder = Recorder()
    await run_for(Publisher(recorder, interval=5.0, min_gap=0.1), 0.55, poke_every=0.005)
    gaps = [b - a for a, b in zip(recorder.starts, recorder.starts[1:], strict=False)]
    assert 2 <= len(recorder.starts) <= 6
    assert min(gaps) >= 0.099


async def test_a_slow_publish_keeps_to_its_share_of_the_time() -> None:
    recorder = Recorder(takes=0.05)
    publisher = Publisher(recorder, interval=5.0, min_gap=0.0, pacer=Pacer(share=0.25))
    await run_for(publisher, 0.8, poke_every=0.005)
    gaps = [b - a for a, b in zip(recorder.starts, recorder.starts[1:], strict=False)]
    assert len(recorder.starts) >= 2
    assert min(gaps) >= 0.05 / 0.25 - 0.005  # a run of d seconds, then d / share


async def test_a_failed_publish_is_retried_not_the_end() -> None:
    calls: list[float] = []

    async def flaky() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("redis said no")

    await run_for(Publisher(flaky, interval=0.05, min_gap=0.0), 0.3)
    assert len(calls) >= 2


async def test_while_catching_up_it_publishes_at_the_interval_only() -> None:
    recorder = Recorder()
    publisher = Publisher(recorder, interval=0.2, min_gap=0.0)
    task = asyncio.create_task(publisher.run())
    end = time.monotonic() + 0.7
    while time.monotonic() < end:
        publisher.changed(backlog=True)
        await asyncio.sleep(0.005)
    caught_up = len(recorder.starts)
    end = time.monotonic() + 0.5
    while time.monotonic() < end:  # then batches that are not full: soon again
        publisher.changed()
        await asyncio.sleep(0.005)
    task.cancel()
    gaps = [b - a for a, b in zip(recorder.starts, recorder.starts[1:], strict=False)]
    assert 2 <= caught_up <= 5
    assert min(gaps[: caught_up - 1]) >= 0.199
    after = gaps[caught_up:]  # from the first publish after catching up
    assert len(after) >= 3 and min(after) < 0.1


def test_the_pacer_keeps_publishing_to_its_share_of_the_time() -> None:
    pacer = Pacer(share=0.25)
    assert pacer.not_before <= 0.0
    pacer.ran(10.0, 12.0)  # a 2 s publish: the next one no sooner than 8 s after it started
    assert pacer.not_before == 18.0
    pacer.ran(18.0, 18.1)  # fast again: the next after 0.4 s (the publisher's gap applies too)
    assert 18.39 < pacer.not_before < 18.41
