"""What a ticket's timeline means: its facts and SLA clocks as of an instant.

``evaluate`` replays one ticket's events in spec order (section 2) and applies the rules of
sections 3 and 4. It is a pure function of (events, policies, now): a late event is handled
by evaluating again and diffing the facts, and a deadline passing with no event is handled by
evaluating again at a later ``now``. Replay and the live pipeline both call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Final

from streams.domain.clocks import ClockView, StatusChange, deadline
from streams.domain.events import BACKLOG_STATUSES, TEXT, Event, EventType, Status
from streams.domain.facts import Fact, FactKind, SlaTarget
from streams.domain.instant import MICROS_PER_SECOND, Instant
from streams.domain.policies import Policy, PolicySet
from streams.domain.value import Value

_SURVEY_KIND = {EventType.SURVEY_CSAT: FactKind.CSAT, EventType.SURVEY_NPS: FactKind.NPS}
# Iterating the enum class runs a Python-level generator on every evaluation; a tuple does not.
_TARGETS: Final = tuple(SlaTarget)
_CHOICES_KEPT: Final = 4096


_choices: tuple[PolicySet | None, dict[tuple[str, str, str], Policy | None]] = (None, {})


def _select(policies: PolicySet, priority: str, team: str, channel: str) -> Policy | None:
    """``policies.select``, remembered per (priority, team, channel) for the last policy set.

    Every evaluation selects a policy, and ``select`` tries each policy's match in turn; a
    policy set is immutable and a process uses one. The set and its choices are swapped as
    one tuple and read once, so concurrent callers with another set cannot mix them up.
    """
    global _choices
    owner, chosen = _choices
    if owner is not policies:
        chosen = {}
        _choices = (policies, chosen)
    key = (priority, team, channel)
    if key in chosen:
        return chosen[key]
    policy = policies.select(priority=priority, team=team, channel=channel)
    if len(chosen) < _CHOICES_KEPT:  # team names are open-ended
        chosen[key] = policy
    return policy


class TicketView(Value):
    """A ticket as of ``now``. ``status`` is None until its ``ticket.created`` is known."""

    _NAMES = (
        "ticket_id",
        "now",
        "facts",
        "clocks",
        "status",
        "priority",
        "team",
        "channel",
        "assignee",
        "policy",
        "created_at",
        "anomalies",
    )
    __slots__ = _NAMES

    ticket_id: Final[str]
    now: Final[Instant]
    facts: Final[tuple[Fact, ...]]
    clocks: Final[tuple[ClockView, ...]]
    status: Final[Status | None]
    priority: Final[str | None]
    team: Final[str | None]
    channel: Final[str | None]
    assignee: Final[str | None]
    policy: Final[str | None]
    created_at: Final[Instant | None]
    anomalies: Final[int]

    def __init__(
        self,
        ticket_id: str,
        now: Instant,
        facts: tuple[Fact, ...] = (),
        clocks: tuple[ClockView, ...] = (),
        status: Status | None = None,
        priority: str | None = None,
        team: str | None = None,
        channel: str | None = None,
        assignee: str | None = None,
        policy: str | None = None,
        created_at: Instant | None = None,
        anomalies: int = 0,
    ) -> None:
        self.ticket_id = ticket_id
        self.now = now
        self.facts = facts
        self.clocks = clocks
        self.status = status
        self.priority = priority
        self.team = team
        self.channel = channel
        self.assignee = assignee
        self.policy = policy
        self.created_at = created_at
        self.anomalies = anomalies

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.ticket_id,
            self.now,
            self.facts,
            self.clocks,
            self.status,
            self.priority,
            self.team,
            self.channel,
            self.assignee,
            self.policy,
            self.created_at,
            self.anomalies,
        )

    @property
    def in_backlog(self) -> bool:
        return self.status in BACKLOG_STATUSES

    @property
    def next_deadline(self) -> Instant | None:
        """When this ticket must be evaluated again if no event comes: its next breach."""
        due = [
            c.deadline
            for c in self.clocks
            if c.running and not c.paused and c.breached_at is None and c.deadline is not None
        ]
        return min(due) if due else None


@dataclass(slots=True)
class _Clock:
    target: SlaTarget
    start: Instant
    deadline: Instant | None = None
    stopped_at: Instant | None = None
    breached_at: Instant | None = None


@dataclass(slots=True)
class _State:
    """The mutable walk over one ticket's events."""

    policies: PolicySet
    ticket_id: str
    created_at: Instant
    channel: str
    priority: str
    team: str
    status: Status = Status.NEW
    assignee: str | None = None
    policy: Policy | None = None
    history: list[StatusChange] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    clocks: dict[SlaTarget, _Clock] = field(default_factory=dict)
    finished: list[_Clock] = field(default_factory=list)
    touches: int = 0
    first_touch_done: bool = False
    first_solved: bool = False
    next_reply_from: Instant | None = None

    def copy(self) -> _State:
        """A copy to finish at some ``now`` (``breach_due``) while this one walks on: the
        running clocks change, the stopped ones and the events' history do not."""
        return _State(
            self.policies,
            self.ticket_id,
            self.created_at,
            self.channel,
            self.priority,
            self.team,
            self.status,
            self.assignee,
            self.policy,
            list(self.history),
            list(self.facts),
            {
                t: _Clock(c.target, c.start, c.deadline, c.stopped_at, c.breached_at)
                for t, c in self.clocks.items()
            },
            list(self.finished),
            self.touches,
            self.first_touch_done,
            self.first_solved,
            self.next_reply_from,
        )

    # -- facts -----------------------------------------------------------------------------
    def fact(
        self,
        kind: FactKind,
        at: Instant,
        value: int = 0,
        *,
        agent: str | None = None,
        target: SlaTarget | None = None,
    ) -> None:
        # positional: keyword arguments cost measurably on the hottest path (fields in order)
        self.facts.append(
            Fact(at, kind, value, self.team, self.channel, self.priority, agent, target)
        )

    # -- clocks ----------------------------------------------------------------------------
    def _target(self, target: SlaTarget) -> int | None:
        return None if self.policy is None else self.policy.targets.get(target)

    def _paused(self, clock: _Clock) -> bool:
        return (
            clock.target is SlaTarget.RESOLUTION
            and self.policy is not None
            and self.status in self.policy.pause_resolution_on
        )

    def _deadline(self, clock: _Clock) -> Instant | None:
        policy = self.policy
        if policy is None:
            return None
        amount = policy.targets.get(clock.target)
        if amount is None:
            return None
        if clock.target is SlaTarget.RESOLUTION and policy.pause_resolution_on:
            return deadline(
                clock.start, amount, policy.calendar, self.history, policy.pause_resolution_on
            )
        # Nothing pauses this clock: ``deadline`` would find one run, open from the start.
        return policy.calendar.add(clock.start, amount)

    def start_clock(self, target: SlaTarget, at: Instant) -> None:
        clock = _Clock(target, at)
        clock.deadline = self._deadline(clock)
        self.clocks[target] = clock

    def stop_clock(self, target: SlaTarget, at: Instant, agent: str | None) -> None:
        clock = self.clocks.pop(target, None)
        if clock is None:
            return
        clock.stopped_at = at
        self.finished.append(clock)
        if clock.breached_at is None and self._target(target) is not None:
            self.fact(FactKind.SLA_MET, at, agent=agent, target=target)

    def breach_due(self, before: Instant) -> None:
        """Record breaches of running clocks whose deadline is earlier than ``before``."""
        for clock in self.clocks.values():
            due = _overdue(clock, before)
            if due is not None:
                self.breach(clock, due)

    def breaches_before(self, before: Instant) -> bool:
        """Whether ``breach_due(before)`` would record a breach (change anything at all)."""
        return any(_overdue(clock, before) is not None for clock in self.clocks.values())

    def breach(self, clock: _Clock, at: Instant) -> None:
        clock.breached_at = at
        self.fact(FactKind.SLA_BREACHED, at, agent=self.assignee, target=clock.target)

    def refresh_deadlines(self, at: Instant) -> None:
        """After a policy change: new deadlines; one already passed breaches now."""
        for clock in self.clocks.values():
            self.refresh_deadline(clock, at)

    def refresh_deadline(self, clock: _Clock, at: Instant) -> None:
        clock.deadline = self._deadline(clock)
        if clock.breached_at is None and clock.deadline is not None and clock.deadline < at:
            self.breach(clock, at)

    def reselect_policy(self, at: Instant) -> None:
        policy = _select(self.policies, self.priority, self.team, self.channel)
        if policy is not self.policy:
            self.policy = policy
            self.refresh_deadlines(at)

    # -- events ----------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        at = event.occurred_at
        self.breach_due(at)
        kind = event.type
        # the commonest kinds first (each event matches one branch at most)
        if kind is EventType.TICKET_STATUS_CHANGED:
            assert event.status is not None
            self.change_status(event.status, at)
        elif kind is EventType.CONTACT_INBOUND:
            self.inbound(event)
        elif kind is EventType.CONTACT_OUTBOUND:
            if event.public:
                self.touch(event)
        elif kind is EventType.TICKET_ASSIGNED:
            self.assignee = event.agent_id
            if event.team is not None and event.team != self.team:
                self.team = event.team
                self.reselect_policy(at)
        elif kind is EventType.TICKET_PRIORITY_CHANGED:
            assert event.priority is not None
            if event.priority != self.priority:
                self.priority = event.priority
                self.reselect_policy(at)
        elif kind in _SURVEY_KIND:
            assert event.score is not None
            self.fact(_SURVEY_KIND[kind], at, event.score, agent=self.assignee)

    def inbound(self, event: Event) -> None:
        if (
            event.public
            and self.first_touch_done
            and self.status is not Status.SOLVED
            and self.next_reply_from is None
        ):
            self.next_reply_from = event.occurred_at
            self.start_clock(SlaTarget.NEXT_REPLY, event.occurred_at)

    def touch(self, event: Event) -> None:
        at, agent = event.occurred_at, event.agent_id
        self.touches += 1
        duration = event.duration_seconds
        if duration is not None:  # a call: its handle time, for the touching agent
            self.fact(FactKind.HANDLE, at, round(duration * MICROS_PER_SECOND), agent=agent)
        if not self.first_touch_done:
            self.first_touch_done = True
            waited = at - self.created_at
            self.fact(FactKind.FIRST_REPLY, at, waited, agent=agent)
            self.fact(FactKind.REPLY, at, waited, agent=agent)
            self.stop_clock(SlaTarget.FIRST_REPLY, at, agent)
        elif self.next_reply_from is not None:
            self.fact(FactKind.REPLY, at, at - self.next_reply_from, agent=agent)
            self.next_reply_from = None
            self.stop_clock(SlaTarget.NEXT_REPLY, at, agent)

    def change_status(self, status: Status, at: Instant) -> None:
        previous = self.status
        if status is previous:
            return
        self.status = status
        self.history.append((at, status))
        if status in (Status.SOLVED, Status.CLOSED) and previous is not Status.SOLVED:
            self.solve(at)
        if status is Status.CLOSED:
            self.fact(FactKind.FULL_RESOLUTION, at, at - self.created_at, agent=self.assignee)
        elif previous is Status.SOLVED:
            self.fact(FactKind.REOPEN, at, agent=self.assignee)
        # Of the deadlines only the resolution clock's depends on the status, and only through
        # the runs of paused time: a change that keeps it paused (or unpaused) adds no run and
        # leaves the deadline as it is. A deadline left as it is cannot breach here either:
        # ``apply`` has just breached every clock due before ``at``.
        clock = self.clocks.get(SlaTarget.RESOLUTION)
        if clock is not None and self.policy is not None:
            paused_in = self.policy.pause_resolution_on
            if (status in paused_in) != (previous in paused_in):
                self.refresh_deadline(clock, at)

    def solve(self, at: Instant) -> None:
        agent = self.assignee
        self.next_reply_from = None
        self.stop_clock(SlaTarget.FIRST_REPLY, at, agent)
        self.stop_clock(SlaTarget.NEXT_REPLY, at, agent)
        if not self.first_solved:
            self.first_solved = True
            self.fact(FactKind.RESOLUTION, at, at - self.created_at, agent=agent)
            self.fact(FactKind.TOUCHES_TO_CLOSE, at, self.touches, agent=agent)
            self.stop_clock(SlaTarget.RESOLUTION, at, agent)

    def clock_views(self) -> tuple[ClockView, ...]:
        """The latest clock of each target the policy sets, in target order."""
        if self.policy is None:
            return ()
        targets = self.policy.targets
        latest: dict[SlaTarget, _Clock] = {c.target: c for c in self.finished}
        latest.update(self.clocks)
        views = []
        for target in _TARGETS:
            c = latest.get(target)
            if c is not None and targets.get(target) is not None:
                views.append(
                    ClockView(
                        c.target,
                        c.start,
                        c.deadline,
                        c.stopped_at,
                        c.breached_at,
                        c.stopped_at is None and self._paused(c),
                    )
                )
        return tuple(views)


