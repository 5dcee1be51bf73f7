"""``GET /sla/at-risk`` without I/O: its parameters, its order, its cursor and its rows.

The order is one total order over (deadline, ticket, target): breached clocks have deadlines
before now and at-risk clocks from now on, so it lists breached tickets first, the longest
overdue first, then at-risk tickets by deadline. A cursor is the last position listed; the
next page starts strictly after it, so tickets that come or go between two pages neither
repeat nor shift the pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from streams.domain.events import Priority
from streams.domain.facts import SlaTarget
from streams.domain.instant import Instant, format_rfc3339, seconds
from streams.domain.ticket import TicketView
from streams.live.stores.protocol import ClockEntry, ClockRange

AT_RISK = "at_risk"
BREACHED = "breached"
STATES = (BREACHED, AT_RISK)
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# Index entries one request examines at most: with team/priority/agent filters a page may
# need many; past this the page ends early, and its next_cursor continues the search.
MAX_EXAMINED = 5000
MAX_CURSOR = 4096  # characters: a ticket id and a deadline, base64-encoded
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
    given: dict[str, str] = {}
    for name, value in pairs:
        if name not in PARAMETERS:
            return f"{name}: unknown parameter; known: {', '.join(PARAMETERS)}"
        if name in given:
            return f"{name}: given more than once"
        given[name] = value
    for name in ("team", "agent"):
        if given.get(name) == "":
            return f"{name}: must not be empty"
    raw_limit = given.get("limit", str(DEFAULT_LIMIT))
    digits = raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 4
    if not digits or not 1 <= int(raw_limit) <= MAX_LIMIT:
        return f"limit: must be an integer from 1 to {MAX_LIMIT}, not {raw_limit!r}"
    after = None
    if "cursor" in given:
        after = decode_cursor(given["cursor"])
        if after is None:
            return "cursor: not a next_cursor of this API"
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
        limit=int(raw_limit),
        after=after,
        states=states,
        targets=targets,
        team=given.get("team"),
        priority=priority,
        agent=given.get("agent"),
    )


def position(entry: ClockEntry) -> Position:
    return entry.deadline, entry.ticket_id, entry.target.value


def encode_token(values: Sequence[Any]) -> str:
    """An opaque, URL-safe token for a position (a list of JSON values)."""
    text = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def decode_token(token: str) -> Any:
    """What ``encode_token`` encoded, or None for a token it cannot have made."""
    if len(token) > MAX_CURSOR:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return None


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
