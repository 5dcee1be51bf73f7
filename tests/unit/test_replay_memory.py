"""Replay keeps closed tickets compact: same snapshot, memory that follows the open tickets."""

from __future__ import annotations

from typing import Any

import pytest

from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.engine import Engine
from streams.domain.instant import ceil_minute, parse_rfc3339
from streams.domain.policies import PolicySet, default_policies
from streams.domain.timeline import Arrival
from streams.replay import replay_lines
from streams.simulator.simulation import SimulationConfig, generate, take

from .conftest import Events

START = parse_rfc3339("2026-11-02T08:00:00Z")


def simulated(count: int, seed: int) -> list[bytes]:
    config = SimulationConfig(seed=seed, events_per_second=0.2, late_share=0.05)
    return [e.line().encode() for e in take(generate(config, START), count=count)]


def keep_everything(lines: list[bytes], policies: PolicySet, at: int | None) -> dict[str, Any]:
    """The plain engine: every timeline in memory, each ticket evaluated once at the end."""
    engine = Engine(policies)
    latest = 0
    for line in lines:
        event = decode_event(line)
        if isinstance(event, InvalidEvent) or (at is not None and event.occurred_at >= at):
            continue
        if engine.ingest(event) is Arrival.ACCEPTED:
            latest = max(latest, event.occurred_at)
    as_of = at if at is not None else ceil_minute(latest)
    engine.evaluate_all(as_of)
    return engine.snapshot(as_of).to_json()


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("at", [None, "2026-11-04T13:00:00Z"])
def test_retiring_closed_tickets_changes_no_number(seed: int, at: str | None) -> None:
    lines = simulated(6000, seed)
    policies = default_policies()
    as_of = parse_rfc3339(at) if at else None
    result = replay_lines(iter(lines), policies, as_of)
    assert result.snapshot == keep_everything(lines, policies, as_of)
    assert result.snapshot["windows"]["7d"]["overall"]["tickets_created"] > 100


def test_closed_tickets_leave_memory_and_come_back_for_late_events() -> None:
    engine = Engine(default_policies())
    ticket = Events("T-1")
    for event in (
        ticket.created(0),
        ticket.reply(10),
        ticket.status(60, "solved"),
        ticket.status(120, "closed"),
    ):
        engine.ingest(event)
    as_of = ceil_minute(ticket.at(24 * 60))
    assert engine.retire("T-1", as_of)
    assert "T-1" not in engine.timelines and "T-1" not in engine.views
    assert "T-1" in engine.retired

    # a survey after the close and a contact from before it both still count
    late = (ticket.csat(180, 5), ticket.inbound(5))
    assert [engine.ingest(e) for e in late] == [Arrival.ACCEPTED, Arrival.ACCEPTED]
    assert "T-1" in engine.timelines and "T-1" in engine.restored
    # and what sorts after the close is still refused
    assert engine.ingest(ticket.inbound(150)) is Arrival.REJECTED

    assert engine.retire("T-1", as_of)
    engine.evaluate_all(as_of)
    overall = engine.snapshot(as_of).windows["7d"].overall
    assert overall.tickets_created == 1
    assert overall.csat.responses == 1
    assert engine.ticket_count == 1 and not engine.timelines


def test_an_open_ticket_is_not_retired() -> None:
    engine = Engine(default_policies())
    ticket = Events("T-2")
    engine.ingest(ticket.created(0))
    engine.ingest(ticket.status(60, "solved"))
    assert not engine.retire("T-2", ceil_minute(ticket.at(24 * 60)))
    assert "T-2" in engine.timelines
