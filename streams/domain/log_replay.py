"""Replaying an events log through the engine: the loop behind ``ticketpulse replay``.

Replay is the reference the live pipeline is checked against: same decoder, same engine,
and "now" is the snapshot's ``as_of``. The loop takes lines and returns the snapshot with
its counts and errors; reading the file, the progress bar and the collector's tuning are the
command's (``streams/replay.py``). Account events go to an ``AccountBook``, which reads the
tickets' support from the engine at the end; the snapshot has its ``accounts`` section when the
log has an account event or the caller asks for it (``with_accounts``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.domain.account_book import AccountBook
from streams.domain.account_decode import decode_any
from streams.domain.account_events import AccountEvent
from streams.domain.account_timeline import OVER_LIMIT_REASON
from streams.domain.decode import InvalidEvent
from streams.domain.engine import Engine
from streams.domain.events import Event, Status
from streams.domain.instant import FOREVER, MICROS_PER_MINUTE, Instant, ceil_minute, floor_minute
from streams.domain.timeline import CLOSED_REASON, Arrival, refusal
from streams.domain.windows import WINDOWS

LONGEST = max(WINDOWS.values())
FORGET_STEP = 60 * MICROS_PER_MINUTE


def withdrawn_error(event: Event) -> str:
    """The error of an event read before the close on this line, which it sorts after."""
    return f"{CLOSED_REASON} (event_id {event.event_id!r}, read earlier, sorts after this close)"


@dataclass(slots=True)
class ReplayResult:
    # the snapshot's JSON object, what replay prints (``Snapshot.from_json`` types it again)
    snapshot: dict[str, Any]
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[int, str]] = field(default_factory=list)
    # every account's view V, sorted by account_id, when the snapshot has ``accounts``
    accounts: list[dict[str, Any]] | None = None


def replay_log(
    lines: Iterable[bytes],
    engine: Engine,
    at: Instant | None,
    *,
    forget: bool = True,
    with_accounts: bool = False,
) -> ReplayResult:
    """Decode, ingest and evaluate every line; the snapshot as of ``at`` (or the data's end).

    ``engine`` is normally new (``Engine(policies)``). With ``forget=False`` facts that no
    window will read are counted all the same: the reference the forgetting is tested on.
    ``with_accounts`` adds the ``accounts`` section even to a log without account events.
    """
    book = AccountBook()
    # closed tickets are counted when they close and kept compact; without ``at`` the as_of
    # is known only at the end, so they are counted with every event (evaluate_all recounts
    # the few with an event at or after the final as_of)
    settle_at = at if at is not None else FOREVER
    # plain ints, not Counter items: this loop runs once per line
    read = invalid = after_as_of = accepted = duplicate = rejected = over_limit = 0
    errors: list[tuple[int, str]] = []
    latest: Instant | None = None
    # The snapshot's windows end at ``at``, or at the end of the latest event's minute, which
    # only moves forward: facts a week before that are never read. Moved an hour at a time
    # (pruning walks every bucket).
    forgotten = None if at is None else at - LONGEST
    if forgotten is not None and forget:
        engine.forget_before(forgotten)
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():
            continue
        read += 1
        decoded = decode_any(line)
        if isinstance(decoded, InvalidEvent):
            invalid += 1
            errors.append((number, decoded.error))
            continue
        if at is not None and decoded.occurred_at >= at:
            after_as_of += 1
            continue
        if isinstance(decoded, AccountEvent):
            arrival = book.ingest(decoded)
        else:
            arrival = engine.ingest(decoded)
        if arrival is Arrival.DUPLICATE:
            duplicate += 1
        elif arrival is Arrival.REJECTED or arrival is Arrival.OVER_LIMIT:
            if arrival is Arrival.REJECTED:
                rejected += 1
            else:
                over_limit += 1
            if isinstance(decoded, Event):
                errors.append((number, refusal(arrival, decoded)))
            else:  # an account is refused events over its limit only
                errors.append((number, OVER_LIMIT_REASON))
        else:
            accepted += 1
            if engine.withdrawn:  # a close that came after events sorting after it
                for event in engine.withdrawn:
                    errors.append((number, withdrawn_error(event)))
                accepted -= len(engine.withdrawn)
                rejected += len(engine.withdrawn)
                engine.withdrawn.clear()
            if latest is None or decoded.occurred_at > latest:
                latest = decoded.occurred_at
                if (
                    forget
                    and at is None
                    and (forgotten is None or latest - LONGEST >= forgotten + FORGET_STEP)
                ):
                    forgotten = floor_minute(latest) - LONGEST
                    engine.forget_before(forgotten)
            if isinstance(decoded, AccountEvent):
                continue
            if decoded.status is Status.CLOSED or decoded.ticket_id in engine.restored:
                engine.retire(decoded.ticket_id, settle_at)
    as_of = at if at is not None else ceil_minute(latest if latest is not None else 0)
    engine.evaluate_all(as_of)
    seen = {
        "lines": read,
        "invalid": invalid,
        "after_as_of": after_as_of,
        Arrival.ACCEPTED.value: accepted,
        Arrival.DUPLICATE.value: duplicate,
        Arrival.REJECTED.value: rejected,
        Arrival.OVER_LIMIT.value: over_limit,
    }
    counts = Counter({name: count for name, count in seen.items() if count})
    counts["tickets"] = engine.ticket_count
    counts["anomalies"] = engine.anomalies
    snapshot = engine.snapshot(as_of)
    views = None
    if book.events or with_accounts:
        report, anomalies = book.report(engine, as_of, engine.policies.account_health)
        snapshot = snapshot.with_accounts(report.section)
        views = report.views
        counts["accounts"] = len(views)
        counts["anomalies"] += anomalies
    return ReplayResult(snapshot.to_json(), counts=counts, errors=errors, accounts=views)
