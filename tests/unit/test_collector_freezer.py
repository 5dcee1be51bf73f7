"""The worker's garbage-collection policy: survivors frozen per batch, cycles freed later."""

from __future__ import annotations

import gc
import weakref

from streams.collector import Freezer


class Node:
    me: Node | None = None


def test_survivors_are_frozen_and_a_full_pass_frees_their_cycles_later() -> None:
    now = [0.0]
    freezer = Freezer(full_every=10.0, clock=lambda: now[0])
    try:
        node = Node()
        node.me = node  # a reference cycle: only the collector frees it
        alive = weakref.ref(node)
        del node
        freezer.batch_done()
        assert gc.get_freeze_count() > 0
        gc.collect()  # passes skip the permanent generation
        assert alive() is not None
        now[0] = 9.0
        freezer.batch_done()  # not yet time for a full pass
        gc.collect()
        assert alive() is not None
        now[0] = 10.0
        freezer.batch_done()  # the full pass: unfreeze, collect, freeze again
        assert alive() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
