"""The simulated CRM: account events beside the simulated tickets, for the same accounts.

A population of accounts (``acc-00000`` upward) lives through the account stages of
docs/accounts.md: prospects become leads, managers touch them, leads convert after some
touches or are lost, customers are touched, upsold, cross-sold, downgraded and churn, churned
and lost accounts are sometimes won back. Each account has one pending action in a heap; an
action is drawn from hazards per month, so churn and conversions have realistic monthly rates
whatever the ticket rate. The population's size follows the configured rate of CRM events
per ticket event, so the rate sets how many accounts share the tickets.

The link to support: the tickets of a simulated customer are drawn first, and their bad
moments are read as the product's health signals (``account_support``); each signal of the
last 30 days multiplies the customer's churn and downgrade hazards. The tickets name the
customers (bigger segments file more tickets).

The accounts that exist at the start (customers and open leads, "the book") are sent during
the run's first hour, backdated to when they started. The book depends on the account
number only, not on the seed, so a later run for the same accounts sends the same book
events (same ``event_id``: duplicates) and continues from the same stages.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from streams.domain.account_events import AccountEventType, LeadSource, MrrReason, TouchChannel
from streams.domain.instant import MICROS_PER_MINUTE, MICROS_PER_SECOND, Instant, format_rfc3339
from streams.domain.policies import default_policies
from streams.simulator.account_support import SupportMemory

DAY: Final = 24 * 60 * MICROS_PER_MINUTE
MONTH: Final = 30 * DAY
BOOK_SPREAD: Final = 60 * MICROS_PER_MINUTE  # the book is sent over the run's first hour
# Mean CRM events per account and month in the model's steady mix of stages: the population
# is the configured CRM event rate divided by this.
EVENTS_PER_ACCOUNT_MONTH: Final = 1.8


@dataclass(frozen=True, slots=True)
class Segment:
    """An account segment: its share of accounts, revenue, managers and rhythm."""

    name: str
    share: float
    mrr_median: float  # monthly recurring revenue at conversion (lognormal)
    managers: tuple[str, ...]
    touches_per_month: float  # a customer's manager touches
    churn_per_month: float  # a customer's base churn hazard, before support
    ticket_weight: float  # tickets filed per customer, relative to smb


SEGMENTS: Final = (
    Segment("smb", 0.65, 150.0, ("am-anna", "am-ben", "am-chloe", "am-david", "am-emma"),
            1.5, 0.012, 1.0),
    Segment("mid-market", 0.27, 1200.0, ("am-farid", "am-greta", "am-hiro", "am-ines"),
            3.0, 0.010, 2.0),
    Segment("enterprise", 0.08, 9000.0, ("am-jonas", "am-kenji", "am-lena"),
            6.0, 0.007, 3.0),
)  # fmt: skip

# Per month (a customer's churn and downgrade hazards grow with its support's signals).
PROSPECT_TO_LEAD = 0.06
LEAD_TOUCHES = 5.0  # touches per month of an open lead
LEAD_CONVERTS = 0.45  # share of leads that convert, the rest are lost
MEAN_TOUCHES_TO_OUTCOME = 3.0
DOWNGRADE = 0.004
UPSELL = 0.07
CROSS_SELL = 0.03
PRICE_CHANGE = 0.004
REASSIGN = 0.01
INVOLUNTARY = 0.15  # share of churns that are not the customer's choice (payment failed)
LAPSED_MOMENTS = 0.5  # touches and chances per month of a churned or lost account
WIN_BACK = 0.03
LOST_CONVERTS = 0.02
# Each health signal of a customer's support (sla_breaches, reopens, unhappy, detractor over
# its last 30 days) adds this many times the base churn and downgrade hazards.
SIGNAL_FACTOR = 5.0

_SOURCES = tuple(LeadSource)
_SOURCE_WEIGHTS = (0.38, 0.22, 0.16, 0.1, 0.09, 0.05)
_LEAD_CHANNELS = (TouchChannel.EMAIL, TouchChannel.PHONE, TouchChannel.MEETING,
                  TouchChannel.CHAT, TouchChannel.SOCIAL, TouchChannel.ADS)  # fmt: skip
_LEAD_CHANNEL_WEIGHTS = (0.4, 0.25, 0.15, 0.1, 0.05, 0.05)
_CUSTOMER_CHANNELS = _LEAD_CHANNELS[:4]
_CUSTOMER_CHANNEL_WEIGHTS = (0.45, 0.2, 0.2, 0.15)
_TOUCH_MINUTES = {  # median duration of a touch, minutes; ads have none
    TouchChannel.EMAIL: 6.0,
    TouchChannel.PHONE: 12.0,
    TouchChannel.MEETING: 40.0,
    TouchChannel.CHAT: 8.0,
    TouchChannel.SOCIAL: 3.0,
}
_CHURN_REASONS = ("price", "competitor", "no_longer_needed", "budget")
_LOST_REASONS = ("no_budget", "competitor", "no_response", "not_a_fit")


class Stage(Enum):
    PROSPECT = "prospect"  # not in the CRM yet
    LEAD = "lead"
    CUSTOMER = "customer"
    CHURNED = "churned"
    LOST = "lost"


@dataclass(slots=True)
class _Account:
    number: int
    account_id: str
    segment: Segment
    manager: str
    source: str
    stage: Stage
    mrr: float = 0.0
    touches_left: int = 0  # an open lead's touches before its outcome
    converts: bool = False
    sent: int = 0  # events sent in this run, for event ids
    booked: bool = False


class _Bag:
    """A set with O(1) add, remove and uniform choice."""

    def __init__(self) -> None:
        self.items: list[int] = []
        self.index: dict[int, int] = {}

    def add(self, item: int) -> None:
        if item not in self.index:
            self.index[item] = len(self.items)
            self.items.append(item)

    def remove(self, item: int) -> None:
        where = self.index.pop(item, None)
        if where is None:
            return
        last = self.items.pop()
        if last != item:
            self.items[where] = last
            self.index[last] = where


def population(accounts_rate: float, events_per_second: float) -> int:
    """How many accounts give ``accounts_rate`` CRM events per ticket event."""
    if accounts_rate <= 0:
        return 0
    per_month = accounts_rate * events_per_second * MONTH / MICROS_PER_SECOND
    return max(1, round(per_month / EVENTS_PER_ACCOUNT_MONTH))


# One CRM event to send: (emit_at, the JSON value, account_id, backfill).
CrmEvent = tuple[Instant, dict[str, Any], str, bool]


class Crm:
    """The accounts and their pending actions; ``step`` performs the next one."""

    def __init__(self, seed: int, start: Instant, run_tag: str, accounts: int) -> None:
        self.rng = random.Random(f"accounts-{seed}")
        self.support = SupportMemory(default_policies())
        self.start = start
        self.run_tag = run_tag
        self.accounts = [self._book(number) for number in range(accounts)]
        self.by_id = {account.account_id: account for account in self.accounts}
        self.customers = {segment.name: _Bag() for segment in SEGMENTS}
        self.pending: list[tuple[Instant, int, int]] = []
        self.order = 0
        for account in self.accounts:
            if account.stage is Stage.CUSTOMER:
                self.customers[account.segment.name].add(account.number)
            if account.stage is Stage.PROSPECT:
                self._schedule(account, start, PROSPECT_TO_LEAD)
            else:
                self._push(start + self.rng.randrange(BOOK_SPREAD), account)

    @property
    def due(self) -> Instant | None:
        return self.pending[0][0] if self.pending else None

    # -- the book: the accounts that exist at the start ------------------------------------

    def _book(self, number: int) -> _Account:
        rng = random.Random(f"book-{number}")
        segment = SEGMENTS[_pick(rng, [s.share for s in SEGMENTS])]
        account = _Account(
            number,
            f"acc-{number:05d}",
            segment,
            rng.choice(segment.managers),
            _SOURCES[_pick(rng, _SOURCE_WEIGHTS)].value,
            Stage.PROSPECT,
        )
        roll = rng.random()
        if roll < 0.55:
            account.stage = Stage.CUSTOMER
            account.mrr = _mrr(rng, segment)
        elif roll < 0.63:
            account.stage = Stage.LEAD
            self._new_lead(account, rng)
        return account

    def _send_book(self, account: _Account) -> list[CrmEvent]:
        """The backdated start of a booked account: its lead and, for a customer, the
        conversion, months or years ago (never in a 90-day window of the run's start)."""
        rng = random.Random(f"book-{account.number}-at")
        account.booked = True
        events: list[CrmEvent] = []
        if account.stage is Stage.LEAD:
            created = self.start - rng.randrange(DAY, 60 * DAY)
            events.append(self._lead_event(account, created, "book.1"))
            return events
        converted = self.start - rng.randrange(91 * DAY, 3 * 365 * DAY)
        if rng.random() < 0.85:
            created = converted - rng.randrange(DAY, 90 * DAY)
            events.append(self._lead_event(account, created, "book.1"))
        else:
            account.source = "direct"
        fields = {"mrr": account.mrr, "segment": account.segment.name}
        events.append(self._event(account, AccountEventType.CONVERTED, converted, fields, "book.2"))
        if account.source == "direct":  # no lead: the manager comes with an assignment
            fields = {"manager": account.manager}
            at = converted + MICROS_PER_SECOND
            events.append(self._event(account, AccountEventType.ASSIGNED, at, fields, "book.3"))
        return events

    # -- actions -----------------------------------------------------------------------------

    def step(self) -> list[CrmEvent]:
        """Perform the next pending action; the events it sends (none, one, or a book)."""
        now, _, number = heapq.heappop(self.pending)
        account = self.accounts[number]
        if not account.booked and account.stage is not Stage.PROSPECT:
            events = self._send_book(account)
            self._next(account, now)
            return [(now, value, key, True) for _, value, key, _ in events]
        stage = account.stage
        if stage is Stage.PROSPECT:
            account.stage = Stage.LEAD
            account.booked = True
            self._new_lead(account, self.rng)
            event = self._lead_event(account, now)
        elif stage is Stage.LEAD:
            event = self._lead_step(account, now)
        elif stage is Stage.CUSTOMER:
            event = self._customer_step(account, now)
        else:
            event = self._lapsed_step(account, now)
        self._next(account, now)
        return [event]

    def _next(self, account: _Account, now: Instant) -> None:
        stage = account.stage
        if stage is Stage.LEAD:
            self._schedule(account, now, LEAD_TOUCHES)
        elif stage is Stage.CUSTOMER:
            self._schedule(account, now, self._customer_moments(account))
        else:
            self._schedule(account, now, LAPSED_MOMENTS)

    def _new_lead(self, account: _Account, rng: random.Random) -> None:
        account.converts = rng.random() < LEAD_CONVERTS
        account.touches_left = 1 + _geometric(rng, MEAN_TOUCHES_TO_OUTCOME - 1)

    def _lead_step(self, account: _Account, now: Instant) -> CrmEvent:
        if account.touches_left > 0:
            account.touches_left -= 1
            return self._touch(account, now, _LEAD_CHANNELS, _LEAD_CHANNEL_WEIGHTS)
        if account.converts:
            return self._convert(account, now)
        account.stage = Stage.LOST
        fields = {"voluntary": True, "reason": self.rng.choice(_LOST_REASONS)}
        return self._event(account, AccountEventType.CHURNED, now, fields)

    def _customer_moments(self, account: _Account) -> float:
        return account.segment.touches_per_month + 0.2

    def _customer_step(self, account: _Account, now: Instant) -> CrmEvent:
        rng = self.rng
        segment = account.segment
        signals = self.support.signals(account.account_id, now)
        factor = 1 + SIGNAL_FACTOR * signals
        moments = self._customer_moments(account)
        hazards = (
            segment.churn_per_month * factor,
            DOWNGRADE * factor,
            UPSELL,
            CROSS_SELL,
            PRICE_CHANGE,
            REASSIGN,
        )
        action = _pick(rng, (*hazards, moments - sum(hazards)))
        if action == len(hazards):
            return self._touch(account, now, _CUSTOMER_CHANNELS, _CUSTOMER_CHANNEL_WEIGHTS)
        if action == 0:
            return self._churn(account, now, signals)
        if action == 5:
            others = [name for name in segment.managers if name != account.manager]
            account.manager = rng.choice(others or list(segment.managers))
            fields: dict[str, Any] = {"manager": account.manager}
            return self._event(account, AccountEventType.ASSIGNED, now, fields)
        change, reason = (
            (-rng.uniform(0.1, 0.4), MrrReason.DOWNGRADE),
            (rng.uniform(0.1, 0.5), MrrReason.UPSELL),
            (rng.uniform(0.05, 0.3), MrrReason.CROSS_SELL),
            (rng.uniform(-0.03, 0.08), MrrReason.PRICE_CHANGE),
        )[action - 1]
        account.mrr = round(account.mrr * (1 + change), 2)
        fields = {"mrr": account.mrr, "reason": reason.value}
        return self._event(account, AccountEventType.MRR_CHANGED, now, fields)

    def _churn(self, account: _Account, now: Instant, signals: int) -> CrmEvent:
        rng = self.rng
        account.stage = Stage.CHURNED
        account.mrr = 0.0
        self.customers[account.segment.name].remove(account.number)
        if rng.random() < INVOLUNTARY:
            fields: dict[str, Any] = {"voluntary": False, "reason": "payment_failed"}
        elif signals and rng.random() < 0.6:
            fields = {"voluntary": True, "reason": "support"}
        else:
            fields = {"voluntary": True, "reason": rng.choice(_CHURN_REASONS)}
        return self._event(account, AccountEventType.CHURNED, now, fields)

    def _lapsed_step(self, account: _Account, now: Instant) -> CrmEvent:
        chance = WIN_BACK if account.stage is Stage.CHURNED else LOST_CONVERTS
        if self.rng.random() * LAPSED_MOMENTS < chance:
            return self._convert(account, now)
        return self._touch(account, now, _LEAD_CHANNELS, _LEAD_CHANNEL_WEIGHTS)

    def _convert(self, account: _Account, now: Instant) -> CrmEvent:
        account.stage = Stage.CUSTOMER
        account.mrr = _mrr(self.rng, account.segment)
        self.customers[account.segment.name].add(account.number)
        fields = {"mrr": account.mrr, "segment": account.segment.name}
        return self._event(account, AccountEventType.CONVERTED, now, fields)

    def _touch(
        self,
        account: _Account,
        now: Instant,
        channels: tuple[TouchChannel, ...],
        weights: tuple[float, ...],
    ) -> CrmEvent:
        rng = self.rng
        channel = channels[_pick(rng, weights)]
        fields: dict[str, Any] = {"channel": channel.value}
        minutes = _TOUCH_MINUTES.get(channel)
        if minutes is not None:
            seconds = minutes * 60 * math.exp(rng.gauss(0.0, 0.6))
            fields["duration_seconds"] = round(seconds)
        if rng.random() < 0.1:  # a colleague stands in
            fields["manager"] = rng.choice(account.segment.managers)
        return self._event(account, AccountEventType.TOUCHED, now, fields)

    def _lead_event(self, account: _Account, at: Instant, suffix: str | None = None) -> CrmEvent:
        fields = {
            "source": account.source,
            "segment": account.segment.name,
            "manager": account.manager,
        }
        return self._event(account, AccountEventType.LEAD_CREATED, at, fields, suffix)

    def _event(
        self,
        account: _Account,
        event_type: AccountEventType,
        at: Instant,
        fields: dict[str, Any],
        suffix: str | None = None,
    ) -> CrmEvent:
        """The wire form; ``suffix`` gives a book event its seed-independent id."""
        if suffix is None:
            account.sent += 1
            suffix = f"{self.run_tag}.{account.sent}"
        value: dict[str, Any] = {
            "event_id": f"{account.account_id}.{suffix}",
            "type": event_type.value,
            "occurred_at": format_rfc3339(at),
            "account_id": account.account_id,
            **fields,
        }
        return (at, value, account.account_id, False)

    def _schedule(self, account: _Account, now: Instant, per_month: float) -> None:
        wait = self.rng.expovariate(per_month / MONTH)
        self._push(now + MICROS_PER_SECOND + round(wait), account)

    def _push(self, at: Instant, account: _Account) -> None:
        self.order += 1
        at -= at % MICROS_PER_SECOND
        heapq.heappush(self.pending, (at, self.order, account.number))

    # -- the link to the tickets -------------------------------------------------------------

    def account_of_ticket(self, fallback: str) -> str:
        """A customer to file a ticket, bigger segments more often; ``fallback`` if none."""
        rng = self.rng
        bags = [self.customers[segment.name].items for segment in SEGMENTS]
        weights = [
            len(bag) * segment.ticket_weight for bag, segment in zip(bags, SEGMENTS, strict=True)
        ]
        if not any(weights):
            return fallback
        bag = bags[_pick(rng, weights)]
        return self.accounts[bag[rng.randrange(len(bag))]].account_id


def _pick(rng: random.Random, weights: list[float] | tuple[float, ...]) -> int:
    roll = rng.random() * sum(weights)
    for index, weight in enumerate(weights):
        if roll < weight:
            return index
        roll -= weight
    return len(weights) - 1


def _geometric(rng: random.Random, mean: float) -> int:
    """0, 1, 2... with the given mean."""
    if mean <= 0:
        return 0
    return int(math.log(1 - rng.random()) / math.log(mean / (mean + 1)))


def _mrr(rng: random.Random, segment: Segment) -> float:
    return round(segment.mrr_median * math.exp(rng.gauss(0.0, 0.5)))
