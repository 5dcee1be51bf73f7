"""Redis from Debian's ``redis-server``, on a loopback port with its data in the state dir."""

from __future__ import annotations

import shutil

from streams.stack.component import Component, MissingDependency, require_binary
from streams.stack.ports import HOST
from streams.stack.probes import redis_ping


class RedisServer(Component):
    name = "redis"

    @property
    def port(self) -> int:
        return self.config.ports.redis

    def ports(self) -> tuple[int, ...]:
        return (self.port,)

    def missing(self) -> list[MissingDependency]:
        return require_binary("redis-server", "redis-server")

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [
            shutil.which("redis-server") or "redis-server",
            "--bind", HOST,
            "--port", str(self.port),
            "--dir", str(self.home / "data"),
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            *self.extra_args(),
        ]  # fmt: skip

    def extra_args(self) -> list[str]:
        """More options for a variant (a cluster node)."""
        return []

    def reconfigure(self) -> None:
        """Nothing to re-apply: the command line is its whole config."""

    def ready(self) -> bool:
        return redis_ping(self.port)

    def endpoints(self) -> dict[str, str]:
        return {"url": f"redis://{HOST}:{self.port}/0"}
