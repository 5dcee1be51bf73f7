"""Integration fixtures; the session-wide `stack` fixture is in tests/conftest.py."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.stack import Component, Stack, StackConfig, StackPaths, StackPorts
from streams.stack.redis_cluster import cluster_nodes
from streams.stack.redis_server import RedisServer
from tests.conftest import start_stack

from .workers import Run

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder ``integration`` and bound it, so a hung broker fails."""
    for item in items:
        if _HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(180))


def _redis_only(paths: StackPaths, config: StackConfig) -> list[Component]:
    return [RedisServer(paths, config)]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server of its own (it starts in milliseconds), for tests that need only Redis."""
    config = StackConfig(ports=StackPorts.free(), scrape_targets=())
    running = start_stack(tmp_path_factory.mktemp("redis"), config, components=_redis_only)
    yield running.addresses.redis_url
    running.down()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis Cluster of its own: 3 masters and 3 replicas (formed in about a second)."""
    config = StackConfig(ports=StackPorts.free(redis_cluster=True), scrape_targets=())
    running = start_stack(tmp_path_factory.mktemp("rcluster"), config, components=cluster_nodes)
    yield running.addresses.redis_url
    running.down()


@pytest.fixture
def run(stack: Stack, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Run]:
    """A data set of the test's own on the session stack (topics, group, Redis prefix), its
    workers stopped afterwards. The name is unique per test: topics outlive a test."""
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:6]
    created = Run(
        name=f"r{digest}{request.node.name.replace('_', '')[-16:].lower()}",
        bootstrap=stack.addresses.bootstrap_servers,
        redis_url=stack.addresses.redis_url,
        log_dir=tmp_path,
    )
    yield created
    created.stop_all()
