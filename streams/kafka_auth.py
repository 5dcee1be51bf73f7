"""How ticketpulse's Kafka clients authenticate: PLAINTEXT, or SASL (SCRAM or PLAIN) with or
without TLS, from the ``TICKETPULSE_KAFKA_*`` variables.

One ``KafkaAuth`` value feeds every client: Faust's consumer and producer
(``faust_credentials``), and the aiokafka producer, admin client and consumers
(``aiokafka_options``). The password is never part of a repr, a log line or an error.
Neither faust nor aiokafka is imported here until a client is configured.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.errors import ConfigError

SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN")

PROTOCOL_VAR = "TICKETPULSE_KAFKA_SECURITY_PROTOCOL"
MECHANISM_VAR = "TICKETPULSE_KAFKA_SASL_MECHANISM"
USERNAME_VAR = "TICKETPULSE_KAFKA_SASL_USERNAME"
PASSWORD_VAR = "TICKETPULSE_KAFKA_SASL_PASSWORD"


@dataclass(frozen=True, slots=True)
class KafkaAuth:
    """A checked combination; build it with ``check`` or ``from_env``."""

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def sasl(self) -> bool:
        return self.security_protocol != "PLAINTEXT"

    @classmethod
    def check(
        cls, security_protocol: str, sasl_mechanism: str, username: str, password: str
    ) -> KafkaAuth:
        """Validate; a ConfigError names the variable to fix (never shows the password)."""
        protocol = (security_protocol or "PLAINTEXT").strip().upper()
        if protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(
                "environment",
                PROTOCOL_VAR,
                f"{security_protocol!r}: expected one of {', '.join(SECURITY_PROTOCOLS)}",
            )
        mechanism = sasl_mechanism.strip().upper()
        if protocol == "PLAINTEXT":
            given = [
                name
                for name, value in (
                    (MECHANISM_VAR, mechanism),
                    (USERNAME_VAR, username),
                    (PASSWORD_VAR, password),
                )
                if value
            ]
            if given:
                raise ConfigError(
                    "environment",
                    given[0],
                    f"set, but {PROTOCOL_VAR} is PLAINTEXT (no authentication); "
                    "set it to SASL_PLAINTEXT or SASL_SSL",
                )
            return cls()
        mechanism = mechanism or "SCRAM-SHA-256"
        if mechanism not in SASL_MECHANISMS:
            raise ConfigError(
                "environment",
                MECHANISM_VAR,
                f"{sasl_mechanism!r}: expected one of {', '.join(SASL_MECHANISMS)}",
            )
        for name, value in ((USERNAME_VAR, username), (PASSWORD_VAR, password)):
            if not value:
                raise ConfigError("environment", name, f"required when {PROTOCOL_VAR}={protocol}")
        return cls(protocol, mechanism, username, password)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KafkaAuth:
        env = os.environ if env is None else env
        return cls.check(
            env.get(PROTOCOL_VAR, ""),
            env.get(MECHANISM_VAR, ""),
            env.get(USERNAME_VAR, ""),
            env.get(PASSWORD_VAR, ""),
        )

    def aiokafka_options(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer/Consumer/AdminClient; empty for PLAINTEXT."""
        if not self.sasl:
            return {}
        options: dict[str, Any] = {
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }
        if self.security_protocol == "SASL_SSL":
            options["ssl_context"] = ssl.create_default_context()
        return options

    def faust_credentials(self) -> Any:
        """``faust.SASLCredentials`` for the app's ``broker_credentials``; None for PLAINTEXT."""
        if not self.sasl:
            return None
        import faust

        return faust.SASLCredentials(
            username=self.username,
            password=self.password,
            mechanism=self.sasl_mechanism,
            # A context makes faust use SASL_SSL; without one it is SASL_PLAINTEXT.
            ssl_context=(
                ssl.create_default_context() if self.security_protocol == "SASL_SSL" else None
            ),
        )

    def describe(self) -> str:
        """For logs: protocol, mechanism and user, never the password."""
        if not self.sasl:
            return "PLAINTEXT"
        return f"{self.security_protocol} {self.sasl_mechanism} user {self.username!r}"
