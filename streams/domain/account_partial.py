"""The ``accounts`` section as partials that merge exactly: one per partition, or one for all.

An account lives on one partition, so everything the section says is a sum over accounts:
the window counters (facts and customers at each window's start), the customers, MRR and
at-risk counts of "now" per row, the open leads, and the at-risk list (the merge of each
part's first ``AT_RISK_LISTED``, sorted again, keeps the first ``AT_RISK_LISTED`` of all).
Ratios, ARPA and CLV are computed only after the merge (``render_section``). Replay is the
one-partition case: ``AccountsReport`` builds one partial and renders it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from streams.domain.account import AccountView, Stage
from streams.domain.account_events import MONEY_UNITS, money
from streams.domain.account_facts import OVERALL, DimKey, dimensions
from streams.domain.account_folding import (
    ROW_LIMITS,
    add_cells,
    add_counters,
    fold_rows,
    kept_rows,
)
from streams.domain.account_snapshot import (
    ACCOUNT_WINDOWS,
    AT_RISK_LISTED,
    CHURNED_FROM_START,
    CUSTOMERS_AT_START,
    FACTS,
    HEALTH_WINDOW,
    AccountHealth,
    _ratio,
    account_view_json,
    fact_buckets,
    render_window,
    window_sums,
)
from streams.domain.account_support import SupportFact
from streams.domain.account_thresholds import HealthThresholds
from streams.domain.instant import Instant
from streams.domain.tiered_buckets import Sums

# one at-risk customer: (mrr in millionths, account_id, segment, manager, signals)
AtRisk = tuple[int, str, str | None, str | None, tuple[str, ...]]


# At-risk customers ``GET /accounts/at-risk`` pages through at most, those of highest MRR:
# what one request reads stays bounded however many accounts are at risk.
AT_RISK_PAGED: Final = 10_000


def risk_order(item: AtRisk) -> tuple[int, str]:
    return (-item[0], item[1])


class AccountsPartial:
    """The additive part of the ``accounts`` section for some accounts, as of ``as_of``."""

    __slots__ = ("accounts", "all_at_risk", "as_of", "customers", "leads_open", "risky", "windows")

    def __init__(self, as_of: Instant) -> None:
        self.as_of = as_of
        self.accounts = 0  # accounts with an account event (the section's reason to appear)
        self.windows: dict[str, Sums] = {name: {} for name in ACCOUNT_WINDOWS}
        # row -> [customers, mrr, at risk, at-risk mrr]
        self.customers: dict[DimKey, list[int]] = {}
        self.leads_open = 0
        self.risky: list[AtRisk] = []  # sorted by MRR descending, then id; the first 50
        # every at-risk customer, in that order (``GET /accounts/at-risk``); not merged
        self.all_at_risk: list[AtRisk] = []

    def merge(self, other: AccountsPartial) -> None:
        """Add ``other`` (of the same as_of and other accounts) to this one."""
        self.add_sums(other)
        self.risky = sorted([*self.risky, *other.risky], key=risk_order)[:AT_RISK_LISTED]

    def add_sums(self, other: AccountsPartial, sign: int = 1) -> None:
        """Add (``sign`` 1) or take away (-1, ``other`` having been added) everything of
        ``other`` but its at-risk lists. Counters and rows at 0 go: what is left renders as
        if those accounts had never been there."""
        self.accounts += sign * other.accounts
        for name, sums in other.windows.items():
            into = self.windows.setdefault(name, {})
            for row, counters in sums.items():
                cell = into.setdefault(row, {})
                for counter, value in counters.items():
                    total = cell.get(counter, 0) + sign * value
                    if total:
                        cell[counter] = total
                    else:
                        cell.pop(counter, None)
                if not cell:
                    del into[row]
        for row, values in other.customers.items():
            held = self.customers.setdefault(row, [0, 0, 0, 0])
            for i, value in enumerate(values):
                held[i] += sign * value
            if held == [0, 0, 0, 0]:
                del self.customers[row]
        self.leads_open += sign * other.leads_open

    def to_json(self) -> dict[str, Any]:
        """A JSON value that ``from_json`` reads back equal (rows as lists: keys are tuples)."""
        return {
            "as_of": self.as_of,
            "accounts": self.accounts,
            "windows": {
                name: [[dim, key, counters] for (dim, key), counters in sums.items()]
                for name, sums in self.windows.items()
            },
            "customers": [[dim, key, *cell] for (dim, key), cell in self.customers.items()],
            "leads_open": self.leads_open,
            "at_risk": [[m, a, s, g, list(sig)] for m, a, s, g, sig in self.risky],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AccountsPartial:
        partial = cls(int(data["as_of"]))
        partial.accounts = int(data["accounts"])
        partial.windows = {
            name: {(row[0], row[1]): dict(row[2]) for row in rows}
            for name, rows in data["windows"].items()
        }
        partial.customers = {(r[0], r[1]): [int(v) for v in r[2:6]] for r in data["customers"]}
        partial.leads_open = int(data["leads_open"])
        partial.risky = [(int(m), a, s, g, tuple(sig)) for m, a, s, g, sig in data["at_risk"]]
        return partial


def accounts_partial(
    as_of: Instant,
    views: Mapping[str, AccountView],
    support: Mapping[str, Sequence[SupportFact]],
    health: HealthThresholds,
) -> tuple[AccountsPartial, list[dict[str, Any]]]:
    """The partial of these accounts and their views V (sorted by account_id).

    ``views`` are the accounts with account events, ``support`` the support facts of the
    accounts these accounts' tickets name (an account may have either or both).
    """
    partial = AccountsPartial(as_of)
    partial.accounts = len(views)
    ordered = [views[a] for a in sorted(views)]
    buckets = fact_buckets(ordered)
    partial.windows = {
        name: window_sums(buckets, ordered, as_of, w) for name, w in ACCOUNT_WINDOWS.items()
    }
    rows_v: list[dict[str, Any]] = []
    customers = partial.customers
    risky: list[AtRisk] = []
    for account_id in sorted(set(views) | set(support)):
        view = views.get(account_id)
        state = AccountHealth(view, support.get(account_id, ()), as_of, health)
        rows_v.append(account_view_json(account_id, view, state))
        current = view.current if view else None
        if current is None or view is None or view.source is None:
            continue
        if current.stage is Stage.LEAD:
            partial.leads_open += 1
        if current.stage is not Stage.CUSTOMER:
            continue
        for row in dimensions(current.segment, current.manager, view.source):
            if row[0] == "source":
                continue
            cell = customers.setdefault(row, [0, 0, 0, 0])
            cell[0] += 1
            cell[1] += current.mrr
            if state.at_risk:
                cell[2] += 1
                cell[3] += current.mrr
        if state.at_risk:
            item = (current.mrr, account_id, current.segment, current.manager, state.signals)
            risky.append(item)
    partial.all_at_risk = sorted(risky, key=risk_order)
    partial.risky = partial.all_at_risk[:AT_RISK_LISTED]
    return partial, rows_v


_NEVER: Final = 2**63  # later than any instant (µs since the epoch)


def next_change(
    as_of: Instant,
    event_times: Iterable[Instant],
    view: AccountView | None,
    support: Iterable[SupportFact],
) -> Instant | None:
    """The instant after which an account's partial as of ``as_of`` may change by time alone
    (None: never, until its events or links change): its partial as of any later ``t`` is
    the same while no instant returned here is < ``t``.

    As of ``t``, an event (so a fact or state) counts when ``time < t``, a fact is in window
    W while ``time >= t - W``, a window's start state is the one of ``time < t - W``, and a
    support fact counts in the health window while ``t - 30d <= time < t``. So the partial
    can only change when ``t`` passes one of: a later event's time, a fact's or a state's
    time plus a window's width, a support fact's time, or its time plus 30 days.
    """
    widths = tuple(ACCOUNT_WINDOWS.values())
    first = _NEVER  # the earliest of those instants at or after as_of (a running minimum)
    for t in event_times:
        if as_of <= t < first:
            first = t
    if view is not None:
        times = [f.time for f in view.facts] + [s.time for s in view.history]
        for t in times:
            for width in widths:
                if as_of <= t + width < first:
                    first = t + width
    for fact in support:  # its time, else its time plus the health window
        t = fact.time if fact.time >= as_of else fact.time + HEALTH_WINDOW
        if as_of <= t < first:
            first = t
    return None if first == _NEVER else first


def merge_partials(partials: Iterable[AccountsPartial], as_of: Instant) -> AccountsPartial:
    """One partial of all of them (the empty one when there are none)."""
    merged = AccountsPartial(as_of)
    for partial in partials:
        merged.merge(partial)
    return merged


def _now_row(cell: Sequence[int], churn_rate: float | None) -> dict[str, Any]:
    """One row of ``now`` from its [customers, mrr, at risk, at-risk mrr] cell."""
    customers, mrr, at_risk, at_risk_mrr = cell
    arpa = _ratio(mrr, customers * MONEY_UNITS)
    clv = arpa / churn_rate if arpa is not None and churn_rate else None
    return {
        "customers": customers,
        "mrr": money(mrr),
        "arpa": arpa,
        "clv": clv,
        "at_risk": at_risk,
        "at_risk_mrr": money(at_risk_mrr),
    }


def at_risk_row(item: AtRisk) -> dict[str, Any]:
    """The contract's ``R`` of one at-risk customer."""
    mrr, account_id, segment, manager, signals = item
    return {
        "account_id": account_id,
        "mrr": money(mrr),
        "segment": segment,
        "manager": manager,
        "signals": list(signals),
    }


