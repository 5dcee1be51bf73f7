"""Bounded account rows: segments and managers beyond a limit share the row ``(other)``.

Segment and manager are free text (a touch names its own manager), so a producer sending a
new value per event would grow every ``by_segment`` and ``by_manager`` map of the accounts
section without bound. As for teams and agents (``streams.domain.folding``), a map keeps the
values with the most volume (facts and customers at the window's start in a window, customers
in ``now``; ties to the value that sorts first) and sums the others' counters into ``OTHER``.
The rule reads only the merged counts, so live and replay fold alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, TypeVar

from streams.domain.account_facts import DimKey
from streams.domain.folding import OTHER, SNAPSHOT_LIMITS, kept_keys

# rows kept per dimension: the snapshot's limits of teams and agents
ROW_LIMITS: Final = {"segment": SNAPSHOT_LIMITS.team, "manager": SNAPSHOT_LIMITS.agent}

T = TypeVar("T")


def kept_rows(
    rows: Mapping[DimKey, T], kind: str, limit: int, volume: Callable[[T], int]
) -> set[str] | None:
    """The values of ``kind`` that keep their own row; None when all of them do."""
    volumes = {key: volume(value) for (dim, key), value in rows.items() if dim == kind}
    if len(volumes) <= limit:
        return None
    return kept_keys(volumes, limit, frozenset())


def fold_rows(
    rows: Mapping[DimKey, T], kind: str, kept: set[str], plus: Callable[[T, T], T]
) -> dict[DimKey, T]:
    """``rows`` with every ``kind`` row not in ``kept`` summed (``plus``) into its ``OTHER``."""
    out: dict[DimKey, T] = {}
    for row, value in rows.items():
        if row[0] == kind and row[1] not in kept:
            row = (kind, OTHER)
        held = out.get(row)
        out[row] = value if held is None else plus(held, value)
    return out


def add_counters(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    total = dict(a)
    for name, value in b.items():
        total[name] = total.get(name, 0) + value
    return total


def add_cells(a: list[int], b: list[int]) -> list[int]:
    return [x + y for x, y in zip(a, b, strict=True)]
