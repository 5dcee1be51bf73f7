"""Scenarios 1 and 2: worker kill -9 at random moments, clean restarts and rebalances."""

from __future__ import annotations

import random
import time

from .conftest import MakeRun, redis_client
from .harness import Checker, Fleet, LoadProducer, assert_substantial, simulated_load, soak

RATE = 2500.0  # events per second produced while the faults happen


def test_kill_minus_nine_repeatedly_under_load_equals_replay(
    make_run: MakeRun, fleets: list[Fleet]
) -> None:
    """kill -9 at random moments (mid-batch, mid-scan, right after start-up): equal to replay."""
    kills = soak(5, 20)
    count = soak(40_000, 200_000)
    rng = random.Random(6)
    run = make_run()
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    records = simulated_load(count, RATE, seed=61)
    producer = LoadProducer(run.bootstrap, run.topics, records, RATE).start()
    for number in range(kills):
        # Mostly while the worker is busy applying batches and scanning; every third kill
        # right after it became ready (assignment, first batch, first scan).
        time.sleep(rng.uniform(0.3, 1.0) if number % 3 == 2 else rng.uniform(1.0, 4.0))
        fleet.kill()
        time.sleep(0.3)
        fleet.wait_ready()
    producer.join(300)
    checker = Checker(run, redis_client(run.redis_url))
    snapshot = checker.assert_equal(lambda: list(fleet.workers.values()))
    print(assert_substantial(snapshot), "kills", kills, "events", len(records))
    assert producer.acked == len(records), producer.errors[:3]
    assert not fleet.unexpected_exits(), fleet.unexpected_exits()
    assert len(fleet.exits) == kills


def test_clean_restart_and_rebalance_one_two_one_equals_replay(
    make_run: MakeRun, fleets: list[Fleet]
) -> None:
    """SIGTERM and start again, then a second worker joins and leaves, all mid-stream: equal."""
    count = soak(30_000, 150_000)
    run = make_run()
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    records = simulated_load(count, RATE, seed=62)
    producer = LoadProducer(run.bootstrap, run.topics, records, RATE).start()
    time.sleep(2)
    assert fleet.stop(0) == 0  # a clean stop exits 0
    fleet.add(0)
    fleet.wait_ready()
    time.sleep(1.5)
    fleet.add(1)  # 1 -> 2: the group rebalances, partitions move
    fleet.wait_ready()
    time.sleep(2)
    owned = [set(fleet.worker(s).get("/readyz")[1]["assigned_partitions"]) for s in (0, 1)]
    assert fleet.stop(1) == 0  # 2 -> 1
    producer.join(300)
    checker = Checker(run, redis_client(run.redis_url))
    snapshot = checker.assert_equal(lambda: list(fleet.workers.values()))
    print(assert_substantial(snapshot), "events", len(records), "owned while two", owned)
    assert owned[0] | owned[1] == set(range(run.partitions)) and owned[0] and owned[1]
    assert not fleet.exits, fleet.exits
