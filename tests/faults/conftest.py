"""Fault-suite fixtures: isolated runs on the shared stack, and stacks of their own to break.

A scenario that kills or stops Kafka or Redis gets its own instance on free ports (function
scope), so the session stack the other tests use is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from streams.stack import Component, Stack, StackConfig, StackPaths, StackPorts
from streams.stack.kafka_broker import KafkaBroker
from streams.stack.redis_server import RedisServer
from streams.stack.stack import ComponentFactory
from tests.conftest import start_stack

from .harness import POLICIES, SOAK, FaultRun, Fleet

_HERE = Path(__file__).parent
TIMEOUT = 1800 if SOAK else 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test here ``integration`` and ``faults``, bounded by pytest-timeout."""
    for item in items:
        if _HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.faults)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(TIMEOUT))


def _redis_only(paths: StackPaths, config: StackConfig) -> list[Component]:
    return [RedisServer(paths, config)]


def _kafka_only(paths: StackPaths, config: StackConfig) -> list[Component]:
    return [KafkaBroker(paths, config)]


def own_stack(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    config: StackConfig,
    components: ComponentFactory,
) -> Iterator[Stack]:
    """A stack of the caller's own, in a new folder ``name``, and down after: the body of a
    fixture (``yield from own_stack(...)``) whose test breaks it."""
    running = start_stack(tmp_path_factory.mktemp(name), config, components=components)
    yield running
    running.down()


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A Redis of this test's own, to stop, kill and empty."""
    config = StackConfig(ports=StackPorts.free(), scrape_targets=())
    yield from own_stack(tmp_path_factory, "redis", config, _redis_only)


@pytest.fixture
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A Kafka broker of this test's own, to kill -9 and restart."""
    config = StackConfig(ports=StackPorts.free(), scrape_targets=(), kafka_heap="384m")
    yield from own_stack(tmp_path_factory, "kafka", config, _kafka_only)


MakeRun = Callable[..., FaultRun]


def stack_run(stack: Stack, log_dir: Path, name: str, partitions: int, **env: str) -> FaultRun:
    """A data set ``name`` on ``stack``'s Kafka and Redis, with the fault policies and the
    ``TICKETPULSE_*`` settings ``env``."""
    return FaultRun(
        name=name,
        bootstrap=stack.addresses.bootstrap_servers,
        redis_url=stack.addresses.redis_url,
        partitions=partitions,
        policies=POLICIES,
        log_dir=log_dir,
        extra_env=env,
    )


@pytest.fixture
def make_run(stack: Stack, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeRun]:
    """``make_run(bootstrap=..., redis_url=..., **env)``: an isolated data set and its workers."""
    made: list[FaultRun] = []

    def make(bootstrap: str | None = None, redis_url: str | None = None, **env: str) -> FaultRun:
        name = "f" + request.node.name.replace("_", "").replace("[", "").replace("]", "")
        name = f"{name[-18:].lower()}{len(made)}"
        run = FaultRun(
            name=name,
            bootstrap=bootstrap or stack.addresses.bootstrap_servers,
            redis_url=redis_url or stack.addresses.redis_url,
            policies=POLICIES,
            log_dir=tmp_path,
            extra_env=dict(env),
        )
        made.append(run)
        return run

    yield make
    for run in made:
        run.stop_all()


@pytest.fixture
def fleets() -> Iterator[list[Fleet]]:
    """Fleets to close (supervisors stopped, workers killed) after the test."""
    created: list[Fleet] = []
    yield created
    for fleet in created:
        fleet.close()


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)