def _window_volume(counters: Mapping[str, int]) -> int:
    return counters.get(FACTS, 0) + counters.get(CUSTOMERS_AT_START, 0)


def _folded_window(sums: Sums, limits: Mapping[str, int]) -> Sums:
    for kind, limit in limits.items():
        kept = kept_rows(sums, kind, limit, _window_volume)
        if kept is not None:
            sums = fold_rows(sums, kind, kept, add_counters)
    return sums


def render_section(
    partial: AccountsPartial, limits: Mapping[str, int] = ROW_LIMITS
) -> dict[str, Any]:
    """The snapshot's ``accounts`` section of a (merged) partial, its segments and managers
    beyond ``limits`` folded (``account_folding``)."""
    windows = {
        name: render_window(_folded_window(sums, limits)) for name, sums in partial.windows.items()
    }
    month = partial.windows["30d"]
    customers = partial.customers
    for kind, limit in limits.items():  # now's (other) takes its churn rate from its members
        kept = kept_rows(customers, kind, limit, lambda cell: cell[0])
        if kept is not None:
            customers = fold_rows(customers, kind, kept, add_cells)
            month = fold_rows(month, kind, kept, add_counters)

    def rate(row: DimKey) -> float | None:
        c = month.get(row, {})
        return _ratio(c.get(CHURNED_FROM_START, 0), c.get(CUSTOMERS_AT_START, 0))

    overall = _now_row(customers.get(OVERALL, [0, 0, 0, 0]), rate(OVERALL))
    now: dict[str, Any] = {"customers": overall.pop("customers"), "leads_open": partial.leads_open}
    now.update(overall)
    by_segment: dict[str, Any] = {}
    for key in sorted(k for d, k in customers if d == "segment"):
        by_segment[key] = _now_row(customers[("segment", key)], rate(("segment", key)))
    by_manager: dict[str, Any] = {}
    for key in sorted(k for d, k in customers if d == "manager"):
        manager_row = _now_row(customers[("manager", key)], None)
        del manager_row["clv"]
        by_manager[key] = manager_row
    now["by_segment"] = by_segment
    now["by_manager"] = by_manager
    at_risk = [at_risk_row(item) for item in partial.risky]
    return {"now": now, "windows": windows, "at_risk": at_risk}


class AccountsReport:
    """The ``accounts`` section and every account's V, as of one instant (one partial)."""

    __slots__ = ("partial", "section", "views")

    def __init__(
        self,
        as_of: Instant,
        views: Mapping[str, AccountView],
        support: Mapping[str, Sequence[SupportFact]],
        health: HealthThresholds,
    ) -> None:
        self.partial, self.views = accounts_partial(as_of, views, support, health)
        self.section = render_section(self.partial)
