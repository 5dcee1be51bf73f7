"""The transactional outbox of tickets' links to their accounts.

A batch (or a breach scan) that changes a ticket's support facts writes the links it implies
(``account_links.changed_links``, with the partition's next sequence, ``next_seq``) to
``{p}:outbox`` in the batch's own MULTI/EXEC: they exist exactly when the change does. After
EXEC the worker sends them to the account support topic (idempotent producer, acks=all, keyed
by account_id) and then deletes those that were not replaced meanwhile. A crash in between
leaves them in the outbox: the partition's next owner sends them when it adopts it. Sending
twice is harmless: the account keeps the newest sequence per ticket.

A partition's links are sent at most every ``link_send_gap_seconds``: a ticket that changes
in several batches meanwhile replaces its link in the outbox, so it is sent once. Each
account's links travel as one record, or as several when they would exceed
``RECORD_BYTES``: a record must stay under the producer's and the broker's limit on a
message (1 MiB by default), or it could never be sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from streams.domain.account_links import bundle, changed_links
from streams.domain.instant import Instant
from streams.live.batch import BatchResult
from streams.live.writes import link_account, link_field

# The most bytes of links in one record (a single larger link travels alone): a quarter of
# Kafka's default limit on a message, so that a record with its headers stays well under it
RECORD_BYTES: Final = 256 * 1024


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


def outbox_records(
    outbox: Mapping[str, bytes], limit: int = RECORD_BYTES
) -> list[tuple[bytes, bytes]]:
    """The outbox's links as Kafka records keyed by account id (``account_links.bundle``):
    one per account, or more where its links add up to more than ``limit`` bytes."""
    by_account: dict[str, list[list[bytes]]] = {}
    filled: dict[str, int] = {}  # account -> the bytes of its last record so far
    for name, blob in sorted(outbox.items()):
        account = link_account(name)
        groups = by_account.setdefault(account, [[]])
        size = filled.get(account, -1) + 1 + len(blob)  # with a line break before it
        if groups[-1] and size > limit:
            groups.append([])
            size = len(blob)
        groups[-1].append(blob)
        filled[account] = size
    return [
        (account.encode(), bundle(blobs))
        for account, groups in by_account.items()
        for blobs in groups
    ]