def _overdue(clock: _Clock, before: Instant) -> Instant | None:
    """The deadline of a clock not breached yet, when it is earlier than ``before``."""
    due = clock.deadline
    if due is None or due >= before or clock.breached_at is not None:
        return None
    return due


class Walk:
    """A ticket's walk over its events up to ``applied`` (not finished at any ``now``), to go
    on from there when the next events sort after them, instead of walking them again.

    Valid while the timeline's first ``applied`` events are the ones walked (its ``rewrites``
    count unchanged), for the same policy set, at a ``now`` not earlier than ``now``.
    """

    __slots__ = ("anomalies", "applied", "now", "rewrites", "state")

    def __init__(self, state: _State, applied: int, anomalies: int, rewrites: int, now: Instant):
        self.state = state
        self.applied = applied
        self.anomalies = anomalies
        self.rewrites = rewrites
        self.now = now


def evaluate(
    ticket_id: str, events: Sequence[Event], policies: PolicySet, now: Instant
) -> TicketView:
    """Facts and clocks of one ticket as of ``now``.

    ``events`` are the ticket's accepted events in spec order (a ``Timeline``'s); only those
    with occurred_at < ``now`` take part. A running clock whose deadline < ``now`` is breached
    at its deadline.
    """
    return evaluate_on(ticket_id, events, policies, now, keep=False)[0]


