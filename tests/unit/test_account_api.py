"""``GET /accounts/{id}`` and ``GET /accounts/at-risk`` over the worker's store.

The golden accounts log goes through the worker (tickets linked to their accounts); each
account's V then equals replay's views file, and the at-risk pages list the snapshot's at-risk
customers, in order, whatever the page size.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams.live.account_api import (
    RiskQuery,
    account,
    accounts_at_risk,
    parse_risk_query,
)
from streams.live.account_share import PartialCache
from streams.live.stores.memory import MemoryStore
from streams.replay import replay_lines
from tests.unit.test_worker_accounts import (
    AS_OF,
    GOLDEN,
    NOW,
    PARTITIONS,
    POLICIES,
    Loop,
    golden,
    linked_snapshot,
)

EXPECTED_VIEWS = [json.loads(line) for line in (GOLDEN / "expected_views.jsonl").open()]


@pytest.fixture(scope="module")
async def store() -> MemoryStore:
    store = MemoryStore()
    await linked_snapshot(store, Loop(), golden(accounts_only=False))
    return store


async def test_every_account_is_its_replay_view(store: MemoryStore) -> None:
    views = replay_lines(iter(golden(accounts_only=False)), POLICIES, AS_OF).accounts
    assert views == EXPECTED_VIEWS
    for want in EXPECTED_VIEWS:
        status, body = await account(store, POLICIES, PARTITIONS, want["account_id"], NOW)
        assert status == 200
        assert {k: body[k] for k in want} == want
        assert body["as_of"] == "2026-12-01T00:00:00Z"
    status, body = await account(store, POLICIES, PARTITIONS, "nobody", NOW)
    assert (status, body) == (404, {"error": "account_id: no account 'nobody'"})


async def test_an_account_shows_its_open_tickets_and_latest_events(store: MemoryStore) -> None:
    opened = []
    for want in EXPECTED_VIEWS:
        _, body = await account(store, POLICIES, PARTITIONS, want["account_id"], NOW)
        events = body["last_events"]
        times = [e["occurred_at"] for e in events]
        assert times == sorted(times, reverse=True) and len(events) <= 20
        assert all(e["account_id"] == want["account_id"] for e in events)
        opened += [(want["account_id"], t["ticket_id"], t["status"]) for t in body["open_tickets"]]
    assert opened  # some golden tickets are still open
    assert all(status != "closed" for _, _, status in opened)


async def pages(store: MemoryStore, **query: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        pairs = [(k, str(v)) for k, v in query.items()] + ([("cursor", cursor)] if cursor else [])
        parsed = parse_risk_query(pairs)
        assert isinstance(parsed, RiskQuery)
        status, body = await accounts_at_risk(store, PARTITIONS, parsed)
        assert status == 200
        rows += body["accounts"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


async def test_at_risk_pages_list_the_snapshots_at_risk_customers(store: MemoryStore) -> None:
    want = replay_lines(iter(golden(accounts_only=False)), POLICIES, AS_OF).snapshot
    listed = want["accounts"]["at_risk"]
    assert len(listed) == 4
    assert await pages(store) == listed
    assert await pages(store, limit=1) == listed
    segment = listed[0]["segment"]
    assert await pages(store, limit=1, segment=segment) == [
        r for r in listed if r["segment"] == segment
    ]
    assert await pages(store, manager="nobody") == []


async def test_at_risk_lists_the_first_paged_customers_of_all_partitions() -> None:
    """However many customers are at risk, a partition publishes and a request reads at most
    ``paged`` of them (here 1 instead of 10,000): the first ones of all partitions."""
    lines = golden(accounts_only=False)
    store = MemoryStore()
    snapshot = await linked_snapshot(store, Loop(), lines, partials=PartialCache(paged=1))
    want = replay_lines(iter(lines), POLICIES, AS_OF).snapshot
    assert snapshot["accounts"]["now"]["at_risk"] == 4
    assert snapshot == want  # counts and the snapshot's list are not capped
    published = await store.read_account_risks(range(PARTITIONS))
    assert [len(json.loads(blob)["at_risk"]) for blob in published.values()] == [1, 1, 1]
    status, body = await accounts_at_risk(store, PARTITIONS, RiskQuery(limit=1000), paged=1)
    assert status == 200
    assert body["accounts"] == want["accounts"]["at_risk"][:1]
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    ("pairs", "error"),
    [
        ([("limit", "0")], "limit: must be an integer from 1 to 1000, not '0'"),
        ([("cursor", "x")], "cursor: not a next_cursor of this API"),
        ([("segment", "")], "segment: must not be empty"),
        ([("team", "a")], "team: unknown parameter; known: limit, cursor, segment, manager"),
        ([("limit", "1"), ("limit", "2")], "limit: given more than once"),
    ],
)
def test_bad_parameters_are_named(pairs: list[tuple[str, str]], error: str) -> None:
    assert parse_risk_query(pairs) == error
