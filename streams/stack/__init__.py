"""The local stack: Kafka, Redis, Prometheus and Alertmanager as plain processes.

The ``ticketpulse stack`` command and the integration-test fixtures drive the same ``Stack``
object, so what a developer runs by hand is what the tests run against.
"""

from __future__ import annotations

from streams.stack.component import Component, MissingDependency, StackError
from streams.stack.config import ScrapeTarget, StackConfig
from streams.stack.paths import StackPaths
from streams.stack.ports import DEMO_PORTS, StackPorts
from streams.stack.stack import ComponentStatus, Stack, StackAddresses

__all__ = [
    "DEMO_PORTS",
    "Component",
    "ComponentStatus",
    "MissingDependency",
    "ScrapeTarget",
    "Stack",
    "StackAddresses",
    "StackConfig",
    "StackError",
    "StackPaths",
    "StackPorts",
]
