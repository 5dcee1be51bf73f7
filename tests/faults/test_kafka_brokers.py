"""A Kafka broker killed with kill -9 under load, on three KRaft brokers (topics at
replication factor 3, min.insync.replicas 2): the worker reads committed records, so the
snapshot equals replay of what the topics hold, nothing missed (under soak through four such
kills, each restarted); a ``POST /events`` body cut by the death is either all in or all out,
and the answer says which.

One three-broker Kafka and one Redis for the module; each test restarts the broker it
killed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from aiokafka.admin import AIOKafkaAdminClient

from streams.domain.instant import MICROS_PER_SECOND, format_rfc3339
from streams.stack import Component, Stack, StackConfig, StackPaths, StackPorts
from streams.stack.kafka_broker import kafka_nodes
from streams.stack.redis_server import RedisServer
from tests.support.workers import Topics, now_micros, post, read_topics_until

from .conftest import own_stack, stack_run
from .harness import (
    Checker,
    FaultRun,
    Fleet,
    LoadProducer,
    assert_nothing_missed,
    assert_substantial,
    busiest_partition,
    simulated_load,
    soak,
)
from .test_outages import kill_minus_nine

PARTITIONS = 6
RATE = 1500.0
BODY = 15_000  # about 3 MB: parsed and produced in about a second or more
KILL_AFTER = 0.3


def _brokers(paths: StackPaths, config: StackConfig) -> list[Component]:
    return [RedisServer(paths, config), *kafka_nodes(paths, config)]


@pytest.fixture(scope="module")
def brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = StackConfig(
        ports=StackPorts.free(kafka_brokers=3), scrape_targets=(), kafka_heap="384m"
    )
    yield from own_stack(tmp_path_factory, "brokers", config, _brokers)


def brokers_run(stack: Stack, tmp_path: Path, name: str) -> FaultRun:
    return stack_run(
        stack,
        tmp_path,
        name,
        PARTITIONS,
        TICKETPULSE_KAFKA_REPLICATION_FACTOR="3",
        TICKETPULSE_PRODUCE_TIMEOUT_SECONDS="20",
    )


async def partitions_of(bootstrap: str, topics: list[str] | None = None) -> list[dict[str, Any]]:
    """Every partition of ``topics`` (all, the internal ones included, when None) as the
    metadata describes it now: leader, replicas, in-sync replicas."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [{"topic": t["topic"], **p} for t in described for p in t["partitions"]]


async def leader_of(bootstrap: str, topic: str, partition: int) -> int:
    """The node id of the broker leading a partition now."""
    described = await partitions_of(bootstrap, [topic])
    return next(int(p["leader"]) for p in described if p["partition"] == partition)


def wait_fully_replicated(bootstrap: str, timeout: float) -> None:
    """Until every partition has all its replicas in sync: a restarted broker has caught up,
    so killing another one leaves each partition its ``min.insync.replicas``."""
    deadline = time.monotonic() + timeout
    while True:
        described = asyncio.run(partitions_of(bootstrap))
        short = [p for p in described if set(p["isr"]) != set(p["replicas"])]
        if not short:
            return
        assert time.monotonic() < deadline, f"not in sync after {timeout} s: {short[:3]}"
        time.sleep(0.5)


def broker_name(node_id: int) -> str:
    """The stack component of a KRaft node id (1: ``kafka``, 2: ``kafka-2``...)."""
    return "kafka" if node_id == 1 else f"kafka-{node_id}"


