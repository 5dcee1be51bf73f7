"""A seeded generator of realistic support traffic, for demos, load tests and replay checks.

The generator is pure: the same configuration and start give the same events, and it knows
nothing about where they go (files, Kafka, pacing): ``generate`` yields ``Emitted`` values in
emission order and a sink consumes them.

The model: tickets arrive as a Poisson process whose rate follows a daily and weekly cycle.
Each ticket's whole lifecycle is drawn when it arrives (creation, assignment to an agent on
shift, customer contacts, public replies and internal notes after lognormal delays, pending
and on-hold periods, solve, sometimes reopen, close days later, surveys) and waits in a heap
until its events are due, so memory holds the live tickets, not the whole run. On top of the
clean stream, emission adds late events (sent after their neighbours), duplicates (the same
event sent again) and invalid events (defective copies with a fresh id, as raw dicts or raw
text), each a configurable share of everything emitted. With ``accounts_rate`` above 0 a
CRM (``streams.simulator.accounts``) runs beside the desk: its account events are merged in
time order, and the tickets name its customers.
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, TypeVar

from streams.domain.events import (
    KIND_RANK,
    TOPIC_OF,
    Channel,
    EventType,
    Priority,
    Status,
    Topic,
)
from streams.domain.instant import MICROS_PER_MINUTE, MICROS_PER_SECOND, Instant, Micros
from streams.domain.instant import to_datetime as _to_datetime
from streams.simulator.account_support import TicketSketch
from streams.simulator.accounts import Crm, population
from streams.topic_names import ACCOUNTS

_T = TypeVar("_T")

MILLIS = 1000
MINUTE = MICROS_PER_MINUTE
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday; Monday is 0


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    weight: float
    agents: int


@dataclass(frozen=True, slots=True)
class Shift:
    """Working hours in UTC, ``start_hour`` to ``end_hour``, on the given weekdays (0 = Mon)."""

    name: str
    start_hour: int
    end_hour: int
    weekdays: tuple[int, ...]

    def covers(self, week_hour: int) -> bool:
        day, hour = divmod(week_hour, 24)
        return day in self.weekdays and self.start_hour <= hour < self.end_hour


WEEKDAYS = (0, 1, 2, 3, 4)
DEFAULT_TEAMS = (
    Team("billing", 0.30, 12),
    Team("tech", 0.35, 16),
    Team("onboarding", 0.15, 6),
    Team("returns", 0.20, 8),
)
DEFAULT_SHIFTS = (
    Shift("day", 8, 17, WEEKDAYS),
    Shift("early", 6, 14, WEEKDAYS),
    Shift("late", 13, 22, WEEKDAYS),
    Shift("day", 8, 17, WEEKDAYS),
    Shift("weekend", 9, 17, (5, 6)),
)
# A desk that never closes (follow-the-sun): three shifts cover every hour of every day. With a
# flat arrival rate it is the "living desk" of `make demo`, which shows replies, solves and
# SLA clocks stopping at whatever hour it is started (``ticketpulse simulate --round-the-clock``).
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
ROUND_THE_CLOCK_SHIFTS = (
    Shift("night", 0, 8, EVERY_DAY),
    Shift("day", 8, 16, EVERY_DAY),
    Shift("evening", 16, 24, EVERY_DAY),
)
DEFAULT_CHANNELS = (
    (Channel.EMAIL, 0.40),
    (Channel.CHAT, 0.20),
    (Channel.WEB, 0.17),
    (Channel.PHONE, 0.12),
    (Channel.SOCIAL, 0.06),
    (Channel.API, 0.05),
)
DEFAULT_PRIORITIES = (
    (Priority.LOW, 0.20),
    (Priority.NORMAL, 0.55),
    (Priority.HIGH, 0.20),
    (Priority.URGENT, 0.05),
)
# Relative ticket arrivals per UTC hour on a weekday; weekends get WEEKEND_FACTOR of that.
DAILY_PROFILE = (
    0.15, 0.1, 0.1, 0.1, 0.15, 0.3, 0.6, 1.0, 1.5, 1.8, 1.9, 1.8,
    1.6, 1.7, 1.8, 1.7, 1.5, 1.2, 0.9, 0.7, 0.5, 0.4, 0.3, 0.2,
)  # fmt: skip
WEEKEND_FACTOR = 0.35


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate. Shares are fractions of all emitted events."""

    seed: int = 1
    events_per_second: float = 5.0  # mean over a week of simulated time
    teams: tuple[Team, ...] = DEFAULT_TEAMS
    shifts: tuple[Shift, ...] = DEFAULT_SHIFTS  # agents of a team take them in turn
    channels: tuple[tuple[Channel, float], ...] = DEFAULT_CHANNELS
    priorities: tuple[tuple[Priority, float], ...] = DEFAULT_PRIORITIES
    daily_cycle: bool = True
    invalid_share: float = 0.01
    duplicate_share: float = 0.01
    late_share: float = 0.02
    offset_share: float = 0.05  # timestamps written with a non-UTC offset
    # CRM events per ticket event (mean; 0: tickets only), see streams.simulator.accounts
    accounts_rate: float = 0.0

    def __post_init__(self) -> None:
        if not self.events_per_second > 0:
            raise ValueError("events_per_second must be positive")
        for name in ("invalid_share", "duplicate_share", "late_share", "offset_share"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1)")
        if not 0 <= self.accounts_rate <= 1:
            raise ValueError("accounts_rate must be in [0, 1]")
        if self.invalid_share + self.duplicate_share >= 1:
            raise ValueError("invalid_share + duplicate_share must be below 1")
        if not self.teams or any(team.agents < 1 for team in self.teams):
            raise ValueError("every team needs at least one agent")
        if not self.shifts:
            raise ValueError("at least one shift is needed")


