"""Linking tickets to accounts across partitions: a ticket's support facts per account, as
states with a sequence number.

A ticket lives on its ticket_id's partition, an account on its account_id's. When a ticket's
support facts (``account_support.ticket_support``) change, its owner sends, for every account
whose share changed, a **link**: (account, ticket, sequence, the ticket's full facts for that
account). A link is a state, not a delta, so the account's owner simply keeps the one with the
highest sequence per (account, ticket): a duplicate, or a stale copy sent again by a worker
that lost the partition, changes nothing (``newer``). An account that a ticket no longer
names gets a link with no facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from pydantic_core import from_json, to_json

from streams.domain.account_support import SupportFact, SupportKind
from streams.domain.value import Value

_KINDS: Final = tuple(SupportKind)
_INDEX: Final = {kind: i for i, kind in enumerate(_KINDS)}


class Link(Value):
    """One ticket's support facts for one account, as of the ticket's write ``seq``."""

    _NAMES = ("account_id", "ticket_id", "seq", "facts")
    __slots__ = _NAMES

    account_id: Final[str]
    ticket_id: Final[str]
    seq: Final[int]
    facts: Final[tuple[SupportFact, ...]]

    def __init__(
        self, account_id: str, ticket_id: str, seq: int, facts: tuple[SupportFact, ...]
    ) -> None:
        self.account_id = account_id
        self.ticket_id = ticket_id
        self.seq = seq
        self.facts = facts

    def _fields(self) -> tuple[Any, ...]:
        return (self.account_id, self.ticket_id, self.seq, self.facts)

    def encode(self) -> bytes:
        """``{"a", "t", "s", "f": [[time µs, kind index, value], ...]}``, compact JSON."""
        rows = [[f.time, _INDEX[f.kind], f.value] for f in self.facts]
        return to_json({"a": self.account_id, "t": self.ticket_id, "s": self.seq, "f": rows})

    @classmethod
    def decode(cls, blob: bytes) -> Link:
        """A link from ``encode``'s bytes; ``ValueError``, ``KeyError``, ``IndexError`` or
        ``TypeError`` when malformed (``account_plan.decode_link`` dead-letters them)."""
        data = from_json(blob)
        account, ticket, seq = data["a"], data["t"], data["s"]
        if not isinstance(account, str) or not isinstance(ticket, str) or type(seq) is not int:
            raise ValueError("a link needs text a and t and an integer s")
        facts: list[SupportFact] = []
        for time, kind, value in data["f"]:
            if type(time) is not int or type(value) is not int:
                raise ValueError("a link's facts need integer times and values")
            facts.append(SupportFact(time, account, _KINDS[kind], value))
        return cls(account, ticket, seq, tuple(facts))


def bundle(encoded: Iterable[bytes]) -> bytes:
    """Links (``Link.encode``'s bytes) as one record, one a line: a worker sends one record
    per account and send, not one per ticket. Compact JSON holds no line break."""
    return b"\n".join(encoded)


def unbundle(record: bytes) -> list[bytes]:
    """The encoded links of one record of the account support topic (``bundle``; a record
    of one link is that link's bytes)."""
    return record.split(b"\n")


def newer(stored: Link | None, link: Link) -> bool:
    """Whether ``link`` replaces what the account holds for its ticket: a sequence at least
    the stored one (equal: the same write sent again, or re-issued by a restored Redis)."""
    return stored is None or link.seq >= stored.seq


def per_account(facts: Iterable[SupportFact]) -> dict[str, tuple[SupportFact, ...]]:
    """A ticket's support facts grouped by the account each counts for (in their order)."""
    out: dict[str, list[SupportFact]] = {}
    for fact in facts:
        out.setdefault(fact.account_id, []).append(fact)
    return {account: tuple(group) for account, group in out.items()}


def changed_links(
    ticket_id: str,
    old: Iterable[SupportFact],
    new: Iterable[SupportFact],
    seq: int,
) -> list[Link]:
    """The links a change of a ticket's support facts from ``old`` to ``new`` sends: one per
    account whose share differs (no facts for an account it no longer names), by account."""
    before, after = per_account(old), per_account(new)
    return [
        Link(account, ticket_id, seq, after.get(account, ()))
        for account in sorted(set(before) | set(after))
        if before.get(account, ()) != after.get(account, ())
    ]


def account_support(links: Mapping[str, Link]) -> tuple[SupportFact, ...]:
    """An account's support facts: those of every ticket's link it holds."""
    return tuple(fact for link in links.values() for fact in link.facts)
