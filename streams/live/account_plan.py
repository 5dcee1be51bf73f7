"""A batch's account events and links, decoded and planned without I/O, into the
partition's one transaction.

The accounts topic is co-partitioned with the support topics (keyed by ``account_id``), so
partition p's owner is the only writer of its accounts: it holds every account's timeline
(``PartitionState.accounts``), adds the batch's events (duplicates and events over the limit
change nothing; the latter are dead-lettered) and writes the changed accounts' records in
the batch's MULTI/EXEC, with the accounts topic's offset. Tickets' links to its accounts (the
account support topic) are kept the same way (``plan_links``). ``decode_account`` and
``decode_link`` decode those topics' messages for ``batch.decode_batch``.
"""

from __future__ import annotations

from streams.domain.account_decode import decode_any
from streams.domain.account_links import Link, newer, unbundle
from streams.domain.account_snapshot import HEALTH_WINDOW
from streams.domain.account_timeline import OVER_LIMIT_REASON, AccountTimeline
from streams.domain.decode import InvalidEvent
from streams.domain.events import Event
from streams.domain.instant import MICROS_PER_SECOND, Instant
from streams.domain.timeline import Arrival
from streams.live.account_records import encode_account
from streams.live.batch import (
    BatchResult,
    DecodedBatch,
    Message,
    PartitionState,
    TopicDecoder,
    deadletter,
)
from streams.live.placement import Placement
from streams.live.writes import link_field
from streams.topic_names import TopicNames

LINK = "link"  # the event type counted for the account support topic
DAY = 86_400 * MICROS_PER_SECOND
PRUNE_EVERY = 3_600 * MICROS_PER_SECOND
ACCOUNT_ID = "account_id"  # what keys and places an account event and a link


def decode_account(batch: DecodedBatch, message: Message, placement: Placement | None) -> None:
    """One message of the accounts topic: an account event keyed and placed by account_id."""
    decoded = decode_any(message.value)
    if isinstance(decoded, Event):
        raw = decoded.to_json()
        decoded = InvalidEvent(f"type: {decoded.type.value} is not an account event", raw)
    if isinstance(decoded, InvalidEvent):
        batch.invalid.append((message, decoded))
        return
    if placement is not None:
        defect = placement.defect(message.key, message.partition, decoded.account_id, ACCOUNT_ID)
        if defect is not None:
            batch.misplaced.append((message, decoded, defect))
            return
    batch.accounts.append((message, decoded))


def decode_link(batch: DecodedBatch, message: Message, placement: Placement | None) -> None:
    """One message of the account support topic: one account's links from tickets
    (``streams.domain.account_links.bundle``), written by a worker, keyed by account_id."""
    links = []
    try:
        for blob in unbundle(message.value):
            links.append((message, Link.decode(blob), blob))
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raw = message.value.decode("utf-8", "replace")
        batch.invalid.append((message, InvalidEvent(f"(link): {error!r}", raw)))
        return
    if placement is not None:
        for _, link, _ in links:
            defect = placement.defect(message.key, message.partition, link.account_id, ACCOUNT_ID)
            if defect is not None:
                raw = message.value.decode("utf-8", "replace")
                batch.invalid.append((message, InvalidEvent(defect, raw)))
                return
    batch.links.extend(links)


def special_topics(topics: TopicNames) -> dict[str, TopicDecoder]:
    """The decoders of the accounts topic and the account support topic (``decode_batch``)."""
    return {topics.accounts: decode_account, topics.account_support: decode_link}


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
    for message, link, blob in batch.links:
        held = state.links.setdefault(link.account_id, {})
        if newer(held.get(link.ticket_id), link):
            held[link.ticket_id] = link
            state.dirty_accounts.add(link.account_id)
            result.writes.links[link_field(link.account_id, link.ticket_id)] = blob
            outcome = Arrival.ACCEPTED.value
        else:
            outcome = Arrival.DUPLICATE.value
        result.outcomes[(message.topic, LINK, outcome)] += 1


def prune_links(state: PartitionState, result: BatchResult, now: Instant) -> None:
    """Forget, at most once an hour, the links that can no longer count: those whose facts
    are all older than the health window (30 days) and a day, and the empty ones (an account
    a ticket no longer names) older than a day. A ticket that changes again sends its full
    facts anew."""
    if now < state.prune_at:
        return
    state.prune_at = now + PRUNE_EVERY
    for account_id, held in list(state.links.items()):
        for ticket_id, link in list(held.items()):
            if not expired(link, now):
                continue
            del held[ticket_id]
            result.writes.links[link_field(account_id, ticket_id)] = None
            state.dirty_accounts.add(account_id)
        if not held:
            del state.links[account_id]


def expired(link: Link, now: Instant) -> bool:
    """Whether a link can no longer count in any window (``prune_links``)."""
    if not link.facts:
        return link.seq < now - DAY
    return max(f.time for f in link.facts) < now - HEALTH_WINDOW - DAY
