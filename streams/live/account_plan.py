"""A batch's account events, planned without I/O, into the partition's one transaction.

The accounts topic is co-partitioned with the support topics (keyed by ``account_id``), so
partition p's owner is the only writer of its accounts: it holds every account's timeline
(``PartitionState.accounts``), adds the batch's events (duplicates and events over the limit
change nothing; the latter are dead-lettered) and writes the changed accounts' records in
the batch's MULTI/EXEC, with the accounts topic's offset. Tickets' links to its accounts
(the account support topic) are kept the same way (``plan_links``).
"""

from __future__ import annotations

from streams.domain.account_links import newer
from streams.domain.account_timeline import OVER_LIMIT_REASON, AccountTimeline
from streams.domain.timeline import Arrival
from streams.live.account_records import encode_account
from streams.live.batch import BatchResult, DecodedBatch, PartitionState, deadletter
from streams.live.writes import link_field

LINK = "link"  # the event type counted for the account support topic


def plan_accounts(state: PartitionState, batch: DecodedBatch, result: BatchResult) -> None:
    """Add ``batch``'s account events to ``state``; their records and counts to ``result``."""
    touched: set[str] = set()
    accounts = state.accounts
    for message, event in batch.accounts:
        account_id = event.account_id
        timeline = accounts.get(account_id)
        if timeline is None:
            timeline = accounts[account_id] = AccountTimeline(account_id)
        arrival = timeline.add(event)
        result.outcomes[(message.topic, event.type.value, arrival.value)] += 1
        if arrival is Arrival.OVER_LIMIT:
            result.deadletters.append(deadletter(message, OVER_LIMIT_REASON))
        elif arrival is Arrival.ACCEPTED:
            touched.add(account_id)
        if not timeline.events:
            del accounts[account_id]  # nothing accepted: no account
    for account_id in sorted(touched):
        result.writes.accounts[account_id] = encode_account(accounts[account_id])
    state.dirty_accounts |= touched


def plan_links(state: PartitionState, batch: DecodedBatch, result: BatchResult) -> None:
    """Keep each (account, ticket)'s newest link of ``batch`` (``account_links.newer``)."""
    for message, link in batch.links:
        held = state.links.setdefault(link.account_id, {})
        if newer(held.get(link.ticket_id), link):
            held[link.ticket_id] = link
            state.dirty_accounts.add(link.account_id)
            result.writes.links[link_field(link.account_id, link.ticket_id)] = link.encode()
            outcome = Arrival.ACCEPTED.value
        else:
            outcome = Arrival.DUPLICATE.value
        result.outcomes[(message.topic, LINK, outcome)] += 1
