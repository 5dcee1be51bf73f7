"""Builders shared by the unit tests: events by minute offsets and the spec's policies."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml

from streams.domain.events import Channel, Event, EventType, Priority, Status
from streams.domain.instant import MICROS_PER_MINUTE, Instant, parse_rfc3339
from streams.domain.policies import PolicySet, parse_policies

SPEC_POLICIES = """
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon: ["09:00-17:00"], tue: ["09:00-17:00"], wed: ["09:00-17:00"],
            thu: ["09:00-17:00"], fri: ["09:00-13:00", "14:00-17:00"]}
    holidays: ["2026-12-24", "2026-12-25"]
at_risk_within: 15m
policies:
  - name: urgent
    match: {priority: urgent}
    targets: {first_reply: 15m, next_reply: 30m, resolution: 4h}
  - name: standard
    match: {}
    calendar: office
    targets: {first_reply: 4h, next_reply: 8h, resolution: 3d}
    pause_resolution_on: [pending]
"""

# Calendar-time policy with a pause, for arithmetic that is easy to check by hand.
SIMPLE_POLICIES = """
at_risk_within: 15m
policies:
  - name: vip
    match: {team: vip}
    targets: {first_reply: 5m}
  - name: simple
    match: {}
    targets: {first_reply: 15m, next_reply: 30m, resolution: 2h}
    pause_resolution_on: [pending, on_hold]
"""

MONDAY_0900 = parse_rfc3339("2026-11-02T09:00:00Z")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "promtool: runs Prometheus's promtool (make check deselects it when missing)"
    )


def policies_from(text: str) -> PolicySet:
    return parse_policies(yaml.safe_load(text), "test-policies.yaml")


@pytest.fixture
def spec_policies() -> PolicySet:
    return policies_from(SPEC_POLICIES)


@pytest.fixture
def simple_policies() -> PolicySet:
    return policies_from(SIMPLE_POLICIES)


class Events:
    """Builds a ticket's events at minute offsets from a start instant."""

    def __init__(self, ticket_id: str = "T1", start: Instant = MONDAY_0900) -> None:
        self.ticket_id = ticket_id
        self.start = start
        self._ids = itertools.count(1)

    def at(self, minutes: float) -> Instant:
        return self.start + round(minutes * MICROS_PER_MINUTE)

    def make(self, type_: EventType, minutes: float, **fields: Any) -> Event:
        return Event(
            event_id=f"{self.ticket_id}-e{next(self._ids)}",
            type=type_,
            occurred_at=self.at(minutes),
            ticket_id=self.ticket_id,
            **fields,
        )

    def created(
        self,
        minutes: float = 0,
        priority: str = "normal",
        team: str = "support",
        channel: str = "email",
    ) -> Event:
        return self.make(
            EventType.TICKET_CREATED,
            minutes,
            priority=Priority(priority),
            team=team,
            channel=Channel(channel),
        )

    def inbound(self, minutes: float, public: bool = True) -> Event:
        return self.make(EventType.CONTACT_INBOUND, minutes, channel=Channel.EMAIL, public=public)

    def reply(
        self, minutes: float, agent: str = "a1", public: bool = True, call: float | None = None
    ) -> Event:
        """An outbound contact; ``call`` makes it a phone call of that many seconds."""
        return self.make(
            EventType.CONTACT_OUTBOUND,
            minutes,
            agent_id=agent,
            channel=Channel.EMAIL if call is None else Channel.PHONE,
            public=public,
            duration_seconds=call,
        )

    def status(self, minutes: float, status: str) -> Event:
        return self.make(EventType.TICKET_STATUS_CHANGED, minutes, status=Status(status))

    def assign(self, minutes: float, agent: str, team: str | None = None) -> Event:
        return self.make(EventType.TICKET_ASSIGNED, minutes, agent_id=agent, team=team)

    def priority(self, minutes: float, priority: str) -> Event:
        return self.make(EventType.TICKET_PRIORITY_CHANGED, minutes, priority=Priority(priority))

    def csat(self, minutes: float, score: int) -> Event:
        return self.make(EventType.SURVEY_CSAT, minutes, score=score)

    def nps(self, minutes: float, score: int) -> Event:
        return self.make(EventType.SURVEY_NPS, minutes, score=score)
