"""Replay collects garbage less often while it runs, and leaves the collector as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.collector import THRESHOLDS, frozen_batches
from streams.domain.policies import default_policies
from streams.live.partition_replay import replay_log
from streams.replay import replay_lines

LINE = (
    b'{"event_id":"e1","type":"ticket.created","occurred_at":"2026-11-02T09:00:00Z",'
    b'"ticket_id":"T1","channel":"email","priority":"high","team":"billing"}'
)


def test_thresholds_raised_during_replay_and_restored_after() -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []

    def lines() -> Iterator[bytes]:
        seen.append(gc.get_threshold())
        yield LINE

    result = replay_lines(lines(), default_policies())
    assert result.counts["accepted"] == 1
    assert seen == [THRESHOLDS]
    assert gc.get_threshold() == before


def test_thresholds_restored_when_replay_fails() -> None:
    before = gc.get_threshold()

    def lines() -> Iterator[bytes]:
        yield LINE
        raise OSError("disk gone")

    with pytest.raises(OSError):
        replay_lines(lines(), default_policies())
    assert gc.get_threshold() == before


def test_each_batch_is_frozen_and_everything_given_back_after() -> None:
    """What a batch leaves is moved out of the collector's passes (as the worker does), and
    the frozen objects go back to the collector when replay ends."""
    gc.unfreeze()
    frozen: list[int] = []

    def lines() -> Iterator[bytes]:
        for number in range(3):
            frozen.append(gc.get_freeze_count())
            yield LINE.replace(b'"e1"', b'"e%d"' % number).replace(b'"T1"', b'"T%d"' % number)

    with frozen_batches() as done:
        replay_log(lines(), default_policies(), None, batch_lines=1, batch_done=done)
        assert gc.get_freeze_count() > 0
    assert frozen[0] == 0 and frozen[1] > 0
    assert gc.get_freeze_count() == 0
