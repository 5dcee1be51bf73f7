"""The transactional outbox of tickets' links to their accounts.

A batch (or a breach scan) that changes a ticket's support facts writes the links it implies
(``account_links.changed_links``, with the partition's next sequence, ``next_seq``) to
``{p}:outbox`` in the batch's own MULTI/EXEC: they exist exactly when the change does. After
EXEC the worker sends them to the account support topic (idempotent producer, acks=all, keyed
by account_id) and then deletes those that were not replaced meanwhile. A crash in between
leaves them in the outbox: the partition's next owner sends them when it adopts it. Sending
twice is harmless: the account keeps the newest sequence per ticket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from streams.domain.account_links import bundle, changed_links
from streams.domain.instant import Instant
from streams.live.batch import BatchResult
from streams.live.writes import link_account, link_field


class LinkSink(Protocol):
    """Where links go (the account support topic); durable when ``send_links`` returns."""

    async def send_links(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        """(key, value) records, key the account id."""
        ...


def next_seq(held: int, now: Instant) -> int:
    """The sequence of a batch's links: above the partition's last one, and at least the
    batch's time (µs), so that links written after a Redis restore (whose last sequence
    went back with it) still come after those sent before it."""
    return max(held + 1, now)


def fill_outbox(result: BatchResult, seq: int) -> None:
    """The links of the batch's changed tickets, into its writes' outbox."""
    result.writes.link_seq = seq
    outbox = result.writes.outbox
    for ticket_id, (old, new) in result.support.items():
        for link in changed_links(ticket_id, old, new, seq):
            outbox[link_field(link.account_id, ticket_id)] = link.encode()


def outbox_records(outbox: Mapping[str, bytes]) -> list[tuple[bytes, bytes]]:
    """The outbox's links as Kafka records keyed by account id, one per account
    (``account_links.bundle``)."""
    by_account: dict[str, list[bytes]] = {}
    for name, blob in sorted(outbox.items()):
        by_account.setdefault(link_account(name), []).append(blob)
    return [(account.encode(), bundle(blobs)) for account, blobs in by_account.items()]
