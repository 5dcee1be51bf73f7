"""Is a Kafka message where its ticket's events are? Its key and its partition, checked.

A ticket's state lives with one partition (its events are applied in order there, and
``GET /tickets/{id}`` looks for it there): the partition Kafka's default partitioner picks
for the key ``ticket_id`` (murmur2 of the UTF-8 key, modulo the partition count). An event
keyed otherwise, or put on another partition, would start a second, partial copy of its
ticket on the wrong partition: it is dead-lettered instead (``streams.live.batch``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

# Partitions of keys seen, so that murmur2 runs about once per ticket; forgotten all at once
# when full.
_HOMES_LIMIT: Final = 1 << 17

_MASK: Final = 0xFFFFFFFF
_M: Final = 0x5BD1E995


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of a key (its Java client's ``Utils.murmur2``), as an unsigned int.

    The same function as aiokafka's (``aiokafka.partitioner.murmur2``, tested equal), typed
    so that mypyc compiles it (``streams.native``): the worker hashes every ticket it sees,
    and the pure-Python one cost about as much as decoding the ticket's event.
    """
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    end = length - length % 4
    for i in range(0, end, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    extra = length % 4
    if extra >= 3:
        h ^= data[end + 2] << 16
    if extra >= 2:
        h ^= data[end + 1] << 8
    if extra >= 1:
        h ^= data[end]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_of(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner for a key: where every event of a ticket lands."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(slots=True)
class Placement:
    """The key and partition check, over the topics' real partition count."""

    partitions: int
    _homes: dict[bytes, int] = field(default_factory=dict)

    def defect(
        self, key: bytes | None, partition: int, ticket_id: str, id_name: str = "ticket_id"
    ) -> str | None:
        """Why a message of ``ticket_id`` (key, partition) is misplaced; None if it is not.

        ``id_name`` names the key's field: ``account_id`` for an account event, whose id
        places it the same way."""
        if key is None:
            return f"(key): the message has no key; it must be the event's {id_name}"
        if key != ticket_id.encode():
            shown = key[:60].decode("utf-8", "replace")
            return f"(key): message key {shown!r} is not the event's {id_name} {ticket_id!r}"
        home = self._homes.get(key)
        if home is None:
            if len(self._homes) >= _HOMES_LIMIT:
                self._homes.clear()
            home = self._homes[key] = partition_of(key, self.partitions)
        if home != partition:
            return (
                f"(partition): on partition {partition}, but Kafka's default partitioner puts "
                f"{id_name} {ticket_id!r} on partition {home} of {self.partitions}"
            )
        return None
