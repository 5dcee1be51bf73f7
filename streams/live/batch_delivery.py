"""Faust's fetch loop, handing each fetched batch whole to the worker.

Faust delivers every record on its own: a ``Message``, a conductor callback awaited under
mode's ``wait_first``, an ``Event``, a channel queue, the stream iterator and an ack. That
costs about as much CPU per record as all of the worker's own work, and the worker needs
none of it: it applies whole batches, keeps its positions in Redis, and seeks there after
every rebalance (``streams.live.recovery.seek_after_faust``).

``install`` replaces the consumer's fetch loop (``Consumer._drain_messages``, which Faust's
Fetcher service runs) with one that awaits ``deliver`` once per fetched batch: what
aiokafka's ``getmany`` returns over the assigned partitions, at most
``broker_max_poll_records`` records, fewer when fewer are waiting (so batches grow with
the backlog and stay small, and quick, when the worker keeps up). Faust still runs the
group: membership, rebalances (it stops the flow and this loop waits), the seek that ends
each one, the web server and the timers. What it no longer sees are acks, so it commits
no offsets: the app commits Redis's positions itself (``streams.live.rebalance``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from streams.live.batch import Message

log = logging.getLogger(__name__)

Deliver = Callable[[list[Message]], Awaitable[None]]


def install(consumer: Any, deliver: Deliver) -> bool:
    """Make a Faust consumer's fetch loop deliver whole batches; False if already done.

    Must run before Faust's Fetcher starts (it calls ``_drain_messages`` once and runs it
    for the life of the consumer): ``install_on`` installs it as the app makes the consumer.
    """
    if getattr(consumer, "_tp_batch_delivery", False):
        return False

    async def drain(fetcher: Any) -> None:
        await drain_batches(consumer, fetcher, deliver)

    consumer._drain_messages = drain
    consumer._tp_batch_delivery = True
    return True


def install_on(
    app: Any,
    deliver: Deliver,
    fetch_max_wait_ms: int | None = None,
    *,
    committed_only: bool = False,
) -> None:
    """Install batch delivery on the consumer a Faust app makes (lazily, as it starts),
    with ``fetch_max_wait_ms`` the broker's longest wait on a fetch (``limit_fetch_wait``),
    and with ``committed_only`` only committed records (``read_committed``)."""
    make_consumer = app._new_consumer

    def consumer_delivering_batches() -> Any:
        consumer = make_consumer()
        install(consumer, deliver)
        if fetch_max_wait_ms is not None:
            limit_fetch_wait(consumer, fetch_max_wait_ms)
        if committed_only:
            read_committed(consumer)
        return consumer

    app._new_consumer = consumer_delivering_batches


def _configure_client(consumer: Any, configure: Callable[[Any], None]) -> None:
    """Have ``configure`` applied to the aiokafka consumer that Faust's consumer thread
    creates, before it starts."""
    thread = consumer._thread
    create = thread._create_worker_consumer

    def create_configured(transport: Any) -> Any:
        client = create(transport)
        configure(client)
        return client

    thread._create_worker_consumer = create_configured


def limit_fetch_wait(consumer: Any, wait_ms: int) -> None:
    """Make the aiokafka consumer that Faust's consumer thread creates ask the broker to
    answer a fetch within ``wait_ms`` (Faust fixes 1,500 ms; aiokafka's default is 500).

    Measured here (``bench/latency_probe.py`` at 3,000 events/s): with 1,500 ms a fetch
    waited 0.4 s on average although records were arriving all the time, so the worker
    received a second's traffic every second or so and the snapshot lagged 2.2 s at the
    median; with 100 ms, 0.56 s. A shorter wait costs an empty fetch per wait when the
    topics are idle, a small request to a broker.
    """

    def set_wait(client: Any) -> None:
        client._fetch_max_wait_ms = wait_ms  # read when the consumer starts its fetcher

    _configure_client(consumer, set_wait)


def read_committed(consumer: Any) -> None:
    """Make the aiokafka consumer that Faust's consumer thread creates read committed
    records only: a ``POST /events`` body (one transaction) is seen whole once committed,
    never in part, and never when aborted. Faust reads committed only under its own
    exactly-once processing, which the worker does not use (Redis holds its offsets)."""

    def set_isolation(client: Any) -> None:
        client._isolation_level = "read_committed"  # read when it starts its fetcher

    _configure_client(consumer, set_isolation)


def to_messages(records: Mapping[Any, Sequence[Any]]) -> list[Message]:
    """aiokafka's records by partition as the worker's messages, partition by partition."""
    return [
        Message(tp.topic, tp.partition, record.offset, record.value or b"", record.key)
        for tp, batch in records.items()
        for record in batch
    ]


async def drain_batches(consumer: Any, fetcher: Any, deliver: Deliver) -> None:
    """Fetch, deliver each batch whole, repeat until the consumer or the fetcher stops."""
    consumer_stopped = consumer._stopped.is_set
    fetcher_stopped = fetcher._stopped.is_set
    read_offset = consumer._read_offset
    # Faust's monitor warns of a stream that stopped processing when a partition has no
    # inbound time for a while; the records it would have stamped come through here.
    inbound = getattr(getattr(consumer.app, "monitor", None), "stream_inbound_time", None)
    try:
        while not (consumer_stopped() or fetcher_stopped()):
            await asyncio.sleep(0)
            if consumer.should_stop:
                break
            records, _ = await consumer._wait_next_records(1.0)
            if not records or consumer.should_stop or not consumer.flow_active:
                # none, or fetched as a rebalance stopped the flow: the seek that ends the
                # rebalance (to Redis's positions) fetches them again
                continue
            now = time.monotonic()
            for tp, batch in records.items():
                if batch:
                    read_offset[tp] = batch[-1].offset
                    if inbound is not None:
                        inbound[tp] = now
            messages = to_messages(records)
            if messages:
                await deliver_whole(deliver(messages))
    except consumer.consumer_stopped_errors:
        if consumer.transport.app.should_stop:
            log.info("broker stopped the consumer, shutting down")
            return
        raise
    except asyncio.CancelledError:
        if consumer.transport.app.should_stop:
            return
        raise


async def deliver_whole(batch: Awaitable[None]) -> None:
    """Await a batch's delivery to its end, even when the fetch loop is cancelled once.

    Faust stops its fetcher by cancelling this loop (and again each second while it has
    not ended). A batch cut off mid-way would be safe (Redis holds it or not, and the
    worker rebuilds its cache), but letting it finish, which takes well under a second,
    keeps a clean shutdown clean; a second cancellation cancels the batch too.
    """
    task = asyncio.ensure_future(batch)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        try:
            await asyncio.shield(task)
        finally:
            task.cancel()  # nothing when it is done
        raise
