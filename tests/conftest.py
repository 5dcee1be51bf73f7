"""Fixtures shared by every test folder: the real local stack for the whole session.

Every service listens on free loopback ports and keeps its files in a pytest tmp dir, so the tests
run beside a developer's demo stack. A missing service is a failure that names its install
command, never a skip: a green run means the tests really talked to Kafka, Redis and Prometheus.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from streams.stack import MissingDependency, Stack, StackConfig, StackError, StackPorts
from streams.stack.stack import ComponentFactory, default_components

# No per-example deadline nor "generation is slow" check for property tests: speed is measured
# in bench/, never asserted in a test, and on a shared 2-core machine an example can take
# longer than hypothesis's 200 ms.
settings.register_profile(
    "ticketpulse", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ticketpulse")

START_TIMEOUT = 120.0


def start_stack(
    state_dir: Path, config: StackConfig, components: ComponentFactory = default_components
) -> Stack:
    """Start a stack on free ports; try once more with new ports if one was taken meanwhile."""
    last: StackError | None = None
    for _ in range(2):
        stack = Stack(state_dir, config, components)
        missing = stack.missing()
        if missing:
            pytest.fail(_missing_message(missing), pytrace=False)
        try:
            stack.up(timeout=START_TIMEOUT)
            return stack
        except StackError as err:
            last = err
            config = replace(config, ports=config.ports.free_again())
    pytest.fail(f"the test stack did not start:\n{last}", pytrace=False)


def _missing_message(missing: list[MissingDependency]) -> str:
    lines = "\n".join(f"  - {m}" for m in missing)
    return f"integration tests need the local stack:\n{lines}\n(`make setup` installs all of them)"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Kafka, Redis, Prometheus and Alertmanager, for the whole session.

    Prometheus scrapes every second and scrapes nothing until a test calls
    ``stack.set_scrape_targets``; addresses are in ``stack.addresses``.
    """
    config = StackConfig(ports=StackPorts.free(), scrape_targets=(), scrape_interval="1s")
    running = start_stack(tmp_path_factory.mktemp("stack"), config)
    yield running
    running.down()


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: Stack) -> str:
    """Kafka's ``host:port``; Kafka is the slow part, so it comes from the shared stack."""
    return stack.addresses.bootstrap_servers
