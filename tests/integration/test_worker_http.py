"""Events in over ``POST /events``, numbers out through Prometheus: the worker's two HTTP edges."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.instant import MICROS_PER_SECOND, ceil_minute, format_rfc3339
from streams.stack import Stack
from streams.stack.config import ScrapeTarget
from tests.support.workers import iter_until, now_micros, post

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
