"""Replay keeps closed tickets as records only: same snapshot, a cache of the open tickets."""

from __future__ import annotations

from typing import Any

import pytest

from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.events import Event
from streams.domain.instant import ceil_minute, parse_rfc3339
from streams.domain.policies import PolicySet, default_policies
from streams.domain.timeline import Arrival
from streams.live.batch import Message
from streams.live.partition_replay import TOPIC, PartitionReplay
from streams.replay import replay_lines
from streams.simulator.simulation import SimulationConfig, generate, take

from ..support.scratch import Scratch
from .conftest import Events

START = parse_rfc3339("2026-11-02T08:00:00Z")


def simulated(count: int, seed: int) -> list[bytes]:
    config = SimulationConfig(seed=seed, events_per_second=0.2, late_share=0.05)
    return [e.line().encode() for e in take(generate(config, START), count=count)]


def keep_everything(lines: list[bytes], policies: PolicySet, at: int | None) -> dict[str, Any]:
    """From scratch: every timeline in memory, each ticket evaluated once at the end."""
    scratch = Scratch(policies)
    latest = 0
    for line in lines:
        event = decode_event(line)
        if isinstance(event, InvalidEvent) or (at is not None and event.occurred_at >= at):
            continue
        if scratch.ingest(event) is Arrival.ACCEPTED:
            latest = max(latest, event.occurred_at)
    as_of = at if at is not None else ceil_minute(latest)
    return scratch.snapshot(as_of).to_json()


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("at", [None, "2026-11-04T13:00:00Z"])
def test_retiring_closed_tickets_changes_no_number(seed: int, at: str | None) -> None:
    lines = simulated(6000, seed)
    policies = default_policies()
    as_of = parse_rfc3339(at) if at else None
    result = replay_lines(iter(lines), policies, as_of)
    assert result.snapshot == keep_everything(lines, policies, as_of)
    assert result.snapshot["windows"]["7d"]["overall"]["tickets_created"] > 100


def batch(*events: Event) -> list[tuple[Message, Event]]:
    return [(Message(TOPIC, 0, n, b""), e) for n, e in enumerate(events, start=1)]


def test_closed_tickets_leave_the_cache_and_come_back_for_late_events() -> None:
    run = PartitionReplay(default_policies())
    ticket = Events("T-1")
    as_of = ceil_minute(ticket.at(24 * 60))
    run.apply(
        batch(
            ticket.created(0),
            ticket.reply(10),
            ticket.status(60, "solved"),
            ticket.status(120, "closed"),
        ),
        as_of,
    )
    assert "T-1" not in run.state.tickets  # its record is in the store only
    assert "T-1" in run.store.records(0)

    # a survey after the close and a contact from before it both still count; what sorts
    # after the close is still refused
    run.apply(batch(ticket.csat(180, 5), ticket.inbound(5), ticket.inbound(150)), as_of)
    assert run.outcomes[Arrival.ACCEPTED.value] == 6
    assert run.outcomes[Arrival.REJECTED.value] == 1
    assert "T-1" not in run.state.tickets
    overall = run.snapshot(as_of).windows["7d"].overall
    assert overall.tickets_created == 1
    assert overall.csat.responses == 1
    assert len(run.store.records(0)) == 1


def test_an_open_ticket_stays_in_the_cache() -> None:
    run = PartitionReplay(default_policies())
    ticket = Events("T-2")
    run.apply(
        batch(ticket.created(0), ticket.status(60, "solved")), ceil_minute(ticket.at(24 * 60))
    )
    assert "T-2" in run.state.tickets
    assert "T-2" not in run.store.records(0)  # its record would only be read by a new owner
    assert run.ticket_ids() == {"T-2"}


def test_the_store_gets_every_record_when_asked() -> None:
    run = PartitionReplay(default_policies(), all_records=True)
    ticket = Events("T-3")
    run.apply(batch(ticket.created(0)), ceil_minute(ticket.at(60)))
    assert "T-3" in run.state.tickets
    assert "T-3" in run.store.records(0)
