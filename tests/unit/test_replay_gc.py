"""Replay collects garbage less often while it runs, and leaves the collector as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.collector import THRESHOLDS
from streams.domain.policies import default_policies
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
