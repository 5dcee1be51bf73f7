"""The worker's settings: defaults for the local stack, overridable by TICKETPULSE_* variables.

A pydantic-settings model: ``from_env`` reads ``TICKETPULSE_<FIELD>`` from the environment (or
a given mapping), converts and checks every value, and reports every wrong variable at once as
``ConfigErrors``. Built directly (``WorkerSettings(field=...)``) it reads no variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from streams.errors import ConfigError, ConfigErrors
from streams.kafka_auth import KafkaAuth
from streams.live.log_format import LogFormat
from streams.live.redis_cluster import is_cluster_url, parse_cluster_url
from streams.topic_names import DEFAULT_PREFIX, TopicNames

ENV_PREFIX = "TICKETPULSE_"

# How old (event time) an SLA outcome may be when the worker first sees it and still count in
# the *_recent_total counters the alerts read: longer than a worker restart or a short Kafka
# backlog, far shorter than a backfill, so that old facts seen now do not page.
RECENT_SLA_SECONDS = 900.0


def _rule(holds: Callable[[Any], bool], problem: str) -> AfterValidator:
    """A check whose error reads as ``problem``, without pydantic's "Value error, " prefix."""

    def check(value: Any) -> Any:
        if not holds(value):
            raise PydanticCustomError("setting", problem)
        return value

    return AfterValidator(check)


PositiveSeconds = Annotated[float, _rule(lambda v: v > 0, "must be a positive number of seconds")]
PositiveMilliseconds = Annotated[
    int, _rule(lambda v: v > 0, "must be a positive number of milliseconds")
]
AtLeastOne = Annotated[int, _rule(lambda v: v >= 1, "must be at least 1")]
AtLeastZero = Annotated[int, _rule(lambda v: v >= 0, "must be 0 or more")]
AtLeastZeroSeconds = Annotated[float, _rule(lambda v: v >= 0, "must be 0 or more seconds")]
# WAIT must answer within the Redis client's 5 s socket timeout.
WaitMilliseconds = Annotated[
    int, _rule(lambda v: 0 < v <= 4000, "must be between 1 and 4000 milliseconds")
]
Share = Annotated[float, _rule(lambda v: 0 < v <= 1, "must be in (0, 1]")]


def _redis_url(value: str) -> str:
    """A ``redis+cluster://`` URL's nodes are checked here, before anything connects."""
    if is_cluster_url(value):
        try:
            parse_cluster_url(value)
        except ValueError as error:
            raise PydanticCustomError("setting", str(error)) from None
    return value


RedisUrl = Annotated[str, AfterValidator(_redis_url)]


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    kafka_bootstrap: str = "127.0.0.1:19092"
    # PLAINTEXT, or SASL_PLAINTEXT / SASL_SSL with a mechanism, a user and a password: every
    # Kafka client of the worker uses them (streams/kafka_auth.py checks the combination).
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = ""
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = Field(default="", repr=False)
    # redis+cluster://host:port,host:port... selects a Redis Cluster (docs/redis.md)
    redis_url: RedisUrl = "redis://127.0.0.1:6390/0"
    redis_prefix: str = "tp"
    # WAIT after each batch's EXEC: Kafka offsets are committed only once that many replicas
    # hold the batch (0: off; docs/redis.md, "Replicas and WAIT")
    redis_wait_replicas: AtLeastZero = 0
    redis_wait_timeout_ms: WaitMilliseconds = 1000
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    group_id: str = "ticketpulse"
    partitions: int = 4
    kafka_replication_factor: AtLeastOne = 1  # of the topics the worker creates
    # every topic is <prefix><kind> unless its own variable names it (``topics``)
    topic_prefix: str = DEFAULT_PREFIX
    topic_tickets: str = ""
    topic_contacts: str = ""
    topic_surveys: str = ""
    topic_deadletter: str = ""
    topic_accounts: str = ""  # account events: consumed, and where ``POST /events`` produces them
    topic_account_support: str = ""
    policies: Path | None = None
    batch_max: int = 8000  # per fetch, over all partitions: one transaction each
    fetch_max_wait_ms: PositiveMilliseconds = 100  # the broker's longest wait on a fetch
    scan_interval_seconds: float = 0.5
    publish_interval_seconds: float = 1.0  # at the latest; sooner after new data
    publish_min_gap_seconds: float = 0.2
    # the shortest time between two sends of a partition's links to its tickets' accounts:
    # a ticket changed by several batches meanwhile is sent once (docs/accounts.md)
    link_send_gap_seconds: AtLeastZeroSeconds = 1.0
    publish_max_share: Share = 0.25  # of the time spent publishing, at most (see Pacer)
    max_body_bytes: AtLeastOne = 4 * 1024 * 1024
    post_concurrency: AtLeastOne = 4  # POST /events requests in flight at once; one more: 503
    # When set, the HTTP API (all but /healthz, /readyz, /metrics) needs "Bearer <token>".
    api_token: str = Field(default="", repr=False)
    # How long a produce (a dead letter, POST /events) may wait for Kafka before it fails:
    # POST /events answers 503 then, and a dead letter that cannot be written stops the worker.
    produce_timeout_seconds: float = 30.0
    session_timeout_seconds: float = 10.0
    agent_labels: bool = False
    log_format: LogFormat = "text"  # or json: one object per line (streams/live/log_format.py)
    recent_sla_seconds: PositiveSeconds = RECENT_SLA_SECONDS
    # Distinct teams (and agents, with agent_labels) with series of their own in /metrics,
    # besides the teams the policies name; the others share the label value "(other)".
    metrics_label_limit: AtLeastOne = 200

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the given values: the variables come in through ``from_env``."""
        return (init_settings,)

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
            accounts=self.topic_accounts,
            account_support=self.topic_account_support,
        )

    @property
    def input_topics(self) -> tuple[str, ...]:
        """The topics the worker consumes (``TopicNames.consumed``)."""
        return self.topics.consumed

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> WorkerSettings:
        """Defaults, then ``TICKETPULSE_<FIELD>`` variables, then explicit overrides (None:
        not given). Raises ``ConfigErrors`` naming every wrong variable (never a secret)."""
        values = _Variables(cls, os.environ if env is None else env)()
        values.update({k: v for k, v in overrides.items() if v is not None})
        problems: list[ConfigError] = []
        try:
            settings = cls(**values)
        except ValidationError as error:
            problems.extend(_problem(cls, detail) for detail in error.errors())
            settings = cls.model_construct(**values)  # unchecked: only the Kafka strings are read
        try:
            _ = settings.kafka_auth  # a wrong combination names its variable
        except ConfigError as error:
            problems.append(error)
        if problems:
            raise ConfigErrors(problems)
        return settings


class _Variables(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env = env  # read by _load_env_vars, which the base __init__ calls
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._env, False, self.env_ignore_empty, self.env_parse_none_str)


def _problem(settings_cls: type[WorkerSettings], detail: Any) -> ConfigError:
    """One pydantic error as a ConfigError naming the variable; a secret's value is not shown."""
    field = str(detail["loc"][0]) if detail["loc"] else ""
    info = settings_cls.model_fields.get(field)
    shown = "" if info is not None and not info.repr else f"{detail['input']!r}: "
    return ConfigError("environment", f"{ENV_PREFIX}{field.upper()}", f"{shown}{detail['msg']}")
