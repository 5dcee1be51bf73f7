"""A Redis Cluster of 3 masters and 3 replicas from the same ``redis-server``, on loopback.

Each node is a ``RedisServer`` with cluster options and ports of its own; the first node forms
the cluster with ``redis-cli --cluster create`` once all six answer (nodes remember it in their
``nodes.conf``, so a later start rejoins without creating again) and reports its health.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass

import redis

from streams.stack.component import MissingDependency, StackError, require_binary
from streams.stack.config import StackConfig
from streams.stack.paths import StackPaths
from streams.stack.ports import HOST, REDIS_CLUSTER_NODES, StackPorts
from streams.stack.redis_server import RedisServer

SLOTS = 16384
# A master unreachable this long is failed over to its replica: short, so a test's kill -9
# is followed by a promotion within seconds; fine on loopback.
NODE_TIMEOUT_MS = 2000


def cluster_url(ports: StackPorts) -> str:
    """``redis+cluster://`` with every node as a start-up node (what the worker is given)."""
    return "redis+cluster://" + ",".join(f"{HOST}:{port}" for port in ports.redis_cluster)


class RedisClusterNode(RedisServer):
    def __init__(self, paths: StackPaths, config: StackConfig, index: int) -> None:
        self.index = index
        self.name = f"redis-{index + 1}"
        super().__init__(paths, config)

    @property
    def port(self) -> int:
        return self.config.ports.redis_cluster[self.index]

    @property
    def bus_port(self) -> int:
        return self.config.ports.redis_cluster_bus[self.index]

    def ports(self) -> tuple[int, ...]:
        return (self.port, self.bus_port)

    def missing(self) -> list[MissingDependency]:
        return super().missing() + require_binary("redis-cli", "redis-tools")

    def extra_args(self) -> list[str]:
        return [
            "--cluster-enabled", "yes",
            "--cluster-port", str(self.bus_port),
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
        ]  # fmt: skip

    def endpoints(self) -> dict[str, str]:
        if self.index:
            return {"node": f"{HOST}:{self.port}"}
        return {"url": cluster_url(self.config.ports)}

    def settle(self, timeout: float) -> None:
        """The first node forms the cluster if it is not formed, then waits until it is ok."""
        if self.index:
            return
        deadline = time.monotonic() + timeout
        if not _formed(self.config.ports.redis_cluster):
            command = [shutil.which("redis-cli") or "redis-cli", "--cluster", "create"]
            command += [f"{HOST}:{port}" for port in self.config.ports.redis_cluster]
            command += ["--cluster-replicas", "1", "--cluster-yes"]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise StackError(f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}")
        while True:
            health = cluster_health(self.config.ports.redis_cluster)
            if health.ok:
                return
            if time.monotonic() > deadline:
                raise StackError(f"the Redis Cluster is not healthy after {timeout:.0f}s: {health}")
            time.sleep(0.2)

    def health(self) -> str:
        return str(cluster_health(self.config.ports.redis_cluster)) if not self.index else ""


def cluster_nodes(paths: StackPaths, config: StackConfig) -> list[RedisClusterNode]:
    return [RedisClusterNode(paths, config, i) for i in range(REDIS_CLUSTER_NODES)]


@dataclass(frozen=True)
class ClusterHealth:
    state: str  # CLUSTER INFO's cluster_state: ok or fail ("down" when no node answers)
    slots_ok: int
    masters: int
    replicas: int
    in_sync: int  # replicas whose link to their master is up

    @property
    def ok(self) -> bool:
        want = REDIS_CLUSTER_NODES // 2
        full = self.masters == want and self.in_sync == self.replicas == want
        return self.state == "ok" and self.slots_ok == SLOTS and full

    def __str__(self) -> str:
        return (
            f"cluster {self.state}: {self.slots_ok}/{SLOTS} slots ok, {self.masters} masters, "
            f"{self.in_sync}/{self.replicas} replicas in sync"
        )


def _client(port: int) -> redis.Redis:
    return redis.Redis(HOST, port, socket_timeout=1, socket_connect_timeout=1)


def _text(reply: object) -> str:
    return reply.decode() if isinstance(reply, bytes) else str(reply)


def _fields(text: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _formed(ports: tuple[int, ...]) -> bool:
    """Whether the nodes already know each other and every slot is assigned."""
    try:
        with _client(ports[0]) as client:
            info = _fields(_text(client.execute_command("CLUSTER", "INFO")))
    except redis.RedisError as err:
        raise StackError(f"redis-1 does not answer CLUSTER INFO: {err}") from err
    known = int(info.get("cluster_known_nodes", 0)) >= len(ports)
    return known and int(info.get("cluster_slots_assigned", 0)) == SLOTS


def cluster_health(ports: tuple[int, ...]) -> ClusterHealth:
    """What the first node that answers says of the cluster, and each replica of its link."""
    for port in ports:
        try:
            with _client(port) as client:
                info = _fields(_text(client.execute_command("CLUSTER", "INFO")))
                nodes = _text(client.execute_command("CLUSTER", "NODES"))
        except redis.RedisError:
            continue
        masters = replicas = in_sync = 0
        for line in nodes.splitlines():
            parts = line.split()
            flags = parts[2].split(",")
            if "fail" in flags or "fail?" in flags:
                continue
            if "master" in flags:
                masters += len(parts) > 8  # a master that serves slots
            elif "slave" in flags:
                replicas += 1
                in_sync += _link_up(int(parts[1].split("@")[0].rsplit(":", 1)[1]))
        slots_ok = int(info.get("cluster_slots_ok", 0))
        return ClusterHealth(info.get("cluster_state", "?"), slots_ok, masters, replicas, in_sync)
    return ClusterHealth("down", 0, 0, 0, 0)


def _link_up(port: int) -> bool:
    try:
        with _client(port) as client:
            replication = client.info("replication")
    except redis.RedisError:
        return False
    return bool(replication.get("master_link_status") == "up")