class Intent(StrEnum):
    """Why an event was emitted; tests and load checks compare results against it."""

    VALID = "valid"
    LATE = "late"  # valid, sent after events that occurred later
    DUPLICATE = "duplicate"  # the same value as an event sent before or after it
    INVALID = "invalid"  # a defect the decoder must reject
    BACKFILL = "backfill"  # valid, occurred before the run: an account's backdated start


@dataclass(frozen=True, slots=True)
class Emitted:
    """One message to send: the Kafka value, its topic and key, and when it is sent.

    ``value`` is a JSON object (shared with the event's duplicates: do not mutate it), or
    raw text for defects that are not JSON objects.
    ``defect`` names the field an invalid event's error starts with (``"score"``,
    ``"(json)"``...).
    """

    value: dict[str, Any] | str
    topic: Topic | Literal["accounts"]
    key: str
    emit_at: Instant
    intent: Intent = Intent.VALID
    defect: str | None = None

    def line(self) -> str:
        """The JSONL form: compact JSON, raw text as it is."""
        if isinstance(self.value, str):
            return self.value
        return json.dumps(self.value, ensure_ascii=False, separators=(",", ":"))


def generate(config: SimulationConfig, start: Instant) -> Iterator[Emitted]:
    """An endless stream of events starting at ``start``; cut it with ``take``."""
    return _Simulation(config, start).run()


def take(
    events: Iterator[Emitted], *, count: int | None = None, until: Instant | None = None
) -> Iterator[Emitted]:
    """The first ``count`` events, and only those sent before ``until``."""
    for number, emitted in enumerate(events):
        if (count is not None and number >= count) or (
            until is not None and emitted.emit_at >= until
        ):
            return
        yield emitted


def week_hour(instant: Instant) -> int:
    """Hours since Monday 00:00 UTC of the instant's week."""
    days, rest = divmod(instant, DAY)
    return ((days + _EPOCH_WEEKDAY) % 7) * 24 + rest // HOUR


# A drawn event of a ticket: (time, kind rank, number in the ticket, type, further fields).
# The JSON value is built only when the event is sent: pending events stay small, and
# timestamps are formatted in time order, where a per-minute cache works.
_Pending = tuple[Instant, int, int, str, dict[str, Any] | None]


@dataclass(slots=True)
class _Live:
    """A ticket with events still to send; ``pending`` is sorted, the next one last."""

    ticket_id: str
    offset: int
    pending: list[_Pending]


@dataclass(slots=True)
class _Agent:
    agent_id: str
    shift: Shift


