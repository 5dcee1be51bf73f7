"""The local stack serves real clients: Kafka round trip, Redis, a Prometheus scrape, Alertmanager.

Also the lifecycle promises of ``ticketpulse stack``: a second ``up`` starts no second copy,
``down`` stops only what the state dir started, a missing binary names its install command.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from click.testing import CliRunner
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from streams.stack import (
    MissingDependency,
    ScrapeTarget,
    Stack,
    StackConfig,
    StackError,
    StackPaths,
    StackPorts,
    process,
)
from streams.stack.alertmanager_server import Alertmanager
from streams.stack.commands import stack as stack_cli
from streams.stack.component import Component, MissingDependencies
from streams.stack.ports import free_ports, is_listening
from streams.stack.redis_server import RedisServer

pytestmark = pytest.mark.integration


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _prom_query(base: str, query: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    body = _get_json(url)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _poll(what: str, check: Any, timeout: float = 30.0) -> Any:
    """Call ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


async def test_kafka_produce_and_consume(kafka_bootstrap: str) -> None:
    topic = f"stack-test-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b'{"n": 1}', key=b"T-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        received = await asyncio.wait_for(consumer.getone(), timeout=30)
        partitions = consumer.partitions_for_topic(topic)
    finally:
        await consumer.stop()
    assert (received.key, received.value) == (b"T-1", b'{"n": 1}')
    assert (received.partition, received.offset) == (sent.partition, sent.offset)
    assert partitions == {0, 1}


async def test_redis_write_and_read(stack: Stack) -> None:
    client = aioredis.from_url(stack.addresses.redis_url)
    try:
        await client.hset("stack-test:hash", mapping={"a": "1", "b": "2"})
        await client.set("stack-test:key", "value", ex=60)
        assert await client.hgetall("stack-test:hash") == {b"a": b"1", b"b": b"2"}
        assert await client.get("stack-test:key") == b"value"
        info = await client.info("server")
    finally:
        await client.aclose()
    assert info["tcp_port"] == stack.config.ports.redis


async def test_redis_only_fixture_is_a_separate_server(redis_url: str, stack: Stack) -> None:
    assert redis_url != stack.addresses.redis_url
    client = aioredis.from_url(redis_url)
    try:
        assert await client.ping()
        assert await client.incr("stack-test:counter") == 1
    finally:
        await client.aclose()


@pytest.fixture
def metrics_endpoint() -> Iterator[tuple[str, float]]:
    """A prometheus_client HTTP server on a free port exposing one gauge with a known value."""
    registry = CollectorRegistry()
    value = 1234.5
    Gauge(
        "ticketpulse_stack_probe_value", "Known value for the scrape test.", registry=registry
    ).set(value)
    (port,) = free_ports(1)
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield f"127.0.0.1:{port}", value
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_prometheus_scrapes_a_configured_target(
    stack: Stack, metrics_endpoint: tuple[str, float]
) -> None:
    address, value = metrics_endpoint
    prometheus = stack.addresses.prometheus_url
    stack.set_scrape_targets([ScrapeTarget("stack_probe", address)])
    try:
        up = _poll(
            "up{job='stack_probe'} == 1",
            lambda: [
                r for r in _prom_query(prometheus, 'up{job="stack_probe"}') if r["value"][1] == "1"
            ],
        )
        assert up[0]["metric"]["instance"] == address
        sample = _poll(
            "the probe gauge",
            lambda: _prom_query(prometheus, 'ticketpulse_stack_probe_value{job="stack_probe"}'),
        )
        assert float(sample[0]["value"][1]) == value
    finally:
        stack.set_scrape_targets([])


