"""What a stack runs with: ports, scrape targets and a few knobs; saved as ``stack.json``.

Saving it lets ``stack status`` and ``stack down`` find a stack started with other ports, and lets a
second ``stack up`` keep the ports of the first.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from streams.stack.ports import DEMO_PORTS, StackPorts

_JOB = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]*$")
# What --add-scram 'SCRAM-SHA-256=[name=...,password=...]' and a JAAS line take without quoting.
_SCRAM_TEXT = re.compile(r"^[a-zA-Z0-9._-]+$")


@dataclass(frozen=True)
class ScrapeTarget:
    """One Prometheus scrape job with one ``host:port`` address."""

    job: str
    address: str
    metrics_path: str = "/metrics"

    def __post_init__(self) -> None:
        if not _JOB.match(self.job):
            raise ValueError(f"scrape job name {self.job!r}: use letters, digits, _ and -")
        host, sep, port = self.address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"scrape address {self.address!r}: expected host:port")

    @classmethod
    def parse(cls, text: str) -> ScrapeTarget:
        """``job=host:port[/path]`` as given on the command line."""
        job, sep, rest = text.partition("=")
        if not sep:
            raise ValueError(f"scrape target {text!r}: expected job=host:port[/path]")
        address, slash, path = rest.partition("/")
        return cls(job, address, f"/{path}" if slash else "/metrics")


# The worker's metrics endpoint in the demo (added to the stack by a later issue).
DEMO_TARGETS = (ScrapeTarget("ticketpulse", "127.0.0.1:6066"),)


@dataclass(frozen=True)
class StackConfig:
    ports: StackPorts = DEMO_PORTS
    scrape_targets: tuple[ScrapeTarget, ...] = DEMO_TARGETS
    scrape_interval: str = "5s"
    rule_files: tuple[str, ...] = ()
    kafka_heap: str = "512m"
    kafka_partitions: int = 4
    # Opt-in: (user, password) pairs. When given, Kafka's client port requires SASL_PLAINTEXT
    # with SCRAM-SHA-256 and these users (the first is the broker's own); empty = PLAINTEXT.
    kafka_scram_users: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for user, password in self.kafka_scram_users:
            for what, text in (("user", user), ("password", password)):
                if not _SCRAM_TEXT.match(text):
                    raise ValueError(
                        f"kafka_scram_users: a {what} must be letters, digits, '.', '_' or '-'"
                    )

    def with_targets(self, targets: tuple[ScrapeTarget, ...]) -> StackConfig:
        return replace(self, scrape_targets=targets)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StackConfig:
        raw: dict[str, Any] = json.loads(text)
        return cls(
            ports=StackPorts.from_dict(raw["ports"]),
            scrape_targets=tuple(ScrapeTarget(**t) for t in raw["scrape_targets"]),
            scrape_interval=raw["scrape_interval"],
            rule_files=tuple(raw["rule_files"]),
            kafka_heap=raw["kafka_heap"],
            kafka_partitions=raw["kafka_partitions"],
            kafka_scram_users=tuple(
                (str(user), str(password)) for user, password in raw.get("kafka_scram_users", ())
            ),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: Path) -> StackConfig | None:
        return cls.from_json(path.read_text()) if path.exists() else None
