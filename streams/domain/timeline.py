"""A ticket's events, kept in spec order whatever order they arrive in.

The timeline only stores and orders; what the events mean is ``ticket.evaluate``'s job.
It decides the three things that must be known at arrival: a duplicate ``event_id`` changes
nothing, a ticket or contact event that sorts after ``closed`` is rejected (closed is final;
surveys are still accepted), and a ticket keeps at most ``EVENT_LIMIT`` events of each topic.

Which events are refused must not depend on the order they arrive in (a ticket's events come
from three topics, interleaved as the consumer fetches them). So a ``closed`` that arrives
after events sorting after it (or a ``ticket.created`` that makes an earlier ``closed``
effective) *withdraws* those events: they leave the timeline for ``withdrawn``, and the caller
dead-letters them as if they had come after the close. An event refused either way keeps its
``event_id`` in ``event_ids``, so a copy of it is a duplicate, whenever it comes. The refused
events are then exactly the ticket and contact events sorting after the first effective close,
in any order of arrival.

The limit bounds what one ticket costs: every accepted event re-evaluates the whole timeline
and rewrites its record, so a ticket in an auto-reply loop would otherwise cost more with each
event. It counts per topic because a ticket's events of one topic reach the worker in the order
they were sent (one Kafka partition), whatever the interleaving of the topics: live and a
replay of the log keep the same events, and a contact loop never crowds out the ticket's
``closed`` or its surveys. An event over the limit is not remembered (its id is not kept:
that would grow without bound in a loop), so a copy of it is refused again; nor are refusals
after closed beyond ``EVENT_LIMIT`` of them.
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
    event_ids: set[str] = field(default_factory=set)  # accepted and refused events
    # accepted events that a close arriving later withdrew; the caller takes them (and
    # empties the list) to dead-letter them
    withdrawn: list[Event] = field(default_factory=list)
    # kept as events arrive, so that the closed check does not walk the timeline each time
    _created: tuple[Instant, int, str] | None = None  # sort key of the first ticket.created
    _closes: list[tuple[Instant, int, str]] = field(default_factory=list)  # closed changes
    _counts: dict[Topic, int] = field(default_factory=dict)  # accepted events per topic
    # changes other than appending an accepted event (an insertion before the last event, a
    # withdrawal): a walk over the first events stays valid while this does not move
    rewrites: int = 0

    def add(self, event: Event, *, limited: bool = True) -> Arrival:
        """Accept ``event`` in spec order, or say why not.

        ``limited=False`` skips ``EVENT_LIMIT``: a stored record is read back as it was kept.
        """
        if event.event_id in self.event_ids:
            return Arrival.DUPLICATE
        key = event.sort_key
        self.event_ids.add(event.event_id)
        if event.type not in _SURVEYS and self._closed_before(key):
            if len(self.event_ids) - len(self.events) > EVENT_LIMIT:
                self.event_ids.discard(event.event_id)  # remembered refusals are bounded too
            return Arrival.REJECTED
        topic = TOPIC_OF[event.type]
        count = self._counts.get(topic, 0)
        if limited and count >= EVENT_LIMIT:
            self.event_ids.discard(event.event_id)
            return Arrival.OVER_LIMIT
        self._counts[topic] = count + 1
        events = self.events
        if not events or events[-1].occurred_at < event.occurred_at or events[-1].sort_key < key:
            events.append(event)  # the times alone mostly decide, without the last one's key
        else:
            keys = [e.sort_key for e in events]
            events.insert(bisect.bisect(keys, key), event)
            self.rewrites += 1
        if event.type is EventType.TICKET_CREATED:
            if self._created is None or key < self._created:
                self._created = key
                if self._closes:
                    self._withdraw_after_close()
        elif event.type is EventType.TICKET_STATUS_CHANGED and event.status is Status.CLOSED:
            self._closes.append(key)
            self._withdraw_after_close()
        return Arrival.ACCEPTED

    @property
    def refused_ids(self) -> set[str]:
        """Ids of events refused (rejected or withdrawn): kept so that copies stay duplicates."""
        if len(self.event_ids) == len(self.events):
            return set()
        return self.event_ids - {e.event_id for e in self.events}

    def _withdraw_after_close(self) -> None:
        """Move the ticket and contact events sorting after the first effective close to
        ``withdrawn``: they arrived before that close (or before the creation that made it
        effective), and would have been rejected after it."""
        start = self._created
        effective = [close for close in self._closes if start is not None and start < close]
        if not effective:
            return
        cutoff = min(effective)
        events = self.events
        if events[-1].sort_key <= cutoff:
            return  # the usual case: the close is the latest event
        kept = []
        for event in events:
            if event.type not in _SURVEYS and event.sort_key > cutoff:
                self.withdrawn.append(event)
                self._counts[TOPIC_OF[event.type]] -= 1
            else:
                kept.append(event)
        events[:] = kept
        self.rewrites += 1
        self._closes = [close for close in self._closes if close <= cutoff]

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
