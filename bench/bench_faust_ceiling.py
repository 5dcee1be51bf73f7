"""The Faust ceiling: the worker's way of consuming (raw bytes, whole batches) doing no work.

    TP_PREFIX=perf1 TP_EVENTS=100000 TP_BOOTSTRAP=127.0.0.1:19092 \\
        .venv/bin/python bench/bench_faust_ceiling.py worker -l warn

Drains ``<prefix>.tickets/.contacts/.surveys`` (produce them first, e.g. with
``ticketpulse simulate --kafka`` and TICKETPULSE_TOPIC_* set) with a fresh consumer group and
prints events per wall second and per CPU second of this process. The live worker can never
be faster than this: whatever it does per event comes on top.

By default the records come as the worker takes them, each fetched batch whole
(``streams.live.batch_delivery``). ``TP_STREAM=1`` takes them through Faust's per-message
path instead (a consumer callback, ``wait_first`` with four tasks, an Event, a channel
queue, the stream, ``noack_take`` and an ack each), as the worker did before session 7.
"""

from __future__ import annotations

import os
import time
from typing import Any

import faust

from streams.live import batch_delivery
from streams.live.batch import Message

PREFIX = os.environ.get("TP_PREFIX", "support")
EVENTS = int(os.environ.get("TP_EVENTS", "100000"))
BOOTSTRAP = os.environ.get("TP_BOOTSTRAP", "127.0.0.1:19092")
STREAM = os.environ.get("TP_STREAM", "0") == "1"

app = faust.App(
    f"faust-ceiling-{int(time.time())}",
    broker=f"kafka://{BOOTSTRAP}",
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    store="memory://",
    topic_disable_leader=True,
    broker_max_poll_records=None if STREAM else 2000,
)
topic = app.topic(
    f"{PREFIX}.tickets",
    f"{PREFIX}.contacts",
    f"{PREFIX}.surveys",
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)
_seen = {"n": 0}
_started: dict[str, float] = {}


def count(n: int) -> None:
    if not _started:
        _started.update(wall=time.time(), cpu=time.process_time())
    _seen["n"] += n
    if _seen["n"] >= EVENTS:
        wall = time.time() - _started["wall"]
        cpu = time.process_time() - _started["cpu"]
        n = _seen["n"]
        path = "Faust's stream" if STREAM else "whole batches"
        print(
            f"faust ceiling ({path}): {n} events in {wall:.1f} s wall = {n / wall:,.0f}/s;"
            f" {cpu:.1f} s CPU = {n / cpu:,.0f} per CPU-second",
            flush=True,
        )
        os._exit(0)


if STREAM:

    @app.agent(topic)
    async def ingest(stream: Any) -> None:
        async for events in stream.noack_take(2000, 0.05):
            count(len(events))
            for event in events:
                await stream.ack(event)

else:
    app.topics.add(topic)

    async def deliver(messages: list[Message]) -> None:
        count(len(messages))

    batch_delivery.install_on(app, deliver)


if __name__ == "__main__":
    app.main()
