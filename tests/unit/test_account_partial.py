"""The accounts section merged from partials equals the section of all accounts at once.

Live, each partition's owner computes the partial of its accounts and readers merge them;
replay computes one partial of everything. Any split of the accounts over partitions must
give the same section (and the same views V), and a partial must survive its JSON form.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from streams.domain.account import AccountView
from streams.domain.account_book import AccountBook, by_account
from streams.domain.account_events import AccountEvent, AccountEventType, MrrReason
from streams.domain.account_partial import (
    AccountsPartial,
    accounts_partial,
    merge_partials,
    next_change,
    render_section,
)
from streams.domain.account_snapshot import ACCOUNT_WINDOWS, AT_RISK_LISTED, HEALTH_WINDOW
from streams.domain.account_support import SupportFact
from streams.domain.instant import MICROS_PER_SECOND, parse_rfc3339
from streams.domain.policies import load_policies
from streams.live.partition_replay import PartitionReplay, replay_log

GOLDEN = Path(__file__).parent.parent / "golden" / "accounts"
AS_OF = parse_rfc3339("2026-12-01T00:00:00Z")
POLICIES = load_policies(GOLDEN / "policies.yaml")
HEALTH = POLICIES.account_health


def golden() -> tuple[dict[str, AccountView], dict[str, list[SupportFact]]]:
    run = PartitionReplay(POLICIES)
    replay_log((GOLDEN / "events.jsonl").read_bytes().splitlines(), POLICIES, AS_OF, replay=run)
    return run.book.views(AS_OF), by_account(run.support(AS_OF - HEALTH_WINDOW))


VIEWS, SUPPORT = golden()
IDS = sorted(set(VIEWS) | set(SUPPORT))


def split_report(
    views: Mapping[str, AccountView],
    support: Mapping[str, Sequence[SupportFact]],
    homes: Mapping[str, int],
) -> tuple[AccountsPartial, list[dict[str, object]]]:
    """Each partition's partial through its JSON form, merged; the views of all parts."""
    parts, rows = [], []
    for p in sorted(set(homes.values())):
        mine = {a for a, home in homes.items() if home == p}
        partial, part_rows = accounts_partial(
            AS_OF,
            {a: v for a, v in views.items() if a in mine},
            {a: f for a, f in support.items() if a in mine},
            HEALTH,
        )
        wire = json.loads(json.dumps(partial.to_json()))
        parts.append(AccountsPartial.from_json(wire))
        rows.extend(part_rows)
    return merge_partials(parts, AS_OF), sorted(rows, key=lambda r: str(r["account_id"]))


@given(st.lists(st.integers(0, 5), min_size=len(IDS), max_size=len(IDS)))
def test_any_split_of_the_golden_accounts_merges_to_the_single_report(homes: list[int]) -> None:
    whole, whole_rows = accounts_partial(AS_OF, VIEWS, SUPPORT, HEALTH)
    merged, rows = split_report(VIEWS, SUPPORT, dict(zip(IDS, homes, strict=True)))
    assert render_section(merged) == render_section(whole)
    assert rows == whole_rows
    assert merged.accounts == whole.accounts == len(VIEWS)


def customer(account_id: str, mrr: float) -> AccountView:
    """A converted customer with a contraction and no touch: two signals, at risk."""
    book = AccountBook()
    at = AS_OF - 10 * 86_400 * MICROS_PER_SECOND
    book.ingest(
        AccountEvent(
            f"{account_id}.1", AccountEventType.CONVERTED, at, account_id, mrr=int(mrr * 1e6) + 1
        )
    )
    book.ingest(
        AccountEvent(
            f"{account_id}.2",
            AccountEventType.MRR_CHANGED,
            at + 1,
            account_id,
            mrr=int(mrr * 1e6),
            reason=MrrReason.DOWNGRADE.value,
        )
    )
    return book.views(AS_OF)[account_id]


@given(
    st.lists(st.integers(0, 300), min_size=AT_RISK_LISTED + 1, max_size=140),
    st.randoms(use_true_random=False),
)
def test_the_merged_at_risk_list_is_the_first_fifty_of_all(
    mrrs: list[int], rng: random.Random
) -> None:
    views = {f"A{i:03}": customer(f"A{i:03}", m) for i, m in enumerate(mrrs)}
    homes = {a: rng.randrange(4) for a in views}
    whole, _ = accounts_partial(AS_OF, views, {}, HEALTH)
    merged, _ = split_report(views, {}, homes)
    section = render_section(merged)
    assert section == render_section(whole)
    assert len(section["at_risk"]) == AT_RISK_LISTED
    assert section["now"]["at_risk"] == len(mrrs)


def changes_by_definition(
    as_of: int, events: Sequence[int], view: AccountView | None, support: Sequence[SupportFact]
) -> int | None:
    """``next_change`` as its docstring defines it: the earliest candidate at or after as_of."""
    widths = list(ACCOUNT_WINDOWS.values())
    candidates = list(events)
    if view is not None:
        times = [f.time for f in view.facts] + [s.time for s in view.history]
        candidates += [t + w for t in times for w in widths]
    candidates += [f.time for f in support] + [f.time + HEALTH_WINDOW for f in support]
    ahead = [t for t in candidates if t >= as_of]
    return min(ahead) if ahead else None


@given(st.data())
def test_an_accounts_next_change_is_its_earliest_instant_ahead(data: st.DataObject) -> None:
    account = data.draw(st.sampled_from(IDS))
    view, support = VIEWS.get(account), SUPPORT.get(account, [])
    facts = view.facts if view is not None else ()
    times = sorted([f.time for f in facts] + [f.time for f in support] + [AS_OF])
    day = 86_400 * MICROS_PER_SECOND
    as_of = data.draw(st.sampled_from(times)) + data.draw(st.integers(-40 * day, 100 * day))
    events = data.draw(st.lists(st.sampled_from(times), max_size=4))
    got = next_change(as_of, events, view, support)
    assert got == changes_by_definition(as_of, events, view, support)
    assert got is None or got >= as_of
