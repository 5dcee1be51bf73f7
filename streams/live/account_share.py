"""Each owned partition's accounts partial, published for every reader to merge.

The owner of partition p holds all of p's accounts, so it computes their partial
(``streams.domain.account_partial``) at each publish and writes it to ``{p}:acc``, as it
does the window sums to ``{p}:win``, with the whole list of p's at-risk customers in
``{p}:risk`` (what ``GET /accounts/at-risk`` pages through). Every worker merges all
partitions' partials into the snapshot's ``accounts`` section, so there is no per-worker
truth. A partition's partial is computed again only when its as_of minute or its state (its
count of transactions) moved.
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


@dataclass(frozen=True, slots=True)
class Published:
    """One partition's accounts as published: its partial, and every at-risk customer."""

    as_of: Instant
    writes: int  # the partition's transactions when computed
    partial: AccountsPartial
    blob: bytes  # ``{p}:acc``
    risk: bytes  # ``{p}:risk``: {"as_of", "at_risk": [[mrr, id, segment, manager, signals]]}


@dataclass(slots=True)
class PartialCache:
    """The last publication of each partition, kept while its as_of and writes hold."""

    held: dict[int, Published] = field(default_factory=dict)

    def partial(self, state: PartitionState, as_of: Instant, health: HealthThresholds) -> Published:
        """The partition's accounts as of ``as_of``, computed again only when they moved."""
        held = self.held.get(state.partition)
        if held is not None and held.as_of == as_of and held.writes == state.writes:
            return held
        views = {a: evaluate_account(a, t.events, as_of) for a, t in state.accounts.items()}
        support = {a: account_support(links) for a, links in state.links.items()}
        partial, _ = accounts_partial(as_of, views, support, health)
        risk = [[m, a, s, g, list(sig)] for m, a, s, g, sig in partial.all_at_risk]
        published = Published(
            as_of,
            state.writes,
            partial,
            to_json(partial.to_json()),
            to_json({"as_of": as_of, "at_risk": risk}),
        )
        self.held[state.partition] = published
        return published

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
