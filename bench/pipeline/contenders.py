"""The in-house contenders, run each in a fresh process by the harness.

    python -m bench.pipeline.contenders c0|c1 --bootstrap HOST:PORT --group G --topics a,b,c
        [--snapshot-out FILE]

- ``c0``: an aiokafka ``getmany()`` loop that only counts messages: the Python consumer ceiling.
- ``c1``: the same loop plus, per fetched partition batch, ``decode_event`` of each message
  and ``PartitionReplay.apply``: the live worker's planner at the wall clock, its writes
  applied to the in-memory store (no Faust, Redis or Prometheus); at the end the tickets
  whose wake-up time has come are evaluated at the snapshot's ``as_of`` (the breach scan) and
  the snapshot is written to ``--snapshot-out`` for the correctness gate.

Both stop when they have read every message that was in the topics at start (end offsets
taken before the first fetch) and print one JSON line: messages, wall times of the first and
last message, the process CPU time between them and the peak RSS (``VmHWM``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.events import Event
from streams.domain.instant import MICROS_PER_SECOND, ceil_minute
from streams.domain.policies import default_policies, load_policies
from streams.domain.snapshot import dumps_snapshot
from streams.live.batch import Message
from streams.live.partition_replay import PartitionReplay


def peak_rss() -> int:
    """This process's peak resident set size in bytes (``VmHWM``, reset by exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


async def drain(args: argparse.Namespace) -> dict[str, Any]:
    topics = args.topics.split(",")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        # C1 holds the loop for a batch at a time on a loaded machine: keep the group membership
        session_timeout_ms=60_000,
        heartbeat_interval_ms=3_000,
        max_poll_interval_ms=600_000,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:  # metadata not loaded yet
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        expected = sum(ends[tp] - starts[tp] for tp in partitions)
        # progress by offsets, not by count: after a rebalance a partition is read again from
        # its start (nothing is committed), and those messages must not count twice
        seen = {tp: starts[tp] - 1 for tp in partitions}
        wanted = {tp: ends[tp] - 1 for tp in partitions if ends[tp] > starts[tp]}
        redelivered = 0
        consumer.subscribe(topics)
        policies = load_policies(Path(args.policies)) if args.policies else default_policies()
        replay = PartitionReplay(policies)
        planner_on = args.contender == "c1"
        batch = 2_000 if planner_on else 10_000  # C1: the worker's batch_max
        count = invalid = 0
        first = last = cpu_first = cpu_last = 0.0
        while any(seen[tp] < end for tp, end in wanted.items()):
            batches = await consumer.getmany(timeout_ms=500, max_records=batch)
            if not batches:
                continue
            if not count:
                first, cpu_first = time.time(), time.process_time()
            for tp, messages in batches.items():
                fresh = [m for m in messages if m.offset > seen[tp]]
                redelivered += len(messages) - len(fresh)
                if not fresh:
                    continue
                seen[tp] = fresh[-1].offset
                count += len(fresh)
                if planner_on:
                    events: list[tuple[Message, Event]] = []
                    for m in fresh:
                        event = decode_event(m.value)
                        if isinstance(event, InvalidEvent):
                            invalid += 1
                        else:
                            events.append(
                                (Message(tp.topic, tp.partition, m.offset, m.value), event)
                            )
                    replay.apply(events, int(time.time() * MICROS_PER_SECOND))
            last, cpu_last = time.time(), time.process_time()
        result: dict[str, Any] = {
            "messages": count,
            "expected": expected,
            "redelivered": redelivered,
            "first": first,
            "last": last,
            "cpu": cpu_last - cpu_first,
            "peak_rss": peak_rss(),
        }
        if planner_on:
            as_of = ceil_minute(int(time.time() * MICROS_PER_SECOND))
            replay.wake_due(as_of)
            result["invalid"] = invalid
            result["tickets"] = len(replay.ticket_ids())
            if args.snapshot_out:
                Path(args.snapshot_out).write_text(dumps_snapshot(replay.snapshot(as_of)))
        return result
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contender", choices=("c0", "c1"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--topics", required=True, help="comma-separated input topics")
    parser.add_argument("--policies", help="policy file (default: the shipped policies)")
    parser.add_argument("--snapshot-out")
    args = parser.parse_args(argv)
    result = asyncio.run(drain(args))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
