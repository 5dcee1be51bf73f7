"""Offsets the Kafka fetcher steps over because they hold no record to deliver.

A consumer reading committed records never receives a transaction's commit or abort marker
(each takes an offset) nor the records of an aborted transaction: aiokafka's fetcher steps
over them. The worker counts the offsets it never received between what Redis applied and
the next record (``batch.decode_batch``'s gaps) as missed, which those are not: records
deleted by retention before they were applied are. The fetcher only steps over offsets of
the log it fetched (retention shows as a fetch refused and a reset, never as a step), so
noting each run it steps over (``note``) and taking them out of the gaps (``unexplained``)
leaves exactly the offsets lost.

aiokafka builds its ``PartitionRecords`` by their module-level name; ``install`` replaces it
with a subclass that notes, for every consumer of the process (a worker process has one).
A note is a fact about a partition's log, true for any consumer of it.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from aiokafka.consumer import fetcher

# runs kept per partition: one per transaction, forgotten once a gap used them
KEEP = 10_000

Gap = tuple[str, int, int]  # (topic, first offset not received, how many)


class SkippedOffsets:
    """Runs of offsets ``[start, end)`` the fetcher stepped over, per topic and partition.

    Noted from Faust's consumer thread, read from the worker's event loop: a lock guards them.
    """

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._runs: dict[tuple[str, int], list[tuple[int, int]]] = {}

    def note(self, topic: str, partition: int, start: int, end: int) -> None:
        if end <= start:
            return
        with self._lock:
            runs = self._runs.setdefault((topic, partition), [])
            bisect.insort(runs, (start, end))
            if len(runs) > self.keep:
                del runs[: len(runs) - self.keep]

    def unexplained(self, partition: int, gaps: Sequence[Gap]) -> list[Gap]:
        """The parts of ``gaps`` (of one partition) the fetcher did not step over; the runs
        that end within a gap are forgotten (what Redis applied has passed them)."""
        left: list[Gap] = []
        with self._lock:
            for topic, first, count in gaps:
                runs = self._runs.get((topic, partition), [])
                start, end = first, first + count
                for run_start, run_end in runs:
                    if run_end <= start or run_start >= end:
                        continue
                    if run_start > start:
                        left.append((topic, start, run_start - start))
                    start = max(start, run_end)
                if start < end:
                    left.append((topic, start, end - start))
                runs[:] = [run for run in runs if run[1] > first + count]
        return left

    def passed(self, topic: str, partition: int, offset: int) -> int:
        """``offset``, or the last offset of the runs stepped over right after it."""
        with self._lock:
            for start, end in self._runs.get((topic, partition), ()):
                if start <= offset + 1 < end:
                    offset = end - 1
        return offset


class _NotingRecords(fetcher.PartitionRecords):  # type: ignore[misc]
    """aiokafka's records of one fetched partition, noting the offsets they step over."""

    skips: SkippedOffsets

    def _unpack_records(self) -> Iterator[Any]:
        tp = self._tp
        expected = self.next_fetch_offset
        for record in super()._unpack_records():
            if record.offset > expected:
                self.skips.note(tp.topic, tp.partition, expected, record.offset)
            expected = record.offset + 1
            yield record
        if self.next_fetch_offset > expected:  # markers or aborted records at the end
            self.skips.note(tp.topic, tp.partition, expected, self.next_fetch_offset)


def install() -> SkippedOffsets:
    """Make every aiokafka consumer of the process note what it steps over; the notes."""
    if not issubclass(fetcher.PartitionRecords, _NotingRecords):
        _NotingRecords.skips = SkippedOffsets()
        fetcher.PartitionRecords = _NotingRecords
    return _NotingRecords.skips
