"""The stage table, account facts and their dimensions, the history; order and duplicates."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.account import AccountView, Stage, evaluate_account
from streams.domain.account_events import MONEY_UNITS, AccountEvent, AccountEventType
from streams.domain.account_facts import AccountFactKind as K
from streams.domain.account_timeline import AccountTimeline
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.domain.timeline import Arrival

T0 = parse_rfc3339("2026-11-02T09:00:00Z")
NOW = T0 + 100_000 * MICROS_PER_MINUTE
_ids = itertools.count()

LEAD = AccountEventType.LEAD_CREATED
ASSIGNED = AccountEventType.ASSIGNED
TOUCHED = AccountEventType.TOUCHED
CONVERTED = AccountEventType.CONVERTED
MRR = AccountEventType.MRR_CHANGED
CHURNED = AccountEventType.CHURNED


def ev(kind: AccountEventType, minute: int, **fields: Any) -> AccountEvent:
    defaults: dict[AccountEventType, dict[str, Any]] = {
        LEAD: {"source": "inbound"},
        ASSIGNED: {"manager": "bob"},
        TOUCHED: {"channel": "email"},
        CONVERTED: {"mrr": 100 * MONEY_UNITS},
        MRR: {"mrr": 150 * MONEY_UNITS, "reason": "upsell"},
        CHURNED: {},
    }
    values = {**defaults[kind], **fields}
    return AccountEvent(f"e{next(_ids):06d}", kind, T0 + minute * MICROS_PER_MINUTE, "A1", **values)


def run(*events: AccountEvent, now: int = NOW) -> AccountView:
    timeline = AccountTimeline("A1")
    for event in events:
        timeline.add(event)
    return evaluate_account("A1", timeline.events, now)


def kinds(view: AccountView) -> list[K]:
    return [f.kind for f in view.facts]


def stage(view: AccountView) -> Stage | None:
    return view.current.stage if view.current else None


# -- every row of the stage table -------------------------------------------------------------


def test_lead_created_starts_a_lead() -> None:
    view = run(ev(LEAD, 0))
    assert (stage(view), kinds(view), view.anomalies, view.source) == (
        Stage.LEAD,
        [K.LEAD],
        0,
        "inbound",
    )


@pytest.mark.parametrize("before", [[CONVERTED], [LEAD, CHURNED], [CONVERTED, CHURNED], []])
def test_lead_created_after_the_start_is_an_anomaly(before: list[AccountEventType]) -> None:
    first = [ev(LEAD, 0)] if not before else [ev(k, i) for i, k in enumerate(before)]
    view = run(*first, ev(LEAD, 10, source="partner"))
    assert view.anomalies == 1
    assert kinds(view).count(K.LEAD) == (1 if first[0].type is LEAD else 0)
    assert view.source == ("inbound" if first[0].type is LEAD else "direct")


@pytest.mark.parametrize("before", [[], [LEAD], [LEAD, CHURNED]])
def test_converted_from_none_lead_or_lost_is_a_conversion(before: list[AccountEventType]) -> None:
    view = run(*(ev(k, i) for i, k in enumerate(before)), ev(CONVERTED, 10, mrr=70 * MONEY_UNITS))
    assert stage(view) is Stage.CUSTOMER
    assert view.current is not None and view.current.mrr == 70 * MONEY_UNITS
    conversion = view.facts[-1]
    assert (conversion.kind, conversion.value, view.anomalies) == (
        K.CONVERSION,
        70 * MONEY_UNITS,
        0,
    )


def test_converted_after_churn_is_a_win_back() -> None:
    view = run(ev(CONVERTED, 0), ev(CHURNED, 5), ev(CONVERTED, 10, mrr=40 * MONEY_UNITS))
    assert kinds(view) == [K.CONVERSION, K.CHURN, K.WON_BACK]
    assert view.facts[-1].value == 40 * MONEY_UNITS
    assert stage(view) is Stage.CUSTOMER


def test_converted_while_customer_is_an_anomaly() -> None:
    view = run(ev(CONVERTED, 0), ev(CONVERTED, 5, mrr=1))
    assert (kinds(view), view.anomalies) == ([K.CONVERSION], 1)
    assert view.current is not None and view.current.mrr == 100 * MONEY_UNITS


def test_mrr_changed_for_a_customer_records_the_delta() -> None:
    view = run(
        ev(CONVERTED, 0),
        ev(MRR, 5, mrr=130 * MONEY_UNITS, reason="upsell"),
        ev(MRR, 6, mrr=90 * MONEY_UNITS, reason="downgrade"),
    )
    changes = [(f.value, f.reason) for f in view.facts if f.kind is K.MRR_CHANGE]
    assert changes == [(30 * MONEY_UNITS, "upsell"), (-40 * MONEY_UNITS, "downgrade")]
    assert view.current is not None and view.current.mrr == 90 * MONEY_UNITS


@pytest.mark.parametrize("before", [[LEAD], [LEAD, CHURNED], [CONVERTED, CHURNED]])
def test_mrr_changed_when_not_a_customer_is_an_anomaly(before: list[AccountEventType]) -> None:
    view = run(*(ev(k, i) for i, k in enumerate(before)), ev(MRR, 10))
    assert view.anomalies == 1 and K.MRR_CHANGE not in kinds(view)


def test_churned_customer_loses_its_mrr() -> None:
    view = run(ev(CONVERTED, 0, mrr=80 * MONEY_UNITS), ev(CHURNED, 5, voluntary=False))
    churn = view.facts[-1]
    assert (churn.kind, churn.value, churn.voluntary) == (K.CHURN, 80 * MONEY_UNITS, False)
    assert view.current is not None
    assert (view.current.stage, view.current.mrr) == (Stage.CHURNED, 0)


def test_churned_lead_is_lost() -> None:
    view = run(ev(LEAD, 0), ev(CHURNED, 5))
    assert (stage(view), kinds(view)) == (Stage.LOST, [K.LEAD, K.LEAD_LOST])


@pytest.mark.parametrize("before", [[CONVERTED, CHURNED], [LEAD, CHURNED]])
def test_churned_again_is_an_anomaly(before: list[AccountEventType]) -> None:
    view = run(*(ev(k, i) for i, k in enumerate(before)), ev(CHURNED, 10))
    assert view.anomalies == 1 and len(view.facts) == 2


@pytest.mark.parametrize("before", [[LEAD], [CONVERTED], [LEAD, CHURNED], [CONVERTED, CHURNED]])
def test_touched_in_any_stage_is_a_touch(before: list[AccountEventType]) -> None:
    view = run(*(ev(k, i) for i, k in enumerate(before)), ev(TOUCHED, 10, channel="phone"))
    touch = view.facts[-1]
    assert (touch.kind, touch.channel, touch.value, view.anomalies) == (K.TOUCH, "phone", 0, 0)


@pytest.mark.parametrize("before", [[LEAD], [CONVERTED], [LEAD, CHURNED], [CONVERTED, CHURNED]])
def test_assigned_in_any_stage_changes_manager_and_segment(
    before: list[AccountEventType],
) -> None:
    view = run(*(ev(k, i) for i, k in enumerate(before)), ev(ASSIGNED, 10, segment="ent"))
    assert view.current is not None
    assert (view.current.manager, view.current.segment, view.anomalies) == ("bob", "ent", 0)
    assert len(view.facts) == len(before)  # no fact


def test_events_before_the_start_take_no_part() -> None:
    view = run(ev(TOUCHED, 0), ev(ASSIGNED, 1), ev(MRR, 2), ev(CHURNED, 3), ev(LEAD, 4))
    assert (kinds(view), view.anomalies) == ([K.LEAD], 4)
    assert view.facts[0].manager is None  # the assignment before the start did not count
    empty = run(ev(TOUCHED, 0), ev(ASSIGNED, 1))
    assert (empty.current, empty.facts, empty.anomalies, empty.source) == (None, (), 2, None)


# -- facts' dimensions and conversion details ---------------------------------------------------


def test_dimensions_are_those_at_the_facts_time_and_the_touching_manager() -> None:
    view = run(
        ev(LEAD, 0, source="partner", segment="smb", manager="ann"),
        ev(TOUCHED, 1),
        ev(TOUCHED, 2, manager="cid"),
        ev(ASSIGNED, 3, manager="dan"),
        ev(CONVERTED, 4, segment="mid"),
    )
    dims = [(f.kind, f.segment, f.manager, f.source) for f in view.facts]
    assert dims == [
        (K.LEAD, "smb", "ann", "partner"),
        (K.TOUCH, "smb", "ann", "partner"),
        (K.TOUCH, "smb", "cid", "partner"),
        (K.CONVERSION, "mid", "dan", "partner"),  # the conversion's own segment applies
    ]


def test_conversion_carries_touches_time_and_last_channel() -> None:
    view = run(
        ev(LEAD, 0),
        ev(TOUCHED, 10, channel="email"),
        ev(TOUCHED, 20, channel="meeting"),
        ev(CONVERTED, 90),
    )
    conversion, lead = view.facts[-1], view.facts[0]
    assert (conversion.touches, conversion.waited, conversion.channel) == (
        2,
        90 * MICROS_PER_MINUTE,
        "meeting",
    )
    assert lead.converted_at == T0 + 90 * MICROS_PER_MINUTE


def test_conversion_without_lead_has_no_touches_and_no_time() -> None:
    view = run(ev(CONVERTED, 0), ev(TOUCHED, 5))
    conversion = view.facts[0]
    assert (conversion.touches, conversion.waited, conversion.channel) == (None, None, "none")
    assert view.source == "direct"


def test_a_lost_lead_converted_later_counts_every_touch_since_the_lead() -> None:
    view = run(ev(LEAD, 0), ev(TOUCHED, 1), ev(CHURNED, 2), ev(TOUCHED, 3), ev(CONVERTED, 4))
    assert view.facts[-1].kind is K.CONVERSION and view.facts[-1].touches == 2


def test_history_gives_the_state_before_an_instant() -> None:
    view = run(ev(CONVERTED, 10, mrr=5), ev(CHURNED, 20))
    at = T0 + 10 * MICROS_PER_MINUTE
    assert view.state_at(at) is None  # an event at T is not "before T"
    state = view.state_at(at + 1)
    assert state is not None and (state.stage, state.mrr) == (Stage.CUSTOMER, 5)
    later = view.state_at(T0 + 20 * MICROS_PER_MINUTE + 1)
    assert later is not None and later.stage is Stage.CHURNED


def test_events_at_or_after_now_take_no_part() -> None:
    view = run(ev(LEAD, 0), ev(CONVERTED, 10), now=T0 + 10 * MICROS_PER_MINUTE)
    assert (stage(view), kinds(view)) == (Stage.LEAD, [K.LEAD])
    assert view.facts[0].converted_at is None


# -- order and duplicates ----------------------------------------------------------------------

_KINDS = [LEAD, ASSIGNED, TOUCHED, CONVERTED, MRR, CHURNED]


@st.composite
def histories(draw: st.DrawFn) -> list[AccountEvent]:
    size = draw(st.integers(1, 12))
    events = []
    for _ in range(size):
        kind = draw(st.sampled_from(_KINDS))
        minute = draw(st.integers(0, 6))  # few minutes: many ties, ranks and ids decide
        fields: dict[str, Any] = {}
        if kind in (CONVERTED, MRR):
            fields["mrr"] = draw(st.integers(0, 5)) * MONEY_UNITS
        if kind in (ASSIGNED, TOUCHED, LEAD):
            fields["manager"] = draw(st.sampled_from(["ann", "bob"]))
        if kind is CHURNED:
            fields["voluntary"] = draw(st.booleans())
        events.append(ev(kind, minute, **fields))
    return events


@settings(max_examples=300, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.integers(0, 8))
def test_any_order_and_any_duplicates_give_the_same_view(
    events: list[AccountEvent], rng: random.Random, cut: int
) -> None:
    now = T0 + cut * MICROS_PER_MINUTE
    expected = run(*events, now=now)
    shuffled = list(events) + rng.sample(events, k=min(3, len(events)))  # with duplicates
    rng.shuffle(shuffled)
    timeline = AccountTimeline("A1")
    arrivals = [timeline.add(e) for e in shuffled]
    assert arrivals.count(Arrival.DUPLICATE) == len(shuffled) - len(events)
    assert evaluate_account("A1", timeline.events, now) == expected
