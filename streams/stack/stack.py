"""``Stack``: start, check and stop the local services as one unit, from the CLI or from tests.

``up`` is idempotent (a running component is left alone, only its config is re-applied), ``down``
stops exactly the processes whose pid files this state dir holds, and ``status`` asks each process
a real question. A failed ``up`` stops what it started in that call and leaves the logs.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from streams.stack import process
from streams.stack.alertmanager_server import Alertmanager
from streams.stack.component import Component, MissingDependencies, MissingDependency, StackError
from streams.stack.config import ScrapeTarget, StackConfig
from streams.stack.kafka_broker import kafka_nodes
from streams.stack.paths import StackPaths
from streams.stack.ports import HOST, is_listening
from streams.stack.prometheus_server import Prometheus
from streams.stack.redis_cluster import cluster_nodes, cluster_url
from streams.stack.redis_server import RedisServer

ComponentFactory = Callable[[StackPaths, StackConfig], Sequence[Component]]


def default_components(paths: StackPaths, config: StackConfig) -> list[Component]:
    """The services in start order: quick ones first, so they boot while Kafka formats storage.

    A later process (the ticketpulse worker) is added by passing a factory that appends it.
    The ports say the shape: six Redis Cluster nodes instead of one Redis, several Kafka nodes.
    """
    redis: list[Component] = (
        [*cluster_nodes(paths, config)]
        if config.ports.redis_cluster
        else [RedisServer(paths, config)]
    )
    return [
        *redis,
        Alertmanager(paths, config),
        Prometheus(paths, config),
        *kafka_nodes(paths, config),
    ]


@dataclass(frozen=True)
class StackAddresses:
    """Where clients reach the stack."""

    bootstrap_servers: str
    redis_url: str
    prometheus_url: str
    alertmanager_url: str
    promtool: str


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    state: str
    """``ready``, ``starting`` (process up, not answering yet), ``exited`` or ``stopped``."""
    pid: int | None
    ports: tuple[int, ...]
    endpoints: Mapping[str, str]
    log: Path
    action: str = ""
    """What the last ``up`` or ``down`` did to it."""
    started_at: float | None = field(default=None, compare=False)
    health: str = ""
    """The health of the cluster it leads (slots covered, replicas in sync), if any."""


class Stack:
    def __init__(
        self,
        state_dir: Path,
        config: StackConfig | None = None,
        components: ComponentFactory = default_components,
    ) -> None:
        self.paths = StackPaths(state_dir)
        self.config = config or StackConfig.load(self.paths.config_file) or StackConfig()
        self._factory = components
        self.components = list(components(self.paths, self.config))

    @property
    def addresses(self) -> StackAddresses:
        ports = self.config.ports
        brokers = (ports.kafka, *ports.kafka_brokers)
        return StackAddresses(
            bootstrap_servers=",".join(f"{HOST}:{port}" for port in brokers),
            redis_url=cluster_url(ports)
            if ports.redis_cluster
            else f"redis://{HOST}:{ports.redis}/0",
            prometheus_url=f"http://{HOST}:{ports.prometheus}",
            alertmanager_url=f"http://{HOST}:{ports.alertmanager}",
            promtool=shutil.which("promtool") or "promtool",
        )

    def component(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def missing(self) -> list[MissingDependency]:
        return [m for c in self.components for m in c.missing()]

    def check(self) -> None:
        """Raise ``MissingDependencies`` naming every missing piece and its install command."""
        missing = self.missing()
        if missing:
            raise MissingDependencies(missing)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One ``up`` or ``down`` at a time per state dir."""
        self.paths.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.paths.state_dir / "lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _record(self, name: str) -> process.ProcessRecord | None:
        return process.ProcessRecord.load(self.paths.pid_file(name))

    def _running(self, name: str) -> process.ProcessRecord | None:
        record = self._record(name)
        return record if record is not None and process.is_running(record) else None

    def up(self, timeout: float = 90.0) -> list[ComponentStatus]:
        """Start whatever is not running and wait until every component answers."""
        self.check()
        with self._locked():
            self._refuse_port_change()
            self.paths.logs.mkdir(parents=True, exist_ok=True)
            self.config.save(self.paths.config_file)
            actions: dict[str, str] = {}
            started: list[process.ProcessRecord] = []
            try:
                for component in self.components:
                    if self._running(component.name):
                        component.reconfigure()
                        actions[component.name] = "already running"
                        continue
                    started.append(self._start(component))
                    actions[component.name] = "started"
                self._wait_ready(timeout)
                for component in self.components:
                    component.settle(timeout)
            except BaseException:
                for record in reversed(started):
                    process.stop(record)
                    self.paths.pid_file(record.name).unlink(missing_ok=True)
                raise
        return self.status(actions)

    def _refuse_port_change(self) -> None:
        saved = StackConfig.load(self.paths.config_file)
        if saved is None or saved.ports == self.config.ports:
            return
        running = [c.name for c in self.components if self._running(c.name)]
        if running:
            raise StackError(
                f"{', '.join(running)} already run with the ports in {self.paths.config_file}; "
                "stop the stack (`ticketpulse stack down`) before changing ports or the shape "
                "(--redis-cluster, --kafka-brokers)"
            )

    def _start(self, component: Component) -> process.ProcessRecord:
        busy = [p for p in component.ports() if is_listening(p)]
        if busy:
            raise StackError(
                f"{component.name}: port {', '.join(map(str, busy))} is taken by a process this "
                f"stack did not start; stop it or pick another port "
                f"(`ticketpulse stack up --help` lists the port options)"
            )
        component.prepare()
        record = process.spawn(
            component.name, component.command(), self.paths.log(component.name), component.home
        )
        record.save(self.paths.pid_file(component.name))
        return record

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(self.components)
        while waiting:
            for component in list(waiting):
                if component.ready():
                    waiting.remove(component)
                elif not self._running(component.name):
                    raise StackError(self._why(component, "exited during start-up"))
            if waiting and time.monotonic() > deadline:
                raise StackError(
                    "\n".join(self._why(c, f"not ready after {timeout:.0f}s") for c in waiting)
                )
            if waiting:
                time.sleep(0.1)

    def _why(self, component: Component, problem: str) -> str:
        log = self.paths.log(component.name)
        return f"{component.name} {problem}; last lines of {log}:\n{process.log_tail(log)}"

    def status(self, actions: Mapping[str, str] | None = None) -> list[ComponentStatus]:
        actions = actions or {}
        result = []
        for component in self.components:
            record = self._record(component.name)
            if record is None:
                state = "stopped"
            elif not process.is_running(record):
                state = "exited"
            else:
                state = "ready" if component.ready() else "starting"
            result.append(
                ComponentStatus(
                    name=component.name,
                    state=state,
                    pid=record.pid if record and state != "exited" else None,
                    ports=component.ports(),
                    endpoints=component.endpoints(),
                    log=self.paths.log(component.name),
                    action=actions.get(component.name, ""),
                    started_at=record.started_at if record else None,
                    health=component.health() if state == "ready" else "",
                )
            )
        return result

    def down(self) -> list[ComponentStatus]:
        """Stop every process with a pid file here, in reverse start order; remove the pid files."""
        with self._locked():
            known = [c.name for c in self.components]
            extra = sorted(p.stem for p in self.paths.run.glob("*.json") if p.stem not in known)
            actions: dict[str, str] = {}
            for name in [*extra, *reversed(known)]:
                record = self._record(name)
                if record is None:
                    continue
                actions[name] = "stopped" if process.stop(record) else "was not running"
                self.paths.pid_file(name).unlink(missing_ok=True)
        return self.status(actions)

    def set_scrape_targets(self, targets: Sequence[ScrapeTarget]) -> None:
        """Point Prometheus at ``targets``; a running Prometheus reloads without restarting."""
        self.reconfigure(replace(self.config, scrape_targets=tuple(targets)))

    def reconfigure(self, config: StackConfig) -> None:
        """Adopt ``config`` (same ports) and apply it to the running components."""
        if config.ports != self.config.ports:
            raise StackError("ports cannot change while the stack runs; use down, then up")
        self.config = config
        self.components = list(self._factory(self.paths, config))
        with self._locked():
            config.save(self.paths.config_file)
            for component in self.components:
                if self._running(component.name):
                    component.reconfigure()
