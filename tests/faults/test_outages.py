"""Scenarios 3 and 4: Kafka broker kill -9, Redis stopped for a while, restarted empty, or
restored from an older copy of its files."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import time
import urllib.request
from pathlib import Path

from streams.live.commands import SHUTDOWN_SECONDS
from streams.live.recovery import LOST_STATE_EXIT
from streams.stack import Stack
from streams.stack import process as stack_process
from streams.stack.ports import is_listening
from tests.integration.workers import group_offsets
from tests.support.workers import applied_offsets

from .conftest import MakeRun, redis_client
from .harness import (
    Checker,
    FaultRun,
    Fleet,
    LoadProducer,
    assert_nothing_missed,
    assert_substantial,
    simulated_load,
    soak,
)

RATE = 2500.0


def record_of(stack: Stack, name: str) -> stack_process.ProcessRecord:
    record = stack_process.ProcessRecord.load(stack.paths.pid_file(name))
    assert record is not None and stack_process.is_running(record), f"{name} is not running"
    return record


def kill_minus_nine(stack: Stack, name: str) -> None:
    """SIGKILL to the component's whole process group, as a crash of its host would end it:
    a Redis child forked for an AOF rewrite or a save holds the listening socket, and would
    keep the port answering (a restart then finds it taken)."""
    record = record_of(stack, name)
    os.killpg(record.pid, signal.SIGKILL)  # the stack starts each in a session of its own
    while stack_process.is_running(record) or any(
        is_listening(port) for port in stack.component(name).ports()
    ):
        time.sleep(0.05)


def readiness(fleet: Fleet) -> tuple[int, bool]:
    try:
        status, body = fleet.worker().get("/readyz")
    except OSError:
        return 0, False
    return status, bool(body and body.get("redis"))


def redis_outage_run(
    make_run: MakeRun, fleets: list[Fleet], own_redis: Stack, seed: int, count: int = 0
) -> tuple[FaultRun, Fleet, LoadProducer, int]:
    run = make_run(redis_url=own_redis.addresses.redis_url)
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    count = count or soak(30_000, 200_000)
    records = simulated_load(count, RATE, seed=seed)
    producer = LoadProducer(run.bootstrap, run.topics, records, RATE).start()
    return run, fleet, producer, len(records)


def test_redis_stopped_worker_waits_retries_reports_not_ready_and_catches_up(
    make_run: MakeRun, fleets: list[Fleet], own_redis: Stack
) -> None:
    outage = soak(5, 60)
    run, fleet, producer, events = redis_outage_run(make_run, fleets, own_redis, seed=64)
    time.sleep(3)
    stack_process.stop(record_of(own_redis, "redis"))  # SIGTERM: Redis saves and exits
    stopped = time.monotonic()
    time.sleep(1.5)  # the commit interval is 1 s: anything acked before the stop is committed
    before = asyncio.run(group_offsets(run))
    statuses = set()
    while time.monotonic() - stopped < outage:
        statuses.add(readiness(fleet))
        time.sleep(0.25)
    after = asyncio.run(group_offsets(run))
    own_redis.up()
    assert statuses == {(503, False)}, statuses  # not ready the whole time, Redis reported down
    assert after == before  # nothing acked while Redis was away
    producer.join(300)
    checker = Checker(run, redis_client(run.redis_url))
    snapshot = checker.assert_equal(lambda: list(fleet.workers.values()))
    print(assert_substantial(snapshot), "events", events, "outage", outage)
    assert not fleet.exits, fleet.exits  # it waited and retried; it did not crash
    assert "transient failure, retrying" in fleet.worker().log.read_text()
    assert readiness(fleet) == (200, True)


def test_redis_restarted_empty_worker_rebuilds_from_kafka(
    make_run: MakeRun, fleets: list[Fleet], own_redis: Stack
) -> None:
    run, fleet, producer, events = redis_outage_run(make_run, fleets, own_redis, seed=65)
    time.sleep(4)
    kill_minus_nine(own_redis, "redis")
    data = own_redis.component("redis").home / "data"
    shutil.rmtree(data)  # no RDB file, no AOF: it comes back empty
    data.mkdir()
    time.sleep(random.Random(65).uniform(0.5, 2.0))
    own_redis.up()
    producer.join(300)
    checker = Checker(run, redis_client(run.redis_url))
    snapshot = checker.assert_equal(lambda: list(fleet.workers.values()), timeout=180)
    print(assert_substantial(snapshot), "events", events, "exits", fleet.exits)
    codes = [e.returncode for e in fleet.exits]
    assert codes and set(codes) == {LOST_STATE_EXIT}, fleet.exits


def test_redis_restored_from_an_older_snapshot_worker_consumes_the_lost_part_again(
    make_run: MakeRun, fleets: list[Fleet], own_redis: Stack, tmp_path: Path
) -> None:
    """``SAVE``, a copy of Redis's files, more batches applied, kill -9, Redis started from
    that copy: every partition's applied offsets went back under the running worker, which
    must consume the lost part again instead of writing past it. Several times."""
    rounds = soak(3, 10)
    count = int(RATE * 11 * rounds)
    run, fleet, producer, events = redis_outage_run(make_run, fleets, own_redis, 66, count)
    data = own_redis.component("redis").home / "data"
    client = redis_client(run.redis_url)
    rng = random.Random(66)
    for round_ in range(rounds):
        time.sleep(rng.uniform(2.0, 4.0))
        client.save()
        # A consistent copy of the files (the RDB file, and the AOF if the stack keeps one):
        # no write meanwhile, and time for an AOF write that ``everysec`` may postpone 2 s.
        # A copy of an AOF being appended could end inside a transaction, which Redis does
        # not load as a whole.
        client.execute_command("CLIENT", "PAUSE", "6000", "WRITE")
        time.sleep(2.5)
        backup = tmp_path / f"redis-backup-{round_}"
        shutil.copytree(data, backup)
        before = applied_offsets(client, run.name, run.partitions)
        client.execute_command("CLIENT", "UNPAUSE")
        time.sleep(rng.uniform(3.0, 6.0))  # applied after the copy: what the restore loses
        kill_minus_nine(own_redis, "redis")
        shutil.rmtree(data)
        shutil.copytree(backup, data)
        own_redis.up()
        restored = applied_offsets(client, run.name, run.partitions)
        went_back = {p for (t, p), offset in restored.items() if offset <= before[(t, p)]}
        assert went_back == set(range(run.partitions)), (before, restored)
    producer.join(300)
    checker = Checker(run, client)
    snapshot = checker.assert_equal(lambda: list(fleet.workers.values()), timeout=180)
    print(assert_substantial(snapshot), "events", events, "exits", fleet.exits)
    assert_nothing_missed(client, run)  # no offset skipped
    assert not fleet.exits, fleet.exits  # consumed again in-process, no restart needed
    with urllib.request.urlopen(fleet.worker().url + "/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert "ticketpulse_seek_backs_total 0.0" not in metrics


def test_sigterm_while_redis_is_down_exits_within_the_bound_without_a_traceback(
    make_run: MakeRun, fleets: list[Fleet], own_redis: Stack
) -> None:
    """Redis goes away mid-stream and stays away; the worker, retrying it, gets SIGTERM (a
    ``docker compose stop``): it exits 0 within ``SHUTDOWN_SECONDS`` (docker compose kills
    after 30 s), logging no traceback. Nothing is lost: Redis holds what was applied."""
    _, fleet, producer, _ = redis_outage_run(make_run, fleets, own_redis, seed=67)
    time.sleep(3)
    kill_minus_nine(own_redis, "redis")
    time.sleep(6)  # batches, breach scans, the snapshot and the watch all retry Redis now
    worker = fleet.worker()
    asked = time.monotonic()
    code = fleet.stop(0)
    took = time.monotonic() - asked
    log = worker.log.read_text()
    assert "Traceback" not in log, worker.tail(80)
    assert code == 0, worker.tail(40)
    # the bound, plus what a loaded machine adds to noticing the exit
    assert took < SHUTDOWN_SECONDS + 5, (took, worker.tail(40))
    print("stopped in", round(took, 1), "s;", worker.tail(3))
    producer.join(300)


def test_kafka_broker_killed_and_restarted_worker_recovers_or_is_restarted(
    make_run: MakeRun, fleets: list[Fleet], own_kafka: Stack
) -> None:
    """kill -9 of the only broker mid-stream; POST /events meanwhile gets 503 and produces
    nothing; once the broker is back the worker catches up (on its own, or restarted by the
    supervisor after a non-zero exit), never sitting idle; equal afterwards."""
    import json

    from tests.support.workers import post

    down_for = soak(8, 30)
    run = make_run(bootstrap=own_kafka.addresses.bootstrap_servers)
    run.extra_env["TICKETPULSE_PRODUCE_TIMEOUT_SECONDS"] = "5"
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    count = soak(25_000, 150_000)
    records = simulated_load(count, RATE, seed=63)
    producer = LoadProducer(run.bootstrap, run.topics, records, RATE).start()
    time.sleep(3)
    kill_minus_nine(own_kafka, "kafka")
    killed = time.monotonic()
    event = {
        "event_id": "kafka-down-1",
        "type": "ticket.created",
        "occurred_at": "2026-11-02T09:15:00Z",
        "ticket_id": "KD1",
        "channel": "chat",
        "priority": "normal",
        "team": "billing",
    }
    body = b"\n".join(json.dumps({**event, "event_id": f"kd-{n}"}).encode() for n in range(50))
    try:
        status, reply = post(fleet.worker().url + "/events", body, "application/x-ndjson")
    except OSError as error:  # the worker exited meanwhile (a dead letter it could not write)
        status, reply = 0, str(error)
    assert status in (503, 0), (status, reply)
    time.sleep(max(0.0, down_for - (time.monotonic() - killed)))
    own_kafka.up()
    producer.join(300)
    checker = Checker(run, redis_client(run.redis_url))
    snapshot = checker.assert_equal(
        lambda: list(fleet.workers.values()), timeout=240, supervise=lambda: None
    )
    held = checker.read()
    assert not any(b'"kd-' in value for value in held.values)  # nothing half-sent
    print(assert_substantial(snapshot), "events", len(records), "exits", fleet.exits)
    assert all(e.returncode != 0 for e in fleet.exits)
