"""Faust's consumer where the worker drives it itself: seeks, commits, high watermarks.

The worker's batches bypass Faust's streams and acks, so the worker positions and commits
the consumer group itself. Faust has no public call for a seek in aiokafka's thread, for a
commit of given offsets or for the group's committed offsets: the private parts of Faust's
consumer those need are reached here only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import faust
from aiokafka import TopicPartition
from faust.types import TP

from streams.live.recovery import positions


class FaustConsumer:
    """The app's consumer (made when the app starts) for the input topics."""

    def __init__(self, app: faust.App, input_topics: Iterable[str]) -> None:
        self.app = app
        self.input_topics = tuple(input_topics)

    async def rewind(self, partition: int, applied: Mapping[str, int]) -> dict[str, int]:
        """Seek the partition of every input topic to Redis's applied offset + 1; returns
        topic -> offset. The seek runs in the consumer's thread, where aiokafka's fetcher
        runs (Faust's own ``seek`` calls aiokafka from the app's thread), so that no fetch
        of the old position is delivered after it; Faust's read offset is reset as in its
        seek."""
        consumer: Any = self.app.consumer
        thread = consumer._thread
        client = thread._ensure_consumer()
        assignment = consumer.assignment()
        sought = {}
        for (name, _), offset in positions({partition: applied}, self.input_topics).items():
            tp = TP(name, partition)
            if tp in assignment:
                await thread.call_thread(client.seek, TopicPartition(name, partition), offset)
                consumer._read_offset[tp] = offset
                sought[name] = offset
        return sought

    def highwaters(self) -> dict[tuple[str, int], int | None]:
        """The broker's next offset per assigned input partition, as of the last fetch."""
        consumer = self.app.consumer
        marks: dict[tuple[str, int], int | None] = {}
        for tp in consumer.assignment():
            if tp.topic in self.input_topics:
                try:
                    marks[(tp.topic, tp.partition)] = consumer.highwater(tp)
                except Exception:  # not fetched yet, or being revoked: counted next time
                    continue
        return marks

    async def disagreeing(self, wanted: dict[TP, int]) -> dict[TP, int]:
        """The positions of ``wanted`` that differ from the group's committed offsets.

        A partition with no committed offset always differs, even when Redis's position is
        0, so that the group's offsets, which lag tools and operators read, always say where
        the worker resumes.
        """
        thread: Any = self.app.consumer._thread  # type: ignore[attr-defined]
        client = thread._ensure_consumer()
        differ = {}
        for tp, offset in wanted.items():
            committed = await thread.call_thread(client.committed, TopicPartition(*tp))
            if committed is None or committed != offset:
                differ[tp] = offset
        return differ

    async def commit(self, offsets: Mapping[TP, int]) -> bool:
        """Commit exactly these offsets for the group, from the aiokafka consumer's thread;
        False when the group is rebalancing."""
        thread: Any = self.app.consumer._thread  # type: ignore[attr-defined]
        return bool(await thread.commit(offsets))
