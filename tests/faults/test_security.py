"""Scenario 9: Redis with an ACL user and a password, through config; no ids in metric labels."""

from __future__ import annotations

import re
import urllib.request

import pytest
import redis

from streams.stack import Stack

from .conftest import MakeRun
from .harness import Checker, Fleet, LoadProducer, assert_substantial, simulated_load

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
    import json

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
