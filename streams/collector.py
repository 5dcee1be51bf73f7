"""Python's garbage collector, tuned for processes that hold millions of objects.

Replay and the worker allocate many long-lived objects (events, facts, bucket counters) and
almost no reference cycles. The default thresholds (a young-generation pass every 700
allocations, and full passes over the whole heap as it grows) cost 20-30% of replay's time
and 10-25% of ``Worker.handle``'s (bench/results/replay.md, docs/architecture.md). A pass
every 100,000 allocations still collects the few cycles, at a fraction of that cost.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (100_000, 10, 10)


def tune() -> None:
    """For a whole process (the worker)."""
    gc.set_threshold(*THRESHOLDS)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """For one run inside a process (replay): the caller's thresholds come back after."""
    previous = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
