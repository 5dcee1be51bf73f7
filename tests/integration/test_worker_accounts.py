"""Accounts on the real Kafka and Redis: two workers, several partitions, equal to replay.

The golden accounts log (tests/golden/accounts: ticket and account events) is moved to now
and sent as services send it (each event keyed by its ticket_id or account_id); tickets reach
their accounts' partitions through the internal account support topic. ``GET /kpis`` (its
``accounts`` section and the rest) and ``GET /accounts/{id}`` then equal replay of the same
log at the same as_of, from either worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from streams.domain.instant import ceil_minute, format_rfc3339, parse_rfc3339
from streams.domain.policies import load_policies
from streams.replay import ReplayResult, replay_lines
from tests.support.workers import WorkerProcess, iter_until, now_micros

from .workers import Run, killed_mid_stream, produce

ACCOUNTS = Path(__file__).parent.parent / "golden" / "accounts"
ACCOUNTS_AS_OF = parse_rfc3339("2026-12-01T00:00:00Z")
POLICIES = ACCOUNTS / "policies.yaml"


def shifted_accounts(target_as_of: int) -> list[tuple[str, bytes, bytes]]:
    """The golden accounts log as (logical topic, key, value), moved to ``target_as_of``."""
    delta = target_as_of - ACCOUNTS_AS_OF
    out = []
    for line in (ACCOUNTS / "events.jsonl").read_bytes().splitlines():
        data = json.loads(line)
        with contextlib.suppress(KeyError, TypeError, ValueError):
            data["occurred_at"] = format_rfc3339(parse_rfc3339(data["occurred_at"]) + delta)
        kind = str(data.get("type", "")).split(".")[0]
        topic = {"ticket": "tickets", "contact": "contacts", "survey": "surveys"}.get(
            kind, "accounts"
        )
        key = str(data.get("account_id" if topic == "accounts" else "ticket_id", "")).encode()
        out.append((topic, key, json.dumps(data).encode()))
    return out


def replay_at(records: list[tuple[str, bytes, bytes]], as_of: str) -> ReplayResult:
    lines = iter([value for _, _, value in records])
    return replay_lines(lines, load_policies(POLICIES), parse_rfc3339(as_of))


def converge(
    worker: WorkerProcess, records: list[tuple[str, bytes, bytes]], timeout: float = 60.0
) -> tuple[dict[str, Any], ReplayResult | None]:
    """Poll GET /kpis until it equals replay at the snapshot's own as_of."""
    live: dict[str, Any] = {}
    expected = None
    for _ in iter_until(timeout):
        try:
            status, live = worker.get("/kpis")
        except OSError:  # restarting its web server during a rebalance
            assert worker.process.poll() is None, worker.tail()
            continue
        if status != 200:
            continue
        expected = replay_at(records, live["as_of"])
        if live == expected.snapshot:
            break
    return live, expected


def test_two_workers_link_tickets_to_accounts_and_equal_replay(run: Run) -> None:
    run.policies = POLICIES
    records = shifted_accounts(ceil_minute(now_micros()))
    first = run.start_worker()
    second = run.start_worker()
    asyncio.run(produce(run, records))
    for worker in (first, second):
        live, expected = converge(worker, records)
        assert expected is not None and live == expected.snapshot, worker.tail()
    assert live["accounts"]["now"]["at_risk"] == 4  # two of them need their tickets' support
    owned = [set(w.get("/readyz")[1]["assigned_partitions"]) for w in (first, second)]
    assert owned[0] | owned[1] == set(range(run.partitions)) and all(owned)

    # each account's V, from either worker, as replay's views file at the same as_of
    assert expected.accounts
    wrong: list[Any] = ["not compared"]
    for _ in iter_until(30):
        replays: dict[str, dict[str, dict[str, Any]]] = {}
        wrong = []
        for number, view in enumerate(expected.accounts):
            status, body = (first, second)[number % 2].get(f"/accounts/{view['account_id']}")
            assert status == 200, body
            as_of = body["as_of"]
            if as_of not in replays:
                views = replay_at(records, as_of).accounts or []
                replays[as_of] = {v["account_id"]: v for v in views}
            want = replays[as_of][view["account_id"]]
            if {k: body[k] for k in want} != want:
                wrong.append((body, want))
        if not wrong:
            break
    assert not wrong, wrong[:2]
    status, page = second.get("/accounts/at-risk?limit=2")
    assert status == 200 and page["accounts"] == live["accounts"]["at_risk"][:2]
    # the answers match /openapi.json's schemas
    schemas = first.get("/openapi.json")[1]["components"]["schemas"]
    for name, path in (("Account", "/accounts/G17"), ("AccountsAtRiskPage", "/accounts/at-risk")):
        schema = {**schemas[name], "components": {"schemas": schemas}}
        Draft202012Validator(schema).validate(first.get(path)[1])


def test_kill_minus_nine_mid_stream_then_restart_equals_replay(run: Run) -> None:
    """Killed between a batch's transaction and the send of its links, the outbox keeps
    them for the next owner; killed anywhere, nothing counts twice."""
    run.policies = POLICIES
    records = shifted_accounts(ceil_minute(now_micros()))
    worker = killed_mid_stream(run, records)
    live, expected = converge(worker, records)
    assert expected is not None and live == expected.snapshot, worker.tail()
    assert live["accounts"]["now"]["at_risk"] == 4
