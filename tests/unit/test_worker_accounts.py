"""Account events through the live worker (in-memory store): the same accounts as replay.

The golden accounts log goes to its topics as services would send it (each event keyed by
its ticket_id or account_id, on Kafka's default partition for that key); the worker's
snapshot, merged from per-partition partials, equals ``ticketpulse replay`` of the same log.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from streams.domain.account_decode import decode_any
from streams.domain.account_events import AccountEvent
from streams.domain.account_timeline import AccountTimeline
from streams.domain.instant import MICROS_PER_SECOND, parse_rfc3339
from streams.domain.policies import load_policies
from streams.domain.timeline import EVENT_LIMIT
from streams.live.account_share import RECOUNT_STEP, PartialCache
from streams.live.batch import Message, PartitionState
from streams.live.metrics import Metrics
from streams.live.placement import Placement, partition_of
from streams.live.stores.memory import MemoryStore
from streams.live.worker import Worker
from streams.replay import replay_lines
from streams.topic_names import TopicNames

GOLDEN = Path(__file__).parent.parent / "golden" / "accounts"
POLICIES = load_policies(GOLDEN / "policies.yaml")
AS_OF = parse_rfc3339("2026-12-01T00:00:00Z")
NOW = AS_OF - 1  # the worker's clock just before as_of: its snapshot is as of as_of
PARTITIONS = 3
TOPICS = TopicNames.resolve("t.")


class Keep:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def send(self, records: Sequence[dict[str, Any]]) -> None:
        self.records.extend(records)


class Loop:
    """The account support topic: links sent, delivered back to the worker on their
    account's partition, as Kafka would."""

    def __init__(self, partitions: int = PARTITIONS) -> None:
        self.partitions = partitions
        self.sent: list[tuple[bytes, bytes]] = []
        self.offsets = [0] * partitions

    async def send_links(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        self.sent.extend(records)

    def take(self) -> list[Message]:
        out = []
        for key, value in self.sent:
            partition = partition_of(key, self.partitions)
            offset = self.offsets[partition]
            self.offsets[partition] += 1
            out.append(Message(TOPICS.account_support, partition, offset, value, key))
        self.sent = []
        return out


def worker(
    store: MemoryStore,
    dead: Keep | None = None,
    partitions: int = PARTITIONS,
    links: Loop | None = None,
) -> Worker:
    return Worker(
        policies=POLICIES,
        store=store,
        metrics=Metrics(CollectorRegistry()),
        deadletters=dead or Keep(),
        partitions=partitions,
        clock=lambda: NOW / MICROS_PER_SECOND,
        placement=Placement(partitions),
        topics=TOPICS,
        links=links,
    )


def as_sent(lines: Sequence[bytes], partitions: int = PARTITIONS) -> list[Message]:
    """Each line on its topic, keyed by its entity, on that key's partition."""
    offsets: dict[tuple[str, int], int] = {}
    out = []
    for line in lines:
        obj = json.loads(line)
        kind = str(obj.get("type", "")).split(".")[0]
        if kind == "account":
            topic, key = TOPICS.accounts, obj.get("account_id")
        else:
            topic, key = (
                {"ticket": TOPICS.tickets, "contact": TOPICS.contacts}.get(kind, TOPICS.surveys),
                obj.get("ticket_id"),
            )
        raw = str(key).encode() if key else None
        partition = partition_of(raw, partitions) if raw else 0
        offset = offsets.get((topic, partition), 0)
        offsets[(topic, partition)] = offset + 1
        out.append(Message(topic, partition, offset, line, raw))
    return out


def decode_account_event(line: bytes) -> AccountEvent:
    event = decode_any(line)
    assert isinstance(event, AccountEvent)
    return event


def golden(accounts_only: bool) -> list[bytes]:
    lines = (GOLDEN / "events.jsonl").read_bytes().splitlines()
    return [line for line in lines if not accounts_only or b'"type":"account.' in line]


async def live_snapshot(store: MemoryStore, lines: Sequence[bytes]) -> dict[str, Any]:
    live = worker(store)
    messages = as_sent(lines)
    for start in range(0, len(messages), 20):
        await live.handle(messages[start : start + 20])
    while await live.scan():
        pass
    return (await live.publish()).to_json()


async def test_account_events_alone_give_replays_accounts_section() -> None:
    lines = golden(accounts_only=True)
    store = MemoryStore()
    snapshot = await live_snapshot(store, lines)
    want = replay_lines(iter(lines), POLICIES, AS_OF).snapshot
    assert snapshot["accounts"]["now"]["customers"] > 5
    assert snapshot == want
    # the partitions adopted again from the store: redelivered, nothing counts twice
    assert await live_snapshot(store, lines) == want


async def test_no_account_event_no_section() -> None:
    lines = [line for line in golden(accounts_only=False) if b'"type":"account.' not in line]
    snapshot = await live_snapshot(MemoryStore(), lines)
    assert "accounts" not in snapshot
    assert snapshot == replay_lines(iter(lines), POLICIES, AS_OF).snapshot


def account_event(n: int, account: str = "A1") -> bytes:
    return json.dumps(
        {
            "event_id": f"{account}.{n}",
            "type": "account.touched",
            "occurred_at": "2026-11-20T10:00:00Z",
            "account_id": account,
            "channel": "email",
        }
    ).encode()


async def test_misplaced_invalid_and_over_limit_account_events_are_dead_lettered() -> None:
    dead = Keep()
    live = worker(MemoryStore(), dead, partitions=1)
    good = as_sent([account_event(n) for n in range(EVENT_LIMIT + 1)], partitions=1)
    wrong_key = Message(TOPICS.accounts, 0, len(good), account_event(9999), b"other")
    nps = b'{"event_id":"s1","type":"survey.nps","occurred_at":"2026-11-20T10:00:00Z",'
    nps += b'"ticket_id":"T1","score":3,"account_id":"A1"}'
    ticket_event = Message(TOPICS.accounts, 0, len(good) + 1, nps, b"A1")
    await live.handle([*good, good[0], wrong_key, ticket_event])
    reasons = sorted(d["error"] for d in dead.records)
    assert reasons == [
        "(key): message key 'other' is not the event's account_id 'A1'",
        "account_id: account has reached the limit of 1000 account.* events",
        "type: survey.nps is not an account event",
    ]
    assert len(live.states[0].accounts["A1"].events) == EVENT_LIMIT


def test_replay_keeps_the_same_1000_account_events() -> None:
    lines = [account_event(n) for n in range(EVENT_LIMIT + 2)]
    result = replay_lines(iter(lines), POLICIES, AS_OF)
    assert result.counts["over_limit"] == 2
    assert [e for _, e in result.errors] == [
        "account_id: account has reached the limit of 1000 account.* events"
    ] * 2


async def handle_linked(live: Worker, loop: Loop, messages: Sequence[Message]) -> None:
    """``messages`` through the worker 20 at a time, the links of each batch delivered after
    it until none is left (no breach scan, no publish)."""
    for start in range(0, len(messages), 20):
        await live.handle(messages[start : start + 20])
        while loop.sent:
            await live.handle(loop.take())


async def linked_snapshot(
    store: MemoryStore,
    loop: Loop,
    lines: Sequence[bytes],
    publish_each: bool = False,
    partials: PartialCache | None = None,
) -> dict[str, Any]:
    """The worker with tickets linked to accounts through ``loop``, links delivered after
    each batch (and after the breach scans), until none is left; ``publish_each``: with a
    snapshot published after each batch too (its accounts share kept up to date);
    ``partials``: the worker's own."""
    live = worker(store, links=loop)
    if partials is not None:
        live.account_partials = partials
    messages = as_sent(lines)
    for start in range(0, len(messages), 20):
        await live.handle(messages[start : start + 20])
        await live.handle(loop.take())
        if publish_each:
            await live.publish()
    while await live.scan():
        pass
    while loop.sent:
        await live.handle(loop.take())
    return (await live.publish()).to_json()


async def test_tickets_linked_across_partitions_give_replays_snapshot() -> None:
    lines = golden(accounts_only=False)
    store, loop = MemoryStore(), Loop()
    snapshot = await linked_snapshot(store, loop, lines)
    want = replay_lines(iter(lines), POLICIES, AS_OF).snapshot
    assert want["accounts"]["now"]["at_risk"] == 4  # support signals count (golden README)
    assert snapshot["accounts"] == want["accounts"]
    assert snapshot == want
    # a second worker adopts everything from the store, everything delivered again
    assert await linked_snapshot(store, loop, lines) == want


async def test_accounts_recounted_as_they_change_equal_them_counted_once() -> None:
    lines = golden(accounts_only=False)
    want = replay_lines(iter(lines), POLICIES, AS_OF).snapshot
    assert await linked_snapshot(MemoryStore(), Loop(), lines, publish_each=True) == want


async def test_a_long_recount_lets_other_tasks_run() -> None:
    """Counting every account again (each minute) does not hold the event loop throughout:
    batches and HTTP requests get their turns."""
    state = PartitionState(0)
    for n in range(3 * RECOUNT_STEP):
        timeline = state.accounts[f"A{n}"] = AccountTimeline(f"A{n}")
        timeline.add(decode_account_event(account_event(1, f"A{n}")))
    cache = PartialCache()
    seen: list[int] = []

    async def other() -> None:
        held = cache.held.get(0)
        seen.append(len(held.shares) if held else 0)

    task = asyncio.create_task(other())
    published = await cache.partial(state, AS_OF, POLICIES.account_health)
    await task
    assert published.partial.accounts == 3 * RECOUNT_STEP
    assert 0 < seen[0] < 3 * RECOUNT_STEP


async def test_accounts_recounted_as_time_passes_equal_a_full_count() -> None:
    """As the as_of moves, a partition's partial counts again only the accounts whose
    figures the passing time changes (a fact or state crossing a window's edge, a support
    fact entering or leaving the 30 days), and still equals every account counted afresh."""
    loop = Loop()
    live = worker(MemoryStore(), links=loop)
    await handle_linked(live, loop, as_sent(golden(accounts_only=False)))
    states = list(live.states.values())
    accounts = sum(len(set(s.accounts) | set(s.links)) for s in states)
    health = POLICIES.account_health
    minute = 60 * MICROS_PER_SECOND
    cache = PartialCache()
    recounted: list[int] = []
    # from before the first event to past every window's end, in uneven steps
    as_of = AS_OF - 120 * 1440 * minute
    while as_of < AS_OF + 100 * 1440 * minute:
        before = {p: dict(ledger.shares) for p, ledger in cache.held.items()}
        for state in states:
            published = await cache.partial(state, as_of, health)
            fresh = await PartialCache().partial(state, as_of, health)
            got, want = published.partial, fresh.partial
            assert (got.windows, got.customers, got.risky) == (
                want.windows,
                want.customers,
                want.risky,
            )
            assert (got.as_of, got.accounts, got.leads_open) == (
                as_of,
                want.accounts,
                want.leads_open,
            )
            assert published.risk == fresh.risk
        if before:
            recounted.append(
                sum(
                    1
                    for p, ledger in cache.held.items()
                    for a, share in ledger.shares.items()
                    if before[p].get(a) is not share
                )
            )
        as_of += 7 * minute if len(recounted) % 3 == 0 else 1439 * minute
    assert accounts > 20
    assert 0 in recounted  # steps in which time changed nobody's figures
    assert max(recounted) < accounts  # never every account again
