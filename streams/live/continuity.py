"""Whether a fetched batch continues what Redis applied, or the consumer must seek back.

Redis holds each partition's applied offsets in the same transaction as its state, so the
next record a partition needs is always Redis's offset + 1. A batch that starts past it
means one of two things:

- the consumer fetched past what Redis holds: Redis went back (restored from an older
  snapshot, or restarted from a file older than its last writes) after this worker fetched
  or applied the records in between. Applying the batch would lose those records for good,
  so the partition seeks back to Redis's offset + 1 and consumes them again;
- the topic no longer holds the records in between (retention deleted them): a real gap.
  It is one only when the consumer was positioned at exactly Redis's offset + 1 and the
  first record it delivered from there is further on; then the batch is applied and the
  gap counted.

Offsets the consumer stepped over (transaction markers, aborted records: see
``streams.live.fetch_skips``) are neither: the worker counts them as applied before asking.

Pure: the worker keeps the positions it sought to and asks ``seek_back`` per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from streams.live.batch import Message


def first_offsets(messages: Iterable[Message]) -> dict[str, int]:
    """Topic -> the lowest offset among one partition's messages."""
    first: dict[str, int] = {}
    for message in messages:
        known = first.get(message.topic)
        if known is None or message.offset < known:
            first[message.topic] = message.offset
    return first


def seek_back(
    first: Mapping[str, int], applied: Mapping[str, int], positioned: Mapping[str, int]
) -> dict[str, int]:
    """Topic -> the offset to consume again from, for each topic of one partition whose
    batch starts past Redis's applied offset + 1 while the consumer was not positioned
    exactly there; empty when the batch may be applied.

    ``first``: the batch's first offset per topic; ``applied``: Redis's applied offsets
    (absent: none, the next is 0); ``positioned``: where the consumer was last sought to,
    per topic, for topics that have delivered nothing since.
    """
    wanted = {}
    for topic, offset in first.items():
        following = applied.get(topic, -1) + 1
        if offset > following and positioned.get(topic) != following:
            wanted[topic] = following
    return wanted
