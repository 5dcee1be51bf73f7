"""The worker on a Redis Cluster (3 masters, 3 replicas) and a three-broker Kafka (topics at
replication factor 3, min.insync.replicas=2): two workers over 8 partitions equal replay, and
so do they after kill -9 of the master that serves a busy partition's slot mid-stream (four
times in one stream under soak, the killed node back as a replica after each).

One pair of clusters for the module (about 15 s to start); the failover test runs last and
brings each node it killed back as a replica.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from click.testing import CliRunner
from redis.crc import key_slot

from streams.live.redis_cluster import parse_cluster_url
from streams.stack import Component, Stack, StackConfig, StackPaths, StackPorts
from streams.stack.commands import stack as stack_cli
from streams.stack.kafka_broker import kafka_nodes
from streams.stack.redis_cluster import cluster_health, cluster_nodes

from .conftest import own_stack, stack_run
from .harness import (
    Checker,
    FaultRun,
    Fleet,
    LoadProducer,
    assert_nothing_missed,
    assert_substantial,
    busiest_partition,
    simulated_load,
    soak,
)
from .test_outages import kill_minus_nine

PARTITIONS = 8
RATE = 1500.0


def _clusters(paths: StackPaths, config: StackConfig) -> list[Component]:
    return [*cluster_nodes(paths, config), *kafka_nodes(paths, config)]


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ports = StackPorts.free(redis_cluster=True, kafka_brokers=3)
    config = StackConfig(ports=ports, scrape_targets=(), kafka_heap="384m")
    yield from own_stack(tmp_path_factory, "clusters", config, _clusters)


def cluster_client(url: str) -> redis.RedisCluster:
    nodes = [redis.cluster.ClusterNode(host, port) for host, port in parse_cluster_url(url).nodes]
    return redis.RedisCluster(startup_nodes=nodes)


def cluster_run(stack: Stack, tmp_path: Path, name: str) -> FaultRun:
    return stack_run(stack, tmp_path, name, PARTITIONS, TICKETPULSE_KAFKA_REPLICATION_FACTOR="3")


async def replicas_and_min_isr(run: FaultRun) -> tuple[set[int], set[str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=run.bootstrap)
    await admin.start()
    try:
        topics = [run.topics[kind] for kind in ("tickets", "contacts", "surveys", "deadletter")]
        described = await admin.describe_topics(topics)
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics]
        )
    finally:
        await admin.close()
    replicas = {len(p["replicas"]) for t in described for p in t["partitions"]}
    min_isr = {
        str(entry[1])
        for response in configs
        for resource in response.resources
        for entry in resource[4]
        if entry[0] == "min.insync.replicas"
    }
    return replicas, min_isr


def test_two_workers_on_a_redis_cluster_and_three_brokers_equal_replay(
    clusters: Stack, tmp_path: Path
) -> None:
    state = ["--state-dir", str(clusters.paths.state_dir)]
    status = CliRunner().invoke(stack_cli, ["status", *state])  # 3: no Prometheus here
    assert [line.split()[:2] for line in status.output.splitlines()[1:12]] == [
        *([f"redis-{i}", "ready"] for i in range(1, 7)),
        ["alertmanager", "stopped"],
        ["prometheus", "stopped"],
        *([name, "ready"] for name in ("kafka", "kafka-2", "kafka-3")),
    ]
    assert "health: cluster ok: 16384/16384 slots ok, 3 masters, 3/3 replicas in sync" in (
        status.output
    )
    assert "health: kafka: 3 brokers, 0/" in status.output

    run = cluster_run(clusters, tmp_path, "cl2workers")
    fleet = Fleet(run, size=2)
    try:
        fleet.wait_ready()
        records = simulated_load(12_000, RATE, seed=71)
        LoadProducer(run.bootstrap, run.topics, records, RATE).start().join(120)
        checker = Checker(run, cluster_client(run.redis_url))
        snapshot = checker.assert_equal(lambda: list(fleet.workers.values()))
        print(assert_substantial(snapshot), "events", len(records))
        owned = [set(fleet.worker(s).get("/readyz")[1]["assigned_partitions"]) for s in (0, 1)]
        assert owned[0] | owned[1] == set(range(PARTITIONS)) and owned[0] and owned[1]
        assert not fleet.exits, fleet.exits
    finally:
        fleet.close()
    replicas, min_isr = asyncio.run(replicas_and_min_isr(run))
    assert (replicas, min_isr) == ({3}, {"2"})


def node_serving(stack: Stack, client: redis.RedisCluster, key: str) -> str:
    """The stack component name of the master that serves ``key``'s slot now."""
    client.nodes_manager.initialize()
    port = int(client.nodes_manager.get_node_from_slot(key_slot(key.encode())).port)
    return next(c.name for c in stack.components if c.ports()[0] == port)


def wait_promoted(stack: Stack, client: redis.RedisCluster, key: str, victim: str) -> None:
    """Until the cluster is ok again with ``key``'s slot served by another node than
    ``victim``: its replica is promoted once the others mark it failed (node timeout 2 s)."""
    deadline = time.monotonic() + 60
    ports = stack.config.ports.redis_cluster
    while cluster_health(ports).state != "ok" or node_serving(stack, client, key) == victim:
        assert time.monotonic() < deadline, f"no failover: {cluster_health(ports)}"
        time.sleep(0.2)


def test_kill_minus_nine_of_a_busy_partitions_master_fails_over_and_equals_replay(
    clusters: Stack, tmp_path: Path
) -> None:
    """One round (4 in soak) during one stream: kill -9 of the master serving the slot of the
    partition busiest from then on, its replica promoted, the killed node back as a replica."""
    run = cluster_run(clusters, tmp_path, "clfailover")
    client = cluster_client(run.redis_url)
    fleet = Fleet(run, size=2)
    try:
        fleet.wait_ready()
        records = simulated_load(soak(15_000, 260_000), RATE, seed=72)
        producer = LoadProducer(run.bootstrap, run.topics, records, RATE).start()
        victims: list[str] = []
        rounds = soak(1, 4)
        for round_ in range(rounds):
            producer.wait_sent(len(records) * round_ // rounds)  # rounds spread over the stream
            time.sleep(3)
            busy = busiest_partition(records[producer.sent :], PARTITIONS)
            key = f"{{{run.name}:p{busy}}}:off"
            victims.append(node_serving(clusters, client, key))
            assert not producer.done, f"the stream ended before kill {len(victims)}"
            kill_minus_nine(clusters, victims[-1])
            print(f"killed {victims[-1]} (master of {busy}) at {producer.sent} events sent")
            wait_promoted(clusters, client, key, victims[-1])
            clusters.up()  # the killed node rejoins (its nodes.conf), a replica of its successor
        producer.join(180)
        snapshot = Checker(run, client).assert_equal(lambda: list(fleet.workers.values()))
        print(assert_substantial(snapshot), "events", len(records), "killed", victims)
        print("exits", fleet.exits)
        assert_nothing_missed(client, run)
        assert not fleet.unexpected_exits(), fleet.exits
        logs = "".join(f.read_text() for f in run.log_dir.glob(f"{run.name}-worker-*.log"))
        assert "transient failure, retrying" in logs
    finally:
        fleet.close()
        clusters.up()  # a node killed in a failed round rejoins too
