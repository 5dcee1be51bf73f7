"""Where the stack keeps its files: templates in the checkout, state in one folder, jars in a cache.

Everything a running stack writes (pid files, rendered configs, data, logs) lives under one state
dir, so ``rm -rf .stack`` after ``stack down`` is a full reset and two stacks never share a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STATE_DIR_ENV = "TICKETPULSE_STACK_DIR"

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"


def default_state_dir() -> Path:
    """``$TICKETPULSE_STACK_DIR``, else ``.stack/`` in the checkout."""
    configured = os.environ.get(STATE_DIR_ENV)
    return Path(configured) if configured else REPO_ROOT / ".stack"


def cache_dir() -> Path:
    """The user's cache (``$XDG_CACHE_HOME`` or ``~/.cache``) for downloads shared by checkouts."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "ticketpulse"


@dataclass(frozen=True)
class StackPaths:
    """The layout of one state dir."""

    state_dir: Path

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run(self) -> Path:
        return self.state_dir / "run"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "stack.json"

    def home(self, component: str) -> Path:
        """The folder for one component's rendered config and data."""
        return self.state_dir / component

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def pid_file(self, component: str) -> Path:
        return self.run / f"{component}.json"
