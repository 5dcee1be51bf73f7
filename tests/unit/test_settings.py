"""WorkerSettings.from_env: variables, overrides, and every wrong variable reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.errors import ConfigError, ConfigErrors
from streams.live.redis_cluster import parse_cluster_url
from streams.live.settings import WorkerSettings


def test_variables_convert_and_overrides_win() -> None:
    env = {
        "TICKETPULSE_WEB_PORT": "7000",
        "TICKETPULSE_AGENT_LABELS": "true",
        "TICKETPULSE_POLICIES": "/etc/tp/policies.yml",
        "TICKETPULSE_SCAN_INTERVAL_SECONDS": "0.25",
        "TICKETPULSE_GROUP_ID": "from-env",
        "UNRELATED": "ignored",
    }
    settings = WorkerSettings.from_env(env, group_id="override", web_host=None)
    assert settings.web_port == 7000 and settings.agent_labels is True
    assert settings.policies == Path("/etc/tp/policies.yml")
    assert settings.scan_interval_seconds == 0.25
    assert settings.group_id == "override"  # an override beats its variable
    assert settings.web_host == "127.0.0.1"  # None: not given, the default stays
    assert WorkerSettings.from_env({}) == WorkerSettings()


def test_every_wrong_variable_is_reported_at_once() -> None:
    env = {
        "TICKETPULSE_WEB_PORT": "http",
        "TICKETPULSE_AGENT_LABELS": "maybe",
        "TICKETPULSE_POST_CONCURRENCY": "0",
        "TICKETPULSE_PUBLISH_MAX_SHARE": "2",
        "TICKETPULSE_KAFKA_SASL_MECHANISM": "PLAIN",  # without a SASL protocol
    }
    with pytest.raises(ConfigErrors) as caught:
        WorkerSettings.from_env(env)
    problems = {error.key: error.problem for error in caught.value.errors}
    assert set(problems) == set(env)
    assert problems["TICKETPULSE_WEB_PORT"].startswith("'http': ")
    assert problems["TICKETPULSE_POST_CONCURRENCY"] == "'0': must be at least 1"
    assert problems["TICKETPULSE_PUBLISH_MAX_SHARE"] == "'2': must be in (0, 1]"
    assert all(error.file == "environment" for error in caught.value.errors)
    assert len(str(caught.value).splitlines()) == len(env)  # one line each


def test_secrets_are_in_no_repr_and_no_error() -> None:
    env = {"TICKETPULSE_API_TOKEN": "tok-secret", "TICKETPULSE_KAFKA_SASL_PASSWORD": "pw-secret"}
    with pytest.raises(ConfigError) as caught:  # a password without SASL is an error
        WorkerSettings.from_env({**env, "TICKETPULSE_WEB_PORT": "x"})
    settings = WorkerSettings.from_env({"TICKETPULSE_API_TOKEN": "tok-secret"})
    for text in (str(caught.value), repr(settings), str(settings)):
        assert "tok-secret" not in text and "pw-secret" not in text
    assert settings.api_token == "tok-secret"


def test_settings_are_frozen() -> None:
    settings = WorkerSettings()
    with pytest.raises(ValueError, match="frozen"):
        settings.web_port = 1  # type: ignore[misc]


def test_a_redis_cluster_url_is_checked_at_start_and_names_its_variable() -> None:
    good = "redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2:7001"
    settings = WorkerSettings.from_env(
        {"TICKETPULSE_REDIS_URL": good, "TICKETPULSE_KAFKA_REPLICATION_FACTOR": "3"}
    )
    assert settings.redis_url == good and settings.kafka_replication_factor == 3
    address = parse_cluster_url(good)
    assert address.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    assert (address.username, address.password, address.tls) == ("u", "p@ss", False)
    assert parse_cluster_url("rediss+cluster://h:1/0").tls
    env = {
        "TICKETPULSE_REDIS_URL": "redis+cluster://10.0.0.1:7000/3",
        "TICKETPULSE_KAFKA_REPLICATION_FACTOR": "0",
    }
    with pytest.raises(ConfigErrors) as caught:
        WorkerSettings.from_env(env)
    problems = {error.key: error.problem for error in caught.value.errors}
    assert "only database 0" in problems["TICKETPULSE_REDIS_URL"]
    assert problems["TICKETPULSE_KAFKA_REPLICATION_FACTOR"] == "'0': must be at least 1"
    with pytest.raises(ValueError, match="'h:port'"):
        parse_cluster_url("redis+cluster://h:port")


def test_the_link_send_gap_is_a_second_by_default_and_checked() -> None:
    assert WorkerSettings.from_env({}).link_send_gap_seconds == 1.0
    assert (
        WorkerSettings.from_env({"TICKETPULSE_LINK_SEND_GAP_SECONDS": "0"}).link_send_gap_seconds
        == 0
    )
    with pytest.raises(ConfigErrors) as caught:
        WorkerSettings.from_env({"TICKETPULSE_LINK_SEND_GAP_SECONDS": "-0.5"})
    problems = {error.key: error.problem for error in caught.value.errors}
    assert problems == {"TICKETPULSE_LINK_SEND_GAP_SECONDS": "'-0.5': must be 0 or more seconds"}


def test_redis_wait_is_off_by_default_and_checked() -> None:
    assert WorkerSettings.from_env({}).redis_wait_replicas == 0
    waiting = WorkerSettings.from_env(
        {"TICKETPULSE_REDIS_WAIT_REPLICAS": "1", "TICKETPULSE_REDIS_WAIT_TIMEOUT_MS": "250"}
    )
    assert (waiting.redis_wait_replicas, waiting.redis_wait_timeout_ms) == (1, 250)
    env = {"TICKETPULSE_REDIS_WAIT_REPLICAS": "-1", "TICKETPULSE_REDIS_WAIT_TIMEOUT_MS": "0"}
    with pytest.raises(ConfigErrors) as caught:
        WorkerSettings.from_env(env)
    problems = {error.key: error.problem for error in caught.value.errors}
    assert problems == {
        "TICKETPULSE_REDIS_WAIT_REPLICAS": "'-1': must be 0 or more",
        "TICKETPULSE_REDIS_WAIT_TIMEOUT_MS": "'0': must be between 1 and 4000 milliseconds",
    }
    too_long = {"TICKETPULSE_REDIS_WAIT_TIMEOUT_MS": "5000"}  # past the 5 s Redis timeout
    with pytest.raises(ConfigErrors, match="TICKETPULSE_REDIS_WAIT_TIMEOUT_MS"):
        WorkerSettings.from_env(too_long)
