"""The Faust ceiling: the worker's agent shape (raw bytes, ``noack_take``, ack) doing no work.

    TP_PREFIX=perf1 TP_EVENTS=100000 TP_BOOTSTRAP=127.0.0.1:19092 \\
        .venv/bin/python bench/bench_faust_ceiling.py worker -l warn

Drains ``<prefix>.tickets/.contacts/.surveys`` (produce them first, e.g. with
``ticketpulse simulate --kafka`` and TICKETPULSE_TOPIC_* set) with a fresh consumer group and
prints events per wall second and per CPU second of this process. The live worker can never
be faster than this: whatever it does per event comes on top of Faust's own per-message path
(a consumer callback, ``wait_first`` with four tasks, an Event, a channel queue, the stream).

``TP_INLINE=1`` installs the worker's inline first delivery step
(``streams.live.fast_delivery``), as the worker does: run both to see what it saves.
"""

from __future__ import annotations

import os
import time
from typing import Any

import faust

from streams.live.fast_delivery import install as install_inline

PREFIX = os.environ.get("TP_PREFIX", "support")
EVENTS = int(os.environ.get("TP_EVENTS", "100000"))
BOOTSTRAP = os.environ.get("TP_BOOTSTRAP", "127.0.0.1:19092")
INLINE = os.environ.get("TP_INLINE", "0") == "1"

app = faust.App(
    f"faust-ceiling-{int(time.time())}",
    broker=f"kafka://{BOOTSTRAP}",
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    store="memory://",
    topic_disable_leader=True,
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


@app.agent(topic)
async def ingest(stream: Any) -> None:
    if INLINE:
        install_inline(app.consumer)
    async for events in stream.noack_take(2000, 0.05):
        if not _started:
            _started.update(wall=time.time(), cpu=time.process_time())
        _seen["n"] += len(events)
        for event in events:
            await stream.ack(event)
        if _seen["n"] >= EVENTS:
            wall = time.time() - _started["wall"]
            cpu = time.process_time() - _started["cpu"]
            n = _seen["n"]
            print(
                f"faust ceiling (inline first step: {INLINE}): {n} events in {wall:.1f} s wall"
                f" = {n / wall:,.0f}/s;"
                f" {cpu:.1f} s CPU = {n / cpu:,.0f} per CPU-second",
                flush=True,
            )
            os._exit(0)


if __name__ == "__main__":
    app.main()
