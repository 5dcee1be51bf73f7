"""Is a Kafka message where its ticket's events are? Its key and its partition, checked.

A ticket's state lives with one partition (its events are applied in order there, and
``GET /tickets/{id}`` looks for it there): the partition Kafka's default partitioner picks
for the key ``ticket_id`` (murmur2 of the UTF-8 key, modulo the partition count). An event
keyed otherwise, or put on another partition, would start a second, partial copy of its
ticket on the wrong partition: it is dead-lettered instead (``streams.live.batch``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka.partitioner import murmur2

# Partitions of keys seen, so that murmur2 (pure Python) runs about once per ticket;
# forgotten all at once when full.
_HOMES_LIMIT = 1 << 17


def partition_of(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner for a key: where every event of a ticket lands."""
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions


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
