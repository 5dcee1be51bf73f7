"""The ``accounts`` section of the snapshot and every account's view V, from account views.

Fact counts and sums of each window (7d, 30d, 90d) are read from ``TieredBuckets``; the
quantities that are states, not facts (customers and MRR at the window's start, the same
accounts' MRR at as_of, who of them churned), come from each account's history at the two
instants. "now" is every account's state at as_of. Maps are sorted so equal states print
equal bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from streams.domain.account import AccountView, Stage
from streams.domain.account_events import money
from streams.domain.account_facts import (
    CHURNED,
    CHURNED_MRR,
    CHURNED_VOLUNTARY,
    COHORT_CONVERTED,
    CONTRACTION_MRR,
    CONVERSIONS,
    EXPANSION_MRR,
    LAST_TOUCH,
    LEADS,
    LEADS_LOST,
    NEW_MRR,
    OVERALL,
    TO_CONVERT_TIME,
    TO_CONVERT_TOUCHES,
    TOUCH_MICROS,
    TOUCHES,
    UPSELLS,
    WON_BACK,
    AccountFactKind,
    DimKey,
    dimensions,
    fact_dimensions,
    fact_increments,
)
from streams.domain.account_health import signals
from streams.domain.account_support import SupportFact, SupportSums
from streams.domain.account_thresholds import HealthThresholds
from streams.domain.instant import MICROS_PER_MINUTE, MICROS_PER_SECOND, Instant, Micros
from streams.domain.kpis import PERCENTILES, _Bins
from streams.domain.tiered_buckets import Sums, TieredBuckets

_DAY: Final = 24 * 60 * MICROS_PER_MINUTE
ACCOUNT_WINDOWS: Final[dict[str, Micros]] = {"7d": 7 * _DAY, "30d": 30 * _DAY, "90d": 90 * _DAY}
HEALTH_WINDOW: Final = ACCOUNT_WINDOWS["30d"]
AT_RISK_LISTED: Final = 50

FACTS: Final = "facts"  # one per fact: a row with a fact in the window is shown
CUSTOMERS_AT_START: Final = "customers_at_start"
CHURNED_FROM_START: Final = "churned_from_start"
MRR_AT_START: Final = "mrr_at_start"
RETAINED_MRR: Final = "retained_mrr"


def fact_buckets(views: Iterable[AccountView]) -> TieredBuckets:
    """Every account fact counted in its day, hour and minute (what windows read)."""
    buckets = TieredBuckets()
    for view in views:
        for fact in view.facts:
            buckets.add(fact.time, fact_dimensions(fact), ((FACTS, 1), *fact_increments(fact)), 1)
    return buckets


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _add(sums: Sums, rows: Iterable[DimKey], name: str, value: int) -> None:
    for row in rows:
        counters = sums.get(row)
        if counters is None:
            counters = sums[row] = {}
        counters[name] = counters.get(name, 0) + value


def add_start_states(
    sums: Sums, views: Iterable[AccountView], as_of: Instant, width: Micros
) -> None:
    """Customers at the window's start, by their rows then: how many, their MRR then and at
    as_of, and how many of them churned voluntarily in the window."""
    start = as_of - width
    for view in views:
        state = view.state_at(start)
        if state is None or state.stage is not Stage.CUSTOMER or view.source is None:
            continue
        now = view.current
        rows = dimensions(state.segment, state.manager, view.source)
        churned = any(
            f.kind is AccountFactKind.CHURN and f.voluntary and start <= f.time < as_of
            for f in view.facts
        )
        _add(sums, rows, CUSTOMERS_AT_START, 1)
        _add(sums, rows, CHURNED_FROM_START, 1 if churned else 0)
        _add(sums, rows, MRR_AT_START, state.mrr)
        _add(sums, rows, RETAINED_MRR, now.mrr if now is not None else 0)


def distribution(counters: Mapping[str, int], metric: str, per_unit: int) -> dict[str, Any]:
    """The contract's ``D`` of a distribution counted with ``account_facts.sample``."""
    n = counters.get(f"{metric}:n", 0)
    if n <= 0:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None}
    cells: dict[int, list[int]] = {}
    prefix = metric + ":"
    for name, value in counters.items():
        if not name.startswith(prefix):
            continue
        parts = name.split(":")
        if len(parts) != 3:
            continue
        index = -1 if parts[1] == "z" else int(parts[1][1:])
        cells.setdefault(index, [0, 0])[0 if parts[2] == "n" else 1] += value
    bins = _Bins()
    for index in sorted(cells):
        bins.add(index, *cells[index])
    p50, p90, p99 = bins.percentiles(n, per_unit)
    assert len(PERCENTILES) == 3
    mean = counters.get(f"{metric}:s", 0) / (n * per_unit)
    return {"count": n, "mean": mean, "p50": p50, "p90": p90, "p99": p99}


