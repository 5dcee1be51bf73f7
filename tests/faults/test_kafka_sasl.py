"""Scenario 9, Kafka half: a broker that requires SASL/SCRAM-SHA-256, and a worker configured
for it through TICKETPULSE_KAFKA_* variables alone.

The broker is the real Kafka of the stack with its opt-in SCRAM listener
(``StackConfig.kafka_scram_users``): a client without credentials or with a wrong password is
refused; the worker consumes through it (Faust's consumer and producer), creates its topics
(admin client) and writes dead letters and ``POST /events`` (its own producer) through it, and
its snapshot equals replay of what the topics hold. The password appears in no worker log.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed

from streams.domain.decode import InvalidEvent, decode_event
from streams.emit import ticket_created
from streams.stack import Component, Stack, StackConfig, StackPaths, StackPorts
from streams.stack.kafka_broker import KafkaBroker
from tests.conftest import start_stack
from tests.support.workers import post, read_topics, read_topics_until

from .conftest import MakeRun, redis_client
from .harness import Checker, Fleet, LoadProducer, assert_substantial, simulated_load

RATE = 3000.0
BROKER_USER = ("admin", "admin-scram-pw")
WORKER_USER = ("ticketpulse", "tp-scram-pw-7f3a")


def _kafka_only(paths: StackPaths, config: StackConfig) -> list[Component]:
    return [KafkaBroker(paths, config)]


@pytest.fixture
def scram_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A broker of this test's own whose only client listener requires SCRAM-SHA-256."""
    config = StackConfig(
        ports=StackPorts.free(),
        scrape_targets=(),
        kafka_heap="384m",
        kafka_scram_users=(BROKER_USER, WORKER_USER),
    )
    running: Stack = start_stack(tmp_path_factory.mktemp("kafka-sasl"), config, _kafka_only)
    broker = running.components[0]
    assert isinstance(broker, KafkaBroker)
    yield broker
    running.down()


def sasl_env(password: str) -> dict[str, str]:
    return {
        "TICKETPULSE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "TICKETPULSE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "TICKETPULSE_KAFKA_SASL_USERNAME": WORKER_USER[0],
        "TICKETPULSE_KAFKA_SASL_PASSWORD": password,
    }


async def _produce(bootstrap: str, **options: Any) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000, **options)
    try:
        await producer.start()
        await producer.send_and_wait("sasl.probe", b"x")
    finally:
        await producer.stop()


async def _connect(host: str, port: int, **options: Any) -> None:
    conn = await create_conn(host, port, request_timeout_ms=5000, **options)
    conn.close()


def test_worker_consumes_and_produces_through_sasl_scram(
    make_run: MakeRun, fleets: list[Fleet], scram_kafka: KafkaBroker
) -> None:
    bootstrap = scram_kafka.bootstrap
    host, port = bootstrap.rsplit(":", 1)
    worker_options = scram_kafka.client_options(1)

    # (a) Refused: no credentials (the broker closes a connection that skips SASL), a wrong
    # password (SCRAM fails), and a worker configured with a wrong password exits clearly.
    with pytest.raises(KafkaConnectionError):
        asyncio.run(_produce(bootstrap))
    wrong = {**worker_options, "sasl_plain_password": "not-the-password"}
    with pytest.raises(SaslAuthenticationFailed):
        asyncio.run(_connect(host, int(port), **wrong))
    with pytest.raises(KafkaConnectionError):
        asyncio.run(_produce(bootstrap, **wrong))
    asyncio.run(_produce(bootstrap, **worker_options))  # the right one is accepted

    run = make_run(bootstrap=bootstrap, **sasl_env("wrong-pw-a81c"))
    refused = subprocess.run(
        [sys.executable, "-m", "streams", "worker", "--log-level", "warning"],
        env=run.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert "SaslAuthenticationFailed" in output and "cannot connect" in output, output
    assert "wrong-pw-a81c" not in output

    # (b) The real worker, configured by environment variables only, through SASL.
    run = make_run(bootstrap=bootstrap, **sasl_env(WORKER_USER[1]))
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    records = simulated_load(6_000, RATE, seed=71, invalid_share=0.02)
    producer = LoadProducer(bootstrap, run.topics, records, RATE, options=worker_options)
    producer.start().join(120)
    assert producer.acked == len(records), producer.errors[:3]
    # POST /events goes through the worker's own producer, so through SASL too.
    event = ticket_created("SASL-1", "email", "normal", "billing", event_id="sasl-post-1")
    status, reply = post(
        fleet.worker().url + "/events", json.dumps(event).encode(), "application/json"
    )
    assert status == 202, (status, reply)

    asyncio.run(  # committed, and readable moments later
        read_topics_until(
            bootstrap,
            [run.topics["tickets"]],
            lambda read: any(b"sasl-post-1" in value for value in read.values),
            worker_options,
        )
    )
    checker = Checker(run, redis_client(run.redis_url), kafka_options=worker_options)
    snapshot = checker.assert_equal(lambda: list(fleet.workers.values()))
    inputs = checker.read()
    assert any(b"sasl-post-1" in value for value in inputs.values)

    # (c) Every invalid input is in the dead-letter topic, written through SASL.
    letters = asyncio.run(read_topics(bootstrap, [run.topics["deadletter"]], worker_options))
    origins = {
        (letter["source_topic"], letter["partition"], letter["offset"])
        for letter in map(json.loads, letters.values)
    }
    invalid = {
        (topic, partition, offset)
        for topic, partition, offset, value in inputs.entries
        if isinstance(decode_event(value), InvalidEvent)
    }
    assert invalid and origins == invalid, (len(invalid), len(origins))
    assert not fleet.exits, fleet.exits

    for worker in fleet.workers.values():
        assert WORKER_USER[1] not in worker.log.read_text(errors="replace")
    print(assert_substantial(snapshot), "events", len(records), "dead letters", len(origins))
