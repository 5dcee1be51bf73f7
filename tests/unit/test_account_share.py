"""A partition's accounts partial kept as its accounts' shares (``Ledger``): each share reads
back as its account counted alone, and the kept sum, recounted where accounts changed, equals
every account counted afresh."""

from __future__ import annotations

from typing import Any

from streams.domain.account_partial import AccountsPartial
from streams.live.account_share import PartialCache
from streams.live.batch import PartitionState
from streams.live.stores.memory import MemoryStore
from tests.unit.test_worker_accounts import (
    AS_OF,
    POLICIES,
    Loop,
    as_sent,
    golden,
    handle_linked,
    worker,
)

HEALTH = POLICIES.account_health


def figures(partial: AccountsPartial) -> tuple[Any, ...]:
    """What a partial adds to the snapshot (its rows in any order), and its at-risk list."""
    return (
        partial.as_of,
        partial.accounts,
        partial.windows,
        partial.customers,
        partial.leads_open,
        partial.risky,
    )


def summed(*partials: AccountsPartial) -> tuple[Any, ...]:
    """The figures of the partials added up, but the at-risk list (counters at 0 go)."""
    total = AccountsPartial(AS_OF)
    for partial in partials:
        total.add_sums(partial)
    return figures(total)[:-1]


async def test_each_kept_share_reads_back_as_its_account_counted_alone() -> None:
    loop = Loop()
    live = worker(MemoryStore(), links=loop)
    await handle_linked(live, loop, as_sent(golden(accounts_only=False)))
    cache = PartialCache()
    shares = 0
    for state in live.states.values():
        published = await cache.partial(state, AS_OF, HEALTH)
        ledger = cache.held[state.partition]
        kept = []
        for account_id in set(state.accounts) | set(state.links):
            alone = PartitionState(state.partition)
            if account_id in state.accounts:
                alone.accounts[account_id] = state.accounts[account_id]
            if account_id in state.links:
                alone.links[account_id] = state.links[account_id]
            want = (await PartialCache().partial(alone, AS_OF, HEALTH)).partial
            share = ledger.share(account_id)
            assert share is not None, account_id
            assert summed(share) == summed(want) and share.risky == want.risky, account_id
            kept.append(share)
        assert summed(*kept) == summed(published.partial)
        shares += len(kept)
    assert shares > 20
    assert ledger.share("nobody") is None


async def test_a_kept_partial_recounted_where_accounts_changed_equals_a_fresh_count() -> None:
    loop = Loop()
    live = worker(MemoryStore(), links=loop)
    messages = as_sent(golden(accounts_only=False))
    half = len(messages) // 2
    await handle_linked(live, loop, messages[:half])
    cache = PartialCache()
    for state in live.states.values():
        await cache.partial(state, AS_OF, HEALTH)
    before = {p: dict(ledger.shares) for p, ledger in cache.held.items()}
    await handle_linked(live, loop, messages[half:])  # new accounts, events, links
    changed = 0
    for state in live.states.values():
        assert state.dirty_accounts
        got = await cache.partial(state, AS_OF, HEALTH)
        fresh = await PartialCache().partial(state, AS_OF, HEALTH)
        assert figures(got.partial) == figures(fresh.partial)
        assert got.risk == fresh.risk
        shares = cache.held[state.partition].shares
        changed += sum(1 for a, s in shares.items() if before[state.partition].get(a) != s)
    assert changed > 0
