"""``ticketpulse worker``: wires settings, logging, the store, metrics and Faust, then runs."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

import click

from streams import collector, native
from streams.domain.policies import default_policies, load_policies
from streams.errors import ConfigError

# A stopping worker exits within this many seconds of SIGTERM (docker compose waits 30).
SHUTDOWN_SECONDS = 10.0


@click.command()
@click.option("--kafka", "kafka_bootstrap", help="Bootstrap servers [TICKETPULSE_KAFKA_BOOTSTRAP].")
@click.option("--redis-url", help="Redis URL [TICKETPULSE_REDIS_URL].")
@click.option("--redis-prefix", help="Redis key prefix [TICKETPULSE_REDIS_PREFIX].")
@click.option("--web-host", help="HTTP listen address [TICKETPULSE_WEB_HOST].")
@click.option("--web-port", type=int, help="HTTP port for the API and /metrics.")
@click.option(
    "--partitions",
    type=int,
    help="Partitions of the input topics: created so when missing, checked when they exist.",
)
@click.option("--group-id", help="Consumer group / Faust app id [TICKETPULSE_GROUP_ID].")
@click.option(
    "--policies",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SLA policy file; default: the policies shipped with ticketpulse.",
)
@click.option("--log-level", default="info", show_default=True)
def worker(
    kafka_bootstrap: str | None,
    redis_url: str | None,
    redis_prefix: str | None,
    web_host: str | None,
    web_port: int | None,
    partitions: int | None,
    group_id: str | None,
    policies: Path | None,
    log_level: str,
) -> None:
    """Consume support events, keep KPIs and SLA clocks in Redis, serve /kpis and /metrics."""
    import faust
    from aiokafka.errors import KafkaError

    from streams.live import log_format
    from streams.live.app import create_app
    from streams.live.http_guard import unguarded_warning
    from streams.live.metrics import Metrics
    from streams.live.settings import WorkerSettings
    from streams.live.startup_logs import quiet_start
    from streams.live.store import RedisSettings, RedisStore
    from streams.live.topics import ensure_topics

    try:
        settings = WorkerSettings.from_env(
            kafka_bootstrap=kafka_bootstrap,
            redis_url=redis_url,
            redis_prefix=redis_prefix,
            web_host=web_host,
            web_port=web_port,
            partitions=partitions,
            group_id=group_id,
            policies=policies,
        )
        log_format.configure(settings.log_format, log_level)
        policy_set = load_policies(settings.policies) if settings.policies else default_policies()
        asyncio.run(
            ensure_topics(
                settings.kafka_bootstrap,
                (*settings.input_topics, settings.topics.deadletter),
                settings.partitions,
                settings.kafka_auth.aiokafka_options(),
                copartitioned=settings.input_topics,
                replication=settings.kafka_replication_factor,
            )
        )
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    except KafkaError as error:  # unreachable, or refused our credentials (logged just above)
        where = f"{settings.kafka_bootstrap} as {settings.kafka_auth.describe()}"
        raise click.ClickException(f"kafka: cannot connect to {where}: {error}") from error
    domain = native.status()
    logging.getLogger("ticketpulse.worker").info(
        "domain: %s (%s)", "compiled" if domain.compiled else "plain Python", domain.reason
    )
    unguarded = unguarded_warning(settings.web_host, settings.web_port, settings.api_token)
    if unguarded:
        logging.getLogger("ticketpulse.worker").warning("%s", unguarded)
    collector.tune()  # far fewer garbage collections over the worker's cache
    store = RedisStore.from_settings(
        RedisSettings(
            settings.redis_url,
            settings.redis_prefix,
            wait_replicas=settings.redis_wait_replicas,
            wait_timeout_ms=settings.redis_wait_timeout_ms,
        )
    )
    metrics = Metrics(
        agent_labels=settings.agent_labels,
        recent_seconds=settings.recent_sla_seconds,
        label_limit=settings.metrics_label_limit,
        kept_teams=policy_set.named_teams,
        at_risk_mrr=policy_set.at_risk_mrr,
    )
    app, live = create_app(settings, policy_set, store, metrics)
    runner = faust.Worker(
        app,
        loglevel=log_level,
        logging_config=log_format.faust_logging_config(settings.log_format, log_level),
    )
    quiet_start(runner, lambda: not live.health.assigned, sys.stdout)
    if settings.log_format == "json":
        runner.spinner = None  # its frames are not JSON
    stop_within(SHUTDOWN_SECONDS, runner, live.stopping)
    runner.execute_from_commandline()


def stop_within(seconds: float, runner: Any, stopping: asyncio.Event) -> None:
    """Make SIGTERM or SIGINT end Faust's worker process within ``seconds``.

    The signal sets ``stopping`` (retries of Redis give up, so nothing waits for it) and
    Faust stops its services as usual. Should that still hang (a broker or Redis that does
    not answer a close), a timer thread ends the process with code 0 when ``seconds`` have
    passed: nothing is lost, Redis holds what was applied and Kafka redelivers the rest.
    """
    schedule = runner._schedule_shutdown

    def schedule_shutdown(signal: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            timer = threading.Timer(seconds, _give_up, (seconds,))
            timer.daemon = True
            timer.start()
        schedule(signal)

    runner._schedule_shutdown = schedule_shutdown


def _give_up(seconds: float) -> None:
    logging.getLogger("ticketpulse.worker").warning(
        "still stopping %g s after the signal (Redis or Kafka not answering); exiting: "
        "Redis keeps what was applied, Kafka redelivers the rest",
        seconds,
    )
    logging.shutdown()  # flush the handlers: os._exit skips it
    os._exit(0)
