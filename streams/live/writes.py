"""What one batch of one partition changes in Redis, as a plain value.

The batch planner (pure) produces a ``PartitionWrites``; the Redis store applies it in one
MULTI/EXEC. Keeping the two apart lets the planner be tested without Redis and the store be
tested without the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.domain.facts import SlaTarget
from streams.domain.instant import Instant
from streams.domain.windows import Bucket

FIELD_SEPARATOR = "\x1f"


def bucket_field(dim: str, value: str, counter: str) -> str:
    """A minute bucket's hash field: ``dim\\x1fvalue\\x1fcounter``."""
    return bucket_field_prefix(dim, value) + counter


def bucket_field_prefix(dim: str, value: str) -> str:
    """What the fields of one dimension key share: a batch joins it once per minute."""
    return f"{dim}{FIELD_SEPARATOR}{value}{FIELD_SEPARATOR}"


def split_bucket_field(name: str) -> tuple[str, str, str]:
    """``bucket_field``'s dim, value and counter: only the value (a team or agent, free
    text) may hold the separator itself."""
    dim, rest = name.split(FIELD_SEPARATOR, 1)
    value, counter = rest.rsplit(FIELD_SEPARATOR, 1)
    return dim, value, counter


_ESCAPE = "\x1e"  # marks a separator (or itself) within an account id in a link's field


def link_field(account_id: str, ticket_id: str) -> str:
    """The field of a ticket's link to an account (``{p}:links``, ``{p}:outbox``): the
    account id, without a separator (each one and each ``_ESCAPE`` written as ``_ESCAPE``
    and a digit, one to one), then the separator and the ticket id. So two links never
    share a field, whatever their ids hold, and every ordinary id is written as it is."""
    if FIELD_SEPARATOR in account_id or _ESCAPE in account_id:
        account_id = account_id.replace(_ESCAPE, _ESCAPE + "0")
        account_id = account_id.replace(FIELD_SEPARATOR, _ESCAPE + "1")
    return f"{account_id}{FIELD_SEPARATOR}{ticket_id}"


def link_account(name: str) -> str:
    """The account id of a link's field (``link_field``)."""
    account = name.partition(FIELD_SEPARATOR)[0]
    if _ESCAPE in account:  # every _ESCAPE is followed by 0 or 1: one pass each undoes it
        account = account.replace(_ESCAPE + "1", FIELD_SEPARATOR)
        account = account.replace(_ESCAPE + "0", _ESCAPE)
    return account


def backlog_field(status: str, priority: str, team: str) -> str:
    return f"{status}{FIELD_SEPARATOR}{priority}{FIELD_SEPARATOR}{team}"


def split_backlog_field(key: str) -> tuple[str, str, str]:
    """``backlog_field``'s status, priority and team (free text, which may hold the
    separator itself)."""
    status, priority, team = key.split(FIELD_SEPARATOR, 2)
    return status, priority, team


@dataclass(slots=True)
class BucketValues:
    """A minute bucket's changed fields as their new values, not as increments.

    For a minute the worker's cache holds exactly as Redis does (its partition's buckets
    have one writer), so plain ``HSET``/``HDEL`` replace the counter script's per-field
    ``HINCRBY``, and writing them twice is harmless.
    """

    values: dict[str, int] = field(default_factory=dict)  # field -> new value, never 0
    removed: list[str] = field(default_factory=list)  # fields that reached 0
    empty: bool = False  # no field left: the bucket and its ``minutes`` entry go


def bucket_values(held: Bucket | None, deltas: Bucket) -> BucketValues:
    """The fields ``deltas`` (non-zero) change in a bucket that holds ``held``, as values."""
    out = BucketValues()
    values, removed = out.values, out.removed
    left = sum(len(counters) for counters in held.values()) if held else 0
    for dim, counters in deltas.items():
        prefix = bucket_field_prefix(dim[0], dim[1])
        before_of = held.get(dim) if held else None
        for counter, delta in counters.items():
            before = before_of.get(counter, 0) if before_of else 0
            after = before + delta
            if after:
                values[prefix + counter] = after
                if not before:
                    left += 1
            else:
                removed.append(prefix + counter)
                left -= 1  # after == 0 with a non-zero delta: the field held a value
    out.empty = left == 0
    return out


@dataclass(slots=True)
class PartitionWrites:
    """Every change one batch makes to one partition's keys.

    - ``tickets``: ticket id -> record bytes to store (None: delete the record)
    - ``closed``: ticket ids whose record may expire: closed tickets (kept a while for late
      surveys) and tickets whose ``ticket.created`` has not arrived (kept a while for it)
    - ``buckets``: minute start -> bucket field -> counter delta, for minutes the worker's
      cache does not hold (older than its horizon)
    - ``bucket_values``: minute start -> the changed fields' new values, for minutes it holds
    - ``backlog``: backlog field -> delta
    - ``due``: target -> ticket id -> deadline to index, or None to remove it
    - ``breached``: target -> ticket id -> when its still running clock breached (added to
      the breached-running set and the ``late`` index), or None to remove it
    - ``wake``: ticket id -> when to evaluate again, or None to remove
    - ``offsets``: topic -> last applied offset (absent: unchanged)
    - ``missed``: topic -> offsets never received before this batch's (added to the count)
    - ``accounts``: account id -> its record (``streams.live.account_records``)
    - ``links``: ``link_field`` -> a ticket's link to an account, as the account holds it
      (None: forget it)
    - ``outbox``: ``link_field`` -> a link to send to the account's partition after the batch
    - ``link_seq``: the sequence of the batch's links (the partition's latest), None: none
    """

    partition: int
    tickets: dict[str, bytes | None] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)
    buckets: dict[Instant, dict[str, int]] = field(default_factory=dict)
    bucket_values: dict[Instant, BucketValues] = field(default_factory=dict)
    backlog: dict[str, int] = field(default_factory=dict)
    due: dict[SlaTarget, dict[str, Instant | None]] = field(default_factory=dict)
    breached: dict[SlaTarget, dict[str, Instant | None]] = field(default_factory=dict)
    wake: dict[str, Instant | None] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, bytes] = field(default_factory=dict)
    links: dict[str, bytes | None] = field(default_factory=dict)
    outbox: dict[str, bytes] = field(default_factory=dict)
    link_seq: int | None = None

    def __bool__(self) -> bool:
        return bool(
            self.tickets
            or self.buckets
            or self.bucket_values
            or self.backlog
            or self.due
            or self.breached
            or self.wake
            or self.offsets
            or self.accounts
            or self.links
            or self.outbox
        )
