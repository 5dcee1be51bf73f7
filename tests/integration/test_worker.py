"""The live worker on the real Kafka and Redis: equal to replay, breaches on time, crash-safe."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from streams.domain.instant import MICROS_PER_MINUTE, ceil_minute, format_rfc3339, parse_rfc3339
from streams.domain.policies import load_policies
from streams.replay import replay_lines
from tests.support.workers import WorkerProcess, iter_until, now_micros

from .workers import (
    GOLDEN,
    Run,
    group_offsets,
    killed_mid_stream,
    produce,
    read_topic,
    shifted_golden,
)


def replay_at(records: list[tuple[str, bytes, bytes]], as_of: str) -> dict[str, Any]:
    policies = load_policies(GOLDEN / "policies.yaml")
    lines = iter([value for _, _, value in records])
    return replay_lines(lines, policies, parse_rfc3339(as_of)).snapshot


def converge(
    worker: WorkerProcess, records: list[tuple[str, bytes, bytes]], timeout: float = 40.0
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Poll GET /kpis until it equals replay at the snapshot's own as_of."""
    live: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for _ in iter_until(timeout):
        try:
            status, live = worker.get("/kpis")
        except OSError:  # restarting its web server during a rebalance; dead is caught below
            assert worker.process.poll() is None, worker.tail()
            continue
        if status != 200:
            continue
        expected = replay_at(records, live["as_of"])
        if live == expected:
            return live, expected
    return live, expected


def golden_now() -> list[tuple[str, bytes, bytes]]:
    """The golden log moved so that its as_of is the end of the current minute.

    If the minute turns while the test runs, replay is simply taken at the later as_of.
    """
    return shifted_golden(ceil_minute(now_micros()))


def test_golden_through_kafka_equals_replay(run: Run) -> None:
    worker = run.start_worker()
    golden_as_of = ceil_minute(now_micros())
    records = shifted_golden(golden_as_of)
    asyncio.run(produce(run, records))
    live, expected = converge(worker, records)
    assert live == expected, worker.tail()
    assert live["windows"]["7d"]["overall"]["tickets_created"] == 18
    # G11's solve falls at the golden as_of: not applied there, applied once the minute turns
    g11_solved = parse_rfc3339(live["as_of"]) > golden_as_of
    assert live["backlog"]["total"] == (11 if g11_solved else 12)

    status, body = worker.get("/kpis?window=1h&by=team")
    assert status == 200 and set(body["windows"]) == {"1h"}
    assert set(body["windows"]["1h"]) == {"overall", "by_team"}
    status, ticket = worker.get("/tickets/G09")
    assert status == 200 and ticket["status"] == "solved"
    assert [f["kind"] for f in ticket["facts"]].count("reopen") == 1
    assert worker.get("/tickets/nope")[0] == 404
    status, risky = worker.get("/sla/at-risk?limit=5")
    assert status == 200 and len(risky["tickets"]) <= 5
    assert all(set(t) >= {"ticket_id", "target", "deadline"} for t in risky["tickets"])
    # Faust's default data folder (``<app id>-data``) is not made in the working directory
    assert [p.name for p in run.log_dir.iterdir() if p.is_dir()] == []


def test_invalid_events_reach_the_deadletter_topic_with_reasons(run: Run) -> None:
    run.start_worker()
    records = golden_now()
    asyncio.run(produce(run, records))

    found = asyncio.run(read_topic(run, "deadletter", 6))
    invalid = sorted(d["error"].split(":")[0] for d in found if "is closed" not in d["error"])
    assert invalid == sorted(["(json)", "type", "score", "ticket_id", "occurred_at"])
    # G08's contact after its close travels on another topic than the close: it is
    # dead-lettered whether it arrives after the close or before (withdrawn when it comes)
    closed = [d for d in found if "is closed" in d["error"]]
    assert [d["event"]["event_id"] for d in closed] == ["g08-5"]
    for record in found:
        assert set(record) == {"error", "event", "source_topic", "partition", "offset"}
        assert record["source_topic"] in run.topics.values()


def test_breach_is_recorded_at_its_deadline_without_further_events(run: Run) -> None:
    worker = run.start_worker()
    deadline = now_micros() + 3_000_000
    created = deadline - 15 * MICROS_PER_MINUTE  # urgent: first reply due 15 minutes later
    event = {
        "event_id": "b-1",
        "type": "ticket.created",
        "occurred_at": format_rfc3339(created),
        "ticket_id": "B1",
        "channel": "chat",
        "priority": "urgent",
        "team": "billing",
    }
    asyncio.run(produce(run, [("tickets", b"B1", json.dumps(event).encode())]))
    breached: dict[str, Any] = {}
    for _ in iter_until(20, interval=0.1):
        status, ticket = worker.get("/tickets/B1")
        clocks = {c["target"]: c for c in ticket.get("clocks", [])} if status == 200 else {}
        if clocks.get("first_reply", {}).get("breached_at"):
            breached = clocks["first_reply"]
            break
    assert breached, worker.tail()
    assert parse_rfc3339(breached["breached_at"]) == deadline
    facts = [f for f in ticket["facts"] if f["kind"] == "sla_breached"]
    assert [parse_rfc3339(f["time"]) for f in facts] == [deadline]


def test_kill_minus_nine_mid_stream_then_restart_equals_replay(run: Run) -> None:
    records = golden_now()
    worker = killed_mid_stream(run, records)
    live, expected = converge(worker, records)
    assert live == expected, worker.tail()


def test_two_workers_in_one_group_equal_replay(run: Run) -> None:
    records = golden_now()
    first = run.start_worker()
    second = run.start_worker()
    asyncio.run(produce(run, records))
    for worker in (first, second):
        live, expected = converge(worker, records)
        assert live == expected, worker.tail()
    owned = [set(w.get("/readyz")[1]["assigned_partitions"]) for w in (first, second)]
    assert owned[0] | owned[1] == set(range(run.partitions))


def test_every_assigned_partition_gets_redis_position_committed(run: Run) -> None:
    """Even an empty partition: Faust resets its read offset after a rebalance only for
    partitions with a committed offset, and a stale one silently drops records below it."""
    worker = run.start_worker()
    inputs = [run.topics[kind] for kind in ("tickets", "contacts", "surveys", "accounts")]
    inputs.append(run.topics["account_support"])
    want = {(topic, p): 0 for topic in inputs for p in range(run.partitions)}
    got: dict[tuple[str, int], int] = {}
    for _ in iter_until(20):
        got = asyncio.run(group_offsets(run))
        if got == want:
            break
    assert got == want, worker.tail()