@dataclass(slots=True)
class _Roster:
    """Agents on shift, per team and hour of the week."""

    on_shift: dict[str, list[list[_Agent]]] = field(default_factory=dict)

    @classmethod
    def build(cls, config: SimulationConfig) -> _Roster:
        roster = cls()
        for team in config.teams:
            agents = [
                _Agent(f"ag-{team.name}-{number:02d}", config.shifts[number % len(config.shifts)])
                for number in range(1, team.agents + 1)
            ]
            roster.on_shift[team.name] = [
                [agent for agent in agents if agent.shift.covers(hour)] for hour in range(168)
            ]
        return roster

    def staffed_from(self, team: str, at: Instant) -> Instant:
        """The first instant at or after ``at`` when someone of the team is on shift."""
        hours = self.on_shift[team]
        hour = week_hour(at)
        if hours[hour]:
            return at
        start = at - at % HOUR
        for ahead in range(1, 169):
            if hours[(hour + ahead) % 168]:
                return start + ahead * HOUR
        return at  # nobody ever works: answer at once rather than never

    def pick(self, rng: random.Random, team: str, at: Instant) -> str:
        agents = self.on_shift[team][week_hour(at)] or [
            agent for hour in self.on_shift[team] for agent in hour
        ]
        if not agents:
            return f"ag-{team}-01"
        return rng.choice(agents).agent_id

    def is_on_shift(self, team: str, agent_id: str, at: Instant) -> bool:
        return any(agent.agent_id == agent_id for agent in self.on_shift[team][week_hour(at)])


# Median first-reply delay by priority, in minutes, for asynchronous channels.
_REPLY_MEDIAN_MINUTES = {
    Priority.URGENT: 10.0,
    Priority.HIGH: 35.0,
    Priority.NORMAL: 90.0,
    Priority.LOW: 240.0,
}
_LIVE_CHANNELS = (Channel.CHAT, Channel.PHONE)
_SUBJECTS = (
    "Invoice charged twice",
    "Rechnung doppelt abgebucht",
    "Lieferung fehlt, bitte prüfen",
    "Problème de connexion à mon compte",
    "配送状況を確認したい",
    "Refund request 💸",
    "Cannot reset password",
    "API returns 500 on /orders",
)
_OFFSETS = (60, 120, -300, 330, 540)  # minutes east of UTC
_CSAT_WEIGHTS = (0.05, 0.05, 0.10, 0.25, 0.55)
_CSAT_WEIGHTS_REOPENED = (0.25, 0.20, 0.25, 0.15, 0.15)
_NPS_WEIGHTS = (0.02, 0.01, 0.02, 0.03, 0.04, 0.06, 0.07, 0.12, 0.18, 0.2, 0.25)
_WIRE = {event_type: (event_type.value, KIND_RANK[event_type]) for event_type in EventType}
_TOPIC_OF_WIRE = {event_type.value: topic for event_type, topic in TOPIC_OF.items()}


