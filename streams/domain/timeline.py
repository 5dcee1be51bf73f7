"""A ticket's events, kept in spec order whatever order they arrive in.

The timeline only stores and orders; what the events mean is ``ticket.evaluate``'s job.
It decides the three things that must be known at arrival: a duplicate ``event_id`` changes
nothing, a ticket or contact event that sorts after ``closed`` is rejected (closed is final;
surveys are still accepted), and a ticket keeps at most ``EVENT_LIMIT`` events of each topic.

The limit bounds what one ticket costs: every accepted event re-evaluates the whole timeline
and rewrites its record, so a ticket in an auto-reply loop would otherwise cost more with each
event. It counts per topic because a ticket's events of one topic reach the worker in the order
they were sent (one Kafka partition), whatever the interleaving of the topics: live and a
replay of the log keep the same events, and a contact loop never crowds out the ticket's
``closed`` or its surveys.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from enum import StrEnum

from streams.domain.events import TOPIC_OF, Event, EventType, Status, Topic
from streams.domain.instant import Instant

_SURVEYS = frozenset({EventType.SURVEY_CSAT, EventType.SURVEY_NPS})

CLOSED_REASON = "ticket_id: ticket is closed; only surveys are accepted after closed"

# Accepted events per ticket and topic; far above any real ticket (hundreds of messages).
EVENT_LIMIT = 1000


class Arrival(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"  # after closed: goes to the dead-letter topic with CLOSED_REASON
    OVER_LIMIT = "over_limit"  # EVENT_LIMIT reached: dead-lettered with ``refusal``'s reason


def refusal(arrival: Arrival, event: Event) -> str:
    """The dead-letter reason of an event the timeline refused (rejected or over the limit)."""
    if arrival is Arrival.OVER_LIMIT:
        family = event.type.value.split(".")[0]
        return f"ticket_id: ticket has reached the limit of {EVENT_LIMIT} {family}.* events"
    return CLOSED_REASON


@dataclass(slots=True)
class Timeline:
    ticket_id: str
    events: list[Event] = field(default_factory=list)
    event_ids: set[str] = field(default_factory=set)
    # kept as events arrive, so that the closed check does not walk the timeline each time
    _created: tuple[Instant, int, str] | None = None  # sort key of the first ticket.created
    _closes: list[tuple[Instant, int, str]] = field(default_factory=list)  # closed changes
    _counts: dict[Topic, int] = field(default_factory=dict)  # accepted events per topic

    def add(self, event: Event, *, limited: bool = True) -> Arrival:
        """Accept ``event`` in spec order, or say why not.

        ``limited=False`` skips ``EVENT_LIMIT``: a stored record is read back as it was kept.
        """
        if event.event_id in self.event_ids:
            return Arrival.DUPLICATE
        key = event.sort_key
        if event.type not in _SURVEYS and self._closed_before(key):
            return Arrival.REJECTED
        topic = TOPIC_OF[event.type]
        count = self._counts.get(topic, 0)
        if limited and count >= EVENT_LIMIT:
            return Arrival.OVER_LIMIT
        self._counts[topic] = count + 1
        self.event_ids.add(event.event_id)
        events = self.events
        if not events or events[-1].sort_key < key:
            events.append(event)
        else:
            keys = [e.sort_key for e in events]
            events.insert(bisect.bisect(keys, key), event)
        if event.type is EventType.TICKET_CREATED:
            if self._created is None or key < self._created:
                self._created = key
        elif event.type is EventType.TICKET_STATUS_CHANGED and event.status is Status.CLOSED:
            self._closes.append(key)
        return Arrival.ACCEPTED

    @property
    def has_created(self) -> bool:
        """Has the ticket's ``ticket.created`` arrived? Until then its facts are none."""
        return self._created is not None

    def _closed_before(self, key: tuple[Instant, int, str]) -> bool:
        """Is there an effective ``closed`` (after the ticket's creation) before ``key``?"""
        start = self._created
        if start is None or not self._closes:
            return False
        return any(start < close < key for close in self._closes)
