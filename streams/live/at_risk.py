"""``GET /sla/at-risk`` without I/O: its parameters, its order, its cursor and its rows.

The order is one total order over (deadline, ticket, target): breached clocks have deadlines
before now and at-risk clocks from now on, so it lists breached tickets first, the longest
overdue first, then at-risk tickets by deadline. A cursor is the last position listed; the
next page starts strictly after it, so tickets that come or go between two pages neither
repeat nor shift the pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from streams.domain.events import Priority
from streams.domain.facts import SlaTarget
from streams.domain.instant import Instant, format_rfc3339, seconds
from streams.domain.ticket import TicketView
from streams.live.paging import DEFAULT_LIMIT, decode_token, encode_token, parse_paging
from streams.live.stores.protocol import ClockEntry, ClockRange

AT_RISK = "at_risk"
BREACHED = "breached"
STATES = (BREACHED, AT_RISK)
# Index entries one request examines at most: with team/priority/agent filters a page may
# need many; past this the page ends early, and its next_cursor continues the search.
MAX_EXAMINED = 5000
PARAMETERS = ("limit", "cursor", "state", "target", "team", "priority", "agent")

Position = tuple[Instant, str, str]  # deadline, ticket id, target


@dataclass(frozen=True, slots=True)
class AtRiskQuery:
    limit: int = DEFAULT_LIMIT
    after: Position | None = None
    states: tuple[str, ...] = STATES
    targets: tuple[SlaTarget, ...] = tuple(SlaTarget)
    team: str | None = None
    priority: str | None = None
    agent: str | None = None

    @property
    def filtered(self) -> bool:
        """Whether rows are chosen by the tickets' records, not by the indexes alone."""
        return (self.team, self.priority, self.agent) != (None, None, None)

    def clock_range(
        self, after: Position | None, now: Instant, until: Instant, count: int
    ) -> ClockRange:
        """What to read of the indexes for the next ``count`` clocks after ``after``."""
        at_risk = AT_RISK in self.states
        breached = BREACHED in self.states
        return ClockRange(
            count=count,
            start=after[0] if after else None,
            late=breached,
            due_from=None if breached else now,
            due_until=until if at_risk else now - 1,
        )

    def matches(self, view: TicketView) -> bool:
        return (
            (self.team is None or view.team == self.team)
            and (self.priority is None or view.priority == self.priority)
            and (self.agent is None or view.assignee == self.agent)
        )


def parse_query(pairs: Iterable[tuple[str, str]]) -> AtRiskQuery | str:
    """The query string's parameters, or the error of the first bad one (for a 400)."""
    paging = parse_paging(pairs, PARAMETERS, ("team", "agent"), decode_cursor)
    if isinstance(paging, str):
        return paging
    given = paging.given
    states: tuple[str, ...] = STATES
    if "state" in given:
        if given["state"] not in STATES:
            return f"state: unknown {given['state']!r}; one of {', '.join(STATES)}"
        states = (given["state"],)
    targets = tuple(SlaTarget)
    if "target" in given:
        if given["target"] not in set(SlaTarget):
            known = ", ".join(t.value for t in SlaTarget)
            return f"target: unknown {given['target']!r}; one of {known}"
        targets = (SlaTarget(given["target"]),)
    priority = given.get("priority")
    if priority is not None and priority not in set(Priority):
        return f"priority: unknown {priority!r}; one of {', '.join(p.value for p in Priority)}"
    return AtRiskQuery(
        limit=paging.limit,
        after=paging.after,
        states=states,
        targets=targets,
        team=given.get("team"),
        priority=priority,
        agent=given.get("agent"),
    )


def position(entry: ClockEntry) -> Position:
    return entry.deadline, entry.ticket_id, entry.target.value


def encode_cursor(at: Position) -> str:
    """An opaque, URL-safe token for the position of the last row listed."""
    return encode_token(at)


def decode_cursor(token: str) -> Position | None:
    """The position a cursor holds, or None for anything ``encode_cursor`` did not make."""
    value = decode_token(token)
    if not isinstance(value, list) or len(value) != 3:
        return None
    deadline, ticket_id, target = value
    if type(deadline) is not int or not 0 <= deadline < 2**53 or not isinstance(ticket_id, str):
        return None
    if target not in set(SlaTarget):
        return None
    return deadline, ticket_id, target


def next_entries(
    entries: Iterable[ClockEntry],
    after: Position | None,
    states: Sequence[str],
    now: Instant,
    until: Instant,
    count: int,
) -> tuple[list[ClockEntry], bool]:
    """The first ``count`` entries after ``after`` in the list's order, of ``states`` and
    due by ``until`` (an entry read twice counts once), and whether more were left over."""
    wanted = sorted(
        {
            e
            for e in entries
            if (after is None or position(e) > after)
            and state_of(e, now) in states
            and (e.breached or e.deadline <= until)
        }
    )
    return wanted[:count], len(wanted) > count


def state_of(entry: ClockEntry, now: Instant) -> str:
    return BREACHED if entry.breached or entry.deadline < now else AT_RISK


def row(entry: ClockEntry, view: TicketView, now: Instant) -> dict[str, Any] | None:
    """The ticket's row, with its current team, priority and assignee; None when its clock
    has no deadline any more (changed since the index was read)."""
    deadline: Instant | None = entry.deadline
    if not deadline:  # breached, and only its record knows when
        deadline = next(
            (c.breached_at for c in view.clocks if c.target is entry.target and c.running), None
        )
        if deadline is None:
            return None
    return {
        "ticket_id": entry.ticket_id,
        "target": entry.target.value,
        "state": state_of(entry, now),
        "deadline": format_rfc3339(deadline),
        "seconds_left": seconds(deadline - now),
        "overdue": deadline < now,
        "team": view.team,
        "priority": view.priority,
        "agent": view.assignee,
    }