def render_row(c: Mapping[str, int]) -> dict[str, Any]:
    """The contract's ``A`` for one row of one window."""
    get = c.get
    leads, conversions, touches = get(LEADS, 0), get(CONVERSIONS, 0), get(TOUCHES, 0)
    at_start, churned_from_start = get(CUSTOMERS_AT_START, 0), get(CHURNED_FROM_START, 0)
    mrr_at_start, retained = get(MRR_AT_START, 0), get(RETAINED_MRR, 0)
    by_last_touch = {
        name[len(LAST_TOUCH) :]: c[name] for name in sorted(c) if name.startswith(LAST_TOUCH)
    }
    return {
        "leads": leads,
        "conversions": conversions,
        "won_back": get(WON_BACK, 0),
        "leads_lost": get(LEADS_LOST, 0),
        "acquisition": {
            "cohort_leads": leads,
            "converted": get(COHORT_CONVERTED, 0),
            "rate": _ratio(get(COHORT_CONVERTED, 0), leads),
        },
        "touches": touches,
        "touch_seconds": get(TOUCH_MICROS, 0) / MICROS_PER_SECOND,
        "conversions_per_touch": _ratio(conversions, touches),
        "touches_to_convert": distribution(c, TO_CONVERT_TOUCHES, 1),
        "time_to_convert_seconds": distribution(c, TO_CONVERT_TIME, MICROS_PER_SECOND),
        "conversions_by_last_touch": {k: v for k, v in by_last_touch.items() if v},
        "churned": get(CHURNED, 0),
        "churned_voluntary": get(CHURNED_VOLUNTARY, 0),
        "churned_mrr": money(get(CHURNED_MRR, 0)),
        "customers_at_start": at_start,
        "churned_from_start": churned_from_start,
        "churn_rate": _ratio(churned_from_start, at_start),
        "mrr_at_start": money(mrr_at_start),
        "retained_mrr": money(retained),
        "net_revenue_retention": _ratio(retained, mrr_at_start),
        "new_mrr": money(get(NEW_MRR, 0)),
        "expansion_mrr": money(get(EXPANSION_MRR, 0)),
        "upsells": get(UPSELLS, 0),
        "contraction_mrr": money(get(CONTRACTION_MRR, 0)),
    }


def window_sums(
    buckets: TieredBuckets, views: Sequence[AccountView], as_of: Instant, width: Micros
) -> Sums:
    """Every row's counters of one window: its facts, and the customers at its start."""
    sums = buckets.window(as_of - width, as_of)
    add_start_states(sums, views, as_of, width)
    return sums


def render_window(sums: Sums) -> dict[str, Any]:
    """``AW``: rows with a fact in the window or a customer at its start; overall always."""
    out: dict[str, Any] = {"overall": render_row(sums.get(OVERALL, {}))}
    for kind in ("segment", "manager", "source"):
        keys = sorted(
            key
            for (dim, key), c in sums.items()
            if dim == kind and (c.get(FACTS, 0) or c.get(CUSTOMERS_AT_START, 0))
        )
        out[f"by_{kind}"] = {key: render_row(sums[(kind, key)]) for key in keys}
    return out


class AccountHealth:
    """One account's last 30 days: support sums, manager touches, signals, at risk."""

    __slots__ = ("at_risk", "manager_touches", "signals", "support")

    def __init__(
        self,
        view: AccountView | None,
        support: Iterable[SupportFact],
        as_of: Instant,
        health: HealthThresholds,
    ) -> None:
        start = as_of - HEALTH_WINDOW
        sums = SupportSums()
        for fact in support:
            if start <= fact.time < as_of:
                sums.add(fact)
        recent = [f for f in (view.facts if view else ()) if start <= f.time < as_of]
        touches = sum(1 for f in recent if f.kind is AccountFactKind.TOUCH)
        contraction = any(f.kind is AccountFactKind.MRR_CHANGE and f.value < 0 for f in recent)
        self.support = sums
        self.manager_touches = touches
        self.signals = signals(sums, touches, contraction, health)
        current = view.current if view else None
        self.at_risk = (
            current is not None
            and current.stage is Stage.CUSTOMER
            and len(self.signals) >= health.at_risk_signals
        )


def _k_csat(scores: Sequence[int]) -> dict[str, Any]:
    satisfied = sum(1 for s in scores if s >= 4)
    n = len(scores)
    return {"responses": n, "satisfied": satisfied, "percent": _ratio(100 * satisfied, n)}


def _k_nps(scores: Sequence[int]) -> dict[str, Any]:
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    n = len(scores)
    return {
        "responses": n,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "score": _ratio(100 * (promoters - detractors), n),
    }


def account_view_json(
    account_id: str, view: AccountView | None, health: AccountHealth
) -> dict[str, Any]:
    """The contract's ``V`` of one account."""
    current = view.current if view else None
    s = health.support
    customer = current is not None and current.stage is Stage.CUSTOMER
    return {
        "account_id": account_id,
        "stage": current.stage.value if current else None,
        "segment": current.segment if current else None,
        "manager": current.manager if current else None,
        "source": view.source if view and current else None,
        "mrr": money(current.mrr) if customer and current else 0.0,
        "support_30d": {
            "tickets_created": s.created,
            "inbound_contacts": s.inbound,
            "agent_touches": s.agent_touches,
            "agent_seconds": s.agent_micros / MICROS_PER_SECOND,
            "reopened": s.reopened,
            "sla_met": s.sla_met,
            "sla_breached": s.sla_breached,
            "csat": _k_csat(s.csat),
            "nps": _k_nps(s.nps),
        },
        "manager_touches_30d": health.manager_touches,
        "signals": list(health.signals),
        "at_risk": health.at_risk,
    }
