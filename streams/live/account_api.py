"""``GET /accounts/{id}`` and ``GET /accounts/at-risk``: inputs in, (status, JSON body) out.

An account lives on its account_id's partition: its record and its tickets' links are read
from there, whichever worker answers, and the view V is computed as replay computes it, at
the snapshot's as_of (the current minute's end). The at-risk list is the merge of every
partition's published list (``{p}:risk``), sorted by MRR descending then account_id, a page
at a time; a cursor is the last position listed, so accounts that come or go between two
pages neither repeat nor shift them.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from pydantic_core import from_json

from streams.domain.account import evaluate_account
from streams.domain.account_links import Link
from streams.domain.account_partial import AT_RISK_PAGED, AtRisk, at_risk_row, risk_order
from streams.domain.account_snapshot import AccountHealth, account_view_json
from streams.domain.events import Status
from streams.domain.instant import Instant, ceil_minute, format_rfc3339
from streams.domain.policies import PolicySet
from streams.domain.ticket import evaluate
from streams.live.account_records import decode_account
from streams.live.paging import DEFAULT_LIMIT, decode_token, encode_token, parse_paging
from streams.live.placement import partition_of
from streams.live.records import decode_record
from streams.live.stores.protocol import Store

Reply = tuple[int, Any]
RISK_PARAMETERS: Final = ("limit", "cursor", "segment", "manager")
LAST_EVENTS: Final = 20  # the account's latest events shown
TICKETS_READ: Final = 200  # linked tickets read at most for the open ones, latest first

RiskPosition = tuple[int, str]  # MRR (millionths), account id: the last row listed


@dataclass(frozen=True, slots=True)
class RiskQuery:
    limit: int = DEFAULT_LIMIT
    after: RiskPosition | None = None
    segment: str | None = None
    manager: str | None = None

    def matches(self, item: AtRisk) -> bool:
        return (self.segment is None or item[2] == self.segment) and (
            self.manager is None or item[3] == self.manager
        )


def parse_risk_query(pairs: Iterable[tuple[str, str]]) -> RiskQuery | str:
    """The query string's parameters, or the error of the first bad one (for a 400)."""
    paging = parse_paging(pairs, RISK_PARAMETERS, ("segment", "manager"), decode_risk_cursor)
    if isinstance(paging, str):
        return paging
    given = paging.given
    return RiskQuery(paging.limit, paging.after, given.get("segment"), given.get("manager"))


def decode_risk_cursor(token: str) -> RiskPosition | None:
    """The position a cursor holds, or None for anything ``accounts_at_risk`` did not make."""
    value = decode_token(token)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or type(value[0]) is not int
        or not isinstance(value[1], str)
    ):
        return None
    return value[0], value[1]


async def accounts_at_risk(
    store: Store, partitions: int, query: RiskQuery, paged: int = AT_RISK_PAGED
) -> Reply:
    """``GET /accounts/at-risk``: the first ``paged`` at-risk customers of all partitions
    (each partition publishes its first ``paged``), a page at a time."""
    blobs = await store.read_account_risks(range(partitions))
    items: list[AtRisk] = []
    as_of: Instant | None = None
    for blob in blobs.values():
        data = from_json(blob)
        as_of = data["as_of"] if as_of is None else max(as_of, data["as_of"])
        items.extend((m, a, s, g, tuple(sig)) for m, a, s, g, sig in data["at_risk"])
    items = heapq.nsmallest(paged, items, key=risk_order)
    after = None if query.after is None else (-query.after[0], query.after[1])
    wanted = [i for i in items if query.matches(i) and (after is None or risk_order(i) > after)]
    page = wanted[: query.limit]
    more = len(wanted) > query.limit
    return 200, {
        "as_of": format_rfc3339(as_of) if as_of is not None else None,
        "accounts": [at_risk_row(item) for item in page],
        "next_cursor": encode_token(page[-1][:2]) if more else None,
    }


async def account(
    store: Store, policies: PolicySet, partitions: int, account_id: str, now: Instant
) -> Reply:
    """``GET /accounts/{id}``: the account's V as of the current minute's end, its open
    tickets and its latest events."""
    partition = partition_of(account_id.encode(), partitions)
    as_of = ceil_minute(now)
    record = await store.load_account(partition, account_id)
    links = [
        Link.decode(b) for b in (await store.load_account_links(partition, account_id)).values()
    ]
    # the fields under the account's prefix: those of an id that extends it past the
    # separator too (``link_field``), which are that account's
    links = [link for link in links if link.facts and link.account_id == account_id]
    if record is None and not links:
        return 404, {"error": f"account_id: no account {account_id!r}"}
    timeline = decode_account(account_id, record) if record is not None else None
    view = evaluate_account(account_id, timeline.events, as_of) if timeline else None
    support = [fact for link in links for fact in link.facts]
    health = AccountHealth(view, support, as_of, policies.account_health)
    body = account_view_json(account_id, view, health)
    body["as_of"] = format_rfc3339(as_of)
    body["open_tickets"] = await _open_tickets(store, policies, partitions, links, now)
    events = timeline.events[-LAST_EVENTS:] if timeline else []
    body["last_events"] = [event.to_json() for event in reversed(events)]
    return 200, body


async def _open_tickets(
    store: Store, policies: PolicySet, partitions: int, links: list[Link], now: Instant
) -> list[dict[str, Any]]:
    """The account's tickets that are not closed, newest first (of its latest linked ones)."""
    latest = sorted(links, key=lambda link: max(f.time for f in link.facts), reverse=True)
    wanted: defaultdict[int, set[str]] = defaultdict(set)
    for link in latest[:TICKETS_READ]:
        wanted[partition_of(link.ticket_id.encode(), partitions)].add(link.ticket_id)
    rows = []
    for partition, ids in sorted(wanted.items()):
        for ticket_id, blob in (await store.load_tickets(partition, ids)).items():
            timeline, _ = decode_record(ticket_id, blob)
            view = evaluate(ticket_id, timeline.events, policies, now)
            if view.status is None or view.status is Status.CLOSED or view.created_at is None:
                continue
            rows.append(
                {
                    "ticket_id": ticket_id,
                    "status": view.status.value,
                    "priority": view.priority,
                    "team": view.team,
                    "created_at": format_rfc3339(view.created_at),
                }
            )
    rows.sort(key=lambda r: (r["created_at"], r["ticket_id"]), reverse=True)
    return rows