class _Ticket:
    """Draws one ticket's lifecycle into ``live``."""

    def __init__(self, sim: _Simulation, number: int, created: Instant) -> None:
        self.sim = sim
        self.rng = sim.rng
        self.ticket_id = f"TK-{sim.run_tag}-{number}"
        self.events: list[_Pending] = []
        self.millis = self.rng.random() < 0.3  # this source sends milliseconds
        self.offset = (
            self.rng.choice(_OFFSETS) if self.rng.random() < sim.config.offset_share else 0
        )
        self.channel = _weighted(self.rng, sim.channels, sim.channel_weights)
        self.channel_text = self.channel.value
        self.priority = _weighted(self.rng, sim.priorities, sim.priority_weights)
        self.team = _weighted(self.rng, sim.team_names, sim.team_weights)
        self.agent: str | None = None
        self.account_id: str | None = None
        self.draw(created)
        self.events.sort(reverse=True)
        self.live = _Live(self.ticket_id, self.offset, self.events)
        if sim.crm is not None and self.account_id is not None:
            sketch = TicketSketch(
                self.account_id, self.priority.value, self.team, self.channel_text
            )
            sim.crm.support.observe(sketch, self.events[::-1])

    def add(self, at: Instant, event_type: EventType, **fields: Any) -> Instant:
        """Record an event at ``at`` cut to the source's precision; returns that time."""
        at -= at % (MILLIS if self.millis else MICROS_PER_SECOND)
        wire_type, rank = _WIRE[event_type]
        self.events.append((at, rank, len(self.events) + 1, wire_type, fields or None))
        return at

    def delay(self, median_minutes: float, sigma: float) -> Micros:
        """A lognormal delay with the given median, at least one second."""
        minutes = median_minutes * math.exp(self.rng.gauss(0.0, sigma))
        return max(MICROS_PER_SECOND, round(minutes * MINUTE))

    def draw(self, created: Instant) -> None:
        rng = self.rng
        fields: dict[str, Any] = {
            "channel": self.channel_text,
            "priority": self.priority.value,
            "team": self.team,
        }
        if rng.random() < 0.8:
            account_id = f"acc-{int(rng.paretovariate(1.2)) % 5000:05d}"
            crm = self.sim.crm
            fields["account_id"] = account_id if crm is None else crm.account_of_ticket(account_id)
            self.account_id = fields["account_id"]
        if rng.random() < 0.9:
            fields["requester_id"] = f"req-{rng.randrange(1_000_000):06d}"
        if rng.random() < 0.5:
            fields["subject"] = rng.choice(_SUBJECTS)
        now = self.add(created, EventType.TICKET_CREATED, **fields)
        now = self.inbound(now + rng.randrange(0, 5 * MICROS_PER_SECOND))
        if rng.random() < 0.02:  # spam: closed unsolved
            self.add(now + self.delay(120, 1.0), EventType.TICKET_STATUS_CHANGED, status="closed")
            return
        now = self.assign(now + self.delay(4, 1.0))
        self.add(now, EventType.TICKET_STATUS_CHANGED, status=Status.OPEN.value)
        if rng.random() < 0.03:  # solved without a reply: a duplicate ticket, a bounce
            now = self.solve(now + self.delay(30, 1.0))
        else:
            now = self.conversation(now)
        reopened = False
        if rng.random() < 0.07:
            reopened = True
            now = self.inbound(now + self.delay(18 * 60, 1.0))
            self.add(now + MICROS_PER_SECOND, EventType.TICKET_STATUS_CHANGED, status="open")
            now = self.conversation(now + MICROS_PER_SECOND, first=False)
        self.add(
            now + self.delay(4 * 24 * 60, 0.35), EventType.TICKET_STATUS_CHANGED, status="closed"
        )
        self.surveys(now, reopened)

    def inbound(self, at: Instant) -> Instant:
        return self.add(at, EventType.CONTACT_INBOUND, channel=self.channel_text)

    def at_work(self, team: str, at: Instant) -> Instant:
        """``at``, or a little after the team's next shift starts if nobody works then."""
        staffed = self.sim.roster.staffed_from(team, at)
        return at if staffed == at else staffed + self.delay(12, 0.8)

    def assign(self, at: Instant, team: str | None = None) -> Instant:
        at = self.at_work(team or self.team, at)
        if team is not None:
            self.team = team
        self.agent = self.sim.roster.pick(self.rng, self.team, at)
        fields: dict[str, Any] = {"agent_id": self.agent}
        if team is not None:
            fields["team"] = team
        return self.add(at, EventType.TICKET_ASSIGNED, **fields)

    def conversation(self, now: Instant, *, first: bool = True) -> Instant:
        """Replies and customer follow-ups until the solve; returns the solve's time."""
        rng = self.rng
        live = self.channel in _LIVE_CHANNELS
        median = 1.5 if live else _REPLY_MEDIAN_MINUTES[self.priority]
        if first and rng.random() < 0.06:
            now = self.change_priority(now + self.delay(20, 1.0))
        now = self.reply(now + self.delay(median, 1.0))
        while rng.random() < (0.25 if live else 0.45):
            if rng.random() < 0.25:
                now = self.note(now + self.delay(10, 1.0))
            pending = rng.random() < 0.35
            if pending:
                self.add(now + MICROS_PER_SECOND, EventType.TICKET_STATUS_CHANGED, status="pending")
            elif rng.random() < 0.04:
                self.add(now + MICROS_PER_SECOND, EventType.TICKET_STATUS_CHANGED, status="on_hold")
                pending = True
            now = self.inbound(now + self.delay(5 if live else 180, 1.2))
            if pending:
                self.add(now + MICROS_PER_SECOND, EventType.TICKET_STATUS_CHANGED, status="open")
                now += MICROS_PER_SECOND
            if rng.random() < 0.05:
                now = self.reassign(now + self.delay(15, 1.0))
            now = self.reply(now + self.delay(median * 1.5, 1.0))
        return self.solve(now + self.delay(2 if live else 20, 1.0))

    def reply(self, at: Instant) -> Instant:
        """A public reply by the assignee, or by a teammate on shift, or at the next shift."""
        roster = self.sim.roster
        at = self.at_work(self.team, at)
        agent = self.agent
        if agent is None or not roster.is_on_shift(self.team, agent, at):
            agent = roster.pick(self.rng, self.team, at)
        fields: dict[str, Any] = {"agent_id": agent, "channel": self.channel_text, "public": True}
        if self.channel is Channel.PHONE:
            fields["duration_seconds"] = round(self.rng.lognormvariate(math.log(240), 0.7), 1)
        return self.add(at, EventType.CONTACT_OUTBOUND, **fields)

    def note(self, at: Instant) -> Instant:
        agent = self.agent or self.sim.roster.pick(self.rng, self.team, at)
        return self.add(
            at, EventType.CONTACT_OUTBOUND, agent_id=agent, channel=self.channel_text, public=False
        )

    def reassign(self, at: Instant) -> Instant:
        teams = self.sim.team_names
        if len(teams) > 1 and self.rng.random() < 0.4:
            return self.assign(at, self.rng.choice([name for name in teams if name != self.team]))
        return self.assign(at)

    def change_priority(self, at: Instant) -> Instant:
        order = list(Priority)
        index = order.index(self.priority)
        step = 1 if self.rng.random() < 0.75 else -1
        self.priority = order[min(len(order) - 1, max(0, index + step))]
        return self.add(at, EventType.TICKET_PRIORITY_CHANGED, priority=self.priority.value)

    def solve(self, at: Instant) -> Instant:
        return self.add(at, EventType.TICKET_STATUS_CHANGED, status=Status.SOLVED.value)

    def surveys(self, solved: Instant, reopened: bool) -> None:
        rng = self.rng
        if rng.random() < 0.25:
            weights = _CSAT_WEIGHTS_REOPENED if reopened else _CSAT_WEIGHTS
            score = rng.choices(range(1, 6), weights)[0]
            self.add(solved + self.delay(6 * 60, 1.5), EventType.SURVEY_CSAT, score=score)
        if rng.random() < 0.06:
            fields: dict[str, Any] = {"score": rng.choices(range(11), _NPS_WEIGHTS)[0]}
            if rng.random() < 0.7:
                account_id = f"acc-{rng.randrange(5000):05d}"
                crm = self.sim.crm
                fields["account_id"] = (
                    account_id if crm is None else crm.account_of_ticket(account_id)
                )
            self.add(solved + self.delay(2 * 24 * 60, 1.0), EventType.SURVEY_NPS, **fields)


