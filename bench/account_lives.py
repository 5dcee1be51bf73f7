"""Realistic account lives for the account benchmarks: the simulator's CRM, run alone.

``streams.simulator.accounts.Crm`` is what ``ticketpulse simulate --accounts-rate`` runs beside
the tickets: a book of customers and open leads sent backdated, then leads, touches,
conversions, MRR changes, churn and win-backs at monthly hazards. Here it runs without
tickets (no support signal raises churn) for ``days`` simulated days. ``segments`` and
``managers`` above 0 spread the accounts over that many segment and manager names (the
simulator has 3 segments and 13 managers), for the snapshot's larger maps.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from streams.domain.account_decode import decode_any
from streams.domain.account_events import AccountEvent
from streams.domain.account_timeline import AccountTimeline
from streams.domain.instant import MICROS_PER_MINUTE, Instant, parse_rfc3339
from streams.live.batch import PartitionState
from streams.live.placement import partition_of
from streams.simulator.accounts import Crm
from streams.simulator.simulate import DEFAULT_START

DAY = 24 * 60 * MICROS_PER_MINUTE


def crm_values(
    accounts: int, days: float, seed: int = 1, segments: int = 0, managers: int = 0
) -> Iterator[dict[str, object]]:
    """The CRM's account events (JSON objects) over ``days`` from the simulator's start."""
    start = parse_rfc3339(DEFAULT_START)
    end = start + int(days * DAY)
    crm = Crm(seed, start, "bench", accounts)
    while crm.due is not None and crm.due < end:
        for _, value, account_id, _ in crm.step():
            number = int(account_id.rsplit("-", 1)[1])
            value = dict(value)
            if segments and "segment" in value:
                value["segment"] = f"seg-{number % segments:02d}"
            if managers and "manager" in value:
                seen = f"{number}/{value['manager']}".encode()
                value["manager"] = f"am-{zlib.crc32(seen) % managers:02d}"
            yield value


def crm_events(
    accounts: int, days: float, seed: int = 1, segments: int = 0, managers: int = 0
) -> tuple[list[AccountEvent], Instant]:
    """The CRM's events decoded, and the instant just after the simulated span."""
    events = []
    for value in crm_values(accounts, days, seed, segments, managers):
        decoded = decode_any(value)
        if isinstance(decoded, AccountEvent):
            events.append(decoded)
    return events, parse_rfc3339(DEFAULT_START) + int(days * DAY)


def partition_states(events: list[AccountEvent], partitions: int) -> dict[int, PartitionState]:
    """The events in their accounts' timelines, on the partitions the worker places them."""
    states = {p: PartitionState(p) for p in range(partitions)}
    for event in events:
        state = states[partition_of(event.account_id.encode(), partitions)]
        timeline = state.accounts.get(event.account_id)
        if timeline is None:
            timeline = state.accounts[event.account_id] = AccountTimeline(event.account_id)
        timeline.add(event, limited=False)
    return states
