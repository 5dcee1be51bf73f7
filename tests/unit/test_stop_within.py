"""SIGTERM ends the worker within its bound: Redis retries stop, and a timer ends the rest."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from typing import Any

import pytest

from streams.live import commands


class FakeRunner:
    """What ``stop_within`` uses of Faust's worker: the method its signal handlers call."""

    def __init__(self) -> None:
        self.signals: list[Any] = []

    def _schedule_shutdown(self, signum: Any) -> None:
        self.signals.append(signum)


def test_a_signal_sets_stopping_and_ends_the_process_after_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ended: list[float] = []
    done = threading.Event()

    def give_up(seconds: float) -> None:
        ended.append(seconds)
        done.set()

    monkeypatch.setattr(commands, "_give_up", give_up)
    runner, stopping = FakeRunner(), asyncio.Event()
    commands.stop_within(0.05, runner, stopping)
    assert not stopping.is_set() and not done.wait(0.2)  # nothing before a signal
    runner._schedule_shutdown(signal.SIGTERM)
    runner._schedule_shutdown(signal.SIGINT)  # a second signal: still one timer
    assert stopping.is_set()
    assert runner.signals == [signal.SIGTERM, signal.SIGINT]  # Faust stops as usual
    assert done.wait(5)
    time.sleep(0.2)
    assert ended == [0.05]
