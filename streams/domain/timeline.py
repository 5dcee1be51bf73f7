"""A ticket's events, kept in spec order whatever order they arrive in.

The timeline only stores and orders; what the events mean is ``ticket.evaluate``'s job.
It decides the two things that must be known at arrival: a duplicate ``event_id`` changes
nothing, and a ticket or contact event that sorts after ``closed`` is rejected (closed is final;
surveys are still accepted).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from enum import StrEnum

from streams.domain.events import Event, EventType, Status

_SURVEYS = frozenset({EventType.SURVEY_CSAT, EventType.SURVEY_NPS})

CLOSED_REASON = "ticket_id: ticket is closed; only surveys are accepted after closed"


class Arrival(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"  # after closed: goes to the dead-letter topic with CLOSED_REASON


@dataclass(slots=True)
class Timeline:
    ticket_id: str
    events: list[Event] = field(default_factory=list)
    event_ids: set[str] = field(default_factory=set)

    def add(self, event: Event) -> Arrival:
        if event.event_id in self.event_ids:
            return Arrival.DUPLICATE
        if event.type not in _SURVEYS and self._closed_before(event):
            return Arrival.REJECTED
        self.event_ids.add(event.event_id)
        key = event.sort_key
        if not self.events or self.events[-1].sort_key < key:
            self.events.append(event)
        else:
            keys = [e.sort_key for e in self.events]
            self.events.insert(bisect.bisect(keys, key), event)
        return Arrival.ACCEPTED

    def _closed_before(self, event: Event) -> bool:
        """Is there an effective ``closed`` (after the ticket's creation) before ``event``?"""
        created = next((e for e in self.events if e.type is EventType.TICKET_CREATED), None)
        if created is None:
            return False
        key, start = event.sort_key, created.sort_key
        return any(
            e.type is EventType.TICKET_STATUS_CHANGED
            and e.status is Status.CLOSED
            and start < e.sort_key < key
            for e in self.events
        )
