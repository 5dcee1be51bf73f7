"""The Faust application: the thin edge that feeds ``Worker`` and serves the HTTP API.

Faust runs the consumer group over the three co-partitioned topics; each fetched batch goes
whole, as raw bytes, to ``Worker.handle`` (``streams.live.batch_delivery``), which returns
once Redis holds it. Nothing passes through Faust's streams and acks, so an exception or a
shutdown mid-batch cannot ack a message that was not applied (the pitfall of faust-streaming
#189/#315), nor can acks leave gaps (#312/#606): the group's committed offsets are Redis's
positions, committed every second and at each rebalance.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import faust
from aiokafka import AIOKafkaProducer, TopicPartition
from faust.types import TP
from faust.web import Request, Response, View
from redis import exceptions as redis_errors

from streams import collector
from streams.domain.events import Topic
from streams.domain.policies import PolicySet
from streams.errors import TransientError
from streams.live import api, batch_delivery, openapi
from streams.live.at_risk import parse_query
from streams.live.batch import Message
from streams.live.http_guard import Guard
from streams.live.intake import Intake
from streams.live.metrics import Metrics, render_in_thread
from streams.live.placement import Placement
from streams.live.publisher import Pacer, Publisher
from streams.live.recovery import (
    BEHIND,
    LOST_STATE_EXIT,
    MARKER_GONE,
    StateGuard,
    positions,
    seek_after_faust,
)
from streams.live.settings import WorkerSettings
from streams.live.store import RedisStore
from streams.live.worker import Worker

log = logging.getLogger(__name__)


class KafkaOut:
    """One idempotent producer (acks=all) for the dead-letter topic and ``POST /events``."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.topics = settings.topics
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.settings.kafka_bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=5,
                    request_timeout_ms=int(self.settings.produce_timeout_seconds * 1000),
                    **self.settings.kafka_auth.aiokafka_options(),
                )
                await producer.start()
                self._producer = producer
            return self._producer

    async def send(self, records: Sequence[dict[str, Any]]) -> None:
        """Dead letters: JSON values, keyed by the original ticket id when there is one."""
        producer = await self.producer()
        futures = []
        for record in records:
            event = record.get("event")
            ticket = event.get("ticket_id") if isinstance(event, dict) else None
            key = ticket.encode() if isinstance(ticket, str) else None
            value = json.dumps(record, separators=(",", ":"), default=str).encode()
            futures.append(await producer.send(self.topics.deadletter, value, key=key))
        await asyncio.gather(*futures)

    async def send_events(self, records: Sequence[api.Encoded]) -> None:
        """``POST /events``: records encoded off the event loop; the loop gets its turn
        between thousands, so a large request does not hold up probes and batches."""
        producer = await self.producer()
        futures = []
        for number, (kind, key, value) in enumerate(records, start=1):
            futures.append(await producer.send(self.topics.name_of(Topic(kind)), value, key=key))
            if number % 1000 == 0:
                await asyncio.sleep(0)
        await asyncio.gather(*futures)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


async def _disagreeing(thread: Any, wanted: dict[TP, int]) -> dict[TP, int]:
    """The positions of ``wanted`` that differ from the group's committed offsets.

    A partition with no committed offset always differs, even when Redis's position is 0,
    so that the group's offsets, which lag tools and operators read, always say where the
    worker resumes.
    """
    client = thread._ensure_consumer()
    differ = {}
    for tp, offset in wanted.items():
        committed = await thread.call_thread(client.committed, TopicPartition(*tp))
        if committed is None or committed != offset:
            differ[tp] = offset
    return differ


def faust_datadir(group_id: str) -> str:
    """Where Faust may keep files: the worker keeps none (its state is in Redis).

    Faust makes only the last folder of the path, so the parent is made here.
    """
    parent = os.path.join(tempfile.gettempdir(), "ticketpulse-faust")
    os.makedirs(parent, exist_ok=True)
    return os.path.join(parent, group_id)


