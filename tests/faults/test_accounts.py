"""Scenarios 11: accounts and the links from their tickets under rebalances and kill -9.

A simulated mixed stream (tickets naming a few hundred CRM accounts, and those accounts'
events) is produced while workers join, leave, are killed, or die with links written to the
outbox but not sent. The snapshot's ``accounts`` section and every account's
``GET /accounts/{id}`` then equal replay: no ticket's support facts were lost on their way to
their account, or counted twice.
"""

from __future__ import annotations

import asyncio
import random
import time

import redis
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.support.workers import iter_until

from .conftest import MakeRun, redis_client
from .harness import (
    Checker,
    FaultRun,
    Fleet,
    LoadProducer,
    assert_accounts_substantial,
    assert_substantial,
    simulated_load,
    soak,
)

RATE = 2500.0  # events per second produced while the faults happen
ACCOUNTS = 400  # the simulated CRM's accounts, named by the tickets


def check(run: FaultRun, fleet: Fleet) -> dict[str, int]:
    checker = Checker(run, redis_client(run.redis_url))
    snapshot = checker.assert_equal(lambda: list(fleet.workers.values()), accounts=True)
    return {**assert_substantial(snapshot), **assert_accounts_substantial(snapshot)}


def test_accounts_rebalance_one_two_one_equals_replay(
    make_run: MakeRun, fleets: list[Fleet]
) -> None:
    """A second worker joins, then the first leaves, mid-stream: every partition (its
    accounts, links and outbox) changes owner at least once; equal to replay."""
    count = soak(30_000, 150_000)
    run = make_run()
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    records = simulated_load(count, RATE, seed=111, accounts=soak(ACCOUNTS, 2000))
    producer = LoadProducer(run.bootstrap, run.topics, records, RATE).start()
    time.sleep(2)
    fleet.add(1)  # 1 -> 2: half the partitions move to the newcomer
    fleet.wait_ready()
    time.sleep(2)
    owned = [set(fleet.worker(s).get("/readyz")[1]["assigned_partitions"]) for s in (0, 1)]
    assert fleet.stop(0) == 0  # 2 -> 1: the other half move too
    producer.join(300)
    summary = check(run, fleet)
    print(summary, "events", len(records), "owned while two", owned)
    assert owned[0] | owned[1] == set(range(run.partitions)) and owned[0] and owned[1]
    assert producer.acked == len(records), producer.errors[:3]
    assert not fleet.exits, fleet.exits


def test_accounts_kill_minus_nine_repeatedly_equals_replay(
    make_run: MakeRun, fleets: list[Fleet]
) -> None:
    """kill -9 at random moments of a mixed stream (mid-batch, between a batch's transaction
    and its links' send, right after start-up): equal to replay."""
    kills = soak(5, 20)
    count = soak(30_000, 150_000)
    rng = random.Random(112)
    run = make_run()
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    records = simulated_load(count, RATE, seed=112, accounts=soak(ACCOUNTS, 2000))
    producer = LoadProducer(run.bootstrap, run.topics, records, RATE).start()
    for number in range(kills):
        time.sleep(rng.uniform(0.3, 1.0) if number % 3 == 2 else rng.uniform(1.0, 3.0))
        fleet.kill()
        time.sleep(0.3)
        fleet.wait_ready()
    producer.join(300)
    summary = check(run, fleet)
    print(summary, "kills", kills, "events", len(records))
    assert producer.acked == len(records), producer.errors[:3]
    assert not fleet.unexpected_exits(), fleet.unexpected_exits()
    assert len(fleet.exits) == kills


async def _max_message_bytes(bootstrap: str, topic: str, size: int | None) -> None:
    """Set the topic's ``max.message.bytes`` (None: back to the broker's default)."""
    configs = {} if size is None else {"max.message.bytes": str(size)}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs)
        for response in await admin.alter_configs([resource]):
            assert all(row[0] == 0 for row in response.resources), response
    finally:
        await admin.close()


def outbox_sizes(client: redis.Redis, run: FaultRun) -> dict[int, int]:
    """Links waiting in each partition's outbox (``{p}:outbox``)."""
    sizes = {p: int(client.hlen(f"{{{run.name}:p{p}}}:outbox")) for p in range(run.partitions)}
    return {p: size for p, size in sizes.items() if size}


def test_killed_after_exec_before_links_sent_next_owner_sends_the_outbox(
    make_run: MakeRun, fleets: list[Fleet]
) -> None:
    """The account support topic refuses every write (``max.message.bytes`` 16: a link is
    larger) while batches are applied: their links stay in the outbox. The worker is killed
    with them there, writes are allowed again, and its successor sends them when it adopts the
    partitions (no later batch would: a ticket with no further event has no further link):
    equal to replay, and the outbox empty."""
    count = soak(24_000, 120_000)
    run = make_run()
    client = redis_client(run.redis_url)
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    records = simulated_load(count, RATE, seed=113, accounts=soak(ACCOUNTS, 2000))
    producer = LoadProducer(run.bootstrap, run.topics, records, RATE).start()
    time.sleep(3)
    support = run.topics["account_support"]
    asyncio.run(_max_message_bytes(run.bootstrap, support, 16))
    try:
        stuck: dict[int, int] = {}
        worker = fleet.worker()
        # links wait up to the send gap in the outbox anyway: also wait for a refused send
        for _ in iter_until(30, interval=0.5):
            stuck = outbox_sizes(client, run)
            refused = "links not sent yet" in worker.log.read_text()
            if len(stuck) == run.partitions and sum(stuck.values()) >= 100 and refused:
                break
        assert sum(stuck.values()) >= 100, (stuck, worker.tail())
        assert "links not sent yet" in worker.log.read_text(), worker.tail()
        fleet.kill()  # applied in Redis, links not sent: the window between EXEC and send
        stuck = outbox_sizes(client, run)
    finally:
        asyncio.run(_max_message_bytes(run.bootstrap, support, None))
    fleet.wait_ready()
    producer.join(300)
    summary = check(run, fleet)
    print(summary, "outbox at the kill", stuck, "events", len(records))
    assert not outbox_sizes(client, run)  # sent and cleared
    assert producer.acked == len(records), producer.errors[:3]
    assert not fleet.unexpected_exits(), fleet.unexpected_exits()
    assert len(fleet.exits) == 1
