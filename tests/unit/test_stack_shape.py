"""The stack's shape (one Redis or a Redis Cluster, one or three Kafka nodes) from its ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.stack import DEMO_PORTS, StackConfig, StackError, StackPaths, StackPorts
from streams.stack.kafka_broker import kafka_nodes
from streams.stack.stack import Stack, default_components


def names(ports: StackPorts) -> list[str]:
    config = StackConfig(ports=ports)
    return [c.name for c in default_components(StackPaths(Path("/nonexistent")), config)]


def test_the_default_stack_is_one_redis_and_one_kafka() -> None:
    assert names(DEMO_PORTS) == ["redis", "alertmanager", "prometheus", "kafka"]


def test_a_cluster_shape_runs_six_redis_nodes_and_three_kafka_nodes_on_distinct_ports() -> None:
    ports = DEMO_PORTS.shaped(redis_cluster=True, kafka_brokers=3)
    assert names(ports) == [
        *(f"redis-{i}" for i in range(1, 7)),
        "alertmanager",
        "prometheus",
        "kafka",
        "kafka-2",
        "kafka-3",
    ]
    assert ports.redis_cluster == (6391, 6392, 6393, 6394, 6395, 6396)
    assert ports.redis_cluster_bus == tuple(p + 10_000 for p in ports.redis_cluster)
    assert (ports.kafka_brokers, ports.kafka_controllers) == ((19094, 19096), (19095, 19097))
    assert len(set(ports.all())) == len(ports.all()) == 5 + 12 + 4
    free = StackPorts.free(redis_cluster=True, kafka_brokers=3)
    assert len(set(free.all())) == 21 and free.free_again().broker_count == 3
    # back to the default shape: the cluster ports go, the others stay
    assert ports.shaped(redis_cluster=False, kafka_brokers=1) == DEMO_PORTS


def test_the_shape_is_saved_with_the_ports(tmp_path: Path) -> None:
    config = StackConfig(ports=StackPorts.free(redis_cluster=True, kafka_brokers=3))
    config.save(tmp_path / "stack.json")
    assert StackConfig.load(tmp_path / "stack.json") == config
    addresses = Stack(tmp_path, config).addresses
    assert addresses.redis_url.startswith("redis+cluster://127.0.0.1:")
    assert addresses.redis_url.count(",") == 5
    assert addresses.bootstrap_servers.count(",") == 2


def test_three_kafka_nodes_form_one_quorum_with_replication_three_and_two_in_sync() -> None:
    config = StackConfig(ports=DEMO_PORTS.shaped(redis_cluster=False, kafka_brokers=3))
    nodes = kafka_nodes(StackPaths(Path("/state")), config)
    rendered = [
        dict(
            line.split("=", 1)
            for line in n.properties().splitlines()
            if "=" in line and not line.startswith("#")
        )
        for n in nodes
    ]
    voters = "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    assert [r["node.id"] for r in rendered] == ["1", "2", "3"]
    assert {r["controller.quorum.voters"] for r in rendered} == {voters}
    assert [r["listeners"] for r in rendered][1] == (
        "PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095"
    )
    assert [r["log.dirs"] for r in rendered] == [
        "/state/kafka/data",
        "/state/kafka-2/data",
        "/state/kafka-3/data",
    ]
    for r in rendered:
        assert r["default.replication.factor"] == r["offsets.topic.replication.factor"] == "3"
        assert r["min.insync.replicas"] == r["transaction.state.log.min.isr"] == "2"
    single = kafka_nodes(StackPaths(Path("/state")), StackConfig())[0].properties()
    assert "min.insync.replicas=1\n" in single and "default.replication.factor=1\n" in single


def test_a_kafka_node_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DEMO_PORTS.shaped(redis_cluster=False, kafka_brokers=0)


def test_a_kafka_formatted_for_another_quorum_size_is_refused_with_what_to_do(
    tmp_path: Path,
) -> None:
    """Starting 3 nodes over a single node's data (or back) makes KRaft exit with an
    IllegalStateException; ``up`` refuses first and says how to start afresh."""
    paths = StackPaths(tmp_path)
    data = paths.home("kafka") / "data"
    data.mkdir(parents=True)
    (data / "meta.properties").write_text("cluster.id=x\n")  # formatted before, for 1 node
    three = StackConfig(ports=DEMO_PORTS.shaped(redis_cluster=False, kafka_brokers=3))
    with pytest.raises(StackError, match=r"holds a Kafka of 1 node\(s\), asked for 3") as err:
        kafka_nodes(paths, three)[0].prepare()
    assert "--kafka-brokers 1" in str(err.value) and "rm -rf" in str(err.value)
    (data / "ticketpulse-nodes").write_text("3\n")
    kafka_nodes(paths, three)[0].prepare()  # the same size: nothing to format, no error
    with pytest.raises(StackError, match="holds a Kafka of 3 node"):
        kafka_nodes(paths, StackConfig())[0].prepare()
