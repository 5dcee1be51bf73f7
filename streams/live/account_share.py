"""Each owned partition's accounts partial, published for every reader to merge.

The owner of partition p holds all of p's accounts, so it computes their partial
(``streams.domain.account_partial``) at each publish and writes it to ``{p}:acc``, as it
does the window sums to ``{p}:win``; every worker merges all partitions' partials into the
snapshot's ``accounts`` section, so there is no per-worker truth. A partition's partial is
computed again only when its as_of minute or its state (its count of transactions) moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic_core import from_json, to_json

from streams.domain.account import evaluate_account
from streams.domain.account_links import account_support
from streams.domain.account_partial import AccountsPartial, accounts_partial, merge_partials
from streams.domain.account_thresholds import HealthThresholds
from streams.domain.instant import Instant
from streams.live.batch import PartitionState


@dataclass(slots=True)
class PartialCache:
    """The last partial of each partition: (as_of, writes) -> its partial and blob."""

    held: dict[int, tuple[Instant, int, AccountsPartial, bytes]] = field(default_factory=dict)

    def partial(
        self, state: PartitionState, as_of: Instant, health: HealthThresholds
    ) -> tuple[AccountsPartial, bytes]:
        """The partition's partial as of ``as_of`` and its published form."""
        held = self.held.get(state.partition)
        if held is not None and held[0] == as_of and held[1] == state.writes:
            return held[2], held[3]
        views = {a: evaluate_account(a, t.events, as_of) for a, t in state.accounts.items()}
        support = {a: account_support(links) for a, links in state.links.items()}
        partial, _ = accounts_partial(as_of, views, support, health)
        blob = to_json(partial.to_json())
        self.held[state.partition] = (as_of, state.writes, partial, blob)
        return partial, blob

    def forget(self, keep: Iterable[int]) -> None:
        """Drop the partials of partitions no longer owned."""
        kept = set(keep)
        for partition in [p for p in self.held if p not in kept]:
            del self.held[partition]


def merge_published(
    blobs: Iterable[bytes], own: Iterable[AccountsPartial], as_of: Instant
) -> AccountsPartial:
    """All partitions' partials: this worker's own and those read from Redis."""
    read = [AccountsPartial.from_json(from_json(blob)) for blob in blobs]
    return merge_partials([*own, *read], as_of)
