"""Scenarios 5 and 8: a malformed flood on the topics, and bad requests to POST /events."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

from streams.domain.decode import TOO_DEEP, InvalidEvent, decode_event
from tests.integration.workers import post_pieces
from tests.support.workers import post, read_topics

from .conftest import MakeRun, redis_client
from .harness import (
    Checker,
    Fleet,
    LoadProducer,
    Record,
    assert_substantial,
    rss_bytes,
    simulated_load,
    soak,
)

RATE = 3000.0
# Every kind of defect, and the start of the reason the dead letter must carry.
DEFECTS = (
    "json",
    "wrong_type",
    "unknown_type",
    "no_ticket_id",
    "score",
    "far_future",
    "huge",
    "not_utf8",
)
REASONS = {
    "json": "(json)",
    "wrong_type": "ticket_id",
    "unknown_type": "type",
    "no_ticket_id": "ticket_id",
    "score": "score",
    "far_future": "occurred_at",
    "huge": "(event)",
    "not_utf8": "(utf-8)",
}


def malformed(number: int, key: bytes, kind: str) -> Record:
    """One defective message for the ticket ``key`` (so it lands among its good events)."""
    ticket = key.decode()
    base: dict[str, Any] = {
        "event_id": f"bad-{number}",
        "type": "ticket.assigned",
        "occurred_at": "2026-11-02T09:15:00Z",
        "ticket_id": ticket,
        "agent_id": "a1",
    }
    if kind == "json":
        return "tickets", key, json.dumps(base).encode()[: 20 + number % 30]
    if kind == "wrong_type":
        return "tickets", key, json.dumps({**base, "ticket_id": 12345}).encode()
    if kind == "unknown_type":
        return "tickets", key, json.dumps({**base, "type": "ticket.merged"}).encode()
    if kind == "no_ticket_id":
        return (
            "contacts",
            key,
            json.dumps({k: v for k, v in base.items() if k != "ticket_id"}).encode(),
        )
    if kind == "score":
        survey = {**base, "type": "survey.csat", "score": 9}
        return "surveys", key, json.dumps(survey).encode()
    if kind == "far_future":
        return "tickets", key, json.dumps({**base, "occurred_at": "2999-01-01T00:00:00Z"}).encode()
    if kind == "huge":
        return "tickets", key, json.dumps({**base, "padding": "x" * 70_000}).encode()
    return "contacts", key, b"\xff\xfe" + json.dumps(base).encode()  # not UTF-8


def flood(count: int, keys: list[bytes], rng: random.Random, start: int = 0) -> list[Record]:
    """``count`` defects, every kind in turn; a huge one only every 50th (bytes add up)."""
    kinds = [k for k in DEFECTS if k != "huge"]
    out = []
    for n in range(start, start + count):
        kind = "huge" if n % 50 == 0 else kinds[n % len(kinds)]
        out.append(malformed(n, rng.choice(keys), kind))
    return out


def test_malformed_flood_is_dead_lettered_good_events_unaffected_memory_flat(
    make_run: MakeRun, fleets: list[Fleet]
) -> None:
    bad_count = soak(10_000, 100_000)
    rng = random.Random(5)
    run = make_run()
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    good = simulated_load(soak(20_000, 60_000), RATE, seed=68, invalid_share=0.0)
    keys = sorted({key for _, key, _ in good})
    bad = flood(bad_count // 2, keys, rng)
    mixed = list(good)
    for record in bad:  # interleaved at random places among the good events
        mixed.insert(rng.randrange(len(mixed) + 1), record)
    LoadProducer(run.bootstrap, run.topics, mixed, RATE).start().join(300)
    checker = Checker(run, redis_client(run.redis_url))
    live = checker.assert_equal(lambda: list(fleet.workers.values()))
    # Good events unaffected: the numbers are those of the good events alone.
    from streams.domain.instant import parse_rfc3339
    from streams.domain.policies import load_policies
    from streams.replay import replay_lines

    from .harness import POLICIES

    at = parse_rfc3339(live["as_of"])
    alone = replay_lines(iter([v for _, _, v in good]), load_policies(POLICIES), at).snapshot
    assert live == alone
    print(assert_substantial(live), "good", len(good), "bad", len(bad))

    # Memory flat: a second flood of garbage alone moves the worker's RSS by little.
    pid = fleet.worker().process.pid
    before = rss_bytes(pid)
    more = flood(bad_count - len(bad), keys, rng, start=len(bad))
    LoadProducer(run.bootstrap, run.topics, more, RATE * 2).start().join(300)
    checker.assert_equal(lambda: list(fleet.workers.values()))
    after = rss_bytes(pid)
    assert after - before < 40 * 1024 * 1024, (before, after)

    # Every defective message is in the dead-letter topic with its reason and origin.
    inputs = checker.read()
    letters = asyncio.run(read_topics(run.bootstrap, [run.topics["deadletter"]])).values
    by_origin = {}
    for letter in map(json.loads, letters):
        by_origin[(letter["source_topic"], letter["partition"], letter["offset"])] = letter
    expected_bad = 0
    for topic, partition, offset, value in inputs.entries:
        invalid = decode_event(value)
        if not isinstance(invalid, InvalidEvent):
            continue
        expected_bad += 1
        letter = by_origin.get((topic, partition, offset))
        assert letter is not None, (topic, partition, offset, value[:80])
        assert letter["error"] == invalid.error
    assert expected_bad == bad_count
    kinds_seen = {letter["error"].split(":")[0] for letter in by_origin.values()}
    assert kinds_seen >= set(REASONS.values()), kinds_seen
    assert not fleet.exits, fleet.exits
    print("dead letters", len(by_origin), "rss", before, after)


def test_post_events_rejects_bad_requests_and_produces_nothing(
    make_run: MakeRun, fleets: list[Fleet]
) -> None:
    run = make_run(TICKETPULSE_MAX_BODY_BYTES="65536")
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    url = fleet.worker().url + "/events"

    def event(number: int, **extra: Any) -> bytes:
        value = {
            "event_id": f"p-{number}",
            "type": "ticket.created",
            "occurred_at": "2026-11-02T09:15:00Z",
            "ticket_id": f"P{number}",
            "channel": "chat",
            "priority": "normal",
            "team": "billing",
            **extra,
        }
        return json.dumps(value).encode()

    def nested(number: int, levels: int) -> bytes:
        """An event whose extra field nests ``levels`` arrays (one more level with itself)."""
        return event(number)[:-1] + b', "x": ' + b"[" * levels + b"]" * levels + b"}"

    line = event(1)
    deep = nested(2, 40)
    inputs = [run.topics[k] for k in ("tickets", "contacts", "surveys")]

    def held() -> int:
        return len(asyncio.run(read_topics(run.bootstrap, inputs)).values)

    cases = [
        ("oversized", b"\n".join([line] * 2000), "application/x-ndjson", 413, "larger than"),
        ("text/plain", line, "text/plain", 415, "content type"),
        ("no content type", line, None, 415, "content type"),
        ("form", b"a=1", "application/x-www-form-urlencoded", 415, "content type"),
        ("broken ndjson", line + b'\n{"event_id": \n' + line, "application/x-ndjson", 400, ""),
        (
            "bad event",
            line + b"\n" + line.replace(b"chat", b"fax"),
            "application/x-ndjson",
            400,
            "",
        ),
        ("broken json", b"[" + line, "application/json", 400, "(json)"),
        ("empty", b"", "application/x-ndjson", 400, "no events"),
        ("not utf-8", b"\xff" + line, "application/x-ndjson", 400, ""),
        ("deep array", b"[" * 10_000 + b"]" * 10_000, "application/json", 400, TOO_DEEP),
        ("deep event", line + b"\n\n" + deep, "application/x-ndjson", 400, TOO_DEEP),
        ("deep in an array", b"[" + line + b"," + deep + b"]", "application/json", 400, TOO_DEEP),
    ]
    for name, body, content_type, status, text in cases:
        got, reply = post(url, body, content_type)
        assert got == status, (name, got, reply)
        assert text in json.dumps(reply), (name, reply)
        if status == 400 and "errors" in reply:
            assert reply["accepted"] == 0 and reply["errors"][0]["line"] >= 1, reply
            if text == TOO_DEEP:  # the line (or position in the array) of the deep event
                assert reply["errors"] == [{"line": 3 - ("array" in name), "error": TOO_DEEP}]
    # grown past the limit while read (no Content-Length, chunks): 413, nothing kept
    chunks = [b"\n".join([line] * 100) + b"\n"] * 20  # 20 chunks of about 18 KB
    got, reply = post_pieces(url, chunks, "application/x-ndjson", announce=False)
    assert (got, reply) == (413, {"error": "(body): larger than 65536 bytes"})
    assert held() == 0  # nothing was produced by any of them

    # A body in several writes is read whole: in two writes a second apart, and chunked.
    lines = [event(n) for n in range(100, 400)]  # 300 events, about 55 KB
    body = b"\n".join(lines) + b"\n"
    halves = [body[: len(body) // 2], body[len(body) // 2 :]]
    assert post_pieces(url, halves, "application/x-ndjson", pause=1.0) == (
        202,
        {"accepted": 300, "rejected": 0},
    )
    array = b"[" + b",".join(event(n) for n in range(400, 700)) + b"]"
    pieces = [array[i : i + 4096] for i in range(0, len(array), 4096)]
    got, reply = post_pieces(url, pieces, "application/json", announce=False, pause=0.05)
    assert (got, reply) == (202, {"accepted": 300, "rejected": 0})

    # The same depth limit on the Kafka path: dead-lettered with the same reason.
    produced = [("tickets", b"P2", deep), ("tickets", b"P3", nested(3, 300))]
    LoadProducer(run.bootstrap, run.topics, produced, 100.0).start().join(60)
    letters: list[Any] = []
    deadline = time.monotonic() + 30
    while len(letters) < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
        letters = asyncio.run(read_topics(run.bootstrap, [run.topics["deadletter"]])).values
    assert [json.loads(letter)["error"] for letter in letters] == [TOO_DEEP, TOO_DEEP]
    assert held() == 602
