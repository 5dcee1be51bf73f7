"""The event contract (spec section 1): types, their topics and their order.

An ``Event`` is a validated event; decoding and validation live in ``decode``. Events of one
ticket are processed in the order of ``sort_key``: (occurred_at, kind rank, event_id).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from streams.domain.instant import Instant, format_rfc3339
from streams.domain.value import Value


class EventType(StrEnum):
    TICKET_CREATED = "ticket.created"
    TICKET_ASSIGNED = "ticket.assigned"
    TICKET_PRIORITY_CHANGED = "ticket.priority_changed"
    TICKET_STATUS_CHANGED = "ticket.status_changed"
    CONTACT_INBOUND = "contact.inbound"
    CONTACT_OUTBOUND = "contact.outbound"
    SURVEY_CSAT = "survey.csat"
    SURVEY_NPS = "survey.nps"


class Topic(StrEnum):
    """Logical topics; the Kafka names are configurable."""

    TICKETS = "tickets"
    CONTACTS = "contacts"
    SURVEYS = "surveys"


class Channel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    PHONE = "phone"
    WEB = "web"
    SOCIAL = "social"
    API = "api"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


BACKLOG_STATUSES = frozenset({Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD})

# Every member's text, by lookup: ``.value`` is a Python-level property of ``Enum`` (a call
# each time, from compiled code too), while the members are ``str`` and hash at C speed. The
# hot path (records, evaluation, outcome counts) reads it for every event.
TEXT: Final[dict[StrEnum, str]] = {
    m: m.value for members in (EventType, Topic, Channel, Priority, Status) for m in members
}

TOPIC_OF: dict[EventType, Topic] = {
    EventType.TICKET_CREATED: Topic.TICKETS,
    EventType.TICKET_ASSIGNED: Topic.TICKETS,
    EventType.TICKET_PRIORITY_CHANGED: Topic.TICKETS,
    EventType.TICKET_STATUS_CHANGED: Topic.TICKETS,
    EventType.CONTACT_INBOUND: Topic.CONTACTS,
    EventType.CONTACT_OUTBOUND: Topic.CONTACTS,
    EventType.SURVEY_CSAT: Topic.SURVEYS,
    EventType.SURVEY_NPS: Topic.SURVEYS,
}

KIND_RANK: dict[EventType, int] = {
    EventType.TICKET_CREATED: 0,
    EventType.TICKET_ASSIGNED: 1,
    EventType.TICKET_PRIORITY_CHANGED: 1,
    EventType.CONTACT_INBOUND: 2,
    EventType.CONTACT_OUTBOUND: 2,
    EventType.TICKET_STATUS_CHANGED: 3,
    EventType.SURVEY_CSAT: 4,
    EventType.SURVEY_NPS: 4,
}


class Event(Value):
    """One validated event. Fields a type does not carry stay None.

    ``extra`` keeps unknown fields so that an event re-encodes to what was sent; it is not
    part of the value (equality and hashing leave it out).
    """

    _NAMES = (
        "event_id",
        "type",
        "occurred_at",
        "ticket_id",
        "channel",
        "priority",
        "team",
        "agent_id",
        "status",
        "public",
        "score",
        "account_id",
        "requester_id",
        "duration_seconds",
    )
    __slots__ = (*_NAMES, "extra")

    event_id: Final[str]
    type: Final[EventType]
    occurred_at: Final[Instant]
    ticket_id: Final[str]
    channel: Final[Channel | None]
    priority: Final[Priority | None]
    team: Final[str | None]
    agent_id: Final[str | None]
    status: Final[Status | None]
    public: Final[bool]
    score: Final[int | None]
    account_id: Final[str | None]
    requester_id: Final[str | None]
    duration_seconds: Final[float | None]
    extra: Final[dict[str, Any]]

    def __init__(
        self,
        event_id: str,
        type: EventType,
        occurred_at: Instant,
        ticket_id: str,
        channel: Channel | None = None,
        priority: Priority | None = None,
        team: str | None = None,
        agent_id: str | None = None,
        status: Status | None = None,
        public: bool = True,
        score: int | None = None,
        account_id: str | None = None,
        requester_id: str | None = None,
        duration_seconds: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.event_id = event_id
        self.type = type
        self.occurred_at = occurred_at
        self.ticket_id = ticket_id
        self.channel = channel
        self.priority = priority
        self.team = team
        self.agent_id = agent_id
        self.status = status
        self.public = public
        self.score = score
        self.account_id = account_id
        self.requester_id = requester_id
        self.duration_seconds = duration_seconds
        self.extra = {} if extra is None else extra

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.event_id,
            self.type,
            self.occurred_at,
            self.ticket_id,
            self.channel,
            self.priority,
            self.team,
            self.agent_id,
            self.status,
            self.public,
            self.score,
            self.account_id,
            self.requester_id,
            self.duration_seconds,
        )

    @property
    def sort_key(self) -> tuple[Instant, int, str]:
        return (self.occurred_at, KIND_RANK[self.type], self.event_id)

    @property
    def topic(self) -> Topic:
        return TOPIC_OF[self.type]

    @property
    def is_touch(self) -> bool:
        """A public outbound contact: a reply the customer sees."""
        return self.type is EventType.CONTACT_OUTBOUND and self.public

    def to_json(self) -> dict[str, Any]:
        """The wire form (spec section 1): only the fields this type carries."""
        out: dict[str, Any] = dict(self.extra)
        out.update(
            event_id=self.event_id,
            type=self.type.value,
            occurred_at=format_rfc3339(self.occurred_at),
            ticket_id=self.ticket_id,
        )
        optional: dict[str, Any] = {
            "channel": self.channel.value if self.channel else None,
            "priority": self.priority.value if self.priority else None,
            "team": self.team,
            "agent_id": self.agent_id,
            "status": self.status.value if self.status else None,
            "score": self.score,
            "account_id": self.account_id,
            "requester_id": self.requester_id,
            "duration_seconds": self.duration_seconds,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.type in (EventType.CONTACT_INBOUND, EventType.CONTACT_OUTBOUND):
            out["public"] = self.public
        return out
