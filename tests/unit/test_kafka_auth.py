"""Kafka authentication from TICKETPULSE_KAFKA_* variables: checked, and applied to every client."""

from __future__ import annotations

import ssl

import faust
import pytest

from streams.emit import Emitter
from streams.errors import ConfigError
from streams.kafka_auth import KafkaAuth
from streams.live.settings import WorkerSettings
from streams.simulator.kafka_sink import KafkaSink

SASL_ENV = {
    "TICKETPULSE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "TICKETPULSE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
    "TICKETPULSE_KAFKA_SASL_USERNAME": "ticketpulse",
    "TICKETPULSE_KAFKA_SASL_PASSWORD": "pw-not-in-logs",
}


def test_plaintext_by_default_adds_nothing() -> None:
    settings = WorkerSettings.from_env({})
    assert settings.kafka_auth == KafkaAuth()
    assert settings.kafka_auth.aiokafka_options() == {}
    assert settings.kafka_auth.faust_credentials() is None


def test_sasl_settings_become_client_options_and_faust_credentials() -> None:
    auth = WorkerSettings.from_env(SASL_ENV).kafka_auth
    assert auth.aiokafka_options() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "ticketpulse",
        "sasl_plain_password": "pw-not-in-logs",
    }
    credentials = auth.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_PLAINTEXT"
    assert credentials.mechanism.value == "SCRAM-SHA-256"
    assert (credentials.username, credentials.password) == ("ticketpulse", "pw-not-in-logs")


def test_sasl_ssl_uses_tls_everywhere() -> None:
    auth = KafkaAuth.from_env({**SASL_ENV, "TICKETPULSE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl"})
    options = auth.aiokafka_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert auth.faust_credentials().protocol.value == "SASL_SSL"


def test_mechanism_defaults_to_scram_sha_256() -> None:
    env = {k: v for k, v in SASL_ENV.items() if not k.endswith("MECHANISM")}
    assert KafkaAuth.from_env(env).sasl_mechanism == "SCRAM-SHA-256"


def test_password_is_in_no_repr() -> None:
    settings = WorkerSettings.from_env(SASL_ENV)
    for text in (repr(settings), repr(settings.kafka_auth), settings.kafka_auth.describe()):
        assert "pw-not-in-logs" not in text
    assert "pw-not-in-logs" not in repr(settings.kafka_auth.faust_credentials())


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"TICKETPULSE_KAFKA_SECURITY_PROTOCOL": "SSL"}, "TICKETPULSE_KAFKA_SECURITY_PROTOCOL"),
        ({"TICKETPULSE_KAFKA_SASL_MECHANISM": "GSSAPI"}, "TICKETPULSE_KAFKA_SASL_MECHANISM"),
        ({"TICKETPULSE_KAFKA_SASL_USERNAME": ""}, "TICKETPULSE_KAFKA_SASL_USERNAME"),
        ({"TICKETPULSE_KAFKA_SASL_PASSWORD": ""}, "TICKETPULSE_KAFKA_SASL_PASSWORD"),
        # Credentials without a SASL protocol would be silently unused: an error instead.
        ({"TICKETPULSE_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}, "TICKETPULSE_KAFKA_SASL_MECHANISM"),
    ],
)
def test_a_wrong_combination_names_the_variable(change: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        WorkerSettings.from_env({**SASL_ENV, **change})
    assert caught.value.key == variable
    assert "pw-not-in-logs" not in str(caught.value)


def test_emitter_and_simulator_sink_read_the_same_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SASL_ENV.items():
        monkeypatch.setenv(name, value)
    for config in (Emitter("k:9092")._config, KafkaSink("k:9092")._config):
        assert config["security_protocol"] == "SASL_PLAINTEXT"
        assert config["sasl_plain_username"] == "ticketpulse"
    # Explicit producer options win over the environment.
    assert Emitter("k:9092", sasl_plain_username="other")._config["sasl_plain_username"] == "other"
