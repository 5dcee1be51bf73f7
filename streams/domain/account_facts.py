"""Account facts: what an account's timeline yields, each at the instant it became true.

A fact has the time of its event and its dimensions: the account's ``segment`` and
``manager`` at that time (for a touch: the touching manager) and its ``source``. Like ticket
facts they are values, recomputed from the timeline; ``fact_increments`` says what one fact
adds to the integer counters that windows sum (money in millionths, durations in
microseconds, so that sums and retractions are exact).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from streams.domain.account_events import MrrReason
from streams.domain.instant import Instant
from streams.domain.kpis import bin_index
from streams.domain.value import Value


class AccountFactKind(StrEnum):
    LEAD = "lead"  # value 0; ``converted_at``: the lead's first conversion, if any
    CONVERSION = "conversion"  # value: new MRR; touches, waited, channel (last touch)
    WON_BACK = "won_back"  # value: new MRR
    LEAD_LOST = "lead_lost"  # value 0
    MRR_CHANGE = "mrr_change"  # value: the delta (new - old); reason
    CHURN = "churn"  # value: the MRR before; voluntary
    TOUCH = "touch"  # value: duration in microseconds (0 when not given); channel


NO_TOUCH: Final = "none"  # the last touch channel of a conversion with no touch before it
_EXPANSION: Final = frozenset({MrrReason.UPSELL.value, MrrReason.CROSS_SELL.value})


class AccountFact(Value):
    """One account fact; ``segment`` and ``manager`` are None when the account has none yet."""

    _NAMES = (
        "time",
        "kind",
        "value",
        "segment",
        "manager",
        "source",
        "channel",
        "reason",
        "voluntary",
        "touches",
        "waited",
        "converted_at",
    )
    __slots__ = _NAMES

    time: Final[Instant]
    kind: Final[AccountFactKind]
    value: Final[int]
    segment: Final[str | None]
    manager: Final[str | None]
    source: Final[str]
    channel: Final[str | None]
    reason: Final[str | None]
    voluntary: Final[bool]
    touches: Final[int | None]
    waited: Final[int | None]
    converted_at: Final[Instant | None]

    def __init__(
        self,
        time: Instant,
        kind: AccountFactKind,
        value: int,
        segment: str | None,
        manager: str | None,
        source: str,
        channel: str | None = None,
        reason: str | None = None,
        voluntary: bool = False,
        touches: int | None = None,
        waited: int | None = None,
        converted_at: Instant | None = None,
    ) -> None:
        self.time = time
        self.kind = kind
        self.value = value
        self.segment = segment
        self.manager = manager
        self.source = source
        self.channel = channel
        self.reason = reason
        self.voluntary = voluntary
        self.touches = touches
        self.waited = waited
        self.converted_at = converted_at

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.time,
            self.kind,
            self.value,
            self.segment,
            self.manager,
            self.source,
            self.channel,
            self.reason,
            self.voluntary,
            self.touches,
            self.waited,
            self.converted_at,
        )


# -- counters -------------------------------------------------------------------------------

DimKey = tuple[str, str]
Increments = tuple[tuple[str, int], ...]

OVERALL: Final[DimKey] = ("overall", "")
ACCOUNT_DIMENSIONS: Final = ("segment", "manager", "source")

LEADS: Final = "leads"
COHORT_CONVERTED: Final = "cohort_converted"
CONVERSIONS: Final = "conversions"
WON_BACK: Final = "won_back"
LEADS_LOST: Final = "leads_lost"
TOUCHES: Final = "touches"
TOUCH_MICROS: Final = "touch_micros"
CHURNED: Final = "churned"
CHURNED_VOLUNTARY: Final = "churned_voluntary"
CHURNED_MRR: Final = "churned_mrr"
NEW_MRR: Final = "new_mrr"
EXPANSION_MRR: Final = "expansion_mrr"
UPSELLS: Final = "upsells"
CONTRACTION_MRR: Final = "contraction_mrr"
LAST_TOUCH: Final = "last_touch:"  # + channel: conversions by last touch channel
TO_CONVERT_TOUCHES: Final = "to_convert_touches"  # distribution metrics (see ``sample``)
TO_CONVERT_TIME: Final = "to_convert_time"


def dimensions(segment: str | None, manager: str | None, source: str) -> tuple[DimKey, ...]:
    """Every row a fact (or an account) is counted in; no segment or manager, no such row."""
    dims: tuple[DimKey, ...] = (OVERALL, ("source", source))
    if segment is not None:
        dims += (("segment", segment),)
    if manager is not None:
        dims += (("manager", manager),)
    return dims


def fact_dimensions(fact: AccountFact) -> tuple[DimKey, ...]:
    return dimensions(fact.segment, fact.manager, fact.source)


def sample(metric: str, value: int) -> Increments:
    """A distribution sample: count and sum overall and of the value's log bin (as kpis)."""
    index = bin_index(value)
    label = "z" if index < 0 else f"b{index}"
    return (
        (f"{metric}:n", 1),
        (f"{metric}:s", value),
        (f"{metric}:{label}:n", 1),
        (f"{metric}:{label}:s", value),
    )


def fact_increments(fact: AccountFact) -> Increments:
    """The counter increments of one fact (the same in each of its rows)."""
    kind = fact.kind
    if kind is AccountFactKind.TOUCH:
        return ((TOUCHES, 1), (TOUCH_MICROS, fact.value))
    if kind is AccountFactKind.LEAD:
        if fact.converted_at is not None:
            return ((LEADS, 1), (COHORT_CONVERTED, 1))
        return ((LEADS, 1),)
    if kind is AccountFactKind.CONVERSION:
        out: Increments = (
            (CONVERSIONS, 1),
            (NEW_MRR, fact.value),
            (LAST_TOUCH + (fact.channel or NO_TOUCH), 1),
        )
        if fact.touches is not None:
            out += sample(TO_CONVERT_TOUCHES, fact.touches)
        if fact.waited is not None:
            out += sample(TO_CONVERT_TIME, fact.waited)
        return out
    if kind is AccountFactKind.WON_BACK:
        return ((WON_BACK, 1), (NEW_MRR, fact.value))
    if kind is AccountFactKind.LEAD_LOST:
        return ((LEADS_LOST, 1),)
    if kind is AccountFactKind.MRR_CHANGE:
        if fact.value > 0 and fact.reason in _EXPANSION:
            return ((EXPANSION_MRR, fact.value), (UPSELLS, 1))
        if fact.value < 0:
            return ((CONTRACTION_MRR, -fact.value),)
        return ()
    # CHURN
    return (
        (CHURNED, 1),
        (CHURNED_VOLUNTARY, 1 if fact.voluntary else 0),
        (CHURNED_MRR, fact.value),
    )
