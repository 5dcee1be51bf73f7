"""The Faust application, wired: the consumer feeds ``Worker``, Faust serves the HTTP API.

Faust runs the consumer group over the three co-partitioned topics; each fetched batch goes
whole, as raw bytes, to ``Worker.handle`` (``streams.live.batch_delivery``), which returns
once Redis holds it. Nothing passes through Faust's streams and acks, so an exception or a
shutdown mid-batch cannot ack a message that was not applied (the pitfall of faust-streaming
#189/#315), nor can acks leave gaps (#312/#606): the group's committed offsets are Redis's
positions, committed every second and at each rebalance.

This module only builds and connects the parts: the rebalance and commit handling is in
``streams.live.rebalance`` (over ``streams.live.consumer``), the producer of dead letters
and ``POST /events`` in ``streams.live.kafka_out``, the pages in ``streams.live.routes``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import faust

from streams import collector
from streams.domain.policies import PolicySet
from streams.live import batch_delivery, fetch_skips, routes
from streams.live.batch import Message
from streams.live.consumer import FaustConsumer
from streams.live.http_guard import Guard
from streams.live.intake import Intake
from streams.live.kafka_out import KafkaOut
from streams.live.metrics import Metrics
from streams.live.placement import Placement
from streams.live.publisher import Pacer, Publisher
from streams.live.rebalance import Rebalance
from streams.live.recovery import StateGuard
from streams.live.settings import WorkerSettings
from streams.live.store import RedisStore
from streams.live.worker import Worker

log = logging.getLogger(__name__)


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
    """The Faust app with the worker, its timers, rebalance handling and pages connected."""
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
        topic_replication_factor=settings.kafka_replication_factor,
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
    consumer = FaustConsumer(app, settings.input_topics)
    worker = Worker(
        policies=policies,
        store=store,
        metrics=metrics,
        deadletters=out,
        links=out,
        link_gap=settings.link_send_gap_seconds,
        partitions=settings.partitions,
        placement=Placement(settings.partitions),
        topics=settings.topics,
        rewind=consumer.rewind,
        skips=fetch_skips.install(),
    )
    topic = app.topic(
        *settings.input_topics,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )
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
            behind = sum(worker.lag(consumer.highwaters()).values())
            publisher.changed(backlog=behind > settings.batch_max)
        except Exception:
            # Not transient (those are retried inside): a bug or corrupt state. Exit so a
            # supervisor restarts us and Kafka redelivers after what Redis holds.
            log.critical("batch failed; exiting", exc_info=True)
            os._exit(70)

    batch_delivery.install_on(app, deliver, settings.fetch_max_wait_ms, committed_only=True)

    @app.timer(interval=settings.scan_interval_seconds)  # type: ignore[untyped-decorator]
    async def scan_breaches() -> None:
        if await worker.scan():
            publisher.changed()

    @app.task  # type: ignore[untyped-decorator]
    async def publish_snapshot() -> None:
        await publisher.run()

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def report_lag() -> None:
        worker.report_lag(consumer.highwaters())

    guard = StateGuard(store, stopping=worker.stopping)
    Rebalance(app, consumer, worker, guard, settings, metrics).connect()

    intake = Intake(settings.max_body_bytes, settings.post_concurrency, out.send_events)
    routes.register(
        app,
        settings=settings,
        policies=policies,
        store=store,
        worker=worker,
        metrics=metrics,
        intake=intake,
    )

    @app.service
    class Closer(faust.Service):
        async def on_stop(self) -> None:
            intake.close()
            await out.stop()

    gate.routes = frozenset(app.web.views)  # the pages of routes, before Faust adds its own
    server: Any = app.web  # Faust's aiohttp driver
    if gate.middleware not in server.web_app.middlewares:  # never serve the API unguarded
        raise RuntimeError("this Faust does not take web_application_options' middlewares")
    app.conf.web_enabled = True
    metrics.set_up(True)
    return app, worker
