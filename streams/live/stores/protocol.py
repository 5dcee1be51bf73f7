"""The store protocol: every operation the worker, the state guard and the HTTP API perform.

Two stores implement it with the same semantics, checked by one contract suite
(``tests/stores/contract.py``): ``streams.live.store.RedisStore`` (the state in Redis) and
``streams.live.stores.memory.MemoryStore`` (in the process, for tests and replay). Nothing
outside a store module talks to Redis.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from streams.domain.facts import SlaTarget
from streams.domain.instant import Instant, Micros
from streams.errors import TicketpulseError
from streams.live.writes import PartitionWrites

# How long closed tickets' records and minute buckets are kept (seconds), unless configured.
DEFAULT_TTL_SECONDS = 8 * 86400


class StaleOffsets(TicketpulseError):
    """Another writer moved the partition's applied offsets: reload it from Redis and redo."""


@dataclass(frozen=True, slots=True)
class PartitionCheck:
    """What the state guard's watch reads of one partition, in one round trip."""

    marker: bool  # the partition's state marker is there
    offsets: dict[str, int]  # topic -> last applied offset
    writes: int  # transactions applied (the fence's count)
    missed: dict[str, int]  # topic -> offsets never received that batches recorded


@dataclass(frozen=True, slots=True, order=True)
class ClockEntry:
    """One SLA clock of the indexes, in the order of ``GET /sla/at-risk``.

    ``deadline`` is 0 for a breached clock whose deadline no index holds (in ``breached``
    without a ``late`` entry: state written before that index existed).
    """

    deadline: Instant
    ticket_id: str
    target: SlaTarget
    partition: int
    breached: bool


@dataclass(frozen=True, slots=True)
class ClockRange:
    """The index entries to read: from ``start`` on (every entry at ``start`` itself, then up
    to ``count`` after it, per index), breached clocks if ``late``, and running unbreached
    ones due in [``due_from``, ``due_until``] unless ``due_until`` is None."""

    count: int
    start: Instant | None = None
    late: bool = True
    due_from: Instant | None = None
    due_until: Instant | None = None


class Store(Protocol):
    """One partition's state is written only by ``apply``, one batch at a time, atomically.

    Reads of a partition that holds nothing return empty values, never an error. A store
    that cannot reach its backend raises ``streams.errors.TransientError``: the caller
    retries, and calling ``apply`` again with the same ``writes`` object is safe.
    """

    async def aclose(self) -> None: ...

    async def ping(self) -> bool:
        """Whether the backend answers; never raises a connection error."""
        ...

    # -- a partition's state, as the worker adopts it ---------------------------------------
    async def load_offsets(self, partition: int) -> dict[str, int]: ...

    async def load_writes(self, partition: int) -> int:
        """How many transactions ``apply`` committed to the partition (the fence's count)."""
        ...

    async def load_missed(self, partition: int) -> dict[str, int]: ...

    async def load_tickets(
        self, partition: int, ticket_ids: Collection[str]
    ) -> dict[str, bytes]: ...

    async def load_records(self, wanted: Mapping[int, Collection[str]]) -> dict[str, bytes]:
        """The records of tickets of several partitions (partition -> ticket ids), in one
        round trip; tickets without a record are left out."""
        ...

    async def load_buckets(
        self, partition: int, since_minute: Instant
    ) -> dict[Instant, dict[str, int]]: ...

    async def load_accounts(self, partition: int) -> dict[str, bytes]:
        """Every account record of the partition (account id -> record)."""
        ...

    async def load_account(self, partition: int, account_id: str) -> bytes | None:
        """One account's record (``GET /accounts/{id}``)."""
        ...

    async def load_account_links(self, partition: int, account_id: str) -> dict[str, bytes]:
        """One account's links: ticket id -> link."""
        ...

    async def load_links(self, partition: int) -> dict[str, bytes]:
        """Every ticket's link to an account of the partition (``link_field`` -> link)."""
        ...

    async def load_link_seq(self, partition: int) -> int:
        """The sequence of the partition's latest links (0: none)."""
        ...

    async def load_outbox(self, partition: int) -> dict[str, bytes]:
        """The links the partition's batches wrote that are not yet known to be sent."""
        ...

    async def clear_outbox(self, partition: int, sent: Mapping[str, bytes]) -> None:
        """Delete the outbox entries that still hold exactly what was sent."""
        ...

    # -- the one write path -----------------------------------------------------------------
    async def apply(
        self,
        writes: PartitionWrites,
        expected_offsets: Mapping[str, int] | None = None,
        expected_writes: int = 0,
    ) -> None:
        """Apply one batch's changes atomically (nothing when there are none).

        Fenced (``expected_offsets`` given): only if the partition's applied offsets are
        exactly those and its write count is ``expected_writes``, else ``StaleOffsets`` and
        nothing is written.
        """
        ...

    # -- indexes ----------------------------------------------------------------------------
    async def due_for_wake(self, partition: int, now: Instant, limit: int = 1000) -> list[str]:
        """Tickets whose wake-up time is at or before ``now``, the longest overdue first."""
        ...

    async def sla_counts(
        self, partition: int, now: Instant, within: Micros
    ) -> tuple[dict[str, int], dict[str, int]]:
        """(at_risk, breached_running) per target value."""
        ...

    async def sla_clocks(
        self, partitions: Iterable[int], targets: Sequence[SlaTarget], wanted: ClockRange
    ) -> tuple[list[ClockEntry], bool]:
        """The indexed clocks of ``wanted`` (unsorted) in one round trip, and whether any
        index may hold more after them (a read reached ``count``); ``GET /sla/at-risk``."""
        ...

    async def backlog(self, partition: int) -> dict[str, int]: ...

    # -- what the publisher shares ----------------------------------------------------------
    async def publish_window_sums(self, partition: int, blob: bytes) -> None: ...

    async def read_window_sums(self, partitions: Iterable[int]) -> dict[int, bytes]: ...

    async def publish_account_partial(self, partition: int, blob: bytes) -> None: ...

    async def read_account_partials(self, partitions: Iterable[int]) -> dict[int, bytes]:
        """Each partition's published accounts partial; those with none are left out."""
        ...

    async def publish_account_risk(self, partition: int, blob: bytes) -> None: ...

    async def read_account_risks(self, partitions: Iterable[int]) -> dict[int, bytes]:
        """Each partition's published list of at-risk customers; those with none left out."""
        ...

    async def write_snapshot(self, snapshot_json: bytes) -> None: ...

    async def read_snapshot(self) -> bytes | None: ...

    # -- the state guard (``streams.live.recovery``) ----------------------------------------
    async def has_marker(self, partition: int) -> bool:
        """Whether the partition's state marker is there (written on claim, never by a batch)."""
        ...

    async def set_marker(self, partition: int, token: str) -> None: ...

    async def has_state(self, partition: int) -> bool:
        """Whether the partition holds anything a batch, scan or publish writes; cheap."""
        ...

    async def wipe(self, partition: int) -> int:
        """Delete everything of the partition, its marker included; how many keys went."""
        ...

    async def check(self, partition: int) -> PartitionCheck:
        """Marker, offsets, write count and missed offsets, read together."""
        ...
