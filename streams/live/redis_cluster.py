"""Redis Cluster for the store: a ``redis+cluster://`` URL, and the master each transaction goes to.

A partition's keys share one hash tag, so each batch is a single-slot transaction. redis-py's
asyncio ``RedisCluster`` can run one (``pipeline(transaction=True)``), but its transactional
pipeline resolves every queued command's slot in a new thread with an event loop of its own,
and a batch queues dozens of commands. So a transaction goes, as on a single Redis, through a
plain ``redis.asyncio.Redis`` connected to the master that serves the partition's slot (one
client per master, from ``RedisCluster``'s slot map); everything else (single-key reads, the
plain pipelines that read many partitions) uses ``RedisCluster``, which groups commands by node.

A transaction sent to a node that no longer serves the slot (a failover, a resharding) is
refused whole: ``MOVED``/``ASK`` on ``WATCH``, or ``EXECABORT`` after a ``MOVED`` inside
``MULTI``. Those, ``CLUSTERDOWN`` and connection errors refresh the slot map and become
``TransientError``: the worker sends the same batch again after its backoff, to the new master.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.crc import key_slot

SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


@dataclass(frozen=True, slots=True)
class ClusterAddress:
    """What a ``redis+cluster://[user:password@]host:port[,host:port...]`` URL says."""

    nodes: tuple[tuple[str, int], ...]
    tls: bool
    username: str | None
    password: str | None


def is_cluster_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() in SCHEMES


def parse_cluster_url(url: str) -> ClusterAddress:
    """The start-up nodes and credentials; ``ValueError`` saying what is wrong."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise ValueError("a cluster URL starts with redis+cluster:// or rediss+cluster://")
    userinfo, at, location = rest.rpartition("@")
    hosts, _, path = location.partition("/")
    if path.strip("/") not in ("", "0"):
        raise ValueError("a Redis Cluster has only database 0: leave the path out")
    nodes = []
    for node in hosts.split(","):
        parsed = urlsplit(f"redis://{node}")
        try:
            port = parsed.port or 6379
        except ValueError as err:
            raise ValueError(f"node {node!r}: {err}") from None
        if not parsed.hostname:
            raise ValueError(f"node {node!r}: expected host:port")
        nodes.append((parsed.hostname, port))
    user, _, password = userinfo.partition(":") if at else ("", "", "")
    return ClusterAddress(
        nodes=tuple(nodes),
        tls=scheme.lower() == "rediss+cluster",
        username=unquote(user) or None,
        password=unquote(password) or None,
    )


class SlotMasters:
    """A plain client per master, for the single-slot transactions of a partition."""

    def __init__(self, cluster: RedisCluster, connect: Callable[[ClusterNode], Redis]) -> None:
        self.cluster = cluster
        self._connect = connect
        self._clients: dict[str, Redis] = {}

    async def client_for(self, key: str) -> Redis:
        """The client of the master serving ``key``'s slot now (as far as the map knows)."""
        if self.cluster.nodes_manager.default_node is None:
            await self.cluster.initialize()
        node = self.cluster.nodes_manager.get_node_from_slot(key_slot(key.encode()))
        client = self._clients.get(node.name)
        if client is None:
            client = self._clients[node.name] = self._connect(node)
        return client

    async def refresh(self) -> None:
        """Ask the cluster for its slot map again (after a redirection or a lost master).

        A refresh that reaches no node keeps the old map; the caller's retry tries again.
        """
        try:
            await self.cluster.nodes_manager.initialize()
        except Exception:  # the retry that follows reports what fails
            return

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        await self.cluster.aclose()
