"""The contract every stack process meets, and the errors that tell a developer what to do.

A component knows how to check its prerequisites, prepare its files, build its command line and
tell when it is ready; ``Stack`` does the rest (pid files, logs, ports, waiting, stopping) the same
way for all of them. A later process, such as the ticketpulse worker, joins by being one more
``Component`` in the list ``Stack`` is given.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from streams.errors import TicketpulseError
from streams.stack.config import StackConfig
from streams.stack.paths import StackPaths


class StackError(TicketpulseError):
    """The stack cannot start or stop as asked; the message says why and what to do."""


@dataclass(frozen=True)
class MissingDependency:
    """Something not installed, with the command that installs it."""

    what: str
    install: str

    def __str__(self) -> str:
        return f"{self.what} not found: install with `{self.install}`"


class MissingDependencies(StackError):
    def __init__(self, missing: list[MissingDependency]) -> None:
        lines = "\n".join(f"  - {m}" for m in missing)
        super().__init__(f"the stack cannot start:\n{lines}\n(`make setup` installs all of them)")
        self.missing = missing


def require_binary(name: str, package: str) -> list[MissingDependency]:
    """Empty when ``name`` is on PATH, else how to get it from Debian's ``package``."""
    if shutil.which(name):
        return []
    what = f"`{name}` (Debian package {package})"
    return [MissingDependency(what, f"apt-get install -y {package}")]


class Component(ABC):
    """One process of the stack. Subclasses hold no state beyond paths and config."""

    name: str

    def __init__(self, paths: StackPaths, config: StackConfig) -> None:
        self.paths = paths
        self.config = config

    @property
    def home(self) -> Path:
        return self.paths.home(self.name)

    @abstractmethod
    def ports(self) -> tuple[int, ...]:
        """Every loopback port the process listens on; the first is the one clients use."""

    @abstractmethod
    def missing(self) -> list[MissingDependency]:
        """What must be installed first; empty when ready to start."""

    @abstractmethod
    def prepare(self) -> None:
        """Write configs and initialise data before a start; must be safe to repeat."""

    @abstractmethod
    def command(self) -> list[str]: ...

    @abstractmethod
    def ready(self) -> bool:
        """Whether it serves real requests now (a request, not just an open port)."""

    @abstractmethod
    def endpoints(self) -> dict[str, str]:
        """Name -> address or URL, for people and for tests."""

    @abstractmethod
    def reconfigure(self) -> None:
        """Apply the current config to an already running process."""

    def settle(self, timeout: float) -> None:
        """Once every component is ready: join what must work together (form a cluster)."""
        return None

    def health(self) -> str:
        """A line on the health of what this component leads (a cluster); empty if none."""
        return ""
