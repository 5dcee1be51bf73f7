"""Kafka as one KRaft node (broker and controller) run from the Maven Central jars.

``scripts/setup.sh`` copies the jars of the version pinned in ``deploy/kafka/pom.xml`` into the
user's cache; this module reads the same pom, so the version is written down once.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from string import Template

from streams.stack.component import Component, MissingDependency, StackError, require_binary
from streams.stack.paths import DEPLOY_DIR, cache_dir
from streams.stack.ports import HOST
from streams.stack.probes import kafka_metadata

KAFKA_DEPLOY = DEPLOY_DIR / "kafka"
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


@cache
def kafka_version() -> str:
    """``kafka.version`` from ``deploy/kafka/pom.xml``."""
    node = ET.parse(KAFKA_DEPLOY / "pom.xml").find("m:properties/m:kafka.version", _POM_NS)
    if node is None or not node.text:
        raise StackError(f"{KAFKA_DEPLOY / 'pom.xml'}: properties/kafka.version is missing")
    return node.text.strip()


def kafka_home() -> Path:
    """The cache folder of this Kafka version; ``lib/`` holds the jars."""
    return cache_dir() / f"kafka-{kafka_version()}"


def fetched_stamp() -> Path:
    """Written by ``scripts/setup.sh`` after Maven copied every jar, never for a partial copy."""
    return kafka_home() / "fetched"


class KafkaBroker(Component):
    name = "kafka"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.config.ports.kafka}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def sasl(self) -> bool:
        return bool(self.config.kafka_scram_users)

    def client_options(self, user: int = 0) -> dict[str, str]:
        """aiokafka options to connect as the ``user``-th SCRAM user; empty for PLAINTEXT."""
        if not self.sasl:
            return {}
        name, password = self.config.kafka_scram_users[user]
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_plain_username": name,
            "sasl_plain_password": password,
        }

    def ports(self) -> tuple[int, ...]:
        return (self.config.ports.kafka, self.config.ports.kafka_controller)

    def missing(self) -> list[MissingDependency]:
        missing = require_binary("java", "openjdk-17-jre-headless")
        if not fetched_stamp().exists():
            missing.append(
                MissingDependency(
                    f"Kafka {kafka_version()} jars (expected in {kafka_home() / 'lib'})",
                    "make setup",
                )
            )
        return missing

    def _java(self, *args: str, log4j: str = "log4j.properties") -> list[str]:
        return [
            shutil.which("java") or "java",
            f"-Dlog4j.configuration=file:{KAFKA_DEPLOY / log4j}",
            "-cp",
            f"{kafka_home() / 'lib'}/*",
            *args,
        ]

    def _tool(self, *args: str) -> str:
        done = subprocess.run(
            self._java(
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                *args,
                log4j="tools-log4j.properties",
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(f"kafka {' '.join(args[:2])} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def prepare(self) -> None:
        """Render ``server.properties``; format the storage once (a formatted dir keeps its id)."""
        self.home.mkdir(parents=True, exist_ok=True)
        values = {
            "port": self.config.ports.kafka,
            "controller_port": self.config.ports.kafka_controller,
            "data_dir": self.data_dir,
            "partitions": self.config.kafka_partitions,
        }
        properties = Template((KAFKA_DEPLOY / "server.properties").read_text()).substitute(values)
        scram: list[str] = []
        if self.sasl:
            broker_user, broker_password = self.config.kafka_scram_users[0]
            overlay = Template((KAFKA_DEPLOY / "sasl.properties").read_text()).substitute(
                values, broker_user=broker_user, broker_password=broker_password
            )
            properties += "\n" + overlay
            for user, password in self.config.kafka_scram_users:
                scram += ["--add-scram", f"SCRAM-SHA-256=[name={user},password={password}]"]
        (self.home / "server.properties").write_text(properties)
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = self._tool("kafka.tools.StorageTool", "random-uuid").strip()
        self._tool(
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            cluster_id,
            "--config",
            str(self.home / "server.properties"),
            "--ignore-formatted",
            *scram,
        )

    def command(self) -> list[str]:
        return self._java(
            f"-Xmx{self.config.kafka_heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            # C1 only: start-up, which tests and the demo wait for, is twice as fast; a Python
            # client stays the bottleneck (docs/stack.md has the numbers).
            "-XX:TieredStopAtLevel=1",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.paths.logs}",
            "kafka.Kafka",
            str(self.home / "server.properties"),
        )

    def reconfigure(self) -> None:
        """Nothing to re-apply: only the ports shape its config, and they cannot change live."""

    def ready(self) -> bool:
        return kafka_metadata(self.config.ports.kafka, options=self.client_options())

    def endpoints(self) -> dict[str, str]:
        if self.sasl:
            users = ", ".join(user for user, _ in self.config.kafka_scram_users)
            return {"bootstrap": self.bootstrap, "sasl": f"SASL_PLAINTEXT SCRAM-SHA-256 ({users})"}
        return {"bootstrap": self.bootstrap}
