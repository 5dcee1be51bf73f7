"""SLA clocks: when a clock's target is reached under a calendar and pause statuses.

A clock's elapsed time is always measured under the ticket's *current* policy from the clock's
start (spec section 4), so the deadline is recomputed from the status history whenever the
policy or the status changes, never carried over.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Final

from streams.domain.calendars import Calendar
from streams.domain.events import Status
from streams.domain.facts import SlaTarget
from streams.domain.instant import Instant, Micros
from streams.domain.value import Value

StatusChange = tuple[Instant, Status]


def deadline(
    start: Instant,
    target: Micros,
    calendar: Calendar,
    history: Sequence[StatusChange] = (),
    paused_in: frozenset[Status] = frozenset(),
) -> Instant | None:
    """The instant the clock's elapsed time reaches ``target``; None while it is paused.

    ``history`` is the ticket's status changes in order (the last one is the status now);
    elapsed time counts only while the status is not in ``paused_in``. A deadline in the
    past of the history is returned as such: the caller decides what a passed deadline means.
    """
    segments = _segments(start, history, paused_in)
    spent = 0
    for index, (seg_start, paused) in enumerate(segments):
        last = index == len(segments) - 1
        if paused:
            if last:
                return None
            continue
        if last:
            return calendar.add(seg_start, target - spent)
        seg_elapsed = calendar.elapsed(seg_start, segments[index + 1][0])
        if spent + seg_elapsed >= target:
            return calendar.add(seg_start, target - spent)
        spent += seg_elapsed
    raise AssertionError("unreachable: the last segment always returns")


def _segments(
    start: Instant, history: Sequence[StatusChange], paused_in: frozenset[Status]
) -> list[tuple[Instant, bool]]:
    """Maximal runs of paused/unpaused time from ``start`` on: (run start, paused)."""
    runs: list[tuple[Instant, bool]] = [(start, False)]
    for at, status in history:
        paused = status in paused_in
        if at <= start:
            runs[0] = (start, paused)
        elif paused != runs[-1][1]:
            runs.append((at, paused))
    return runs


class ClockPhase(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"  # stopped after its deadline, or still running past it


class ClockView(Value):
    """One SLA clock of a ticket as of ``now``: what ``GET /tickets/{id}`` and sla_now read."""

    _NAMES = ("target", "started_at", "deadline", "stopped_at", "breached_at", "paused")
    __slots__ = _NAMES

    target: Final[SlaTarget]
    started_at: Final[Instant]
    deadline: Final[Instant | None]
    stopped_at: Final[Instant | None]
    breached_at: Final[Instant | None]
    paused: Final[bool]

    def __init__(
        self,
        target: SlaTarget,
        started_at: Instant,
        deadline: Instant | None,
        stopped_at: Instant | None,
        breached_at: Instant | None,
        paused: bool,
    ) -> None:
        self.target = target
        self.started_at = started_at
        self.deadline = deadline
        self.stopped_at = stopped_at
        self.breached_at = breached_at
        self.paused = paused

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.target,
            self.started_at,
            self.deadline,
            self.stopped_at,
            self.breached_at,
            self.paused,
        )

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    @property
    def phase(self) -> ClockPhase:
        if self.breached_at is not None:
            return ClockPhase.BREACHED
        if self.stopped_at is not None:
            return ClockPhase.MET
        return ClockPhase.PAUSED if self.paused else ClockPhase.RUNNING

    def at_risk(self, now: Instant, within: Micros) -> bool:
        """Running, unpaused, not yet breached and due within ``within`` of ``now``."""
        return (
            self.running
            and not self.paused
            and self.breached_at is None
            and self.deadline is not None
            and now <= self.deadline <= now + within
        )

    def breached_running(self) -> bool:
        return self.running and self.breached_at is not None
