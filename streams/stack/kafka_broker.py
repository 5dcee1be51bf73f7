"""Kafka as KRaft nodes (each broker and controller) run from the Maven Central jars: one, or a
static quorum of several (``--kafka-brokers 3``) sharing one cluster id.

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
from streams.stack.config import StackConfig
from streams.stack.paths import DEPLOY_DIR, StackPaths, cache_dir
from streams.stack.ports import HOST
from streams.stack.probes import kafka_health, kafka_metadata

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


def replication(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) of a cluster of ``brokers`` nodes."""
    factor = min(brokers, 3)
    return factor, max(1, factor - 1)


class KafkaBroker(Component):
    name = "kafka"

    def __init__(self, paths: StackPaths, config: StackConfig, index: int = 0) -> None:
        self.index = index
        if index:
            self.name = f"kafka-{index + 1}"
        super().__init__(paths, config)

    @property
    def port(self) -> int:
        return (
            self.config.ports.kafka_brokers[self.index - 1]
            if self.index
            else self.config.ports.kafka
        )

    @property
    def controller_port(self) -> int:
        ports = self.config.ports
        return ports.kafka_controllers[self.index - 1] if self.index else ports.kafka_controller

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

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
        return (self.port, self.controller_port)

    def _cluster_id(self) -> str:
        """One id for every node: the first node's, kept beside its data."""
        first = self.paths.home(KafkaBroker.name)
        saved = first / "cluster-id"
        if saved.exists():
            return saved.read_text().strip()
        meta = first / "data" / "meta.properties"
        found = (
            [line for line in meta.read_text().splitlines() if line.startswith("cluster.id=")]
            if meta.exists()
            else []
        )
        cluster_id = (
            found[0].split("=", 1)[1]
            if found
            else self._tool("kafka.tools.StorageTool", "random-uuid").strip()
        )
        first.mkdir(parents=True, exist_ok=True)
        saved.write_text(cluster_id + "\n")
        return cluster_id

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

    def properties(self) -> str:
        """This node's ``server.properties``: the template filled in, SASL appended if asked."""
        ports = self.config.ports
        controllers = (ports.kafka_controller, *ports.kafka_controllers)
        factor, min_isr = replication(ports.broker_count)
        values = {
            "node_id": self.index + 1,
            "voters": ",".join(f"{i + 1}@{HOST}:{port}" for i, port in enumerate(controllers)),
            "port": self.port,
            "controller_port": self.controller_port,
            "data_dir": self.data_dir,
            "partitions": self.config.kafka_partitions,
            "replication": factor,
            "min_isr": min_isr,
        }
        properties = Template((KAFKA_DEPLOY / "server.properties").read_text()).substitute(values)
        if self.sasl:
            broker_user, broker_password = self.config.kafka_scram_users[0]
            overlay = Template((KAFKA_DEPLOY / "sasl.properties").read_text()).substitute(
                values, broker_user=broker_user, broker_password=broker_password
            )
            properties += "\n" + overlay
        return properties

    def prepare(self) -> None:
        """Render ``server.properties``; format the storage once (a formatted dir keeps its id)."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "server.properties").write_text(self.properties())
        scram: list[str] = []
        for user, password in self.config.kafka_scram_users:
            scram += ["--add-scram", f"SCRAM-SHA-256=[name={user},password={password}]"]
        nodes = self.data_dir / "ticketpulse-nodes"  # the quorum size it was formatted for
        count = self.config.ports.broker_count
        if (self.data_dir / "meta.properties").exists():
            formatted = int(nodes.read_text()) if nodes.exists() else 1
            if formatted != count:
                dirs = " ".join(str(self.paths.home(n)) for n in ("kafka", "kafka-2", "kafka-3"))
                raise StackError(
                    f"{self.name}: {self.data_dir} holds a Kafka of {formatted} node(s), asked "
                    f"for {count}; a KRaft quorum does not change size in place: start with "
                    f"--kafka-brokers {formatted}, or delete its data (topics and all) with "
                    f"`rm -rf {dirs}` after `ticketpulse stack down`"
                )
            return
        cluster_id = self._cluster_id()
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
        nodes.write_text(f"{count}\n")

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
        brokers = self.config.ports.broker_count
        return kafka_metadata(self.port, options=self.client_options(), brokers=brokers)

    def health(self) -> str:
        if self.index or self.config.ports.broker_count == 1:
            return ""
        return kafka_health(self.port, self.client_options())

    def endpoints(self) -> dict[str, str]:
        if self.sasl:
            users = ", ".join(user for user, _ in self.config.kafka_scram_users)
            return {"bootstrap": self.bootstrap, "sasl": f"SASL_PLAINTEXT SCRAM-SHA-256 ({users})"}
        return {"bootstrap": self.bootstrap}


def kafka_nodes(paths: StackPaths, config: StackConfig) -> list[KafkaBroker]:
    return [KafkaBroker(paths, config, i) for i in range(config.ports.broker_count)]
