"""The peer contender Q: ticketpulse's KPIs computed by a Quix Streams application.

    python bench/peers/quix_app.py --bootstrap HOST:PORT --group G --topics a,b,c \
        --redis-url redis://... --prefix P --state-dir DIR [--publish-interval 1.0]

Same definitions as the worker (``decode_event`` and its planner, ``streams.live.batch.plan``,
over the in-memory store through ``PartitionReplay``: timelines, ticket evaluation, fact diffs
into minute windows, the backlog, SLA and wake-up indexes), wired the Quix way:

- the three input topics are one concatenated ``StreamingDataFrame``; messages are keyed by
  ticket id, so a ticket's events meet in one partition, in Quix's own order;
- a stateful ``update`` plans each message as a batch of one (Quix hands the application one
  message at a time) at the wall clock and keeps the ticket's record the planner wrote (the
  worker's compact record format) in Quix's state store (RocksDB, with its changelog topic:
  Quix's durability, the counterpart of the worker's Redis writes); the in-memory
  ``PartitionReplay`` holds the evaluated tickets, the windows and the indexes, as the
  worker's partition cache and Redis do;
- a publisher thread, every ``--publish-interval`` seconds, re-evaluates the tickets whose
  wake-up time has passed (``wake_due``: the breach scan), builds the snapshot at the wall
  clock exactly as the worker does (windows at the next whole minute, SLA counts now) and
  writes it to Redis ``<prefix>:snapshot``, with progress (messages, first/last message time,
  CPU time) in the hash ``<prefix>:q:progress``.

Invalid events and events after a close are counted, not dead-lettered (the worker also sends
them to a topic; they are about 1% of the data set). One process owns every partition: the
bench runs a single instance, so there is no rebalance handling of the in-memory part.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from pathlib import Path

import redis
from quixstreams import Application, State, message_context

from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.instant import MICROS_PER_SECOND, Instant, ceil_minute
from streams.domain.policies import default_policies, load_policies
from streams.domain.snapshot import Snapshot
from streams.live.batch import Message
from streams.live.partition_replay import PartitionReplay


def now_micros() -> Instant:
    return int(time.time() * MICROS_PER_SECOND)


class Kpis:
    """The planner's partition and the progress counters, behind one lock."""

    def __init__(self, replay: PartitionReplay) -> None:
        self.replay = replay
        self.lock = threading.Lock()
        self.messages = 0
        self.redelivered = 0
        self.seen: dict[tuple[str, int], int] = {}
        self.invalid = 0
        self.first = self.last = 0.0
        self.cpu_first = self.cpu_last = 0.0

    def process(self, value: bytes, state: State) -> None:
        context = message_context()
        where = (context.topic, context.partition)
        with self.lock:
            if context.offset <= self.seen.get(where, -1):
                # read again after a rebalance: the planner ignores it as a duplicate, and it
                # must not count towards the end of the data set
                self.redelivered += 1
            else:
                self.seen[where] = context.offset
                if not self.messages:
                    self.first, self.cpu_first = time.time(), time.process_time()
                self.messages += 1
            event = decode_event(value)
            if isinstance(event, InvalidEvent):
                self.invalid += 1
            else:
                records = self.replay.store.records(0)
                before = records.get(event.ticket_id)
                message = Message(context.topic, context.partition, context.offset, value)
                self.replay.apply([(message, event)], now_micros())
                record = records.get(event.ticket_id)
                if record is not before and record is not None:  # written: accepted or refused
                    state.set("r", record.decode())
            self.last, self.cpu_last = time.time(), time.process_time()

    def snapshot(self) -> Snapshot:
        """Wake due tickets, then the snapshot as the worker builds it (SLA counts at now)."""
        with self.lock:
            now = now_micros()
            self.replay.wake_due(now)
            return self.replay.snapshot(ceil_minute(now), clocks_at=now)

    def progress(self) -> dict[str, str]:
        return {
            "messages": str(self.messages),
            "invalid": str(self.invalid),
            "redelivered": str(self.redelivered),
            "first": repr(self.first),
            "last": repr(self.last),
            "cpu": repr(self.cpu_last - self.cpu_first),
        }


def publisher(kpis: Kpis, client: redis.Redis, prefix: str, interval: float) -> None:
    while True:
        time.sleep(interval)
        snapshot = kpis.snapshot()
        pipe = client.pipeline()
        pipe.set(f"{prefix}:snapshot", json.dumps(snapshot.to_json(), separators=(",", ":")))
        pipe.hset(f"{prefix}:q:progress", mapping=kpis.progress())
        pipe.execute()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--topics", required=True, help="comma-separated input topics")
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--policies")
    parser.add_argument("--publish-interval", type=float, default=1.0)
    args = parser.parse_args(argv)

    policies = load_policies(Path(args.policies)) if args.policies else default_policies()
    kpis = Kpis(PartitionReplay(policies, all_records=True))
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        loglevel=logging.WARNING,
    )
    frames = [
        app.dataframe(app.topic(name, value_deserializer="bytes", key_deserializer="str"))
        for name in args.topics.split(",")
    ]
    merged = frames[0]
    for other in frames[1:]:
        merged = merged.concat(other)
    merged.update(kpis.process, stateful=True)
    client = redis.Redis.from_url(args.redis_url)
    thread = threading.Thread(
        target=publisher,
        args=(kpis, client, args.prefix, args.publish_interval),
        daemon=True,
        name="publisher",
    )
    thread.start()
    app.run()


if __name__ == "__main__":
    main()
