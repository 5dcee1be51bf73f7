"""Python's garbage collector, tuned for processes that hold millions of objects.

Replay and the worker allocate many long-lived objects (events, facts, bucket counters) and
almost no reference cycles. The default thresholds (a young-generation pass every 700
allocations, and full passes over the whole heap as it grows) cost 20-30% of replay's time
and 10-25% of ``Worker.handle``'s (bench/results/replay.md, docs/architecture.md). Both freeze
what each batch leaves (``Freezer``, ``frozen_batches``), so a pass within a batch would only
scan the batch's own objects, which mostly live on: one every million allocations.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

THRESHOLDS = (1_000_000, 10, 10)


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


@contextmanager
def frozen_batches() -> Iterator[Callable[[], None]]:
    """For one replay inside a process: yields what to call after each batch (``gc.freeze``,
    as ``Freezer`` does for the worker), and gives the frozen objects back to the collector
    after."""
    try:
        yield gc.freeze
    finally:
        gc.unfreeze()


class Freezer:
    """Keeps the objects a worker holds out of the collector's passes, batch after batch.

    Even a pass every 100,000 allocations scanned each young object once or twice before it
    grew old, and the worker's young objects are mostly its cache, kept for as long as a
    ticket is open: measured at 3,000 events/s, young passes took 80-160 ms every 4 s or so,
    and a middle one 0.78 s, with nothing collected, each of them a pause of every event in
    flight. ``batch_done`` moves every object that survived a batch into the permanent
    generation (``gc.freeze``, which also restarts the allocation count), so the passes see
    only what one batch allocates. Reference cycles among frozen objects are not collected
    until ``full_every`` seconds have passed: then one full pass over everything
    (``gc.unfreeze`` and ``gc.collect``) frees them, and the survivors are frozen again.
    """

    def __init__(
        self, full_every: float = 600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.full_every = full_every
        self.clock = clock
        self.last_full = clock()

    def batch_done(self) -> None:
        now = self.clock()
        if now - self.last_full >= self.full_every:
            self.last_full = now
            gc.unfreeze()
            started = time.perf_counter()
            freed = gc.collect()
            log.info(
                "full garbage collection: %d freed in %.2f s", freed, time.perf_counter() - started
            )
        gc.freeze()
