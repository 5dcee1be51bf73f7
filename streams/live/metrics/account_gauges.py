"""The account gauges: every ``ticketpulse_account_*``, from the snapshot's ``accounts`` section
(docs/accounts.md), rebuilt with the other snapshot gauges.

Rows are the section's: overall (labels ``""``), and one per segment, manager and (in the
windows) source. Segment and manager are free text, so like team labels they are bounded:
beyond ``limit`` values (the segments the policies file names always keep theirs), the
accounts with the least activity share the value ``"(other)"``, whose row sums theirs and
derives its ratios from those sums. Sources are a closed list. Never an account id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from streams.domain.account_snapshot import ACCOUNT_WINDOWS
from streams.domain.account_thresholds import AtRiskMrrLimits
from streams.domain.folding import OTHER, kept_keys
from streams.live.metrics.definitions import (
    ACCOUNT_AT_RISK_MRR_THRESHOLD,
    ACCOUNT_LEADS_OPEN,
    ACCOUNT_NOW,
    ACCOUNT_WINDOW,
)

Add = Callable[[str, dict[str, str], Any], None]
Row = dict[str, Any]

# ratio field -> (numerator, denominator), both summable fields of the same row
_RATIOS: Final = {
    "acquisition_rate": ("leads_converted", "leads"),
    "churn_rate": ("churned_from_start", "customers_at_start"),
    "net_revenue_retention": ("retained_mrr", "mrr_at_start"),
}
_WINDOW_SUMS: Final = tuple(key for key in ACCOUNT_WINDOW if key not in _RATIOS)
_NOW_SUMS: Final = ("customers", "mrr", "at_risk", "at_risk_mrr")
# what makes a segment or manager busy, for who keeps a label value of its own
_ACTIVITY: Final = ("leads", "conversions", "touches", "churned", "customers_at_start")


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _flat(row: Mapping[str, Any]) -> Row:
    """A window's ``A`` as the gauges' fields (the acquisition cohort flattened)."""
    flat = {key: row[key] for key in ACCOUNT_WINDOW if key in row}
    flat["leads_converted"] = row["acquisition"]["converted"]
    flat["acquisition_rate"] = row["acquisition"]["rate"]
    return flat


def _folded(
    rows: Mapping[str, Mapping[str, Any]],
    kept: set[str] | None,
    sums: tuple[str, ...],
    shown: Callable[[Mapping[str, Any]], Row],
) -> dict[str, Row]:
    """The rows of ``kept`` keys (None: all) as ``shown`` makes them; the ``sums`` fields of
    every other row (of ``shown``'s form) summed into ``OTHER``, in one pass and without
    making them first: the caller fills the derived fields of ``OTHER``."""
    out: dict[str, Row] = {}
    total = dict.fromkeys(sums, 0)
    folded = 0
    for key, row in rows.items():
        label = _label(key)
        if (kept is None or label in kept) and label != OTHER:
            out[label] = shown(row)
            continue
        folded += 1
        for field in sums:
            value = (
                row.get(field) if field != "leads_converted" else row["acquisition"]["converted"]
            )
            if value:
                total[field] += value
    if folded:  # a real OTHER key is summed in too
        out[OTHER] = total
    return out


def _label(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"account dimension key {key!r} is not a non-empty string")
    return key


class AccountLabels:
    """Which segment and manager values keep their own label in one section."""

    def __init__(self, section: Mapping[str, Any], limit: int, segments: frozenset[str]) -> None:
        now, windows = section["now"], section["windows"]
        self.kept: dict[str, set[str]] = {}
        for dim, always in (("segment", segments), ("manager", frozenset[str]())):
            volume: dict[str, int] = {}
            for key, row in now[f"by_{dim}"].items():
                volume[_label(key)] = volume.get(key, 0) + row["customers"]
            for window in windows.values():
                for key, row in window[f"by_{dim}"].items():
                    active = sum(row[field] for field in _ACTIVITY)
                    volume[_label(key)] = volume.get(key, 0) + active
            self.kept[dim] = kept_keys(volume, limit, always)


def add_account_gauges(
    add: Add,
    section: Mapping[str, Any] | None,
    limit: int,
    thresholds: AtRiskMrrLimits,
) -> None:
    """Every account sample of one snapshot (only the thresholds without an accounts
    section); ``add`` skips null values."""
    listed = frozenset(segment for segment, _ in thresholds.segments)
    segments = set(listed)
    if section is not None:
        labels = AccountLabels(section, limit, listed)
        month = _windows(add, section["windows"], labels)
        segments |= _now(add, section["now"], labels, month)
    for segment in sorted(segments):
        add(ACCOUNT_AT_RISK_MRR_THRESHOLD.name, {"segment": segment}, thresholds.of(segment))


def _windows(
    add: Add, windows: Mapping[str, Any], labels: AccountLabels
) -> dict[tuple[str, str], Row]:
    """The window gauges; returns the 30d rows by (dimension, label) for the CLV."""
    month: dict[tuple[str, str], Row] = {}
    for window, aw in windows.items():
        if window not in ACCOUNT_WINDOWS:
            raise ValueError(f"unknown account window {window!r}")
        blank = {"window": window, "segment": "", "manager": "", "source": ""}
        rows: dict[tuple[str, str], Row] = {("", ""): _flat(aw["overall"])}
        for dim in ("segment", "manager", "source"):
            members = aw[f"by_{dim}"]
            for key, row in _folded(members, labels.kept.get(dim), _WINDOW_SUMS, _flat).items():
                if key == OTHER:
                    for ratio, (numerator, denominator) in _RATIOS.items():
                        row[ratio] = _ratio(row[numerator], row[denominator])
                rows[(dim, key)] = row
        for (dim, key), row in rows.items():
            row_labels = {**blank, dim: key} if dim else blank
            for field, definition in ACCOUNT_WINDOW.items():
                add(definition.name, row_labels, row[field])
        if window == "30d":
            month = rows
    return month


def _now(
    add: Add, now: Mapping[str, Any], labels: AccountLabels, month: Mapping[tuple[str, str], Row]
) -> set[str]:
    """The gauges of ``now``; returns the segment label values."""
    add(ACCOUNT_LEADS_OPEN.name, {}, now["leads_open"])
    blank = {"segment": "", "manager": ""}
    rows: list[tuple[dict[str, str], Row]] = [(blank, dict(now))]
    segments: set[str] = set()
    for dim in ("segment", "manager"):
        members = now[f"by_{dim}"]
        for key, row in _folded(members, labels.kept[dim], _NOW_SUMS, dict).items():
            if key == OTHER:
                row["arpa"] = _ratio(row["mrr"], row["customers"])
                rate = month.get((dim, OTHER), {}).get("churn_rate")
                if dim == "segment":
                    row["clv"] = row["arpa"] / rate if row["arpa"] is not None and rate else None
            rows.append(({**blank, dim: key}, row))
            if dim == "segment":
                segments.add(key)
    for row_labels, row in rows:
        for field, definition in ACCOUNT_NOW.items():
            add(definition.name, row_labels, row.get(field))
    return segments
