"""The store contract: what the worker, the state guard and the API rely on from a store.

``StoreContract`` holds the tests; a runner subclasses it with a ``store`` fixture giving an
empty store (``tests/unit/test_store_contract_memory.py``, and against the real Redis
``tests/integration/test_store_contract_redis.py``). Only protocol methods are used: the key
layout, TTLs and round trips of the Redis store are its own tests' business.
"""

from __future__ import annotations

import pytest

from streams.domain.facts import SlaTarget
from streams.domain.instant import MICROS_PER_MINUTE, MICROS_PER_SECOND, parse_rfc3339
from streams.live.stores.protocol import (
    ClockEntry,
    ClockRange,
    PartitionCheck,
    StaleOffsets,
    Store,
)
from streams.live.writes import (
    BucketValues,
    PartitionWrites,
    backlog_field,
    bucket_field,
    link_field,
)

T0 = parse_rfc3339("2026-11-02T09:00:00Z")
MIN = MICROS_PER_MINUTE
SEC = MICROS_PER_SECOND
FR, NR, RES = SlaTarget.FIRST_REPLY, SlaTarget.NEXT_REPLY, SlaTarget.RESOLUTION
EMAIL = bucket_field("channel", "email", "tickets_created")
BILLING = bucket_field("team", "billing", "tickets_created")
OPEN_HIGH = backlog_field("open", "high", "billing")
NEW_LOW = backlog_field("new", "low", "support")
ZEROS = {"first_reply": 0, "next_reply": 0, "resolution": 0}
# every breached clock, and every running one due in the next two years
EVERY_CLOCK = ClockRange(count=100, due_until=T0 + 10**6 * MIN)


def full_writes(partition: int = 3) -> PartitionWrites:
    """One batch touching every part of a partition's state."""
    return PartitionWrites(
        partition=partition,
        tickets={"T-1": b'{"n":1,"e":[]}', "T-2": b'{"n":2,"e":[]}'},
        closed={"T-2"},
        buckets={T0: {EMAIL: 2, BILLING: 1}, T0 + MIN: {EMAIL: 1}},
        backlog={OPEN_HIGH: 1, NEW_LOW: 3},
        due={FR: {"T-1": T0 + 15 * MIN}, RES: {"T-1": T0 + 4 * 60 * MIN}},
        breached={NR: {"T-2": T0 - MIN}},
        wake={"T-1": T0 + 15 * MIN, "T-2": T0 + 5 * MIN},
        offsets={"support.tickets": 41, "support.contacts": 7},
        missed={"support.tickets": 2},
        accounts={"A-1": b'{"v":1,"e":[]}'},
    )


def values_only(partition: int = 3) -> PartitionWrites:
    """A batch whose every change is a value (no counter delta): applying it twice is once."""
    return PartitionWrites(
        partition=partition,
        tickets={"T-1": b"r1", "T-3": None},
        bucket_values={T0: BucketValues({EMAIL: 4, BILLING: 1})},
        due={FR: {"T-1": T0 + MIN}},
        breached={NR: {"T-1": T0 - MIN}},
        wake={"T-1": T0 + MIN},
        offsets={"support.tickets": 50},
    )


async def state_of(store: Store, partition: int) -> dict[str, object]:
    """Everything a partition's reads return (the fence's write count aside)."""
    return {
        "offsets": await store.load_offsets(partition),
        "missed": await store.load_missed(partition),
        "tickets": await store.load_tickets(partition, ["T-1", "T-2", "T-3"]),
        "buckets": await store.load_buckets(partition, 0),
        "backlog": await store.backlog(partition),
        "wake": await store.due_for_wake(partition, T0 + 10**6 * MIN),
        "sla": await store.sla_counts(partition, T0, 15 * MIN),
        "clocks": sorted((await store.sla_clocks([partition], list(SlaTarget), EVERY_CLOCK))[0]),
        "accounts": await store.load_accounts(partition),
        "links": await store.load_links(partition),
        "outbox": await store.load_outbox(partition),
        "link_seq": await store.load_link_seq(partition),
    }


