"""Ids and names holding the character the store's hash fields are joined with (U+001F).

Any non-empty string is a valid team, agent or account id, so one holding the separator of
``streams.live.writes`` must be counted like any other: the worker's snapshot equals replay,
after the partitions are adopted again from the store too, and an account's links reach it
(none is dead-lettered, none shows under another account).
"""

from __future__ import annotations

import json
from typing import Any

from streams.live.account_api import account
from streams.live.placement import partition_of
from streams.live.stores.memory import MemoryStore
from streams.replay import replay_lines
from tests.unit.test_worker_accounts import (
    AS_OF,
    NOW,
    PARTITIONS,
    POLICIES,
    Keep,
    Loop,
    as_sent,
    linked_snapshot,
    live_snapshot,
    worker,
)

ODD = "x\x1fy"


def line(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def ticket(ticket_id: str, team: str, account_id: str | None = None) -> bytes:
    extra = {"account_id": account_id} if account_id else {}
    return line(
        event_id=f"{ticket_id}.1",
        type="ticket.created",
        occurred_at="2026-11-30T10:00:00Z",
        ticket_id=ticket_id,
        channel="email",
        priority="high",
        team=team,
        **extra,
    )


def assigned(ticket_id: str, agent: str) -> bytes:
    return line(
        event_id=f"{ticket_id}.2",
        type="ticket.assigned",
        occurred_at="2026-11-30T10:01:00Z",
        ticket_id=ticket_id,
        agent_id=agent,
    )


def lead(account_id: str) -> bytes:
    return line(
        event_id=f"{account_id}.1",
        type="account.lead_created",
        occurred_at="2026-11-20T10:00:00Z",
        account_id=account_id,
        source="inbound",
        segment="smb",
    )


async def test_a_team_or_agent_with_the_separator_is_counted_as_replay_counts_it() -> None:
    lines = [ticket("T1", ODD), assigned("T1", ODD), ticket("T2", "core")]
    want = replay_lines(iter(lines), POLICIES, AS_OF).snapshot
    assert ODD in want["windows"]["24h"]["by_team"]
    store = MemoryStore()
    assert await live_snapshot(store, lines) == want
    # the partitions adopted again: their buckets read back from the store
    assert await live_snapshot(store, lines) == want


async def test_an_account_id_with_the_separator_gets_its_tickets_links() -> None:
    odd_account = "G0\x1fy"  # on G0's partition: its links are under G0's field prefix
    assert partition_of(b"G0", PARTITIONS) == partition_of(odd_account.encode(), PARTITIONS)
    lines = [lead("G0"), lead(odd_account), ticket("T1", "core", account_id=odd_account)]
    store, loop, dead = MemoryStore(), Loop(), Keep()
    live = worker(store, dead, links=loop)
    await live.handle(as_sent(lines))
    sent = loop.take()
    assert sent
    await live.handle(sent)
    assert dead.records == []
    _, odd = await account(store, POLICIES, PARTITIONS, odd_account, NOW)
    assert odd["support_30d"]["tickets_created"] == 1
    _, plain = await account(store, POLICIES, PARTITIONS, "G0", NOW)
    assert plain["support_30d"]["tickets_created"] == 0
    want = replay_lines(iter(lines), POLICIES, AS_OF).snapshot
    assert await linked_snapshot(MemoryStore(), Loop(), lines) == want


async def test_two_links_whose_ids_join_alike_are_both_kept() -> None:
    """Ticket 'B3\\x1fT' of account 'A3' and ticket 'T' of account 'A3\\x1fB3' would both be
    'A3\\x1fB3\\x1fT' joined plainly: each account, on one partition, keeps its own link."""
    first, second = ("A3", "B3\x1fT"), ("A3\x1fB3", "T")
    for account_id, ticket_id in (first, second):
        assert partition_of(account_id.encode(), PARTITIONS) == partition_of(b"A3", PARTITIONS)
        assert partition_of(ticket_id.encode(), PARTITIONS) == partition_of(b"T", PARTITIONS)
    lines = [lead(a) for a, _ in (first, second)]
    lines += [ticket(t, "core", account_id=a) for a, t in (first, second)]
    store = MemoryStore()
    want = replay_lines(iter(lines), POLICIES, AS_OF).snapshot
    assert await linked_snapshot(store, Loop(), lines) == want
    for account_id, _ in (first, second):
        _, body = await account(store, POLICIES, PARTITIONS, account_id, NOW)
        assert body["support_30d"]["tickets_created"] == 1, account_id
