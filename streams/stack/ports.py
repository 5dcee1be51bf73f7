"""Loopback ports of the stack, the demo's fixed set, and free ones for tests."""

from __future__ import annotations

import contextlib
import random
import socket
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
LOWEST_FREE = 10_000  # free ports are chosen from here up to the OS's ephemeral range
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


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
    """Distinct free loopback ports below the OS's ephemeral range; all sockets stay bound
    until every port is chosen.

    Not an ephemeral port (what binding port 0 gives): a client that keeps reconnecting to a
    server that is down (a worker retrying a killed Redis) can be handed that very port as
    its own source port, connect to itself, and hold the port when the server restarts.
    """
    reserved = {port for ports in (DEMO_PORTS,) for port in vars(ports).values()}
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
