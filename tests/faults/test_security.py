"""Scenario 9: Redis with an ACL user and a password, through config; no ids in metric labels."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
import redis

from streams.stack import Stack

from .conftest import MakeRun
from .harness import (
    Checker,
    Fleet,
    LoadProducer,
    assert_substantial,
    rss_bytes,
    simulated_load,
)

RATE = 3000.0
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def test_redis_acl_user_with_password_and_no_ids_in_metric_labels(
    make_run: MakeRun, fleets: list[Fleet], own_redis: Stack
) -> None:
    base = own_redis.addresses.redis_url  # redis://127.0.0.1:<port>/0
    admin = redis.Redis.from_url(base)
    run = make_run()
    prefix = run.name
    admin.execute_command(
        "ACL", "SETUSER", "ticketpulse", "on", ">s3cret-pw", f"~{{{prefix}:p*}}:*",
        f"~{prefix}:snapshot", "+@read", "+@write", "+@scripting", "+@transaction",
        "+@connection",
    )  # fmt: skip
    admin.execute_command("ACL", "SETUSER", "default", "off")  # no anonymous access at all
    authed = base.replace("redis://", "redis://ticketpulse:s3cret-pw@")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(base).ping()
    run.redis_url = authed
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    records = simulated_load(8_000, RATE, seed=69)
    LoadProducer(run.bootstrap, run.topics, records, RATE).start().join(120)
    checker = Checker(run, redis.Redis.from_url(authed))
    snapshot = checker.assert_equal(lambda: list(fleet.workers.values()))
    print(assert_substantial(snapshot), "events", len(records))

    # No ticket, account or requester id in any label of /metrics.
    with urllib.request.urlopen(fleet.worker().url + "/metrics", timeout=10) as response:
        exposition = response.read().decode()
    ids: set[str] = set()
    for _, key, value in records:
        ids.add(key.decode())
        try:
            data = json.loads(value)
        except ValueError:
            continue
        if isinstance(data, dict):
            ids |= {str(data[k]) for k in ("account_id", "requester_id") if k in data}
    labels = [
        (name, value)
        for line in exposition.splitlines()
        if line and not line.startswith("#")
        for name, value in LABEL.findall(line.split("}")[0])
    ]
    assert labels, "no labelled series at all"
    leaked = [(name, value) for name, value in labels if value in ids]
    assert not leaked, leaked[:5]
    assert not {name for name, _ in labels} & {"ticket_id", "account_id", "requester_id"}


TOKEN = "tp-test-token-7f3a9c"


def call(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, JSON body) of one request; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def hold_slot(url: str, length: int) -> socket.socket:
    """A POST /events whose body never comes: it holds one of the worker's request slots."""
    address = urllib.parse.urlsplit(url)
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    head = (
        f"POST /events HTTP/1.1\r\nHost: {address.netloc}\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/x-ndjson\r\nContent-Length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode())
    return sock


def test_http_api_token_own_routes_only_and_bounded_requests(
    make_run: MakeRun, fleets: list[Fleet]
) -> None:
    run = make_run(TICKETPULSE_API_TOKEN=TOKEN, TICKETPULSE_POST_CONCURRENCY="2")
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    worker = fleet.worker()
    base = worker.url
    auth = {"Authorization": f"Bearer {TOKEN}"}
    ndjson = {"Content-Type": "application/x-ndjson"}
    event = json.dumps(
        {
            "event_id": "s-1",
            "type": "ticket.created",
            "occurred_at": "2026-11-02T09:15:00Z",
            "ticket_id": "S1",
            "channel": "chat",
            "priority": "normal",
            "team": "billing",
        }
    ).encode()

    # Writes and reads need the token; probes and /metrics do not.
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        status, answer_headers, body = call(base + "/events", "POST", event, {**ndjson, **headers})
        assert status == 401 and "bearer token" in body["error"], (headers, status, body)
        assert answer_headers["WWW-Authenticate"].startswith("Bearer")
        for path in ("/kpis", "/tickets/S1", "/sla/at-risk"):
            assert call(base + path, headers=headers)[0] == 401, path
    for path in ("/healthz", "/readyz", "/metrics"):
        with urllib.request.urlopen(base + path, timeout=10) as response:
            assert response.status == 200, path
    status, _, body = call(base + "/events", "POST", event, {**ndjson, **auth})
    assert (status, body) == (202, {"accepted": 1, "rejected": 0})
    statuses: list[int] = []
    for _ in range(100):  # the ticket and a snapshot, once the event is applied
        statuses = [call(base + path, headers=auth)[0] for path in ("/tickets/S1", "/kpis")]
        if statuses == [200, 200]:
            break
        time.sleep(0.3)
    assert statuses == [200, 200]

    # Only the worker's own routes: Faust's pages are gone, and every miss is JSON.
    for path in ("/", "/router/", "/router/key/", "/table/", "/graph/", "/stats/", "/x"):
        status, _, body = call(base + path, headers=auth)
        assert (status, body) == (404, {"error": f"no route {path}"}), path
    status, answer_headers, body = call(base + "/kpis", "DELETE", headers=auth)
    assert status == 405 and answer_headers["Allow"] == "GET, HEAD", body

    # Two requests in flight hold both slots: a third is told to come back, at once.
    held = [hold_slot(base, len(event)) for _ in range(2)]
    try:
        status, answer_headers = 0, {}
        for _ in range(50):  # until the worker has read both requests' headers
            status, answer_headers, body = call(base + "/events", "POST", b"x", {**ndjson, **auth})
            if status == 503:
                break
            time.sleep(0.1)
        assert status == 503 and answer_headers["Retry-After"] == "1", (status, body)
        assert call(base + "/healthz")[0] == 200
        for sock in held:  # the bodies arrive: both are accepted
            sock.sendall(event)
            assert sock.recv(65536).startswith(b"HTTP/1.1 202"), "held request not accepted"
    finally:
        for sock in held:
            sock.close()

    # 16 concurrent 4 MB bodies of junk: each answered (400, 413 or 503), none fails or
    # hangs, the probes answer meanwhile, and the worker's memory stays bounded.
    pid = worker.process.pid
    before = rss_bytes(pid)
    lines = b"\n".join([b"x" * 1000] * 4000) + b"\n"  # 4,000 bad lines
    objects = b"[" + b",".join([b"{}"] * 1_300_000) + b"]"  # 1.3 million "events"
    answers: list[int] = []
    probes: list[float] = []
    done = threading.Event()

    def flood(junk: bytes, content_type: str) -> None:
        headers = {"Content-Type": content_type, **auth}
        answers.append(call(base + "/events", "POST", junk, headers)[0])

    def probe() -> None:
        while not done.is_set():
            start = time.monotonic()
            assert call(base + "/healthz")[0] == 200
            probes.append(time.monotonic() - start)
            time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    kinds = [(lines, "application/x-ndjson"), (objects, "application/json")] * 8
    threads = [threading.Thread(target=flood, args=kind) for kind in kinds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    done.set()
    prober.join(30)
    after = rss_bytes(pid)
    assert len(answers) == 16 and set(answers) <= {400, 413, 503}, answers
    assert after - before < 200 * 1024 * 1024, (before, after)
    assert worker.process.poll() is None and call(base + "/healthz")[0] == 200
    probes.sort()
    print(
        "answers", sorted(answers), "rss MB", before >> 20, after >> 20,
        "healthz median/max s", probes[len(probes) // 2], probes[-1], "probes", len(probes),
    )  # fmt: skip

    # The token is never written to the log.
    assert TOKEN not in worker.log.read_text(errors="replace")
