"""Loopback ports of the stack, the demo's fixed set, and free ones for tests."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass

HOST = "127.0.0.1"


@dataclass(frozen=True)
class StackPorts:
    """One port per listener. The controller port is never 9093, Alertmanager's default."""

    kafka: int
    kafka_controller: int
    redis: int
    prometheus: int
    alertmanager: int

    @classmethod
    def free(cls) -> StackPorts:
        """Ports the OS reports free right now (a test stack beside a running demo stack)."""
        kafka, controller, redis, prometheus, alertmanager = free_ports(5)
        return cls(kafka, controller, redis, prometheus, alertmanager)


# Off the default ports so a system service or another project's stack does not collide.
DEMO_PORTS = StackPorts(
    kafka=19092, kafka_controller=19093, redis=6390, prometheus=9390, alertmanager=9393
)


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports; all sockets stay bound until every port is chosen."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((HOST, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def is_listening(port: int, host: str = HOST, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
