"""Events in over ``POST /events``, numbers out through Prometheus: the worker's two HTTP edges."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import emit
from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.instant import MICROS_PER_SECOND, ceil_minute, format_rfc3339
from streams.stack import Stack
from streams.stack.config import ScrapeTarget
from tests.support.workers import iter_until, now_micros, post, read_topics

from .test_worker import converge
from .workers import Run, post_pieces, shifted_golden


def lag_series(url: str) -> dict[str, float]:
    """``ticketpulse_consumer_lag_messages`` samples of the worker's /metrics, by labels."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    name = "ticketpulse_consumer_lag_messages{"
    return {
        line[len(name) - 1 : line.rindex(" ")]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name)
    }


def prometheus_value(stack: Stack, query: str) -> float | None:
    url = f"{stack.addresses.prometheus_url}/api/v1/query?" + urllib.parse.urlencode(
        {"query": query}
    )
    with urllib.request.urlopen(url, timeout=5) as response:
        result = json.loads(response.read())["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_posted_events_reach_the_snapshot_and_prometheus_agrees(run: Run, stack: Stack) -> None:
    worker = run.start_worker()
    records = [r for r in shifted_golden(ceil_minute(now_micros())) if not _invalid(r[2])]
    body = b"\n".join(value for _, _, value in records) + b"\n"

    status, reply = post(worker.url + "/events", body, "application/x-ndjson")
    assert (status, reply) == (202, {"accepted": len(records), "rejected": 0})
    live, expected = converge(worker, records)
    assert live == expected, worker.tail()
    created = live["windows"]["7d"]["overall"]["tickets_created"]
    assert created == 18

    # consumer lag: reported per owned partition of the 5 consumed topics (support, accounts,
    # account support), and 0 once everything is applied
    lag: dict[str, float] = {}
    for _ in iter_until(20, interval=0.5):
        lag = lag_series(worker.url)
        if len(lag) == 20 and not any(lag.values()):
            break
    assert len(lag) == 20 and not any(lag.values()), lag

    # one bad line rejects the whole body, and nothing of it is produced
    status, reply = post(worker.url + "/events", body + b"{not json\n", "application/x-ndjson")
    assert status == 400 and reply["accepted"] == 0 and reply["rejected"] == 1
    assert reply["errors"][0]["line"] == len(records) + 1

    address = worker.url.removeprefix("http://")
    stack.set_scrape_targets([ScrapeTarget(run.name, address)])
    try:
        rows = f'job="{run.name}",team="",channel="",priority=""'
        want = {
            f"ticketpulse_tickets_created_total{{{rows}}}": float(created),
            f'ticketpulse_window_tickets_created{{{rows},window="7d"}}': float(created),
        }
        seen: dict[str, float | None] = {}
        for _ in iter_until(30, interval=0.5):
            seen = {query: prometheus_value(stack, query) for query in want}
            if seen == want:
                break
        assert seen == want
        # the rejected body was not produced: the live numbers did not move
        assert worker.get("/kpis")[1]["windows"]["7d"]["overall"]["tickets_created"] == created
    finally:
        stack.set_scrape_targets([])


def _invalid(value: bytes) -> bool:
    return isinstance(decode_event(value), InvalidEvent)


def test_a_body_in_two_writes_is_read_whole_and_every_event_counts(run: Run) -> None:
    """1,000 events (about 190 KB) sent in two writes a second apart: all of them are
    accepted and reach the snapshot, not only those of the first write."""
    worker = run.start_worker()
    start = now_micros() - 3600 * MICROS_PER_SECOND
    lines = [
        json.dumps(
            {
                "event_id": f"w-{n}",
                "type": "ticket.created",
                "occurred_at": format_rfc3339(start + n * MICROS_PER_SECOND),
                "ticket_id": f"W-{n}",
                "channel": "email",
                "priority": "normal",
                "team": "billing",
            }
        ).encode()
        for n in range(1000)
    ]
    body = b"\n".join(lines) + b"\n"
    halves = [body[: len(body) // 2], body[len(body) // 2 :]]
    status, reply = post_pieces(worker.url + "/events", halves, "application/x-ndjson", pause=1.0)
    assert (status, reply) == (202, {"accepted": 1000, "rejected": 0})
    created = None
    for _ in iter_until(60, interval=0.5):
        status, snapshot = worker.get("/kpis")
        if status == 200:
            created = snapshot["windows"]["24h"]["overall"]["tickets_created"]
            if created == 1000:
                break
    assert created == 1000, worker.tail()


def test_posted_account_events_land_on_the_accounts_topic_keyed_by_account(
    run: Run, tmp_path: Path
) -> None:
    """A body mixing ticket and account events: the account events are on the accounts topic
    (read back from Kafka) with the ``account_id`` as key, the ticket event on the tickets
    topic; an invalid account event rejects the whole body. The worker exports the at-risk MRR
    thresholds of its policies file."""
    accounts_topic = f"{run.name}.accounts"
    run.policies = tmp_path / "policies.yaml"
    alerts = "{at_risk_mrr: {segments: {ent: 5000, smb: 250.5}}}"
    run.policies.write_text(f"policies: [{{name: all}}]\naccounts: {{alerts: {alerts}}}\n")
    worker = run.start_worker(TICKETPULSE_TOPIC_ACCOUNTS=accounts_topic)
    at = format_rfc3339(now_micros() - 3600 * MICROS_PER_SECOND)
    accounts = [
        emit.lead_created("acc-a", "inbound", segment="smb", manager="am-1", occurred_at=at),
        emit.account_touched("acc-a", "email", duration_seconds=60, occurred_at=at),
        emit.account_converted("acc-a", 120, occurred_at=at),
        emit.mrr_changed("acc-b", 80, "downgrade", occurred_at=at),
    ]
    ticket = emit.ticket_created(
        "AT-1", "chat", "normal", "billing", account_id="acc-a", occurred_at=at
    )
    bad = {**accounts[2], "event_id": "bad-1", "mrr": "lots"}
    rejected = [json.dumps(e).encode() for e in (*accounts, bad)]
    status, reply = post(worker.url + "/events", b"\n".join(rejected), "application/x-ndjson")
    assert status == 400 and reply["rejected"] == 1 and reply["errors"][0]["line"] == 5

    body = json.dumps([accounts[0], ticket, *accounts[1:]]).encode()
    status, reply = post(worker.url + "/events", body, "application/json")
    assert (status, reply) == (202, {"accepted": 5, "rejected": 0})

    records = asyncio.run(_read_all(run.bootstrap, [accounts_topic, run.topics["tickets"]]))
    on_accounts = [(key, json.loads(value)) for t, key, value in records if t == accounts_topic]
    assert sorted(on_accounts, key=lambda r: r[1]["event_id"]) == sorted(
        ((e["account_id"].encode(), e) for e in accounts), key=lambda r: r[1]["event_id"]
    )
    on_tickets = [json.loads(value) for t, _, value in records if t == run.topics["tickets"]]
    assert [e["event_id"] for e in on_tickets] == [ticket["event_id"]]

    thresholds: dict[str, float] = {}
    for _ in iter_until(20, interval=0.3):
        thresholds = {k: v for k, v in worker.metrics().items() if "at_risk_mrr_threshold{" in k}
        if thresholds:
            break
    assert thresholds == {
        'ticketpulse_account_at_risk_mrr_threshold{segment="ent"}': 5000.0,
        'ticketpulse_account_at_risk_mrr_threshold{segment="smb"}': 250.5,
    }


async def _read_all(bootstrap: str, topics: list[str]) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) of every record the topics hold now."""
    found = await read_topics(bootstrap, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        out = []
        for topic, partition, offset, _ in found.entries:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            message = (await consumer.getmany(tp, timeout_ms=5000, max_records=1))[tp][0]
            out.append((topic, message.key or b"", message.value or b""))
        return out
    finally:
        await consumer.stop()
