"""The store protocol in the process: the state the Redis store keeps, without Redis.

For tests and replay: the worker runs unchanged over it. It keeps Redis's semantics as the
contract suite (``tests/stores/contract.py``) checks them: a batch applied at once or not at
all, the fence (``StaleOffsets``), counters whose fields vanish at 0, buckets indexed by
minute, records and buckets that expire. Expiry follows the injected ``clock`` (seconds, as
Redis TTLs), checked when a key is read or written, as Redis's lazy expiry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from streams.domain.facts import SlaTarget
from streams.domain.instant import Instant, Micros
from streams.live.stores.protocol import (
    DEFAULT_TTL_SECONDS,
    ClockEntry,
    ClockRange,
    PartitionCheck,
    StaleOffsets,
    Store,
)
from streams.live.writes import PartitionWrites, link_field


@dataclass(slots=True)
class _Partition:
    """One partition's keys (the Redis layout's ``{p}:*``), as plain Python values."""

    offsets: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    missed: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, bytes] = field(default_factory=dict)
    ticket_expiry: dict[str, float] = field(default_factory=dict)  # closed: when it goes
    buckets: dict[Instant, dict[str, int]] = field(default_factory=dict)
    bucket_expiry: dict[Instant, float] = field(default_factory=dict)
    minutes: set[Instant] = field(default_factory=set)  # the bucket index
    backlog: dict[str, int] = field(default_factory=dict)
    due: dict[SlaTarget, dict[str, Instant]] = field(default_factory=dict)
    # breached running clocks -> when they breached: Redis's breached set and late index
    breached: dict[SlaTarget, dict[str, Instant]] = field(default_factory=dict)
    wake: dict[str, Instant] = field(default_factory=dict)
    window_sums: bytes | None = None
    accounts: dict[str, bytes] = field(default_factory=dict)
    links: dict[str, bytes] = field(default_factory=dict)
    outbox: dict[str, bytes] = field(default_factory=dict)
    link_seq: int = 0
    account_partial: bytes | None = None
    account_risk: bytes | None = None
    marker: str | None = None

    def keys(self) -> int:
        """How many Redis keys the same state would take (what ``wipe`` reports)."""
        structures = (
            self.offsets,
            self.writes,
            self.missed,
            self.minutes,
            self.backlog,
            self.wake,
            self.window_sums,
            self.accounts,
            self.links,
            self.outbox,
            self.link_seq,
            self.account_partial,
            self.account_risk,
            self.marker,
            *self.due.values(),
            *self.breached.values(),
        )
        return len(self.tickets) + len(self.buckets) + sum(1 for s in structures if s)


class MemoryStore:
    """``streams.live.stores.protocol.Store`` in dicts; never fails, never transient."""

    def __init__(
        self,
        *,
        bucket_ttl: int = DEFAULT_TTL_SECONDS,
        closed_ticket_ttl: int = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if bucket_ttl <= 0 or closed_ticket_ttl <= 0:
            raise ValueError("store TTLs must be positive seconds")
        self.bucket_ttl = bucket_ttl
        self.closed_ticket_ttl = closed_ticket_ttl
        self.clock = clock
        self._partitions: dict[int, _Partition] = {}
        self._snapshot: bytes | None = None

    def _part(self, partition: int) -> _Partition:
        found = self._partitions.get(partition)
        if found is None:
            found = self._partitions[partition] = _Partition()
        return found

    async def aclose(self) -> None:
        return None

    async def ping(self) -> bool:
        return True

    # -- reads ------------------------------------------------------------------------------
    async def load_offsets(self, partition: int) -> dict[str, int]:
        return dict(self._part(partition).offsets)

    async def load_writes(self, partition: int) -> int:
        return self._part(partition).writes

    async def load_missed(self, partition: int) -> dict[str, int]:
        return dict(self._part(partition).missed)

    async def load_tickets(self, partition: int, ticket_ids: Collection[str]) -> dict[str, bytes]:
        p = self._part(partition)
        now = self.clock()
        for ticket in ticket_ids:
            _expire_ticket(p, ticket, now)
        return {t: p.tickets[t] for t in ticket_ids if t in p.tickets}

    async def load_buckets(
        self, partition: int, since_minute: Instant
    ) -> dict[Instant, dict[str, int]]:
        """Buckets from ``since_minute`` on; index entries of expired buckets are dropped."""
        p = self._part(partition)
        now = self.clock()
        found: dict[Instant, dict[str, int]] = {}
        for minute in sorted(m for m in p.minutes if m >= since_minute):
            _expire_bucket(p, minute, now)
            if minute in p.buckets:
                found[minute] = dict(p.buckets[minute])
            else:
                p.minutes.discard(minute)
        return found

    async def due_for_wake(self, partition: int, now: Instant, limit: int = 1000) -> list[str]:
        return _due(self._part(partition).wake, now, limit)

    async def sla_counts(
        self, partition: int, now: Instant, within: Micros
    ) -> tuple[dict[str, int], dict[str, int]]:
        p = self._part(partition)
        at_risk: dict[str, int] = {}
        breached: dict[str, int] = {}
        for target in SlaTarget:
            deadlines = p.due.get(target, {}).values()
            at_risk[target.value] = sum(1 for d in deadlines if now <= d <= now + within)
            overdue = sum(1 for d in deadlines if d < now)
            breached[target.value] = len(p.breached.get(target, ())) + overdue
        return at_risk, breached

    async def sla_clocks(
        self, partitions: Iterable[int], targets: Sequence[SlaTarget], wanted: ClockRange
    ) -> tuple[list[ClockEntry], bool]:
        entries: list[ClockEntry] = []
        more = False
        start = wanted.start
        for partition in partitions:
            p = self._part(partition)
            for target in targets:
                indexes: list[tuple[Mapping[str, Instant], bool, Instant | None, Instant | None]]
                indexes = []
                if wanted.late:
                    indexes.append((p.breached.get(target, {}), True, None, None))
                if wanted.due_until is not None:
                    due = p.due.get(target, {})
                    indexes.append((due, False, wanted.due_from, wanted.due_until))
                for index, late, low, high in indexes:
                    ranked = sorted((score, member) for member, score in index.items())
                    if start is not None:  # every entry at ``start``, then ``count`` after it
                        at_start = [m for score, m in ranked if score == start]
                        entries += [ClockEntry(start, m, target, partition, late) for m in at_start]
                    # after ``start`` (exclusive) when it is past ``low``, else from ``low``
                    above, floor = (
                        (True, start)
                        if start is not None and (low is None or low <= start)
                        else (False, low)
                    )
                    read = [
                        (score, m)
                        for score, m in ranked
                        if (floor is None or score > floor or (not above and score == floor))
                        and (high is None or score <= high)
                    ][: wanted.count]
                    more = more or len(read) >= wanted.count
                    entries += [ClockEntry(score, m, target, partition, late) for score, m in read]
        return entries, more

    async def load_records(self, wanted: Mapping[int, Collection[str]]) -> dict[str, bytes]:
        records: dict[str, bytes] = {}
        for partition, ticket_ids in wanted.items():
            records.update(await self.load_tickets(partition, ticket_ids))
        return records

    async def backlog(self, partition: int) -> dict[str, int]:
        return dict(self._part(partition).backlog)

    async def load_accounts(self, partition: int) -> dict[str, bytes]:
        return dict(self._part(partition).accounts)

    async def load_account(self, partition: int, account_id: str) -> bytes | None:
        return self._part(partition).accounts.get(account_id)

    async def load_account_links(self, partition: int, account_id: str) -> dict[str, bytes]:
        prefix = link_field(account_id, "")
        links = self._part(partition).links
        return {f[len(prefix) :]: blob for f, blob in links.items() if f.startswith(prefix)}

    async def load_links(self, partition: int) -> dict[str, bytes]:
        return dict(self._part(partition).links)

    async def load_link_seq(self, partition: int) -> int:
        return self._part(partition).link_seq

    async def load_outbox(self, partition: int) -> dict[str, bytes]:
        return dict(self._part(partition).outbox)

    async def clear_outbox(self, partition: int, sent: Mapping[str, bytes]) -> None:
        outbox = self._part(partition).outbox
        for name, blob in sent.items():
            if outbox.get(name) == blob:
                del outbox[name]

    def records(self, partition: int) -> Mapping[str, bytes]:
        """Every ticket record of the partition, expired or not (replay's own view: it keeps
        them all, as nothing expires on its clock)."""
        return self._part(partition).tickets

    # -- the write path ---------------------------------------------------------------------
    async def apply(
        self,
        writes: PartitionWrites,
        expected_offsets: Mapping[str, int] | None = None,
        expected_writes: int = 0,
    ) -> None:
        """As ``RedisStore.apply``: all of a batch or, fenced on a stale view, none of it."""
        if not writes and not writes.closed:
            return
        p = self._part(writes.partition)
        if expected_offsets is not None and (
            p.offsets != dict(expected_offsets) or p.writes != expected_writes
        ):
            raise StaleOffsets(
                f"partition {writes.partition}: the store has {p.offsets} after {p.writes} "
                f"writes, expected {dict(expected_offsets)} after {expected_writes}"
            )
        now = self.clock()
        self._add_counters(p, writes, now)
        self._set_bucket_values(p, writes, now)
        self._write_tickets(p, writes, now)
        _write_clocks(p, writes)
        p.accounts.update(writes.accounts)
        for name, link in writes.links.items():
            if link is None:
                p.links.pop(name, None)
            else:
                p.links[name] = link
        p.outbox.update(writes.outbox)
        if writes.link_seq is not None:
            p.link_seq = writes.link_seq
        p.offsets.update(writes.offsets)
        for topic, count in writes.missed.items():
            p.missed[topic] = p.missed.get(topic, 0) + count
        p.writes += 1

    def _add_counters(self, p: _Partition, writes: PartitionWrites, now: float) -> None:
        _add(p.backlog, writes.backlog)
        for minute, deltas in writes.buckets.items():
            _expire_bucket(p, minute, now)
            bucket = p.buckets.setdefault(minute, {})
            _add(bucket, deltas)
            if bucket:
                p.bucket_expiry[minute] = now + self.bucket_ttl
                p.minutes.add(minute)
            else:
                _drop_bucket(p, minute)
                p.minutes.discard(minute)

    def _set_bucket_values(self, p: _Partition, writes: PartitionWrites, now: float) -> None:
        for minute, change in writes.bucket_values.items():
            if change.empty:
                _drop_bucket(p, minute)
                p.minutes.discard(minute)
                continue
            _expire_bucket(p, minute, now)
            bucket = p.buckets.setdefault(minute, {})
            bucket.update(change.values)
            for name in change.removed:
                bucket.pop(name, None)
            if bucket:
                p.bucket_expiry[minute] = now + self.bucket_ttl
            else:
                _drop_bucket(p, minute)
            p.minutes.add(minute)  # as Redis: ``load_buckets`` drops an entry without bucket

    def _write_tickets(self, p: _Partition, writes: PartitionWrites, now: float) -> None:
        for ticket, record in writes.tickets.items():
            p.ticket_expiry.pop(ticket, None)
            if record is None:
                p.tickets.pop(ticket, None)
                continue
            p.tickets[ticket] = record
            if ticket in writes.closed:
                p.ticket_expiry[ticket] = now + self.closed_ticket_ttl
        for ticket in writes.closed:
            if ticket not in writes.tickets:
                _expire_ticket(p, ticket, now)
                if ticket in p.tickets:
                    p.ticket_expiry[ticket] = now + self.closed_ticket_ttl

    # -- what the publisher shares ----------------------------------------------------------
    async def publish_window_sums(self, partition: int, blob: bytes) -> None:
        self._part(partition).window_sums = blob

    async def read_window_sums(self, partitions: Iterable[int]) -> dict[int, bytes]:
        found = {p: self._partitions[p].window_sums for p in partitions if p in self._partitions}
        return {p: blob for p, blob in found.items() if blob is not None}

    async def publish_account_partial(self, partition: int, blob: bytes) -> None:
        self._part(partition).account_partial = blob

    async def read_account_partials(self, partitions: Iterable[int]) -> dict[int, bytes]:
        found = {
            p: self._partitions[p].account_partial for p in partitions if p in self._partitions
        }
        return {p: blob for p, blob in found.items() if blob is not None}

    async def publish_account_risk(self, partition: int, blob: bytes) -> None:
        self._part(partition).account_risk = blob

    async def read_account_risks(self, partitions: Iterable[int]) -> dict[int, bytes]:
        parts = self._partitions
        found = {p: parts[p].account_risk for p in partitions if p in parts}
        return {p: blob for p, blob in found.items() if blob is not None}

    async def write_snapshot(self, snapshot_json: bytes) -> None:
        self._snapshot = snapshot_json

    async def read_snapshot(self) -> bytes | None:
        return self._snapshot

    # -- the state guard --------------------------------------------------------------------
    async def has_marker(self, partition: int) -> bool:
        return self._part(partition).marker is not None

    async def set_marker(self, partition: int, token: str) -> None:
        self._part(partition).marker = token

    async def has_state(self, partition: int) -> bool:
        p = self._part(partition)
        return bool(
            p.offsets
            or p.writes
            or p.minutes
            or p.backlog
            or p.wake
            or p.window_sums is not None
            or p.account_partial is not None
        )

    async def wipe(self, partition: int) -> int:
        gone = self._partitions.pop(partition, None)
        return gone.keys() if gone is not None else 0

    async def check(self, partition: int) -> PartitionCheck:
        p = self._part(partition)
        return PartitionCheck(p.marker is not None, dict(p.offsets), p.writes, dict(p.missed))


def _add(counters: dict[str, int], deltas: Mapping[str, int]) -> None:
    """Counter deltas; a field that reaches 0 goes (as the Redis store's counters script)."""
    for name, delta in deltas.items():
        value = counters.get(name, 0) + delta
        if value:
            counters[name] = value
        else:
            counters.pop(name, None)


def _write_clocks(p: _Partition, writes: PartitionWrites) -> None:
    for target, deadlines in writes.due.items():
        _set_scores(p.due.setdefault(target, {}), deadlines)
    for target, members in writes.breached.items():
        _set_scores(p.breached.setdefault(target, {}), members)
    _set_scores(p.wake, writes.wake)


def _set_scores(index: dict[str, Instant], scores: Mapping[str, Instant | None]) -> None:
    for member, score in scores.items():
        if score is None:
            index.pop(member, None)
        else:
            index[member] = score


def _due(index: Mapping[str, Instant], until: Instant, limit: int) -> list[str]:
    """Members scored at or before ``until``, by score then member (a sorted set's order)."""
    due = sorted((score, member) for member, score in index.items() if score <= until)
    return [member for _, member in due[:limit]]


def _expire_ticket(p: _Partition, ticket: str, now: float) -> None:
    expiry = p.ticket_expiry.get(ticket)
    if expiry is not None and expiry <= now:
        del p.ticket_expiry[ticket]
        p.tickets.pop(ticket, None)


def _expire_bucket(p: _Partition, minute: Instant, now: float) -> None:
    expiry = p.bucket_expiry.get(minute)
    if expiry is not None and expiry <= now:
        _drop_bucket(p, minute)


def _drop_bucket(p: _Partition, minute: Instant) -> None:
    p.buckets.pop(minute, None)
    p.bucket_expiry.pop(minute, None)


_IS_A_STORE: type[Store] = MemoryStore  # mypy checks the protocol here
