"""The worker's settings: defaults for the local stack, overridable by TICKETPULSE_* variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from streams.errors import ConfigError
from streams.kafka_auth import KafkaAuth
from streams.topic_names import DEFAULT_PREFIX, TopicNames

# How old (event time) an SLA outcome may be when the worker first sees it and still count in
# the *_recent_total counters the alerts read: longer than a worker restart or a short Kafka
# backlog, far shorter than a backfill, so that old facts seen now do not page.
RECENT_SLA_SECONDS = 900.0


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    kafka_bootstrap: str = "127.0.0.1:19092"
    # PLAINTEXT, or SASL_PLAINTEXT / SASL_SSL with a mechanism, a user and a password: every
    # Kafka client of the worker uses them (streams/kafka_auth.py checks the combination).
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = ""
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = field(default="", repr=False)
    redis_url: str = "redis://127.0.0.1:6390/0"
    redis_prefix: str = "tp"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    group_id: str = "ticketpulse"
    partitions: int = 4
    # every topic is <prefix><kind> unless its own variable names it (``topics``)
    topic_prefix: str = DEFAULT_PREFIX
    topic_tickets: str = ""
    topic_contacts: str = ""
    topic_surveys: str = ""
    topic_deadletter: str = ""
    policies: Path | None = None
    batch_max: int = 8000  # per fetch, over all partitions: one transaction each
    fetch_max_wait_ms: int = 100  # the broker's longest wait on a fetch (batch_delivery)
    scan_interval_seconds: float = 0.5
    publish_interval_seconds: float = 1.0  # at the latest; sooner after new data
    publish_min_gap_seconds: float = 0.2
    publish_max_share: float = 0.25  # of the time spent publishing, at most (see Pacer)
    max_body_bytes: int = 4 * 1024 * 1024
    post_concurrency: int = 4  # POST /events requests in flight at once; one more gets 503
    # When set, the HTTP API (all but /healthz, /readyz, /metrics) needs "Bearer <token>".
    api_token: str = field(default="", repr=False)
    # How long a produce (a dead letter, POST /events) may wait for Kafka before it fails:
    # POST /events answers 503 then, and a dead letter that cannot be written stops the worker.
    produce_timeout_seconds: float = 30.0
    session_timeout_seconds: float = 10.0
    agent_labels: bool = False
    recent_sla_seconds: float = RECENT_SLA_SECONDS
    # Distinct teams (and agents, with agent_labels) with series of their own in /metrics,
    # besides the teams the policies name; the others share the label value "(other)".
    metrics_label_limit: int = 200

    @property
    def kafka_auth(self) -> KafkaAuth:
        return KafkaAuth.check(
            self.kafka_security_protocol,
            self.kafka_sasl_mechanism,
            self.kafka_sasl_username,
            self.kafka_sasl_password,
        )

    @property
    def topics(self) -> TopicNames:
        return TopicNames.resolve(
            self.topic_prefix,
            tickets=self.topic_tickets,
            contacts=self.topic_contacts,
            surveys=self.topic_surveys,
            deadletter=self.topic_deadletter,
        )

    @property
    def input_topics(self) -> tuple[str, str, str]:
        return self.topics.inputs

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> WorkerSettings:
        """Defaults, then ``TICKETPULSE_<FIELD>`` variables, then explicit overrides."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for spec in fields(cls):
            name = f"TICKETPULSE_{spec.name.upper()}"
            if name in env:
                values[spec.name] = _convert(name, env[name], type(getattr(cls(), spec.name)))
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = replace(cls(), **values)  # type: ignore[arg-type]
        _ = settings.kafka_auth  # a wrong combination fails here, naming the variable
        if settings.fetch_max_wait_ms <= 0:
            raise ConfigError(
                "environment",
                "TICKETPULSE_FETCH_MAX_WAIT_MS",
                f"{settings.fetch_max_wait_ms}: must be a positive number of milliseconds",
            )
        if settings.recent_sla_seconds <= 0:
            raise ConfigError(
                "environment",
                "TICKETPULSE_RECENT_SLA_SECONDS",
                f"{settings.recent_sla_seconds}: must be a positive number of seconds",
            )
        if settings.metrics_label_limit < 1:
            raise ConfigError(
                "environment",
                "TICKETPULSE_METRICS_LABEL_LIMIT",
                f"{settings.metrics_label_limit}: must be at least 1",
            )
        for name in ("max_body_bytes", "post_concurrency"):
            if getattr(settings, name) < 1:
                raise ConfigError(
                    "environment",
                    f"TICKETPULSE_{name.upper()}",
                    f"{getattr(settings, name)}: must be at least 1",
                )
        if not 0 < settings.publish_max_share <= 1:
            raise ConfigError(
                "environment",
                "TICKETPULSE_PUBLISH_MAX_SHARE",
                f"{settings.publish_max_share}: must be in (0, 1]",
            )
        return settings


def _convert(name: str, text: str, kind: type) -> object:
    try:
        if kind is bool:
            if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError("expected true or false")
            return text.lower() in ("1", "true", "yes")
        if kind in (int, float):
            return kind(text)
        if kind is type(None):
            return Path(text)
        return text
    except ValueError as error:
        raise ConfigError("environment", name, f"{text!r}: {error}") from error
