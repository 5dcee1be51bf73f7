"""Tickets' links to their accounts: the sequence rule, the codec, and the outbox."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.account_links import Link, bundle, changed_links, newer, unbundle
from streams.domain.account_support import SupportFact, SupportKind
from streams.domain.instant import MICROS_PER_SECOND
from streams.live.account_outbox import next_seq, outbox_records
from streams.live.account_plan import prune_links
from streams.live.batch import BatchResult, Message, PartitionState
from streams.live.stores.memory import MemoryStore
from streams.live.writes import PartitionWrites, link_account, link_field
from streams.replay import replay_lines
from tests.unit.test_worker_accounts import (
    AS_OF,
    POLICIES,
    TOPICS,
    Keep,
    Loop,
    account_event,
    as_sent,
    golden,
    linked_snapshot,
    worker,
)

T = 1_795_000_000_000_000
CREATED = SupportFact(T, "A1", SupportKind.CREATED)
NPS = SupportFact(T + 5, "A2", SupportKind.NPS, 3)


def test_a_link_round_trips_and_keeps_the_newest_sequence() -> None:
    link = Link("A1", "T1", 7, (CREATED, SupportFact(T + 1, "A1", SupportKind.AGENT_TOUCH, 9)))
    assert Link.decode(link.encode()) == link
    older, same, later = Link("A1", "T1", 6, ()), Link("A1", "T1", 7, ()), Link("A1", "T1", 8, ())
    assert newer(None, link)
    assert not newer(link, older)  # a zombie's or a duplicate's stale copy changes nothing
    assert newer(link, same)  # the same write re-issued (a Redis restored) is taken
    assert newer(link, later)


@pytest.mark.parametrize(
    "blob",
    [
        b"{}",
        b"[1]",
        b'{"a":"A","t":"T","s":"1","f":[]}',
        b"no",
        b'{"a":"A","t":"T","s":1,"f":[[1.5,0,0]]}',
        b'{"a":"A","t":"T","s":1,"f":[[1,0,"2"]]}',
        b'{"a":"A","t":"T","s":1,"f":[[1,0]]}',
        b'{"a":"A","t":"T","s":1,"f":[[1,99,0]]}',
    ],
)
def test_a_malformed_link_is_refused(blob: bytes) -> None:
    with pytest.raises((ValueError, KeyError, IndexError, TypeError)):
        Link.decode(blob)


def test_one_accounts_links_travel_as_one_record() -> None:
    first = Link("A1", "T1", 7, (CREATED,))
    second = Link("A1", "T2\n", 8, ())  # a line break in an id is escaped in the JSON
    record = bundle([first.encode(), second.encode()])
    assert [Link.decode(blob) for blob in unbundle(record)] == [first, second]
    assert unbundle(first.encode()) == [first.encode()]


def test_the_outbox_goes_out_as_one_record_per_account() -> None:
    links = [Link("A1", "T1", 3, (CREATED,)), Link("A|2", "T1", 3, ()), Link("A1", "T2", 3, ())]
    records = outbox_records({link_field(x.account_id, x.ticket_id): x.encode() for x in links})
    assert records == [
        (b"A1", bundle([links[0].encode(), links[2].encode()])),
        (b"A|2", links[1].encode()),
    ]


@pytest.mark.parametrize("spare", [0, 1, 50])  # bytes left over by three links a record
def test_an_accounts_links_beyond_the_record_limit_travel_as_several_records(spare: int) -> None:
    links = [Link("A1", f"T{n:02}", 3, (CREATED,) * 5) for n in range(10)]
    links.append(Link("A2", "T1", 3, (CREATED,)))
    outbox = {link_field(x.account_id, x.ticket_id): x.encode() for x in links}
    limit = 3 * len(links[0].encode()) + 2 + spare  # three links and two line breaks
    records = outbox_records(outbox, limit)
    assert [len(unbundle(value)) for _, value in records] == [3, 3, 3, 1, 1]
    assert all(len(value) <= limit for _, value in records)
    sent = [(key, blob) for key, value in records for blob in unbundle(value)]
    assert sent == [(x.account_id.encode(), x.encode()) for x in links]
    # a single link above the limit travels alone, never dropped
    alone = [(link_account(name).encode(), blob) for name, blob in sorted(outbox.items())]
    assert outbox_records(outbox, 10) == alone


def test_changed_links_are_per_account_and_empty_for_an_account_no_longer_named() -> None:
    assert changed_links("T1", (), (CREATED,), 3) == [Link("A1", "T1", 3, (CREATED,))]
    assert changed_links("T1", (CREATED,), (CREATED,), 4) == []
    assert changed_links("T1", (CREATED, NPS), (CREATED,), 5) == [Link("A2", "T1", 5, ())]


def test_link_sequences_rise_past_the_last_and_past_a_restored_one() -> None:
    assert next_seq(10, 5) == 11  # a clock behind the previous owner's: still after it
    # Redis restored with an older last sequence (3): the batch's time (µs) is after every
    # link sent before the restore
    assert next_seq(3, T) == T


class Down:
    async def send_links(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        raise ConnectionError("kafka is down")


async def test_links_not_sent_stay_in_the_outbox_for_the_next_owner() -> None:
    store = MemoryStore()
    lines = golden(accounts_only=False)
    tickets = [m for m in as_sent(lines) if "account" not in m.topic]
    first = worker(store)
    first.links = Down()
    await first.handle(tickets)  # applied; sending the links failed
    left = {p: await store.load_outbox(p) for p in range(3)}
    assert sum(len(o) for o in left.values()) > 5
    assert all(p in first.states and first.states[p].unsent == o for p, o in left.items() if o)

    loop = Loop()
    second = worker(store, links=loop)
    await second.assign(range(3))  # adopting sends the leftovers, then clears them
    sent = [Link.decode(blob) for _, v in loop.sent for blob in unbundle(v)]
    assert sorted(link.encode() for link in sent) == sorted(
        v for o in left.values() for v in o.values()
    )
    assert len(loop.sent) == len({link.account_id for link in sent})  # one record an account
    assert [await store.load_outbox(p) for p in range(3)] == [{}, {}, {}]


async def test_links_wait_for_the_gap_and_a_ticket_changed_meanwhile_is_sent_once() -> None:
    store, loop = MemoryStore(), Loop()
    tickets = [m for m in as_sent(golden(accounts_only=False)) if "account" not in m.topic]
    batches = [tickets[:12], tickets[12:24], tickets[24:]]
    clock = [0.0]
    live = worker(store, links=loop)
    live.link_gap, live.monotonic = 10.0, lambda: clock[0]
    await live.assign(range(3))
    for state in live.states.values():
        state.links_sent_at = 0.0  # as if each partition had just sent its links
    clock[0] = 5.0
    for batch in batches:
        await live.handle(batch)
    assert not loop.sent  # within the gap: held in the outbox
    held = {p: await store.load_outbox(p) for p in range(3)}
    assert sum(map(len, held.values())) > 5
    assert held == {p: live.states[p].unsent for p in range(3)}
    clock[0] = 9.9
    await live.scan()
    assert not loop.sent
    clock[0] = 10.0
    await live.scan()  # the gap has passed: the breach scan sends them
    sent = [Link.decode(blob) for _, v in loop.sent for blob in unbundle(v)]
    assert sorted(link.encode() for link in sent) == sorted(
        v for o in held.values() for v in o.values()
    )
    pairs = [(link.account_id, link.ticket_id) for link in sent]
    assert len(pairs) == len(set(pairs))  # one link a ticket and account, its newest
    assert [await store.load_outbox(p) for p in range(3)] == [{}, {}, {}]
    # sent after each batch, the same batches send more links: some tickets changed twice
    eager_loop = Loop()
    eager = worker(MemoryStore(), links=eager_loop)
    for batch in batches:
        await eager.handle(batch)
    assert sum(len(unbundle(v)) for _, v in eager_loop.sent) > len(sent)


async def test_a_stale_link_sent_again_changes_nothing() -> None:
    store, loop = MemoryStore(), Loop()
    live = worker(store, links=loop)
    tickets = [m for m in as_sent(golden(accounts_only=False)) if "account" not in m.topic]
    await live.handle(tickets)
    first = loop.take()
    await live.handle(first)
    held = {p: await store.load_links(p) for p in range(3)}
    # a zombie's copy of every link with a lower sequence, and duplicates
    stale = []
    for m in first:
        for link in map(Link.decode, unbundle(m.value)):
            older = Link(link.account_id, link.ticket_id, link.seq - 1, ())
            stale.append((m.key or b"", older.encode()))  # one link alone: the older form
    loop.sent = [*stale, *((m.key or b"", m.value) for m in first)]
    await live.handle(loop.take())
    assert {p: await store.load_links(p) for p in range(3)} == held


def test_links_too_old_to_count_are_forgotten_once_an_hour() -> None:
    day = 86_400 * MICROS_PER_SECOND
    now = T + 100 * day
    state = PartitionState(0)
    links = {
        "old": Link("A1", "old", 1, (SupportFact(now - 32 * day, "A1", SupportKind.CREATED),)),
        "recent": Link("A1", "recent", 2, (SupportFact(now - 30 * day, "A1", SupportKind.NPS, 9),)),
        "empty-old": Link("A1", "empty-old", now - 2 * day, ()),
        "empty-new": Link("A1", "empty-new", now - 1, ()),
    }
    state.links = {"A1": dict(links), "A2": {"old": Link("A2", "old", 1, links["old"].facts)}}
    result = BatchResult(PartitionWrites(0))
    prune_links(state, result, now)
    assert set(state.links) == {"A1"} and set(state.links["A1"]) == {"recent", "empty-new"}
    assert result.writes.links == {
        link_field("A1", "old"): None,
        link_field("A1", "empty-old"): None,
        link_field("A2", "old"): None,
    }
    assert state.dirty_accounts == {"A1", "A2"}
    state.links["A1"]["old"] = links["old"]
    again = BatchResult(PartitionWrites(0))
    prune_links(state, again, now + 3_599 * MICROS_PER_SECOND)  # within the hour: nothing
    assert again.writes.links == {}
    prune_links(state, again, now + 3_600 * MICROS_PER_SECOND)
    assert again.writes.links == {link_field("A1", "old"): None}


async def test_forgetting_old_links_changes_no_number() -> None:
    """40 days on, the golden tickets' links are forgotten; the snapshot is replay's."""
    store, loop = MemoryStore(), Loop()
    lines = golden(accounts_only=False)
    await linked_snapshot(store, loop, lines)
    before = sum([len(await store.load_links(p)) for p in range(3)])
    later = AS_OF + 40 * 86_400 * MICROS_PER_SECOND
    touch = account_event(1, "late").replace(b"2026-11-20", b"2027-01-09")
    live = worker(store, links=loop)
    live.clock = lambda: (later - 1) / MICROS_PER_SECOND
    await live.assign(range(3))
    await live.handle(as_sent([touch]))
    while await live.scan() or loop.sent:
        await live.handle(loop.take())
    assert sum([len(await store.load_links(p)) for p in range(3)]) < before
    snapshot = (await live.publish()).to_json()
    assert snapshot == replay_lines(iter([*lines, touch]), POLICIES, later).snapshot


@given(st.text(alphabet="a\x1e\x1f01", max_size=8), st.text(alphabet="t\x1f", max_size=4))
def test_a_link_fields_account_is_read_back_whatever_the_ids_hold(
    account_id: str, ticket_id: str
) -> None:
    assert link_account(link_field(account_id, ticket_id)) == account_id


async def test_a_link_record_with_a_bad_or_misplaced_line_is_dead_lettered_whole() -> None:
    store, dead = MemoryStore(), Keep()
    live = worker(store, dead, partitions=1)
    good = Link("A1", "T1", 5, (CREATED,))
    other = Link("A2", "T2", 5, ())  # another account's link under A1's key
    topic = TOPICS.account_support
    await live.handle(
        [
            Message(topic, 0, 0, bundle([good.encode(), b'{"a":"A1"}']), b"A1"),
            Message(topic, 0, 1, bundle([good.encode(), other.encode()]), b"A1"),
        ]
    )
    assert [d["error"] for d in dead.records] == [
        "(link): KeyError('t')",
        "(key): message key 'A1' is not the event's account_id 'A2'",
    ]
    assert [d["event"] for d in dead.records][1] == bundle([good.encode(), other.encode()]).decode()
    assert await store.load_links(0) == {}  # neither record's good link was applied
    await live.handle([Message(topic, 0, 2, bundle([good.encode()]), b"A1")])
    assert await store.load_links(0) == {link_field("A1", "T1"): good.encode()}