def test_promtool_checks_the_rendered_config(stack: Stack) -> None:
    rendered = stack.paths.home("prometheus") / "prometheus.yml"
    done = subprocess.run(
        [stack.addresses.promtool, "check", "config", str(rendered)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_alertmanager_is_ready_and_keeps_alerts(stack: Stack) -> None:
    base = stack.addresses.alertmanager_url
    with urllib.request.urlopen(f"{base}/-/ready", timeout=5) as response:
        assert response.status == 200
    alert = [{"labels": {"alertname": "StackTest", "team": "qa"}}]
    request = urllib.request.Request(
        f"{base}/api/v2/alerts",
        data=json.dumps(alert).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    alerts = _get_json(f"{base}/api/v2/alerts?filter=alertname%3D%22StackTest%22")
    assert [a["labels"]["team"] for a in alerts] == ["qa"]


def test_cli_up_on_a_running_stack_starts_nothing(stack: Stack) -> None:
    before = {s.name: s.pid for s in stack.status()}
    runner = CliRunner()
    result = runner.invoke(stack_cli, ["up", "--state-dir", str(stack.paths.state_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.count("(already running)") == len(before)
    assert {s.name: s.pid for s in stack.status()} == before
    status = runner.invoke(stack_cli, ["status", "--state-dir", str(stack.paths.state_dir)])
    assert status.exit_code == 0, status.output
    for name, pid in before.items():
        assert any(
            line.split()[:3] == [name, "ready", str(pid)] for line in status.output.splitlines()
        )


def _quick(paths: StackPaths, config: StackConfig) -> list[Component]:
    return [RedisServer(paths, config), Alertmanager(paths, config)]


def test_up_is_idempotent_and_down_stops_only_its_own(tmp_path: Path) -> None:
    config = StackConfig(ports=StackPorts.free(), scrape_targets=())
    first = Stack(tmp_path, config, _quick)
    started = first.up(timeout=30)
    assert [(s.name, s.state, s.action) for s in started] == [
        ("redis", "ready", "started"),
        ("alertmanager", "ready", "started"),
    ]
    # A second `up` (a new Stack reading the saved config) finds the same processes.
    again = Stack(tmp_path, components=_quick).up(timeout=30)
    assert [s.pid for s in again] == [s.pid for s in started]
    assert {s.action for s in again} == {"already running"}

    # A stranger that reused a recorded pid's slot is never signalled: fake a pid file for it.
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        fake = process.ProcessRecord("impostor", stranger.pid, -1, ("sleep",), "x.log", 0.0)
        fake.save(first.paths.pid_file("impostor"))
        stopped = Stack(tmp_path, components=_quick).down()
        assert stranger.poll() is None, "down signalled a process it did not start"
    finally:
        stranger.kill()
        stranger.wait()

    assert [(s.name, s.state, s.action) for s in stopped] == [
        ("redis", "stopped", "stopped"),
        ("alertmanager", "stopped", "stopped"),
    ]
    for s in started:
        assert s.pid is not None
        assert not Path(f"/proc/{s.pid}").exists() or _is_zombie(s.pid)
    assert not any(is_listening(p) for p in (config.ports.redis, config.ports.alertmanager))
    assert not list(first.paths.run.glob("*.json"))


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_taken_port_is_reported_not_shared(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        ports = StackPorts(kafka=1, kafka_controller=2, redis=port, prometheus=3, alertmanager=4)
        stack = Stack(tmp_path, StackConfig(ports=ports, scrape_targets=()), _quick)
        with pytest.raises(StackError, match=f"redis: port {port} is taken"):
            stack.up(timeout=10)
    assert not list(stack.paths.run.glob("*.json"))


def test_missing_binaries_name_their_install_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    stack = Stack(tmp_path / "state", StackConfig(ports=StackPorts.free()))
    with pytest.raises(MissingDependencies) as raised:
        stack.up()
    installs = {m.install for m in raised.value.missing}
    assert {
        "apt-get install -y redis-server",
        "apt-get install -y prometheus",
        "apt-get install -y prometheus-alertmanager",
        "apt-get install -y openjdk-17-jre-headless",
    } <= installs
    assert "apt-get install -y redis-server" in str(raised.value)
    assert not (tmp_path / "state" / "run").exists()


def test_missing_kafka_jars_point_to_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    missing = Stack(tmp_path / "state", StackConfig(ports=StackPorts.free())).missing()
    assert [m.install for m in missing] == ["make setup"]
    assert isinstance(missing[0], MissingDependency)
    assert "Kafka" in missing[0].what and str(tmp_path / "empty-cache") in missing[0].what


def test_scrape_target_parsing() -> None:
    assert ScrapeTarget.parse("worker=127.0.0.1:6066") == ScrapeTarget(
        "worker", "127.0.0.1:6066", "/metrics"
    )
    assert ScrapeTarget.parse("w=localhost:9/custom/path").metrics_path == "/custom/path"
    for bad in ("127.0.0.1:6066", "w=127.0.0.1", "bad job=h:1"):
        with pytest.raises(ValueError):
            ScrapeTarget.parse(bad)


def test_state_dir_env_is_the_cli_default(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        stack_cli, ["status"], env={**os.environ, "TICKETPULSE_STACK_DIR": str(tmp_path)}
    )
    assert result.exit_code == 3, result.output
    assert f"state: {tmp_path}" in result.output
    assert [line.split()[1] for line in result.output.splitlines()[1:5]] == ["stopped"] * 4


def test_prometheus_sends_alerts_to_the_stack_alertmanager(stack: Stack) -> None:
    expected = f"{stack.addresses.alertmanager_url}/api/v2/alerts"
    active = _poll(
        "Prometheus to list the Alertmanager",
        lambda: _get_json(f"{stack.addresses.prometheus_url}/api/v1/alertmanagers")["data"][
            "activeAlertmanagers"
        ],
    )
    assert [a["url"] for a in active] == [expected]
