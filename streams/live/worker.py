"""The live worker's core: batches in, Redis writes out, breaches on time, snapshots merged.

Faust (``streams.live.app``) only feeds ``handle`` with the messages of a fetched batch, calls
``scan`` and ``publish`` on timers and ``assign``/``revoke`` on rebalances. Everything here
is plain asyncio over the store (``streams.live.stores.protocol``), so it is tested against
the real Redis, or the in-memory store, without Kafka.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

from streams.domain.account_links import Link
from streams.domain.account_partial import AccountsPartial, render_section
from streams.domain.instant import (
    MICROS_PER_MINUTE,
    MICROS_PER_SECOND,
    Instant,
    ceil_minute,
    floor_minute,
)
from streams.domain.kpis import DimKey, KpiCounters
from streams.domain.policies import PolicySet
from streams.domain.snapshot import Snapshot, fits
from streams.domain.windows import WINDOWS, MinuteDeltas
from streams.errors import TransientError
from streams.live.account_outbox import LinkSink, fill_outbox, next_seq, outbox_records
from streams.live.account_plan import plan_accounts, plan_links, prune_links, special_topics
from streams.live.account_records import decode_account
from streams.live.account_share import PartialCache, Published, merge_published
from streams.live.batch import DecodedBatch, Message, PartitionState, decode_batch, plan
from streams.live.continuity import first_offsets, seek_back
from streams.live.fetch_skips import SkippedOffsets
from streams.live.metrics import Metrics
from streams.live.placement import Placement
from streams.live.retrying import retry
from streams.live.stores.protocol import StaleOffsets, Store
from streams.live.window_sums import (
    add_window_sums,
    assemble_snapshot,
    empty_window_sums,
    encode_window_sums,
    merge_window_sums,
)
from streams.live.writes import split_bucket_field
from streams.topic_names import DEFAULT_TOPICS, TopicNames

log = logging.getLogger(__name__)
T = TypeVar("T")
WEEK = WINDOWS["7d"]
# A batch refused as stale is redone on a fresh view; another refusal right after is a bug
# (or a second writer that keeps racing), not something to loop on.
STALE_ATTEMPTS = 3
# Seeks a partition's consumer back to Redis's applied offsets + 1 for every input topic
# (offset 0 for a topic Redis has none of); returns topic -> the offset it sought to.
Rewind = Callable[[int, Mapping[str, int]], Awaitable[Mapping[str, int]]]


class DeadLetterSink(Protocol):
    """Where invalid events go (the dead-letter topic); must be durable when it returns."""

    async def send(self, records: Sequence[dict[str, Any]]) -> None: ...


@dataclass(slots=True)
class Health:
    redis_ok: bool = True
    kafka_ok: bool = True
    assigned: bool = False
    last_error: str = ""


@dataclass(slots=True)
class Worker:
    policies: PolicySet
    store: Store
    metrics: Metrics
    deadletters: DeadLetterSink
    partitions: int
    clock: Callable[[], float] = time.time
    states: dict[int, PartitionState] = field(default_factory=dict)
    locks: defaultdict[int, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    # None until the first assign/revoke: a worker driven without Kafka (bench, tests)
    # adopts whatever partition its batches name
    owned: set[int] | None = None
    health: Health = field(default_factory=Health)
    max_backoff: float = 5.0
    # the key and partition check (``streams.live.placement``); None takes messages as
    # they come (a bench or a test feeding unkeyed messages)
    placement: Placement | None = None
    topics: TopicNames = DEFAULT_TOPICS  # names the topic of a dead letter read long before
    # With Kafka: how to seek a partition back when Redis holds less than was fetched
    # (``streams.live.continuity``). Without (bench, tests), batches are trusted as given.
    rewind: Rewind | None = None
    # offsets the consumer stepped over (transaction markers, aborted records): not missed
    skips: SkippedOffsets | None = None
    # (topic, partition) -> the offset the consumer was sought to, until a batch of it arrives
    positioned: dict[tuple[str, int], int] = field(default_factory=dict)
    # Set by ``stop``: retries give up, so that a shutdown never waits for Redis.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    account_partials: PartialCache = field(default_factory=PartialCache)
    # where tickets' links to their accounts go (the account support topic); None: tickets
    # are not linked (a worker fed by a bench or a test without accounts)
    links: LinkSink | None = None
    # the shortest time between two sends of a partition's links (``account_outbox``); 0:
    # after every batch that made some
    link_gap: float = 0.0
    monotonic: Callable[[], float] = time.monotonic

    def now(self) -> Instant:
        return int(self.clock() * MICROS_PER_SECOND)

    # -- ownership -------------------------------------------------------------------------
    async def assign(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            async with self.locks[partition]:
                self.owned = (self.owned or set()) | {partition}
                if partition not in self.states:
                    self.states[partition] = await self._adopt(partition)
        self.health.assigned = bool(self.states)

    async def revoke(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            async with self.locks[partition]:
                self.owned = (self.owned or set()) - {partition}
                self.states.pop(partition, None)
                for key in [k for k in self.positioned if k[1] == partition]:
                    del self.positioned[key]
                self.metrics.forget_partition(partition)
        self.health.assigned = bool(self.states)

    def sought(self, topic: str, partition: int, offset: int) -> None:
        """The consumer was sought to ``offset`` (the seek that ends a rebalance): a first
        record further on is a real gap (``streams.live.continuity``)."""
        self.positioned[(topic, partition)] = offset

    def owns(self, partition: int) -> bool:
        """Once ``assign`` or ``revoke`` has run, only assigned partitions are worked on."""
        return self.owned is None or partition in self.owned

    async def _adopt(self, partition: int) -> PartitionState:
        """A partition's cache, from what Redis holds: applied offsets and a week of buckets."""
        state = PartitionState(partition)
        state.offsets = await self._retry(lambda: self.store.load_offsets(partition))
        state.writes = await self._retry(lambda: self.store.load_writes(partition))
        missed = await self._retry(lambda: self.store.load_missed(partition))
        for topic, count in missed.items():
            self.metrics.set_missed_offsets_recorded(topic, partition, count)
        since = floor_minute(self.now()) - WEEK - MICROS_PER_MINUTE
        buckets = await self._retry(lambda: self.store.load_buckets(partition, since))
        deltas: MinuteDeltas = {}
        for minute, counters in buckets.items():
            bucket: dict[DimKey, dict[str, int]] = {}
            deltas[minute] = bucket
            for name, value in counters.items():
                dim, dim_value, counter = split_bucket_field(name)
                bucket.setdefault((dim, dim_value), {})[counter] = value
        state.windows.apply_deltas(deltas)
        state.exact_from = since
        records = await self._retry(lambda: self.store.load_accounts(partition))
        state.accounts = {a: decode_account(a, blob) for a, blob in records.items()}
        for blob in (await self._retry(lambda: self.store.load_links(partition))).values():
            link = Link.decode(blob)
            state.links.setdefault(link.account_id, {})[link.ticket_id] = link
        state.link_seq = await self._retry(lambda: self.store.load_link_seq(partition))
        if self.links is not None:  # what an earlier owner may not have sent
            state.unsent = await self._retry(lambda: self.store.load_outbox(partition))
            await self._send_links(state)
        return state

    def _links_due(self, state: PartitionState) -> bool:
        """Whether the partition has unsent links and ``link_gap`` has passed since it last
        sent some."""
        return bool(state.unsent) and self.monotonic() - state.links_sent_at >= self.link_gap

    async def _send_links(self, state: PartitionState) -> None:
        """Send the partition's unsent links, then clear them from the outbox. A failure
        leaves them to the next batch or scan (or the next owner): the batch itself is
        applied."""
        sink, unsent = self.links, dict(state.unsent)
        if sink is None or not unsent:
            return
        state.links_sent_at = self.monotonic()
        try:
            await self._retry(lambda: sink.send_links(outbox_records(unsent)))
            await self._retry(lambda: self.store.clear_outbox(state.partition, unsent))
        except Exception as error:
            log.warning("partition %d: links not sent yet (%r)", state.partition, error)
            return
        for name, blob in unsent.items():
            if state.unsent.get(name) == blob:
                del state.unsent[name]

    # -- work ------------------------------------------------------------------------------
    async def handle(self, messages: Sequence[Message]) -> None:
        """Apply one fetched batch; returns only when Redis holds it (then the caller acks).

        The batch's partitions are applied concurrently: each has its own lock, cache, keys
        and fenced transaction, so while Redis runs one partition's transaction the worker
        plans the next (in turn, Redis's time and the worker's added up). If one fails, the
        others are cancelled and the error raised: what Redis holds is the truth either way.
        """
        by_partition: defaultdict[int, list[Message]] = defaultdict(list)
        for message in messages:
            by_partition[message.partition].append(message)
        if len(by_partition) == 1:
            [(partition, batch)] = by_partition.items()
            await self._handle_partition(partition, batch)
            return
        tasks = [
            asyncio.ensure_future(self._handle_partition(partition, batch))
            for partition, batch in sorted(by_partition.items())
        ]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _handle_partition(self, partition: int, batch: list[Message]) -> None:
        async with self.locks[partition]:
            if not self.owns(partition):
                # fetched before a rebalance took the partition away: its new owner
                # applies it (from the offsets in Redis); applying it here too would
                # make this worker a second writer with a stale cache
                self.metrics.count_not_owned(len(batch))
                return
            for attempt in range(1, STALE_ATTEMPTS + 1):
                state = self.states.get(partition)
                if state is None:
                    state = self.states[partition] = await self._adopt(partition)
                    self.health.assigned = True
                if await self._fetched_past_redis(state, batch):
                    return
                special = special_topics(self.topics)
                decoded = decode_batch(batch, state.offsets, self.placement, special)
                if decoded.gaps and self.skips is not None:
                    decoded.gaps = self.skips.unexplained(partition, decoded.gaps)
                try:
                    await self._apply(state, decoded, ())
                except StaleOffsets as error:
                    if attempt == STALE_ATTEMPTS:
                        raise
                    log.warning("%s; reloading the partition from Redis", error)
                    continue
                if decoded.skipped:
                    self.metrics.count_redelivered(decoded.skipped)
                for topic, first, missing in decoded.gaps:
                    log.warning(
                        "%s partition %d: %d offsets from %d on were never received "
                        "(deleted by retention before they were applied, or lost by the "
                        "consumer)",
                        topic,
                        partition,
                        missing,
                        first,
                    )
                    self.metrics.count_missed_offsets(topic, missing)
                break

    async def _fetched_past_redis(self, state: PartitionState, batch: list[Message]) -> bool:
        """Seek back instead of applying a batch that starts past what Redis applied (+1),
        unless the consumer was just positioned there (a real gap); True when sought back."""
        if self.rewind is None:
            return False
        partition = state.partition
        first = first_offsets(batch)
        positioned = {t: o for (t, p), o in self.positioned.items() if p == partition}
        applied: Mapping[str, int] = state.offsets
        if self.skips is not None:  # the records to apply next may follow a commit marker
            applied = {t: self.skips.passed(t, partition, applied.get(t, -1)) for t in first}
        wanted = seek_back(first, applied, positioned)
        for topic in first:
            self.positioned.pop((topic, partition), None)  # a batch of it arrived
        if not wanted:
            return False
        log.warning(
            "partition %d: fetched records start past what Redis applied (topic: first "
            "fetched, next to apply %s); Redis went back (restored from an older copy?): "
            "consuming them again from Redis's offsets",
            partition,
            {t: (first[t], o) for t, o in sorted(wanted.items())},
        )
        await self._seek_back(state, mark=True)
        return True

    async def _seek_back(self, state: PartitionState, *, mark: bool) -> None:
        """Seek the partition to Redis's offsets + 1 (``state`` was just loaded from Redis).

        ``mark``: remember the positions, so that a record further on delivered first from
        there is a real gap. Only where no batch fetched before the seek can still arrive:
        in a batch's own delivery, since the fetch loop fetches the next batch after it.
        """
        if self.rewind is None:
            return
        partition = state.partition
        try:
            sought = await self.rewind(partition, dict(state.offsets))
        except Exception as error:  # revoked meanwhile: its next owner seeks from Redis
            log.warning("partition %d: could not seek back (%r)", partition, error)
            return
        self.metrics.count_seek_back()
        if mark:
            for topic, offset in sought.items():
                self.positioned[(topic, partition)] = offset

    async def resync(self, partition: int) -> bool:
        """Reload an owned partition from Redis and, when Redis went back (its applied offsets
        or its count of writes behind what this worker held), seek it back to consume the
        difference again. The caller holds the partition's lock. True when it sought back."""
        before = self.states.pop(partition, None)
        if not self.owns(partition):
            return False
        state = self.states[partition] = await self._adopt(partition)
        held = before.offsets if before is not None else {}
        held_writes = before.writes if before is not None else 0
        stored = state.offsets
        behind = {t: (stored.get(t, -1), o) for t, o in held.items() if stored.get(t, -1) < o}
        if not behind and state.writes >= held_writes:
            return False
        log.warning(
            "partition %d: Redis went back (restored from an older copy?): applied offsets "
            "(stored, held) %s, %d of the %d writes held; consuming again from Redis's offsets",
            partition,
            behind,
            state.writes,
            held_writes,
        )
        await self._seek_back(state, mark=False)
        return True

    async def scan(self) -> int:
        """Evaluate tickets whose wake-up time has passed: breaches with no further event.
        Then send the links that waited for ``link_gap`` to pass."""
        woken = 0
        for partition in sorted(self.states):
            async with self.locks[partition]:
                state = self.states.get(partition)
                if state is None:
                    continue
                due = await self._retry(partial(self.store.due_for_wake, partition, self.now()))
                if due:
                    try:
                        await self._apply(state, DecodedBatch(), due)
                    except StaleOffsets as error:  # the next scan works on a fresh view
                        log.warning("%s; reloading the partition from Redis", error)
                        self.states[partition] = state  # ``_apply`` dropped it
                        await self.resync(partition)
                        continue
                    woken += len(due)
                if self._links_due(state):
                    await self._send_links(state)
        return woken

    async def _apply(self, state: PartitionState, batch: DecodedBatch, wake: Sequence[str]) -> None:
        started = time.perf_counter()
        partition = state.partition
        missing = state.missing_for(batch, wake)
        if missing:
            records = await self._retry(lambda: self.store.load_tickets(partition, missing))
            state.load(records, missing, self.policies, self.links is not None)
        expected = dict(state.offsets)  # the fence: what this worker believes Redis holds
        now = self.now()
        writes = state.writes
        try:
            link = self.links is not None
            result = plan(state, batch, self.policies, now, wake, self.topics, link)
            if batch.accounts:
                plan_accounts(state, batch, result)
            if batch.links:
                plan_links(state, batch, result)
            if state.links:
                prune_links(state, result, now)
            if result.support:
                fill_outbox(result, next_seq(state.link_seq, now))
        except Exception:
            self.states.pop(partition, None)  # the cache may be half-changed: rebuild it
            raise
        missed = result.writes.missed
        for topic, _, count in batch.gaps:
            missed[topic] = missed.get(topic, 0) + count
        try:
            if result.deadletters:
                await self._retry(lambda: self.deadletters.send(result.deadletters))
            if result.writes:
                await self._retry(lambda: self.store.apply(result.writes, expected, writes))
                state.writes = writes + 1
        except BaseException:
            self.states.pop(partition, None)
            raise
        state.windows.apply_deltas(result.window_deltas)
        if result.writes.link_seq is not None:
            state.link_seq = result.writes.link_seq
        if result.writes.outbox:
            state.unsent.update(result.writes.outbox)
        if self._links_due(state):
            await self._send_links(state)
        for topic, count in missed.items():
            self.metrics.add_missed_offsets_recorded(topic, partition, count)
        for (topic, type_, outcome), count in result.outcomes.items():
            self.metrics.count_events(topic, type_, outcome, count)
        for topic, count in Counter(d["source_topic"] for d in result.deadletters).items():
            self.metrics.count_deadletters(topic, count)
        self.metrics.observe_facts(result.added_facts, now)
        if result.awaiting_creation:
            self.metrics.count_awaiting_creation(result.awaiting_creation)
        if result.latest_event_time is not None:
            lag = (now - result.latest_event_time) / MICROS_PER_SECOND
            self.metrics.set_event_time_lag(max(lag, 0.0))
        for topic, offset in batch.last_offsets.items():
            self.metrics.set_committed_offset(topic, partition, offset)
        size = len(batch.events) + len(batch.accounts) + len(batch.invalid) + len(batch.misplaced)
        size += len(wake)
        self.metrics.observe_batch(time.perf_counter() - started, size)

    async def _retry(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Retry transient I/O failures with backoff until the worker stops (``stopping``:
        then it gives up by cancelling, as a shutdown would; ``streams.live.retrying``)."""
        value = await retry(
            operation, self.stopping, self.max_backoff, (TransientError,), self._failed
        )
        self.health.redis_ok = True
        return value

    def _failed(self, error: Exception) -> None:
        self.health.redis_ok = False
        self.health.last_error = str(error)

    def report_lag(self, highwaters: Mapping[tuple[str, int], int | None]) -> None:
        """Consumer lag of owned partitions: messages after the last one Redis holds.

        ``highwaters`` maps (topic, partition) to the broker's high watermark (the next
        offset to be written), None while unknown.
        """
        for (topic, partition), lag in self.lag(highwaters).items():
            self.metrics.set_consumer_lag(topic, partition, lag)

    def lag(self, highwaters: Mapping[tuple[str, int], int | None]) -> dict[tuple[str, int], int]:
        """Messages after the last one Redis holds, per owned (topic, partition) whose high
        watermark is known."""
        lags = {}
        for (topic, partition), highwater in highwaters.items():
            state = self.states.get(partition)
            if highwater is None or state is None:
                continue
            applied = state.offsets.get(topic, -1)
            if self.skips is not None:  # a commit marker after the last record is no lag
                applied = self.skips.passed(topic, partition, applied)
            lags[(topic, partition)] = max(highwater - applied - 1, 0)
        return lags

    # -- snapshot --------------------------------------------------------------------------
    async def publish(self) -> Snapshot:
        """Publish owned partitions' window sums, then merge every partition's into a snapshot.

        Owned partitions are merged from memory, in the same step that encodes them (no
        await in between, so no batch changes them meanwhile); only the other workers'
        partitions are read back from Redis.
        """
        now = self.now()
        as_of = ceil_minute(now)
        merged = empty_window_sums()
        blobs: dict[int, bytes] = {}
        accounts: dict[int, Published] = {}
        health = self.policies.account_health
        for partition in sorted(self.states):
            state = self.states.get(partition)
            if state is None:
                continue
            sums = {name: state.windows.window(name, as_of) for name in WINDOWS}
            state.forget_before(as_of - WEEK - MICROS_PER_MINUTE)
            blobs[partition] = encode_window_sums(as_of, sums)
            add_window_sums(merged, sums)
            accounts[partition] = await self.account_partials.partial(state, as_of, health)
        self.account_partials.forget(accounts)
        for partition, blob in blobs.items():
            await self._retry(partial(self.store.publish_window_sums, partition, blob))
            shared = accounts[partition]
            await self._retry(partial(self.store.publish_account_partial, partition, shared.blob))
            await self._retry(partial(self.store.publish_account_risk, partition, shared.risk))
        own = {p: shared.partial for p, shared in accounts.items()}
        snapshot, mirror = await self.merged_snapshot(now, merged, set(blobs), own)
        encoded = json.dumps(snapshot.to_json(), separators=(",", ":")).encode()
        await self._retry(lambda: self.store.write_snapshot(encoded))
        self.metrics.mirror_snapshot(mirror)
        return snapshot

    async def merged_snapshot(
        self,
        now: Instant,
        merged: dict[str, dict[DimKey, KpiCounters]],
        merged_partitions: Iterable[int],
        own_accounts: Mapping[int, AccountsPartial] | None = None,
    ) -> tuple[Snapshot, Snapshot]:
        """The global snapshot: all partitions' window sums, backlog and SLA counts, summed;
        and the same built with the metrics' label limits, for the gauges (the same object
        unless some team or agent map exceeds them).

        ``merged`` already holds the window sums of ``merged_partitions``; the others' are
        read from Redis. Likewise ``own_accounts`` holds some partitions' accounts partials;
        the snapshot has ``accounts`` when some partition has an account.
        """
        as_of = ceil_minute(now)
        everyone = range(self.partitions)
        done = set(merged_partitions)
        others = [p for p in everyone if p not in done]
        blobs = await self._retry(lambda: self.store.read_window_sums(others))
        windows = merge_window_sums(blobs.values(), merged)
        within = self.policies.at_risk_within
        backlogs, clocks = [], []
        for partition in everyone:
            backlogs.append(await self._retry(partial(self.store.backlog, partition)))
            clocks.append(await self._retry(partial(self.store.sla_counts, partition, now, within)))
        own = own_accounts or {}
        read = await self._retry(
            lambda: self.store.read_account_partials(p for p in everyone if p not in own)
        )
        accounts = merge_published(read.values(), own.values(), as_of)
        section = render_section(accounts) if accounts.accounts else None
        snapshot = assemble_snapshot(as_of, windows, backlogs, clocks)
        limits = self.metrics.label_limits
        mirror = (
            snapshot
            if fits(snapshot, limits)
            else assemble_snapshot(as_of, windows, backlogs, clocks, limits)
        )
        if section is None:
            return snapshot, mirror
        return snapshot.with_accounts(section), mirror.with_accounts(section)