def test_kill_minus_nine_of_a_busy_partitions_leader_then_restart_equals_replay(
    brokers: Stack, tmp_path: Path
) -> None:
    """One kill and restart (4 in soak, each of the leader of the partition busiest from
    then on, once the previous victim is back in sync) during one stream."""
    run = brokers_run(brokers, tmp_path, "kbleader")
    client = redis.Redis.from_url(run.redis_url)
    fleet = Fleet(run, size=1)
    try:
        fleet.wait_ready()
        records = simulated_load(soak(12_000, 200_000), RATE, seed=73)
        producer = LoadProducer(run.bootstrap, run.topics, records, RATE).start()
        victims: list[str] = []
        rounds = soak(1, 4)
        for round_ in range(rounds):
            producer.wait_sent(len(records) * round_ // rounds)  # rounds spread over the stream
            time.sleep(3)
            wait_fully_replicated(run.bootstrap, 120)
            busy = busiest_partition(records[producer.sent :], PARTITIONS)
            leader = asyncio.run(leader_of(run.bootstrap, run.topics["tickets"], busy))
            assert not producer.done, f"the stream ended before kill {len(victims) + 1}"
            victims.append(broker_name(leader))
            kill_minus_nine(brokers, victims[-1])
            print(f"killed {victims[-1]} (leader of {busy}) at {producer.sent} events sent")
            time.sleep(4)  # the controller moves leadership; load and worker go on meanwhile
            brokers.up()  # the killed broker comes back and catches up as a follower
        producer.join(300)
        snapshot = Checker(run, client).assert_equal(lambda: list(fleet.workers.values()))
        print(assert_substantial(snapshot), "events", len(records), "killed", victims)
        assert_nothing_missed(client, run)
        assert not fleet.unexpected_exits(), fleet.exits
    finally:
        fleet.close()
        brokers.up()


def body_of(run: FaultRun, count: int) -> tuple[bytes, set[str]]:
    start = now_micros() - 3600 * MICROS_PER_SECOND
    events = [
        {
            "event_id": f"{run.name}-{n}",
            "type": "ticket.created",
            "occurred_at": format_rfc3339(start + n * 1000),
            "ticket_id": f"B-{n}",
            "channel": "email",
            "priority": "normal",
            "team": "billing",
        }
        for n in range(count)
    ]
    body = b"\n".join(json.dumps(e).encode() for e in events)
    return body, {e["event_id"] for e in events}


def test_a_large_post_while_a_broker_dies_is_all_or_nothing_as_answered(
    brokers: Stack, tmp_path: Path
) -> None:
    run = brokers_run(brokers, tmp_path, "kbpost")
    client = redis.Redis.from_url(run.redis_url)
    fleet = Fleet(run, size=1)
    try:
        fleet.wait_ready()
        body, ids = body_of(run, BODY)
        victim = broker_name(asyncio.run(leader_of(run.bootstrap, run.topics["tickets"], 0)))

        def held_of(read: Topics) -> set[str]:
            return {json.loads(value)["event_id"] for value in read.values} & ids

        answer: list[tuple[int, Any]] = []
        url = fleet.worker().url + "/events"
        answered: list[float] = []

        def send() -> None:
            answer.append(post(url, body, "application/x-ndjson", timeout=150))
            answered.append(time.monotonic())

        request = threading.Thread(target=send)
        started = time.monotonic()
        request.start()
        time.sleep(KILL_AFTER)  # the body is being parsed or produced
        killed = time.monotonic()
        kill_minus_nine(brokers, victim)
        request.join(150)
        assert answer, "no answer to the POST"
        took = answered[0] - started
        print(f"killed {victim} at {killed - started:.2f} s, answered at {took:.2f} s")
        assert answered[0] > killed  # the broker died while the request was in flight
        brokers.up()
        status, reply = answer[0]
        inputs = [run.topics[k] for k in ("tickets", "contacts", "surveys")]
        topics = asyncio.run(  # an aborted body never shows: 5 s of looking
            read_topics_until(run.bootstrap, inputs, lambda read: held_of(read) == ids, timeout=5)
        )
        held = held_of(topics)
        print("POST answered", status, reply, "events of the body in Kafka", len(held))
        if status == 202:
            assert reply == {"accepted": BODY, "rejected": 0} and held == ids
        else:
            assert status == 503, (status, reply)
            cause = reply["error"].removeprefix("kafka: nothing was written: ")
            assert cause and cause != reply["error"], reply  # the answer says why
            assert held == set()
        snapshot = Checker(run, client).assert_equal(lambda: list(fleet.workers.values()))
        assert snapshot["windows"]["24h"]["overall"]["tickets_created"] == len(held)
        assert_nothing_missed(client, run)
        assert not fleet.unexpected_exits(), fleet.exits
    finally:
        fleet.close()
        brokers.up()
