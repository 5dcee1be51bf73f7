"""An account's events, kept in contract order whatever order they arrive in.

Like a ticket's ``Timeline`` it only stores and orders; ``account.evaluate_account`` says
what the events mean. A second event with a seen ``event_id`` is a duplicate and changes
nothing. No account event is rejected (an account has no final stage: a churned customer
can be won back), but an account keeps at most ``EVENT_LIMIT`` events, as a ticket does per
topic: further ones are refused as over the limit.
"""

from __future__ import annotations

import bisect

from streams.domain.account_events import AccountEvent
from streams.domain.timeline import EVENT_LIMIT, Arrival

OVER_LIMIT_REASON = f"account_id: account has reached the limit of {EVENT_LIMIT} account.* events"


class AccountTimeline:
    """The accepted events of one account, sorted by ``sort_key``."""

    __slots__ = ("account_id", "event_ids", "events")

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.events: list[AccountEvent] = []
        self.event_ids: set[str] = set()

    def add(self, event: AccountEvent, *, limited: bool = True) -> Arrival:
        """Accept ``event`` in contract order, or say why not (``limited=False``: a stored
        record read back as it was kept)."""
        if event.event_id in self.event_ids:
            return Arrival.DUPLICATE
        if limited and len(self.events) >= EVENT_LIMIT:
            return Arrival.OVER_LIMIT
        self.event_ids.add(event.event_id)
        key = event.sort_key
        events = self.events
        if not events or events[-1].sort_key < key:
            events.append(event)
        else:
            keys = [e.sort_key for e in events]
            events.insert(bisect.bisect(keys, key), event)
        return Arrival.ACCEPTED