def evaluate_on(
    ticket_id: str,
    events: Sequence[Event],
    policies: PolicySet,
    now: Instant,
    walk: Walk | None = None,
    rewrites: int = 0,
    keep: bool = True,
) -> tuple[TicketView, Walk | None]:
    """``evaluate``, going on from ``walk`` (the one this returned last time for the same
    ticket) when it is still valid, and the walk to go on from next time.

    ``rewrites`` is the timeline's count of changes other than appending an event
    (``Timeline.rewrites``). ``walk`` is changed: pass it only once. ``keep=False``: no walk
    is wanted (None comes back), so the state is finished without a copy.
    """
    if (
        walk is not None
        and walk.rewrites == rewrites
        and now >= walk.now
        and walk.applied <= len(events)
        and walk.state.policies is policies
    ):
        state, index, anomalies = walk.state, walk.applied, walk.anomalies
    else:
        created_index = -1
        for position, event in enumerate(events):
            if event.type is EventType.TICKET_CREATED:
                created_index = position
                break
        if created_index < 0:
            return TicketView(ticket_id=ticket_id, now=now), None
        created = events[created_index]
        if created.occurred_at >= now:
            return TicketView(ticket_id=ticket_id, now=now), None
        assert created.channel is not None and created.priority is not None
        assert created.team is not None
        # positional, in field order: policies, ticket_id, created_at, channel, priority, team
        state = _State(
            policies,
            ticket_id,
            created.occurred_at,
            TEXT[created.channel],
            TEXT[created.priority],
            created.team,
        )
        state.history.append((created.occurred_at, Status.NEW))
        state.policy = _select(policies, state.priority, state.team, state.channel)
        state.fact(FactKind.CREATED, created.occurred_at, agent=None)
        state.start_clock(SlaTarget.FIRST_REPLY, created.occurred_at)
        state.start_clock(SlaTarget.RESOLUTION, created.occurred_at)
        anomalies = created_index
        index = created_index + 1
    for event in islice(events, index, None):
        if event.occurred_at >= now:
            break
        index += 1
        if event.type is EventType.TICKET_CREATED or (
            state.status is Status.CLOSED and event.type not in _SURVEY_KIND
        ):
            anomalies += 1
            continue
        state.apply(event)
    walk = None
    if keep:
        walk = Walk(state, index, anomalies, rewrites, now)
        if state.breaches_before(now):  # else finishing changes nothing: no copy to make
            state = state.copy()
    state.breach_due(now)
    # positional, in field order: twelve keywords cost some 5% of an evaluation
    view = TicketView(
        ticket_id,
        now,
        tuple(state.facts),
        state.clock_views(),
        state.status,
        state.priority,
        state.team,
        state.channel,
        state.assignee,
        state.policy.name if state.policy else None,
        state.created_at,
        anomalies,
    )
    return view, walk


__all__ = ["TicketView", "Walk", "evaluate", "evaluate_on"]
