"""Each owned partition's accounts partial, published for every reader to merge.

The owner of partition p holds all of p's accounts, so it computes their partial
(``streams.domain.account_partial``) at each publish and writes it to ``{p}:acc``, as it
does the window sums to ``{p}:win``, with p's at-risk customers (the first
``AT_RISK_PAGED``) in ``{p}:risk``, what ``GET /accounts/at-risk`` pages through. Every worker
merges all partitions' partials into the snapshot's ``accounts`` section, so there is no per-worker
truth. A partition's partial is kept as the sum of its accounts' own partials (``Ledger``):
a publish computes again only the accounts whose events or links changed, and, when the as_of
moves, those whose partial the passing time changes (``account_partial.next_change``: a fact
or a state crossing a window's edge), not every account.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic_core import from_json, to_json

from streams.domain.account import evaluate_account
from streams.domain.account_links import account_support
from streams.domain.account_partial import (
    AT_RISK_PAGED,
    AccountsPartial,
    AtRisk,
    accounts_partial,
    merge_partials,
    next_change,
    risk_order,
)
from streams.domain.account_snapshot import AT_RISK_LISTED
from streams.domain.account_thresholds import HealthThresholds
from streams.domain.instant import Instant
from streams.live.batch import PartitionState

# Accounts recounted between two turns of the event loop (about 20 ms with the mypyc build)
RECOUNT_STEP = 256


@dataclass(frozen=True, slots=True)
class Published:
    """One partition's accounts as published: its partial, and every at-risk customer."""

    partial: AccountsPartial
    blob: bytes  # ``{p}:acc``
    risk: bytes  # ``{p}:risk``: {"as_of", "at_risk": [[mrr, id, segment, manager, signals]]}


@dataclass(slots=True)
class Ledger:
    """One partition's partial kept as the sum of its accounts' own partials, so that a
    publish computes again only the accounts that changed (``dirty_accounts``) and those
    whose partial the moving as_of changes (``due``); all of them when the partition was
    loaded again."""

    state: PartitionState
    as_of: Instant
    total: AccountsPartial
    # account id -> its share, as JSON: a third of the memory of the partial's objects, and
    # read back only when the account is counted again (bench/bench_account_share.py)
    shares: dict[str, bytes] = field(default_factory=dict)
    at_risk: dict[str, AtRisk] = field(default_factory=dict)
    published: Published | None = None
    # account -> the instant after which its share may change by time alone
    changes: dict[str, Instant] = field(default_factory=dict)
    # (that instant, account) as a heap; entries no longer in ``changes`` are skipped
    queue: list[tuple[Instant, str]] = field(default_factory=list)

    def share(self, account_id: str) -> AccountsPartial | None:
        """An account's share of ``total`` as it was counted, or None when it has none."""
        blob = self.shares.get(account_id)
        return None if blob is None else AccountsPartial.from_json(from_json(blob))

    def due(self, as_of: Instant) -> set[str]:
        """Move to ``as_of`` (later): the accounts whose share it may change."""
        self.as_of = self.total.as_of = as_of
        due: set[str] = set()
        queue = self.queue
        while queue and queue[0][0] < as_of:
            instant, account_id = heapq.heappop(queue)
            if self.changes.get(account_id) == instant:
                del self.changes[account_id]
                due.add(account_id)
        return due


@dataclass(slots=True)
class PartialCache:
    """The ledgers of the owned partitions; ``paged``: the at-risk customers published per
    partition at most (those of highest MRR)."""

    held: dict[int, Ledger] = field(default_factory=dict)
    paged: int = AT_RISK_PAGED

    async def partial(
        self, state: PartitionState, as_of: Instant, health: HealthThresholds
    ) -> Published:
        """The partition's accounts as of ``as_of``. A recount of many accounts lets other
        tasks run every ``RECOUNT_STEP`` accounts: an account changed meanwhile is marked
        dirty again and recounted at the next publish."""
        ledger = self.held.get(state.partition)
        if ledger is None or ledger.state is not state or as_of < ledger.as_of:
            ledger = self.held[state.partition] = Ledger(state, as_of, AccountsPartial(as_of))
            dirty = set(state.accounts) | set(state.links)
            state.dirty_accounts.clear()
        else:
            moved = as_of != ledger.as_of
            dirty, state.dirty_accounts = state.dirty_accounts, set()
            if moved:
                dirty |= ledger.due(as_of)
                ledger.published = None  # its as_of is the old one
        if ledger.published is not None and not dirty:
            return ledger.published
        for number, account_id in enumerate(dirty, start=1):
            _recount(ledger, account_id, health)
            if number % RECOUNT_STEP == 0:
                await asyncio.sleep(0)
        total = ledger.total
        first = max(self.paged, AT_RISK_LISTED)
        ordered = heapq.nsmallest(first, ledger.at_risk.values(), key=risk_order)
        total.all_at_risk, total.risky = ordered[: self.paged], ordered[:AT_RISK_LISTED]
        risk = [[m, a, s, g, list(sig)] for m, a, s, g, sig in total.all_at_risk]
        ledger.published = Published(
            total, to_json(total.to_json()), to_json({"as_of": as_of, "at_risk": risk})
        )
        return ledger.published

    def forget(self, keep: Iterable[int]) -> None:
        """Drop the ledgers of partitions no longer owned."""
        kept = set(keep)
        for partition in [p for p in self.held if p not in kept]:
            del self.held[partition]


def _recount(ledger: Ledger, account_id: str, health: HealthThresholds) -> None:
    """Replace an account's share of the partition's partial by its current one."""
    old = ledger.share(account_id)
    if old is not None:
        del ledger.shares[account_id]
        ledger.total.add_sums(old, -1)
    ledger.at_risk.pop(account_id, None)
    ledger.changes.pop(account_id, None)
    state, as_of = ledger.state, ledger.as_of
    timeline = state.accounts.get(account_id)
    links = state.links.get(account_id)
    if timeline is None and not links:
        return
    view = evaluate_account(account_id, timeline.events, as_of) if timeline else None
    support = account_support(links) if links else ()
    views = {account_id: view} if view is not None else {}
    share, _ = accounts_partial(as_of, views, {account_id: support} if support else {}, health)
    ledger.shares[account_id] = to_json(share.to_json())
    ledger.total.add_sums(share)
    if share.risky:
        ledger.at_risk[account_id] = share.risky[0]
    times = (e.occurred_at for e in timeline.events) if timeline else ()
    change = next_change(as_of, times, view, support)
    if change is not None:
        ledger.changes[account_id] = change
        heapq.heappush(ledger.queue, (change, account_id))
        if len(ledger.queue) > 2 * len(ledger.changes) + RECOUNT_STEP:
            # entries of accounts recounted since they were queued: build it again
            ledger.queue = [(instant, a) for a, instant in ledger.changes.items()]
            heapq.heapify(ledger.queue)


def merge_published(
    blobs: Iterable[bytes], own: Iterable[AccountsPartial], as_of: Instant
) -> AccountsPartial:
    """All partitions' partials: this worker's own and those read from Redis."""
    read = [AccountsPartial.from_json(from_json(blob)) for blob in blobs]
    return merge_partials([*own, *read], as_of)
