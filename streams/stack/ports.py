"""Loopback ports of the stack, the demo's fixed set, and free ones for tests."""

from __future__ import annotations

import contextlib
import random
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
LOWEST_FREE = 10_000  # free ports are chosen from here up to the OS's ephemeral range
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


REDIS_CLUSTER_NODES = 6  # 3 masters, each with one replica


@dataclass(frozen=True)
class StackPorts:
    """One port per listener. The controller port is never 9093, Alertmanager's default.

    The ports also say the stack's shape: ``redis_cluster`` (client ports, with the cluster
    bus ports in ``redis_cluster_bus``) non-empty means a Redis Cluster instead of the single
    Redis, and ``kafka_brokers`` (with ``kafka_controllers``) are the KRaft nodes after the
    first, so a saved ``stack.json`` restarts the same shape.
    """

    kafka: int
    kafka_controller: int
    redis: int
    prometheus: int
    alertmanager: int
    redis_cluster: tuple[int, ...] = ()
    redis_cluster_bus: tuple[int, ...] = ()
    kafka_brokers: tuple[int, ...] = ()
    kafka_controllers: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.redis_cluster) not in (0, REDIS_CLUSTER_NODES):
            raise ValueError(f"a Redis Cluster has {REDIS_CLUSTER_NODES} nodes here")
        if len(self.redis_cluster_bus) != len(self.redis_cluster):
            raise ValueError("every Redis Cluster node needs a client and a bus port")
        if len(self.kafka_controllers) != len(self.kafka_brokers):
            raise ValueError("every Kafka node needs a broker and a controller port")

    @property
    def broker_count(self) -> int:
        return 1 + len(self.kafka_brokers)

    def all(self) -> list[int]:
        return [p for value in vars(self).values() for p in _flat(value)]

    @classmethod
    def free(cls, redis_cluster: bool = False, kafka_brokers: int = 1) -> StackPorts:
        """Ports the OS reports free right now (a test stack beside a running demo stack)."""
        nodes = REDIS_CLUSTER_NODES if redis_cluster else 0
        extra = kafka_brokers - 1
        ports = free_ports(5 + 2 * nodes + 2 * extra)
        kafka, controller, redis, prometheus, alertmanager = ports[:5]
        rest = ports[5:]
        return cls(
            kafka,
            controller,
            redis,
            prometheus,
            alertmanager,
            redis_cluster=tuple(rest[:nodes]),
            redis_cluster_bus=tuple(rest[nodes : 2 * nodes]),
            kafka_brokers=tuple(rest[2 * nodes : 2 * nodes + extra]),
            kafka_controllers=tuple(rest[2 * nodes + extra :]),
        )

    def free_again(self) -> StackPorts:
        """New free ports for a stack of the same shape."""
        return StackPorts.free(bool(self.redis_cluster), self.broker_count)

    def shaped(self, redis_cluster: bool, kafka_brokers: int) -> StackPorts:
        """These ports with the demo's cluster ports added or dropped to fit the shape."""
        if kafka_brokers < 1:
            raise ValueError("--kafka-brokers must be at least 1")
        cluster = bool(self.redis_cluster)
        nodes = REDIS_CLUSTER_NODES if redis_cluster else 0
        first = DEMO_PORTS.redis + 1  # 6391..6396, their bus ports 16391..16396
        extra = range(kafka_brokers - 1)
        return replace(
            self,
            redis_cluster=self.redis_cluster if cluster == redis_cluster
            else tuple(range(first, first + nodes)),
            redis_cluster_bus=self.redis_cluster_bus if cluster == redis_cluster
            else tuple(range(first + 10_000, first + 10_000 + nodes)),
            kafka_brokers=self.kafka_brokers if len(self.kafka_brokers) == len(extra)
            else tuple(DEMO_PORTS.kafka + 2 + 2 * i for i in extra),  # 19094, 19096, ...
            kafka_controllers=self.kafka_controllers if len(self.kafka_brokers) == len(extra)
            else tuple(DEMO_PORTS.kafka + 3 + 2 * i for i in extra),  # 19095, 19097, ...
        )  # fmt: skip

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StackPorts:
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        return cls(**values)


def _flat(value: int | tuple[int, ...]) -> tuple[int, ...]:
    return value if isinstance(value, tuple) else (value,)


# Off the default ports so a system service or another project's stack does not collide.
DEMO_PORTS = StackPorts(
    kafka=19092, kafka_controller=19093, redis=6390, prometheus=9390, alertmanager=9393
)


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports below the OS's ephemeral range; all sockets stay bound
    until every port is chosen.

    Not an ephemeral port (what binding port 0 gives): a client that keeps reconnecting to a
    server that is down (a worker retrying a killed Redis) can be handed that very port as
    its own source port, connect to itself, and hold the port when the server restarts.
    """
    demo = DEMO_PORTS.shaped(redis_cluster=True, kafka_brokers=3)
    reserved = set(demo.all())
    candidates = [p for p in range(LOWEST_FREE, ephemeral_low()) if p not in reserved]
    random.SystemRandom().shuffle(candidates)
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for port in candidates:
            if len(ports) == count:
                break
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            ports.append(port)
        while len(ports) < count:  # no room below the ephemeral range: any free port
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((HOST, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def ephemeral_low() -> int:
    """The first port of the OS's ephemeral (client) range; Linux's default when unknown."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def is_listening(port: int, host: str = HOST, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
