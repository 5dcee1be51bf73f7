"""``api.at_risk`` on a real Redis filled by the worker's own planner: equal deadlines across
pages, and a filtered search that ends a page early with a cursor to continue."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from streams.domain.instant import MICROS_PER_MINUTE, format_rfc3339, parse_rfc3339
from streams.domain.policies import default_policies
from streams.live import api
from streams.live.at_risk import AtRiskQuery, decode_cursor
from streams.live.batch import Message
from streams.live.store import RedisStore
from tests.integration.workers import in_process_worker

pytestmark = pytest.mark.integration

NOW = parse_rfc3339("2026-11-02T09:00:00Z")
MIN = MICROS_PER_MINUTE


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    client = aioredis.Redis.from_url(redis_url)
    prefix = f"a{uuid.uuid4().hex[:10]}"
    worker = in_process_worker(client, prefix, NOW)
    # urgent tickets: first reply due 15 minutes after creation, all at risk now
    teams = {"T1": "support", "T2": "support", "T3": "support", "T4": "support"}
    teams |= {"T5": "support", "T6": "support", "T7": "billing"}
    messages = []
    for offset, (ticket, team) in enumerate(teams.items()):
        created = NOW - 5 * MIN if ticket != "T7" else NOW - 1 * MIN  # T1-T6: one deadline
        event = {
            "event_id": f"{ticket}-c",
            "type": "ticket.created",
            "occurred_at": format_rfc3339(created),
            "ticket_id": ticket,
            "channel": "chat",
            "priority": "urgent",
            "team": team,
        }
        messages.append(Message("t.tickets", 0, offset, json.dumps(event).encode()))
    await worker.handle(messages)
    yield RedisStore(client, prefix)
    await client.aclose()


async def pages(store: RedisStore, **query: Any) -> list[tuple[list[str], str | None]]:
    out: list[tuple[list[str], str | None]] = []
    after = None
    while len(out) < 20:
        asked = AtRiskQuery(after=after, **query)
        status, body = await api.at_risk(store, default_policies(), 1, NOW, asked)
        assert status == 200
        cursor = body["next_cursor"]
        out.append(([t["ticket_id"] for t in body["tickets"]], cursor))
        if cursor is None:
            return out
        after = decode_cursor(cursor)
    raise AssertionError(out)


async def test_equal_deadlines_page_by_ticket_id_without_repeats(store: RedisStore) -> None:
    listed = await pages(store, limit=2)
    assert [ids for ids, _ in listed][:4] == [["T1", "T2"], ["T3", "T4"], ["T5", "T6"], ["T7"]]
    assert [t for ids, _ in listed for t in ids] == ["T1", "T2", "T3", "T4", "T5", "T6", "T7"]


async def test_a_filtered_search_ends_early_with_a_cursor_to_continue(
    store: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "MAX_EXAMINED", 3)
    listed = await pages(store, limit=5, team="billing")
    # five support clocks examined, none matching: an empty page that says where to go on
    assert listed[0][0] == [] and listed[0][1] is not None
    assert [t for ids, _ in listed for t in ids] == ["T7"]