def create_app(
    settings: WorkerSettings, policies: PolicySet, store: RedisStore, metrics: Metrics
) -> tuple[faust.App, Worker]:
    gate = Guard(settings.api_token)
    app = faust.App(
        f"{settings.group_id}",
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=settings.kafka_auth.faust_credentials(),
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        # Only the worker's own routes: Faust's /router and /table pages are off (a Faust
        # without these settings ignores them), and the gate answers 404 for any other page.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_application_options={"middlewares": [gate.middleware]},
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        store="memory://",
        # Faust makes ``<datadir>/v1/tables`` even with no table on disk; its default,
        # ``<app id>-data`` in the working directory, left a folder per run and group there.
        datadir=faust_datadir(settings.group_id),
        producer_acks=-1,
        autodiscover=False,
        broker_commit_interval=1.0,
        broker_max_poll_records=settings.batch_max,  # the largest batch a fetch delivers
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=max(settings.session_timeout_seconds / 5, 0.5),
    )
    metrics.expect_topics(settings.input_topics)
    out = KafkaOut(settings)

    async def rewind(partition: int, applied: Mapping[str, int]) -> dict[str, int]:
        """Seek the partition of every input topic to Redis's applied offset + 1; returns
        topic -> offset. The seek runs in the consumer's thread, where aiokafka's fetcher
        runs (Faust's own ``seek`` calls aiokafka from the app's thread), so that no fetch
        of the old position is delivered after it; Faust's read offset is reset as in its
        seek."""
        consumer: Any = app.consumer
        thread = consumer._thread
        client = thread._ensure_consumer()
        assignment = consumer.assignment()
        sought = {}
        for (name, _), offset in positions({partition: applied}, settings.input_topics).items():
            tp = TP(name, partition)
            if tp in assignment:
                await thread.call_thread(client.seek, TopicPartition(name, partition), offset)
                consumer._read_offset[tp] = offset
                sought[name] = offset
        return sought

    worker = Worker(
        policies=policies,
        store=store,
        metrics=metrics,
        deadletters=out,
        partitions=settings.partitions,
        placement=Placement(settings.partitions),
        topics=settings.topics,
        rewind=rewind,
    )
    topic = app.topic(
        *settings.input_topics,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )

    def highwaters() -> dict[tuple[str, int], int | None]:
        """The broker's next offset per assigned input partition, as of the last fetch."""
        consumer = app.consumer
        marks: dict[tuple[str, int], int | None] = {}
        for tp in consumer.assignment():
            if tp.topic in settings.input_topics:
                try:
                    marks[(tp.topic, tp.partition)] = consumer.highwater(tp)
                except Exception:  # not fetched yet, or being revoked: counted next time
                    continue
        return marks

    publisher = Publisher(
        worker.publish,
        interval=settings.publish_interval_seconds,
        min_gap=settings.publish_min_gap_seconds,
        pacer=Pacer(settings.publish_max_share),
    )

    app.topics.add(topic)  # subscribes the consumer; the records bypass Faust's streams

    freezer = collector.Freezer()

    async def deliver(messages: list[Message]) -> None:
        try:
            await worker.handle(messages)
            freezer.batch_done()
            behind = sum(worker.lag(highwaters()).values())
            publisher.changed(backlog=behind > settings.batch_max)
        except Exception:
            # Not transient (those are retried inside): a bug or corrupt state. Exit so a
            # supervisor restarts us and Kafka redelivers after what Redis holds.
            log.critical("batch failed; exiting", exc_info=True)
            os._exit(70)

    batch_delivery.install_on(app, deliver, settings.fetch_max_wait_ms)

    @app.timer(interval=settings.scan_interval_seconds)  # type: ignore[untyped-decorator]
    async def scan_breaches() -> None:
        if await worker.scan():
            publisher.changed()

    @app.task  # type: ignore[untyped-decorator]
    async def publish_snapshot() -> None:
        await publisher.run()

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def report_lag() -> None:
        worker.report_lag(highwaters())

    guard = StateGuard(store, stopping=worker.stopping)
    # Set once the partitions of the current rebalance are claimed and adopted; Faust's
    # recovery seeks them right after ``on_rebalance_complete``, which waits for it.
    adopted = asyncio.Event()

    def redis_positions() -> dict[TP, int]:
        """Assigned input partition -> the offset after the last one Redis applied."""
        applied = {p: dict(state.offsets) for p, state in worker.states.items()}
        assignment = app.consumer.assignment()
        return {
            TP(topic, partition): offset
            for (topic, partition), offset in positions(applied, settings.input_topics).items()
            if TP(topic, partition) in assignment
        }

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Patches Faust's consumer, once, before anything is delivered: records fetched
        # as a rebalance stops the flow are dropped, and fetched again after this seek.
        seek_after_faust(app.consumer, redis_positions, worker.sought)
        try:
            await adopt(args[0] if args else kwargs.get("assigned", set()))
        finally:
            adopted.set()

    async def adopt(assigned: Any) -> None:
        mine = {tp.partition for tp in assigned if tp.topic in settings.input_topics}
        gone = (worker.owned or set(worker.states)) - mine
        await worker.revoke(gone)
        for partition in sorted(mine - set(worker.states)):
            async with worker.locks[partition]:
                if partition not in worker.states:
                    await guard.claim(partition)  # a partition whose state is gone is wiped
        await worker.assign(mine)

    committed: dict[TP, int] = {}  # what ``commit_positions`` last committed

    @app.on_rebalance_complete.connect
    async def follow_redis(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Commit Redis's positions just before Faust seeks every partition to its committed
        offset: the worker continues after what Redis holds, whatever the group committed
        (Redis emptied, restored from a backup, or offsets reset by an operator)."""
        # adopting waits for Redis; consuming before it is done would be wrong
        while not adopted.is_set():
            if worker.stopping.is_set():
                return
            try:
                await asyncio.wait_for(adopted.wait(), settings.session_timeout_seconds)
            except TimeoutError:
                log.warning("still adopting the assigned partitions (is Redis up?)")
        consumer: Any = app.consumer
        thread = consumer._thread  # the aiokafka consumer thread: commit exactly these
        try:
            # Only where Redis and the group disagree (Redis emptied or restored, offsets
            # reset, or nothing committed yet). The positions themselves are set right
            # after Faust's own seek (``seek_after_faust``).
            wanted = await _disagreeing(thread, redis_positions())
            if wanted and not await thread.commit(wanted):
                log.warning("could not commit Redis's positions (rebalancing again): %s", wanted)
        except Exception as error:  # a newer rebalance took these partitions: it seeks anew
            log.warning("positions from Redis not committed (%r); the next rebalance will", error)
        committed.clear()  # the next commit sends every assigned partition's position

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def commit_positions() -> None:
        """Commit what Redis holds, so that the group's offsets (what lag tools read) follow
        the worker: its batches bypass Faust's acks, from which Faust would commit."""
        if not adopted.is_set():
            return  # rebalancing: ``follow_redis`` commits at its end
        wanted = {tp: at for tp, at in redis_positions().items() if committed.get(tp) != at}
        if not wanted:
            return
        try:
            if await app.consumer._thread.commit(wanted):  # type: ignore[attr-defined]
                committed.update(wanted)
        except Exception as error:  # a rebalance began: the next tick, or its end, commits
            log.info("positions not committed (%r); retrying", error)

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def watch_state() -> None:
        """Consume again what Redis lost (it went back: restored from an older copy), and
        exit for a supervised restart and a rebuild if it lost a partition's marker."""
        for partition in sorted(worker.states):
            async with worker.locks[partition]:
                state = worker.states.get(partition)
                if state is None:
                    continue
                try:
                    problem, missed = await guard.intact(partition, state.offsets, state.writes)
                    for topic in settings.input_topics:  # acknowledged (deleted): back to 0
                        metrics.set_missed_offsets_recorded(topic, partition, missed.get(topic, 0))
                    if problem == BEHIND:
                        await worker.resync(partition)
                except (redis_errors.ConnectionError, redis_errors.TimeoutError, TransientError):
                    return  # Redis is down (or loading): batches retry, /readyz is not ready
                if problem == MARKER_GONE:
                    # Until the restart, a batch starting past Redis's (emptied) offsets
                    # seeks back instead of being applied: nothing is written past a gap.
                    log.critical("partition %d: %s; exiting to rebuild it", partition, problem)
                    os._exit(LOST_STATE_EXIT)

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        adopted.clear()  # a rebalance: the next assignment must be adopted before seeking
        revoked = args[0] if args else kwargs.get("revoked", set())
        await worker.revoke({tp.partition for tp in revoked if tp.topic in settings.input_topics})

    def reply(view: View, result: api.Reply) -> Response:
        status, body = result
        return view.json(body, status=status)

    @app.page("/kpis")
    class Kpis(View):
        async def get(self, request: Request) -> Response:
            raw = await store.read_snapshot()
            snapshot = json.loads(raw) if raw else None
            query = request.query
            return reply(self, api.kpis(snapshot, query.get("window"), query.get("by")))

    @app.page("/tickets/{ticket_id}")
    class Ticket(View):
        async def get(self, request: Request, ticket_id: str) -> Response:
            result = await api.ticket(store, policies, settings.partitions, ticket_id, worker.now())
            return reply(self, result)

    @app.page("/sla/at-risk")
    class AtRisk(View):
        async def get(self, request: Request) -> Response:
            query = parse_query(request.query.items())
            if isinstance(query, str):
                return reply(self, (400, {"error": query}))
            now = worker.now()
            return reply(self, await api.at_risk(store, policies, settings.partitions, now, query))

    intake = Intake(settings.max_body_bytes, settings.post_concurrency, out.send_events)

    @app.page("/events")
    class Events(View):
        async def post(self, request: Request) -> Response:
            raw: Any = request  # aiohttp's request under Faust's thin type
            answer = await intake.post(raw.content_length, raw.content_type, raw.content)
            return self.json(answer.body, status=answer.status, headers=answer.headers)

    @app.page("/metrics")
    class MetricsPage(View):
        async def get(self, request: Request) -> Response:
            text = await render_in_thread(metrics.registry)
            return self.bytes(text, content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    class Healthz(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/readyz")
    class Readyz(View):
        async def get(self, request: Request) -> Response:
            redis_ok = await store.ping()
            kafka_ok = not app.consumer.should_stop if app.consumer else False
            ready = redis_ok and worker.health.assigned
            body = {
                "ready": ready,
                "redis": redis_ok,
                "kafka": kafka_ok,
                "assigned_partitions": sorted(worker.states),
                "last_error": worker.health.last_error,
            }
            return self.json(body, status=200 if ready else 503)

    @app.page("/openapi.json")
    class OpenApi(View):
        async def get(self, request: Request) -> Response:
            return self.json(openapi.document())

    @app.service
    class Closer(faust.Service):
        async def on_stop(self) -> None:
            intake.close()
            await out.stop()

    gate.routes = frozenset(app.web.views)  # the pages above, before Faust adds its own
    server: Any = app.web  # Faust's aiohttp driver
    if gate.middleware not in server.web_app.middlewares:  # never serve the API unguarded
        raise RuntimeError("this Faust does not take web_application_options' middlewares")
    app.conf.web_enabled = True
    metrics.set_up(True)
    return app, worker
