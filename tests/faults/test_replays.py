"""Scenarios 6 and 7: the stream twice and consumer offsets reset; late and disordered events."""

from __future__ import annotations

import asyncio
import json
import random
from collections import defaultdict

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.domain.policies import load_policies
from streams.replay import replay_lines

from .conftest import MakeRun, redis_client
from .harness import (
    POLICIES,
    Checker,
    FaultRun,
    Fleet,
    LoadProducer,
    Record,
    assert_substantial,
    simulated_load,
    soak,
)

RATE = 3000.0


async def reset_group_to_beginning(run: FaultRun) -> None:
    """What an operator does with kafka-consumer-groups --reset-offsets --to-earliest."""
    consumer = AIOKafkaConsumer(bootstrap_servers=run.bootstrap, group_id=run.name)
    await consumer.start()
    try:
        tps = [
            TopicPartition(run.topics[kind], p)
            for kind in ("tickets", "contacts", "surveys")
            for p in range(run.partitions)
        ]
        consumer.assign(tps)
        await consumer.commit({tp: 0 for tp in tps})
    finally:
        await consumer.stop()


def test_stream_twice_and_offsets_reset_change_nothing(
    make_run: MakeRun, fleets: list[Fleet]
) -> None:
    count = soak(20_000, 100_000)
    run = make_run()
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    records = simulated_load(count, RATE, seed=66)
    LoadProducer(run.bootstrap, run.topics, records, RATE).start().join(300)
    checker = Checker(run, redis_client(run.redis_url))
    once = checker.assert_equal(lambda: list(fleet.workers.values()))
    # Every record again (new offsets, same events), then the group rewound to offset 0.
    LoadProducer(run.bootstrap, run.topics, records, RATE).start().join(300)
    assert fleet.stop(0) == 0
    asyncio.run(reset_group_to_beginning(run))
    fleet.add(0)
    fleet.wait_ready()
    twice = checker.assert_equal(lambda: list(fleet.workers.values()))
    assert twice["windows"]["7d"] == once["windows"]["7d"]
    print(assert_substantial(twice), "events", 2 * len(records))


def disordered(records: list[Record], rng: random.Random) -> list[Record]:
    """Half of the tickets: their events sent newest first, so contacts and status changes
    swap across topics and a ticket's creation often comes last; a tenth of all events held
    back and sent at the very end (up to an hour late in event time)."""
    by_ticket: defaultdict[bytes, list[int]] = defaultdict(list)
    for index, (_, key, _) in enumerate(records):
        by_ticket[key].append(index)
    order = list(range(len(records)))
    for indexes in by_ticket.values():
        if len(indexes) > 1 and rng.random() < 0.5:
            for slot, index in zip(indexes, reversed(indexes), strict=True):
                order[slot] = index
    late = [i for i in order if rng.random() < 0.1]
    held = set(late)
    return [records[i] for i in order if i not in held] + [records[i] for i in late]


def test_late_and_disordered_events_are_corrected_as_the_spec_says(
    make_run: MakeRun, fleets: list[Fleet]
) -> None:
    count = soak(20_000, 100_000)
    run = make_run()
    fleet = Fleet(run)
    fleets.append(fleet)
    fleet.wait_ready()
    in_order = simulated_load(count, RATE, seed=67, late_share=0.0)
    shuffled = disordered(in_order, random.Random(7))
    LoadProducer(run.bootstrap, run.topics, shuffled, RATE).start().join(300)
    checker = Checker(run, redis_client(run.redis_url))
    live = checker.assert_equal(lambda: list(fleet.workers.values()))
    # The spec's answer does not depend on arrival order: replay of the events in the order
    # they happened gives the very numbers the worker reached from the shuffled stream.
    policies = load_policies(POLICIES)
    from streams.domain.instant import parse_rfc3339

    at = parse_rfc3339(live["as_of"])
    ordered = replay_lines(iter([v for _, _, v in in_order]), policies, at).snapshot
    assert json.dumps(live, sort_keys=True) == json.dumps(ordered, sort_keys=True)
    print(assert_substantial(live), "events", len(shuffled))