def _weighted(rng: random.Random, items: tuple[_T, ...], cumulative: tuple[float, ...]) -> _T:
    return items[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


# Per type: a required field and wrong values for it, for defective copies.
_WRONG_VALUES: dict[EventType, tuple[str, tuple[Any, ...]]] = {
    EventType.TICKET_CREATED: ("priority", ("URGENT", "p1", 3)),
    EventType.TICKET_ASSIGNED: ("agent_id", (42, "", ["ag-1"])),
    EventType.TICKET_PRIORITY_CHANGED: ("priority", ("critical", None, "")),
    EventType.TICKET_STATUS_CHANGED: ("status", ("archived", "Solved", 5)),
    EventType.CONTACT_INBOUND: ("channel", ("fax", "E-Mail", None)),
    EventType.CONTACT_OUTBOUND: ("public", ("yes", 1, "false")),
    EventType.SURVEY_CSAT: ("score", (0, 6, 4.5, True, "5")),
    EventType.SURVEY_NPS: ("score", (-1, 11, 9.0, False)),
}


class _Simulation:
    def __init__(self, config: SimulationConfig, start: Instant) -> None:
        self.config = config
        self.start = start
        self.run_tag = f"{random.Random(config.seed).getrandbits(24):06x}"
        self.roster = _Roster.build(config)
        self.channels = tuple(channel for channel, _ in config.channels)
        self.channel_weights = _cumulative(weight for _, weight in config.channels)
        self.priorities = tuple(priority for priority, _ in config.priorities)
        self.priority_weights = _cumulative(weight for _, weight in config.priorities)
        self.team_names = tuple(team.name for team in config.teams)
        self.team_weights = _cumulative(team.weight for team in config.teams)
        self.minute, self.minute_offset, self.minute_text = -1, 0, ""
        rest = 1 - config.invalid_share - config.duplicate_share
        self.invalid_chance = config.invalid_share / rest
        self.duplicate_chance = config.duplicate_share / rest
        self.rng = random.Random(f"estimate-{config.seed}")
        self.crm: Crm | None = None  # sample tickets name no CRM account
        self.ticket_rate = config.events_per_second / MICROS_PER_SECOND
        self.ticket_rate /= self.mean_events_per_ticket() / rest
        self.rng = random.Random(config.seed)
        accounts = population(config.accounts_rate, config.events_per_second)
        if accounts:
            self.crm = Crm(config.seed, start, self.run_tag, accounts)
        self.profile = _hourly_profile() if config.daily_cycle else (1.0,) * 168
        self.peak = max(self.profile)
        self.clock = float(start)  # the arrival process, finer than the seconds it reports

    def mean_events_per_ticket(self, samples: int = 400) -> float:
        """Estimated by drawing sample tickets over a week, so a rate can be asked in events."""
        spacing = WEEK // samples
        drawn = sum(len(_Ticket(self, 0, self.start + n * spacing).events) for n in range(samples))
        return drawn / samples

    def stamp(self, at: Instant, offset_minutes: int) -> str:
        """RFC 3339 with milliseconds when present; ``Z`` or the given offset.

        Called in time order, so the text up to the minute is cached for the last minute.
        """
        minute, rest = divmod(at + offset_minutes * MINUTE, MINUTE)
        if minute != self.minute or offset_minutes != self.minute_offset:
            self.minute, self.minute_offset = minute, offset_minutes
            self.minute_text = _to_datetime(minute * MINUTE).strftime("%Y-%m-%dT%H:%M:")
        second, micros = divmod(rest, MICROS_PER_SECOND)
        if offset_minutes == 0:
            zone = "Z"
        else:
            hours, minutes = divmod(abs(offset_minutes), 60)
            zone = f"{'+' if offset_minutes > 0 else '-'}{hours:02d}:{minutes:02d}"
        if micros:
            return f"{self.minute_text}{second:02d}.{micros // MILLIS:03d}{zone}"
        return f"{self.minute_text}{second:02d}{zone}"

    def next_arrival(self) -> Instant:
        """The next ticket's creation, on a whole second so that no event sent before it
        is later than it (sources cut times to seconds or milliseconds).

        Thinning: draw at the peak rate, keep a draw with the hour's share of the peak.
        """
        rng = self.rng
        while True:
            self.clock += rng.expovariate(self.ticket_rate * self.peak)
            at = math.ceil(self.clock / MICROS_PER_SECOND) * MICROS_PER_SECOND
            if rng.random() * self.peak < self.profile[week_hour(at)]:
                return at

    def run(self) -> Iterator[Emitted]:
        rng = self.rng
        tickets: list[tuple[Instant, int, _Live]] = []
        later: list[tuple[Instant, int, Emitted]] = []
        order = 0
        number = 0
        arrival = self.next_arrival()
        never = 2**62
        crm = self.crm
        while True:
            due = tickets[0][0] if tickets else never
            late_due = later[0][0] if later else never
            crm_due = never if crm is None else crm.due or never
            if crm is not None and crm_due < arrival and crm_due <= due and crm_due <= late_due:
                for at, account_event, key, backfill in crm.step():
                    yield Emitted(
                        account_event,
                        ACCOUNTS,
                        key,
                        at,
                        Intent.BACKFILL if backfill else Intent.VALID,
                    )
                continue
            if arrival <= due and arrival <= late_due:
                number += 1
                live = _Ticket(self, number, arrival).live
                order += 1
                heapq.heappush(tickets, (live.pending[-1][0], order, live))
                arrival = self.next_arrival()
                continue
            if late_due < due:
                yield heapq.heappop(later)[2]
                continue
            at, _, live = tickets[0]
            _, _, number_in_ticket, wire_type, fields = live.pending.pop()
            if live.pending:
                order += 1
                heapq.heapreplace(tickets, (live.pending[-1][0], order, live))
            else:
                heapq.heappop(tickets)
            key = live.ticket_id
            value: dict[str, Any] = {
                "event_id": f"{key}.{number_in_ticket}",
                "type": wire_type,
                "occurred_at": self.stamp(at, live.offset),
                "ticket_id": key,
            }
            if fields is not None:
                value.update(fields)
            topic = _TOPIC_OF_WIRE[wire_type]
            if rng.random() < self.config.late_share:
                order += 1
                lag = round(rng.lognormvariate(math.log(90), 1.5) * MICROS_PER_SECOND)
                late = Emitted(value, topic, key, at + min(lag, 6 * HOUR), Intent.LATE)
                heapq.heappush(later, (late.emit_at, order, late))
            else:
                yield Emitted(value, topic, key, at)
            if rng.random() < self.duplicate_chance:
                order += 1
                lag = round(rng.expovariate(1 / 30) * MICROS_PER_SECOND)
                copy = Emitted(value, topic, key, at + lag, Intent.DUPLICATE)
                heapq.heappush(later, (copy.emit_at, order, copy))
            if rng.random() < self.invalid_chance:
                order += 1
                broken, defect = self.broken(value, f"{key}.bad{order}")
                yield Emitted(broken, topic, key, at, Intent.INVALID, defect)

    def broken(self, value: dict[str, Any], event_id: str) -> tuple[dict[str, Any] | str, str]:
        """A defective copy of ``value`` and the field its error will name."""
        rng = self.rng
        copy = dict(value)
        copy["event_id"] = event_id
        defect = rng.randrange(9)
        if defect == 0:
            name = rng.choice(("event_id", "type", "occurred_at", "ticket_id"))
            del copy[name]
            return copy, name
        if defect == 1:
            name, wrong = _WRONG_VALUES[EventType(value["type"])]
            copy[name] = rng.choice(wrong)
            return copy, name
        if defect == 2:
            copy["type"] = rng.choice(("ticket.merged", "contact.typing", "Ticket.Created", 7))
            return copy, "type"
        if defect == 3:
            copy["occurred_at"] = rng.choice(
                (
                    str(value["occurred_at"])[:19],  # no offset
                    "02/11/2026 09:15",
                    1793610900,
                    "1970-01-01T00:00:00Z",
                    "2026-11-31T09:15:00Z",
                )
            )
            return copy, "occurred_at"
        if defect == 4:  # a survey with a bad score for the same ticket
            copy["type"] = rng.choice((EventType.SURVEY_CSAT.value, EventType.SURVEY_NPS.value))
            copy["score"] = rng.choice((12, -3, 4.5, True, "5", None))
            return copy, "score"
        if defect == 5:
            name = rng.choice(("event_id", "ticket_id"))
            copy[name] = rng.choice(("", "   ", None, 12345))
            return copy, name
        if defect == 6:
            text = json.dumps(copy, ensure_ascii=False, separators=(",", ":"))
            return text[: rng.randrange(1, len(text) - 1)], "(json)"
        if defect == 7:
            return json.dumps([copy], ensure_ascii=False, separators=(",", ":")), "(event)"
        name, wrong = _WRONG_VALUES[EventType(value["type"])]
        copy.pop(name, None)
        if name == "public":  # public is optional: drop a required field instead
            name = "channel"
            del copy[name]
        return copy, name


def _cumulative(weights: Iterable[float]) -> tuple[float, ...]:
    total = 0.0
    out: list[float] = []
    for weight in weights:
        total += weight
        out.append(total)
    return tuple(out)


def _hourly_profile() -> tuple[float, ...]:
    """Arrival factor per hour of the week, averaging 1 so the configured rate holds."""
    week = [
        DAILY_PROFILE[hour] * (WEEKEND_FACTOR if day >= 5 else 1.0)
        for day in range(7)
        for hour in range(24)
    ]
    mean = sum(week) / len(week)
    return tuple(factor / mean for factor in week)
