"""``GET /sla/at-risk`` and ``GET /openapi.json`` of a real worker over real Kafka and Redis."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from redis.asyncio import Redis

from streams.domain.instant import MICROS_PER_MINUTE, format_rfc3339, parse_rfc3339
from streams.live.api import partition_of
from streams.stack import Stack
from tests.support.workers import WorkerProcess, iter_until, now_micros, post

from .workers import Run


@pytest.fixture
def run(stack: Stack, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    name = "r" + request.node.name.replace("_", "")[-20:].lower()
    created = Run(
        name=name,
        bootstrap=stack.addresses.bootstrap_servers,
        redis_url=stack.addresses.redis_url,
        log_dir=tmp_path,
    )
    yield created
    created.stop_all()


def created(ticket: str, at: int, priority: str, team: str) -> dict[str, Any]:
    return {
        "event_id": f"{ticket}-c",
        "type": "ticket.created",
        "occurred_at": format_rfc3339(at),
        "ticket_id": ticket,
        "channel": "chat",
        "priority": priority,
        "team": team,
    }


def assigned(ticket: str, at: int, agent: str, team: str | None = None) -> dict[str, Any]:
    event = {
        "event_id": f"{ticket}-a",
        "type": "ticket.assigned",
        "occurred_at": format_rfc3339(at),
        "ticket_id": ticket,
        "agent_id": agent,
    }
    return event | ({"team": team} if team else {})


def listed(worker: WorkerProcess, query: str = "") -> list[tuple[str, str]]:
    status, body = worker.get("/sla/at-risk" + query)
    assert status == 200, body
    return [(t["ticket_id"], t["state"]) for t in body["tickets"]]


def all_pages(worker: WorkerProcess, query: str) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while len(pages) < 20:
        suffix = f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""
        status, body = worker.get(f"/sla/at-risk?{query}{suffix}")
        assert status == 200, body
        pages.append([t["ticket_id"] for t in body["tickets"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError(f"no end of pages: {pages}")


# first_reply deadlines (golden policies: urgent 15 min, team vip 10 min, calendar time),
# in list order: breached ones the longest overdue first, then at risk by deadline
ORDER = ["A2", "A1", "A3", "A5", "A4", "A6"]


def test_at_risk_lists_breached_and_at_risk_tickets_with_filters_and_pages(run: Run) -> None:
    worker = run.start_worker()
    now = now_micros()
    minute = MICROS_PER_MINUTE
    events = [
        created("A1", now - 20 * minute, "urgent", "billing"),  # breached 5 min ago
        created("A2", now - 40 * minute, "urgent", "billing"),  # breached 25 min ago
        assigned("A2", now - 39 * minute, "ana"),
        created("A3", now - 10 * minute, "urgent", "support"),  # due in 5 min
        created("A4", now - 5 * minute, "urgent", "support"),  # due in 10 min
        assigned("A4", now - 4 * minute, "ana", team="billing"),  # moved to billing
        created("A5", now - 1 * minute, "high", "vip"),  # vip: due in 9 min
        created("A6", now - 1 * minute, "urgent", "support"),  # due in 14 min
    ]
    body = b"\n".join(json.dumps(e).encode() for e in events)
    assert post(worker.url + "/events", body, "application/x-ndjson")[0] == 202

    rows: list[dict[str, Any]] = []
    for _ in iter_until(30):
        status, answer = worker.get("/sla/at-risk")
        rows = answer["tickets"] if status == 200 else []
        if len(rows) == len(ORDER):
            break
    # every ticket's first reply, breached ones first (the longest overdue first): breached
    # clocks that still run are listed, not only at-risk ones
    assert [(r["ticket_id"], r["target"]) for r in rows] == [(t, "first_reply") for t in ORDER]
    assert answer["next_cursor"] is None
    by_id = {r["ticket_id"]: r for r in rows}
    assert [by_id[t]["state"] for t in ORDER] == ["breached"] * 2 + ["at_risk"] * 4
    a2 = by_id["A2"]
    left = (parse_rfc3339(a2["deadline"]) - parse_rfc3339(answer["as_of"])) / 1e6
    assert a2["seconds_left"] == pytest.approx(left) and left < -25 * 60
    assert {k: v for k, v in a2.items() if k != "seconds_left"} == {
        "ticket_id": "A2",
        "target": "first_reply",
        "state": "breached",
        "deadline": format_rfc3339(now - 25 * minute),
        "overdue": True,
        "team": "billing",
        "priority": "urgent",
        "agent": "ana",
    }
    # the current team, priority and assignee
    assert (by_id["A4"]["team"], by_id["A4"]["agent"]) == ("billing", "ana")
    assert (by_id["A5"]["team"], by_id["A5"]["priority"], by_id["A5"]["agent"]) == (
        "vip",
        "high",
        None,
    )
    assert not by_id["A3"]["overdue"] and by_id["A3"]["seconds_left"] > 0

    # each filter
    assert listed(worker, "?state=breached") == [("A2", "breached"), ("A1", "breached")]
    assert [t for t, _ in listed(worker, "?state=at_risk")] == ["A3", "A5", "A4", "A6"]
    assert [t for t, _ in listed(worker, "?team=billing")] == ["A2", "A1", "A4"]
    assert [t for t, _ in listed(worker, "?team=support")] == ["A3", "A6"]
    assert [t for t, _ in listed(worker, "?priority=high")] == ["A5"]
    assert [t for t, _ in listed(worker, "?agent=ana")] == ["A2", "A4"]
    assert [t for t, _ in listed(worker, "?target=first_reply")] == ORDER
    assert listed(worker, "?target=resolution") == []  # due in hours: not at risk
    assert [t for t, _ in listed(worker, "?team=billing&state=at_risk")] == ["A4"]

    # pages: in order, no gaps, no repeats; filters keep applying
    pages = all_pages(worker, "limit=2")
    assert [t for page in pages for t in page] == ORDER
    assert pages[:3] == [ORDER[0:2], ORDER[2:4], ORDER[4:6]]
    assert all_pages(worker, "limit=1&team=billing")[:3] == [["A2"], ["A1"], ["A4"]]
    assert [t for p in all_pages(worker, "limit=1&team=billing") for t in p] == ["A2", "A1", "A4"]

    # a breached clock known only to the breached-running set (no deadline in the index) is
    # still listed, first, with the deadline its record gives
    async def drop_late_entry() -> None:
        client = Redis.from_url(run.redis_url)
        try:
            key = f"{{{run.name}:p{partition_of('A1', run.partitions)}}}:late:first_reply"
            assert await client.zrem(key, "A1") == 1
        finally:
            await client.aclose()

    asyncio.run(drop_late_entry())
    rows = worker.get("/sla/at-risk?state=breached")[1]["tickets"]
    assert [(r["ticket_id"], r["deadline"]) for r in rows] == [
        ("A1", format_rfc3339(now - 5 * minute)),
        ("A2", format_rfc3339(now - 25 * minute)),
    ]


def test_bad_parameters_get_a_json_400_and_openapi_describes_the_api(run: Run) -> None:
    worker = run.start_worker()
    status, body = worker.get("/sla/at-risk?team=billing&bogus=1")
    assert status == 400 and body["error"].startswith("bogus: unknown parameter"), body
    for query in ("limit=0", "limit=x", "state=late", "target=x", "priority=top", "cursor=zz"):
        status, body = worker.get(f"/sla/at-risk?{query}")
        assert status == 400 and body["error"].startswith(query.split("=")[0] + ":"), body
    assert worker.get("/sla/at-risk?limit=50")[0] == 200  # what the Grafana table reads

    status, spec = worker.get("/openapi.json")
    assert status == 200
    validate(spec)
    assert set(spec["paths"]) == {
        "/kpis",
        "/tickets/{ticket_id}",
        "/sla/at-risk",
        "/accounts/at-risk",
        "/accounts/{account_id}",
        "/events",
        "/metrics",
        "/healthz",
        "/readyz",
        "/openapi.json",
    }
    # the worker's answers match the document's schemas
    schemas = spec["components"]["schemas"]

    def check(name: str, value: Any) -> None:
        schema = {**schemas[name], "components": {"schemas": schemas}}
        Draft202012Validator(schema).validate(value)

    check("AtRiskPage", worker.get("/sla/at-risk")[1])
    check("Error", worker.get("/sla/at-risk?x=1")[1])
    check("AccountsAtRiskPage", worker.get("/accounts/at-risk")[1])
    check("Error", worker.get("/accounts/at-risk?x=1")[1])
    check("Error", worker.get("/accounts/nobody")[1])
    check("Ready", worker.get("/readyz")[1])
    check("Health", worker.get("/healthz")[1])
