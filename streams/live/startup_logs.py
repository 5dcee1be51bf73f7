"""The worker's log at start: what a terminal needs, and what is expected, kept out of it.

- Faust's spinner animates a terminal with ANSI codes; in a file or a journal they are noise.
- aiokafka logs every failed lookup of the group coordinator at ERROR. A worker that joins a
  new group, or a cluster still creating ``__consumer_offsets``, gets a few
  ``GroupCoordinatorNotAvailable`` answers before the coordinator is ready: expected and
  retried, they are logged at INFO until the worker first holds partitions, and at ERROR
  after (then the coordinator went away).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TextIO

from aiokafka.errors import CoordinatorNotAvailableError

COORDINATOR_LOGGER = "aiokafka.consumer.group_coordinator"


class CoordinatorNotReadyAtStart(logging.Filter):
    """Lowers aiokafka's ``GroupCoordinatorNotAvailable`` errors to INFO while ``starting()``."""

    def __init__(self, starting: Callable[[], bool]) -> None:
        super().__init__()
        self.starting = starting

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            record.levelno == logging.ERROR
            and isinstance(args, tuple)
            and args
            and isinstance(args[0], CoordinatorNotAvailableError)
            and self.starting()
        ):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


def quiet_start(faust_worker: Any, starting: Callable[[], bool], stdout: TextIO) -> None:
    """No spinner unless ``stdout`` is a terminal; coordinator lookups at INFO at start."""
    if not stdout.isatty():
        faust_worker.spinner = None
    logging.getLogger(COORDINATOR_LOGGER).addFilter(CoordinatorNotReadyAtStart(starting))