class StoreContract:
    """The tests; ``store`` is a fixture of the subclass (a store holding nothing)."""

    async def test_a_partition_without_state_reads_empty(self, store: Store) -> None:
        assert await store.ping() is True
        assert await store.load_offsets(0) == {}
        assert await store.load_writes(0) == 0
        assert await store.load_missed(0) == {}
        assert await store.load_tickets(0, ["T-1"]) == {}
        assert await store.load_tickets(0, []) == {}
        assert await store.load_buckets(0, 0) == {}
        assert await store.backlog(0) == {}
        assert await store.due_for_wake(0, T0) == []
        assert await store.sla_counts(0, T0, MIN) == (ZEROS, ZEROS)
        assert await store.sla_clocks(range(4), list(SlaTarget), EVERY_CLOCK) == ([], False)
        assert await store.load_records({0: ["T-1"], 1: []}) == {}
        assert await store.load_records({}) == {}
        assert await store.read_window_sums(range(4)) == {}
        assert await store.load_accounts(0) == {}
        assert await store.read_account_partials(range(4)) == {}
        assert await store.read_account_risks(range(4)) == {}
        assert await store.load_account(0, "A-1") is None
        assert await store.load_account_links(0, "A-1") == {}
        assert await store.read_snapshot() is None
        assert await store.has_marker(0) is False
        assert await store.has_state(0) is False
        assert await store.check(0) == PartitionCheck(False, {}, 0, {})

    async def test_reads_return_what_apply_wrote(self, store: Store) -> None:
        await store.apply(full_writes())

        assert await store.load_offsets(3) == {"support.tickets": 41, "support.contacts": 7}
        assert await store.load_writes(3) == 1
        assert await store.load_missed(3) == {"support.tickets": 2}
        assert await store.load_tickets(3, ["T-1", "T-2", "T-absent"]) == {
            "T-1": b'{"n":1,"e":[]}',
            "T-2": b'{"n":2,"e":[]}',  # closed: kept (until it expires)
        }
        assert await store.backlog(3) == {OPEN_HIGH: 1, NEW_LOW: 3}
        assert await store.load_buckets(3, T0) == {T0: {EMAIL: 2, BILLING: 1}, T0 + MIN: {EMAIL: 1}}
        assert await store.load_buckets(3, T0 + MIN) == {T0 + MIN: {EMAIL: 1}}
        assert await store.load_buckets(3, T0 + 2 * MIN) == {}
        assert await store.due_for_wake(3, T0 + 10 * MIN) == ["T-2"]
        assert await store.has_state(3) is True
        assert await store.load_accounts(3) == {"A-1": b'{"v":1,"e":[]}'}
        assert await store.has_marker(3) is False  # a batch never writes the marker
        # another partition sees none of it
        assert await store.load_offsets(4) == {}
        assert await store.load_tickets(4, ["T-1"]) == {}
        assert await store.backlog(4) == {}
        assert await store.load_buckets(4, 0) == {}
        assert await store.has_state(4) is False

    async def test_counters_add_up_and_a_field_at_zero_goes(self, store: Store) -> None:
        first = PartitionWrites(
            1, buckets={T0: {EMAIL: 1, BILLING: 2}}, backlog={OPEN_HIGH: 2, NEW_LOW: 1}
        )
        await store.apply(first)
        await store.apply(
            PartitionWrites(1, buckets={T0: {EMAIL: -1, BILLING: 3}}, backlog={NEW_LOW: -1})
        )

        assert await store.load_buckets(1, T0) == {T0: {BILLING: 5}}
        assert await store.backlog(1) == {OPEN_HIGH: 2}
        assert await store.load_writes(1) == 2

    async def test_negated_counters_leave_no_bucket_or_backlog(self, store: Store) -> None:
        writes = full_writes()
        await store.apply(writes)
        await store.apply(
            PartitionWrites(
                3,
                buckets={m: {f: -v for f, v in c.items()} for m, c in writes.buckets.items()},
                backlog={k: -v for k, v in writes.backlog.items()},
            )
        )

        assert await store.load_buckets(3, 0) == {}
        assert await store.backlog(3) == {}

    async def test_counter_names_and_large_sums_are_exact(self, store: Store) -> None:
        odd = bucket_field("team", 'Ünï "code" \\ ☃ \n\t', "resolution:s")
        big = 2**53 - 1
        await store.apply(PartitionWrites(2, buckets={T0: {odd: big}, T0 + MIN: {odd: -7}}))
        await store.apply(PartitionWrites(2, buckets={T0: {odd: -1}}, backlog={odd: 3}))

        assert await store.load_buckets(2, T0) == {T0: {odd: big - 1}, T0 + MIN: {odd: -7}}
        assert await store.backlog(2) == {odd: 3}

    async def test_bucket_values_set_and_drop_fields_beside_increments(self, store: Store) -> None:
        first = PartitionWrites(
            5,
            bucket_values={
                T0: BucketValues({EMAIL: 4, BILLING: 1}),
                T0 + MIN: BucketValues({EMAIL: 2}),
            },
        )
        await store.apply(first)
        await store.apply(first)  # values, not increments: twice is once
        assert await store.load_buckets(5, 0) == {
            T0: {EMAIL: 4, BILLING: 1},
            T0 + MIN: {EMAIL: 2},
        }

        await store.apply(
            PartitionWrites(
                5,
                buckets={T0 + 2 * MIN: {EMAIL: 3}},
                bucket_values={
                    T0: BucketValues({EMAIL: 7}, [BILLING]),
                    T0 + MIN: BucketValues(removed=[EMAIL], empty=True),
                },
            )
        )
        assert await store.load_buckets(5, 0) == {T0: {EMAIL: 7}, T0 + 2 * MIN: {EMAIL: 3}}

        await store.apply(PartitionWrites(5, bucket_values={T0: BucketValues(empty=True)}))
        await store.apply(PartitionWrites(5, buckets={T0 + 2 * MIN: {EMAIL: -3}}))
        assert await store.load_buckets(5, 0) == {}

    async def test_records_and_clock_entries_are_deleted(self, store: Store) -> None:
        await store.apply(full_writes())
        await store.apply(
            PartitionWrites(
                3,
                tickets={"T-2": None},
                due={FR: {"T-1": None}, RES: {"T-1": T0 + 5 * 60 * MIN}},
                breached={NR: {"T-2": None}, FR: {"T-1": T0 - MIN}},
                wake={"T-2": None},
            )
        )

        assert await store.load_tickets(3, ["T-1", "T-2"]) == {"T-1": b'{"n":1,"e":[]}'}
        found, more = await store.sla_clocks([3], list(SlaTarget), EVERY_CLOCK)
        assert sorted(found) == [
            ClockEntry(T0 - MIN, "T-1", FR, 3, True),
            ClockEntry(T0 + 5 * 60 * MIN, "T-1", RES, 3, False),
        ]
        assert not more
        _, breached = await store.sla_counts(3, T0, 15 * MIN)
        assert breached == {"first_reply": 1, "next_reply": 0, "resolution": 0}
        assert await store.due_for_wake(3, T0 + 60 * MIN) == ["T-1"]

    async def test_a_record_written_again_replaces_the_old(self, store: Store) -> None:
        await store.apply(full_writes())
        await store.apply(PartitionWrites(3, tickets={"T-2": b"reopened"}, closed={"T-1"}))

        assert await store.load_tickets(3, ["T-1", "T-2"]) == {
            "T-1": b'{"n":1,"e":[]}',  # closing alone keeps the record
            "T-2": b"reopened",
        }

    async def test_due_for_wake_is_inclusive_ordered_and_limited(self, store: Store) -> None:
        wake: dict[str, int | None] = {f"T-{i}": T0 + i * SEC for i in range(10)}
        wake["T-0b"] = T0  # a tie: by member, as a sorted set orders it
        await store.apply(PartitionWrites(2, wake=wake))

        assert await store.due_for_wake(2, T0 + 2 * SEC) == ["T-0", "T-0b", "T-1", "T-2"]
        assert await store.due_for_wake(2, T0 + 9 * SEC, limit=3) == ["T-0", "T-0b", "T-1"]
        assert await store.due_for_wake(2, T0 - 1) == []

    async def test_sla_counts(self, store: Store) -> None:
        now, within = T0, 15 * MIN
        await store.apply(
            PartitionWrites(
                5,
                due={
                    FR: {
                        "overdue": now - 1,
                        "at-now": now,
                        "at-edge": now + within,
                        "beyond": now + within + 1,
                    },
                    RES: {"soon": now + MIN, "late-1": now - MIN, "late-2": now - 60 * MIN},
                },
                breached={FR: {"b1": now - 2, "b2": now - 3}, NR: {"b3": now - 4}},
            )
        )

        at_risk, breached = await store.sla_counts(5, now, within)
        assert at_risk == {"first_reply": 2, "next_reply": 0, "resolution": 1}
        assert breached == {"first_reply": 3, "next_reply": 1, "resolution": 2}
        assert await store.sla_counts(6, now, within) == (ZEROS, ZEROS)

    async def test_sla_clocks_read_ranges_and_ties_across_partitions(self, store: Store) -> None:
        now = T0
        await store.apply(
            PartitionWrites(
                1,
                tickets={"b1": b"one"},
                due={
                    FR: {"t1": now + MIN, "t2": now + MIN, "t3": now + MIN, "later": now + 2 * MIN},
                    RES: {"r1": now + MIN},
                },
                breached={FR: {"b1": now - MIN, "b2": now - 2 * MIN}},
            )
        )
        await store.apply(
            PartitionWrites(
                2, tickets={"old": b"two"}, due={FR: {"overdue": now - 1, "far": now + 60 * MIN}}
            )
        )

        def entry(deadline: int, ticket: str, partition: int, late: bool = False) -> ClockEntry:
            return ClockEntry(deadline, ticket, FR, partition, late)

        # breached clocks (late), then running ones due by ``due_until``, of the targets asked
        found, more = await store.sla_clocks([1, 2], [FR], ClockRange(10, due_until=now + MIN))
        assert sorted(found) == [
            entry(now - 2 * MIN, "b2", 1, True),
            entry(now - MIN, "b1", 1, True),
            entry(now - 1, "overdue", 2),
            entry(now + MIN, "t1", 1),
            entry(now + MIN, "t2", 1),
            entry(now + MIN, "t3", 1),
        ]
        assert not more
        # at most ``count`` per partition, target and index, soonest first (then by ticket)
        found, more = await store.sla_clocks([1, 2], [FR], ClockRange(2, due_until=now + MIN))
        assert sorted(found) == [
            entry(now - 2 * MIN, "b2", 1, True),
            entry(now - MIN, "b1", 1, True),
            entry(now - 1, "overdue", 2),
            entry(now + MIN, "t1", 1),
            entry(now + MIN, "t2", 1),
        ]
        assert more
        # running clocks due in [due_from, due_until] only
        wanted = ClockRange(10, late=False, due_from=now, due_until=now + 60 * MIN)
        found, _ = await store.sla_clocks([2], [FR], wanted)
        assert sorted(found) == [entry(now + 60 * MIN, "far", 2)]
        # from a deadline on: every entry at it (ties), then ``count`` after it, per index
        wanted = ClockRange(1, start=now + MIN, late=False, due_from=now, due_until=now + 9 * MIN)
        found, more = await store.sla_clocks([1, 2], [FR], wanted)
        assert sorted(found) == [
            entry(now + MIN, "t1", 1),
            entry(now + MIN, "t2", 1),
            entry(now + MIN, "t3", 1),
            entry(now + 2 * MIN, "later", 1),
        ]
        assert more  # partition 1's due index reached count
        # breached clocks alone (no due index asked), from a start on
        found, _ = await store.sla_clocks([1], [FR], ClockRange(10, start=now - 2 * MIN))
        assert sorted(found) == [
            entry(now - 2 * MIN, "b2", 1, True),
            entry(now - MIN, "b1", 1, True),
        ]
        found, _ = await store.sla_clocks([1], [RES], ClockRange(10, due_until=now + MIN))
        assert found == [ClockEntry(now + MIN, "r1", RES, 1, False)]

    async def test_load_records_reads_tickets_of_several_partitions(self, store: Store) -> None:
        await store.apply(PartitionWrites(1, tickets={"b1": b"one", "t1": b"un"}))
        await store.apply(PartitionWrites(2, tickets={"old": b"two"}))

        records = await store.load_records({1: ["b1", "nope"], 2: ["old", "b1"], 3: []})
        assert records == {"b1": b"one", "old": b"two"}  # a ticket is read in its partition

    async def test_window_sums_and_snapshot_round_trip(self, store: Store) -> None:
        await store.publish_window_sums(0, b'{"p":0}')
        await store.publish_window_sums(2, b'{"p":2}')
        await store.publish_window_sums(2, b'{"p":2,"v":2}')

        assert await store.read_window_sums(range(4)) == {0: b'{"p":0}', 2: b'{"p":2,"v":2}'}
        assert await store.read_window_sums([]) == {}
        assert await store.has_state(2) is True
        assert await store.read_snapshot() is None
        await store.write_snapshot(b'{"as_of":"x"}')
        assert await store.read_snapshot() == b'{"as_of":"x"}'

    async def test_account_records_are_replaced_per_account(self, store: Store) -> None:
        await store.apply(PartitionWrites(2, accounts={"A-1": b"a1", "A-2": b"a2"}))
        await store.apply(PartitionWrites(2, accounts={"A-1": b"a1'"}), {}, 1)

        assert await store.load_accounts(2) == {"A-1": b"a1'", "A-2": b"a2"}
        assert await store.load_writes(2) == 2
        assert await store.load_accounts(1) == {}
        with pytest.raises(StaleOffsets):  # fenced like every batch
            await store.apply(PartitionWrites(2, accounts={"A-1": b"x"}), {}, 1)
        assert await store.load_accounts(2) == {"A-1": b"a1'", "A-2": b"a2"}

    async def test_links_and_the_outbox(self, store: Store) -> None:
        a1, a2 = link_field("A-1", "T-1"), link_field("A-2", "T-1")
        assert await store.load_link_seq(1) == 0
        first = PartitionWrites(1, links={a1: b"l1"}, outbox={a1: b"o1", a2: b"o2"}, link_seq=7)
        await store.apply(first)
        assert await store.load_link_seq(1) == 7
        assert await store.load_link_seq(2) == 0
        assert await store.load_links(1) == {a1: b"l1"}
        assert await store.load_outbox(1) == {a1: b"o1", a2: b"o2"}
        assert await store.load_outbox(2) == {}

        await store.apply(PartitionWrites(1, links={a1: b"l1'"}, outbox={a2: b"o2'"}), {}, 1)
        # sent: o1 and the old o2; o2 was replaced meanwhile and stays for its own sender
        await store.clear_outbox(1, {a1: b"o1", a2: b"o2"})
        assert await store.load_outbox(1) == {a2: b"o2'"}
        assert await store.load_links(1) == {a1: b"l1'"}
        assert await store.load_link_seq(1) == 7  # a batch without links leaves it
        await store.clear_outbox(1, {})
        await store.clear_outbox(1, {a2: b"o2'"})
        assert await store.load_outbox(1) == {}

        await store.apply(PartitionWrites(1, links={a1: None, a2: None}), {}, 2)  # forgotten
        assert await store.load_links(1) == {}

    async def test_one_account_and_its_links(self, store: Store) -> None:
        await store.apply(
            PartitionWrites(
                1,
                accounts={"A*1": b"r1", "A-2": b"r2"},
                links={
                    link_field("A*1", "T-1"): b"l1",
                    link_field("A*1", "T-2"): b"l2",
                    link_field("A-11", "T-3"): b"l3",  # another account, sharing a prefix
                    link_field("AX1", "T-4"): b"l4",  # matched by the glob A*1 unescaped
                    link_field("A*1\x1fT", "T-5"): b"l5",  # its id extends A*1 past the separator
                    link_field("A*1", "T\x1fT-5"): b"l6",  # joined plainly, the same field
                },
            )
        )
        assert await store.load_account(1, "A*1") == b"r1"
        assert await store.load_account(1, "A-3") is None
        assert await store.load_account(2, "A*1") is None
        assert await store.load_account_links(1, "A*1") == {
            "T-1": b"l1",
            "T-2": b"l2",
            "T\x1fT-5": b"l6",
        }
        assert await store.load_account_links(1, "A*1\x1fT") == {"T-5": b"l5"}
        assert await store.load_account_links(1, "A-1") == {}
        assert await store.load_account_links(2, "A*1") == {}

    async def test_account_risk_lists_round_trip(self, store: Store) -> None:
        await store.publish_account_risk(0, b"[0]")
        await store.publish_account_risk(0, b"[0,1]")
        assert await store.read_account_risks(range(3)) == {0: b"[0,1]"}
        assert await store.read_account_risks([]) == {}

    async def test_account_partials_round_trip(self, store: Store) -> None:
        await store.publish_account_partial(1, b'{"p":1}')
        await store.publish_account_partial(3, b'{"p":3}')
        await store.publish_account_partial(3, b'{"p":3,"n":2}')

        assert await store.read_account_partials(range(4)) == {1: b'{"p":1}', 3: b'{"p":3,"n":2}'}
        assert await store.read_account_partials([]) == {}
        assert await store.has_state(1) is True

    async def test_empty_writes_change_nothing(self, store: Store) -> None:
        await store.apply(PartitionWrites(3))
        await store.apply(PartitionWrites(3), {}, 0)

        assert await store.load_writes(3) == 0
        assert await store.has_state(3) is False

    async def test_the_fence_refuses_a_stale_view_and_writes_nothing(self, store: Store) -> None:
        await store.apply(PartitionWrites(0, backlog={"open": 1}, offsets={"t": 5}), {})
        before = await state_of(store, 0)

        stale = PartitionWrites(0, backlog={"open": 1}, tickets={"T-1": b"x"}, offsets={"t": 9})
        with pytest.raises(StaleOffsets):  # offsets moved
            await store.apply(stale, {"t": 4}, 1)
        with pytest.raises(StaleOffsets):  # a topic missing from the view
            await store.apply(stale, {}, 1)
        with pytest.raises(StaleOffsets):  # offsets the same, but writes moved past them
            await store.apply(stale, {"t": 5}, 0)
        assert await state_of(store, 0) == before
        assert await store.load_writes(0) == 1

        await store.apply(stale, {"t": 5}, 1)
        assert await store.backlog(0) == {"open": 2}
        assert await store.load_offsets(0) == {"t": 9}
        assert await store.load_writes(0) == 2

    async def test_a_batch_replayed_under_its_fence_is_refused(self, store: Store) -> None:
        """A batch that landed but whose caller could not know it: redone on the same view,
        it is refused, so its counters are never added twice."""
        batch = full_writes()
        await store.apply(batch, {}, 0)
        landed = await state_of(store, 3)

        with pytest.raises(StaleOffsets):
            await store.apply(batch, {}, 0)
        assert await state_of(store, 3) == landed
        assert await store.load_writes(3) == 1

    async def test_a_batch_of_values_replayed_leaves_the_same_state(self, store: Store) -> None:
        await store.apply(full_writes())
        await store.apply(values_only())
        once = await state_of(store, 3)

        await store.apply(values_only())
        assert await state_of(store, 3) == once
        assert await store.load_writes(3) == 3  # every transaction counts for the fence

    async def test_missed_offsets_add_up(self, store: Store) -> None:
        await store.apply(PartitionWrites(1, offsets={"a": 10}, missed={"a": 2}))
        await store.apply(PartitionWrites(1, offsets={"a": 20, "b": 3}, missed={"a": 1, "b": 4}))

        assert await store.load_missed(1) == {"a": 3, "b": 4}
        assert (await store.check(1)).missed == {"a": 3, "b": 4}

    async def test_markers_checks_and_wipe(self, store: Store) -> None:
        await store.set_marker(3, "worker-1")
        await store.apply(full_writes(3))
        await store.publish_window_sums(3, b"{}")
        await store.publish_account_partial(3, b"{}")
        await store.publish_account_risk(3, b"{}")
        await store.apply(full_writes(4))
        assert await store.has_marker(3) is True
        assert await store.check(3) == PartitionCheck(
            True, {"support.tickets": 41, "support.contacts": 7}, 1, {"support.tickets": 2}
        )

        assert await store.wipe(3) > 0
        assert await store.check(3) == PartitionCheck(False, {}, 0, {})
        assert await store.has_state(3) is False
        assert await store.load_tickets(3, ["T-1", "T-2"]) == {}
        assert await store.load_buckets(3, 0) == {}
        assert await store.backlog(3) == {}
        assert await store.due_for_wake(3, T0 + 60 * MIN) == []
        assert await store.sla_counts(3, T0, 15 * MIN) == (ZEROS, ZEROS)
        assert await store.read_window_sums([3]) == {}
        assert await store.read_account_partials([3]) == {}
        assert await store.read_account_risks([3]) == {}
        assert await store.load_accounts(3) == {}
        assert await store.wipe(3) == 0
        # the other partition keeps everything
        assert await store.load_offsets(4) == {"support.tickets": 41, "support.contacts": 7}
        assert await store.has_state(4) is True
