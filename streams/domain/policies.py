"""SLA policies (spec section 4): which targets apply to a ticket and how their time counts.

The policy file is the one place operators tune SLAs, so it is validated strictly: every
problem is a ``ConfigError`` naming the file, the dotted key path and what is wrong, and
no unknown key is ignored. ``docs/policies.md`` describes the format for users.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from streams.domain.calendars import (
    ALWAYS_OPEN,
    WEEKDAYS,
    BusinessCalendar,
    Calendar,
    Shift,
    parse_shift,
)
from streams.domain.events import Channel, Priority, Status
from streams.domain.facts import SlaTarget
from streams.domain.instant import Micros, parse_duration
from streams.errors import ConfigError

MATCH_KEYS: Final = ("priority", "team", "channel")
DEFAULT_AT_RISK_WITHIN: Final[Micros] = parse_duration("15m")
DEFAULT_POLICIES_PATH: Final = Path(str(files("streams") / "data" / "policies.yaml"))

_TOP_KEYS: Final = ("calendars", "at_risk_within", "policies")
_POLICY_KEYS: Final = ("name", "match", "calendar", "targets", "pause_resolution_on")
_CALENDAR_KEYS: Final = ("timezone", "hours", "holidays")
_ISO_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PAUSABLE: Final = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
_MATCH_VALUES: Final[Mapping[str, tuple[str, ...]]] = {
    "priority": tuple(p.value for p in Priority),
    "channel": tuple(c.value for c in Channel),
}


@dataclass(frozen=True)
class Policy:
    """One SLA policy. A target left out is not tracked; an empty ``match`` fits every ticket."""

    name: str
    match: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    calendar: Calendar = ALWAYS_OPEN
    targets: Mapping[SlaTarget, Micros] = field(default_factory=lambda: MappingProxyType({}))
    pause_resolution_on: frozenset[Status] = frozenset()

    def matches(self, *, priority: str, team: str, channel: str) -> bool:
        """Every key of ``match`` holds the ticket's value for that dimension."""
        values = {"priority": priority, "team": team, "channel": channel}
        return all(values[key] in allowed for key, allowed in self.match.items())


@dataclass(frozen=True)
class PolicySet:
    """The policies in file order (the first that matches applies) and their calendars."""

    policies: tuple[Policy, ...]
    at_risk_within: Micros = DEFAULT_AT_RISK_WITHIN
    calendars: Mapping[str, BusinessCalendar] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def named_teams(self) -> frozenset[str]:
        """Every team some policy's ``match`` names: known teams, never junk."""
        return frozenset(team for p in self.policies for team in p.match.get("team", ()))

    def select(self, *, priority: str, team: str, channel: str) -> Policy | None:
        """The first policy that fits the ticket; None means the ticket has no SLA clocks."""
        for policy in self.policies:
            if policy.matches(priority=priority, team=team, channel=channel):
                return policy
        return None


def load_policies(path: str | Path) -> PolicySet:
    """Read and validate a policy file; every problem is a ``ConfigError``."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, "(file)", "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(source, "(file)", f"cannot read it: {error}") from None
    return parse_policies(_load_yaml(text, source), source)


def default_policies() -> PolicySet:
    """The policies shipped with ticketpulse (``streams/data/policies.yaml``)."""
    resource = files("streams") / "data" / "policies.yaml"
    source = str(DEFAULT_POLICIES_PATH)
    return parse_policies(_load_yaml(resource.read_text(encoding="utf-8"), source), source)


def parse_policies(data: object, source: str) -> PolicySet:
    """Validate the YAML document ``data``; ``source`` names the file in errors."""
    return _Parser(source).policy_set(data)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects a key given twice in one mapping instead of keeping the last."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            continue  # construct_mapping reports unhashable keys
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


# Dates stay strings: the holiday parser reports a bad one with its key path.
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _load_yaml(text: str, source: str) -> object:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(source, where, f"YAML syntax error: {error.problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(source, "(file)", f"YAML syntax error: {error}") from None


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _one_of(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1]


class _Parser:
    """Walks the document, naming the dotted key path of any problem."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, key, problem)

    def mapping(self, value: object, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {_describe(value)}")
        for name in value:
            if not isinstance(name, str):
                raise self.fail(key, f"key {name!r} is not a string")
            if name not in allowed:
                raise self.fail(_join(key, name), f"unknown key; use {_one_of(allowed)}")
        return value

    def strings(self, value: object, key: str) -> list[str]:
        """A string or a list of strings (one or more)."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.fail(key, f"expected a string or a list of strings, got {_describe(value)}")
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item:
                raise self.fail(f"{key}[{index}]", f"expected a non-empty string, got {item!r}")
        return items

    def duration(self, value: object, key: str, *, positive: bool) -> Micros:
        if not isinstance(value, str):
            raise self.fail(key, f"{value!r} is not a duration like 15m, 4h or 3d")
        try:
            amount = parse_duration(value)
        except ValueError as error:
            raise self.fail(key, str(error)) from None
        if positive and amount <= 0:
            raise self.fail(key, f"{value!r} must be longer than zero")
        return amount

    # -- the document ---------------------------------------------------------------------
    def policy_set(self, data: object) -> PolicySet:
        if data is None:
            raise self.fail("(file)", "the file is empty; it needs a list of `policies`")
        top = self.mapping(data, "(file)", _TOP_KEYS)
        if "policies" not in top:
            raise self.fail("policies", "missing: the file must list its policies")
        calendars = self.calendars(top.get("calendars"))
        at_risk = DEFAULT_AT_RISK_WITHIN
        if "at_risk_within" in top:
            at_risk = self.duration(top["at_risk_within"], "at_risk_within", positive=False)
        raw = top["policies"]
        if not isinstance(raw, list):
            raise self.fail("policies", f"expected a list of policies, got {_describe(raw)}")
        policies = tuple(
            self.policy(item, f"policies[{index}]", calendars) for index, item in enumerate(raw)
        )
        first_index: dict[str, int] = {}
        for index, policy in enumerate(policies):
            if policy.name in first_index:
                raise self.fail(
                    f"policies[{index}].name",
                    f"{policy.name!r} is already the name of policies[{first_index[policy.name]}]",
                )
            first_index[policy.name] = index
        return PolicySet(policies, at_risk, MappingProxyType(calendars))

    def policy(self, value: object, key: str, calendars: Mapping[str, BusinessCalendar]) -> Policy:
        raw = self.mapping(value, key, _POLICY_KEYS)
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.fail(f"{key}.name", f"expected a policy name, got {_describe(name)}")
        calendar: Calendar = ALWAYS_OPEN
        if "calendar" in raw:
            calendar = self.calendar_ref(raw["calendar"], f"{key}.calendar", calendars)
        return Policy(
            name=name,
            match=self.match(raw.get("match", {}), f"{key}.match"),
            calendar=calendar,
            targets=self.targets(raw.get("targets", {}), f"{key}.targets"),
            pause_resolution_on=self.pauses(
                raw.get("pause_resolution_on", []), f"{key}.pause_resolution_on"
            ),
        )

    def match(self, value: object, key: str) -> Mapping[str, frozenset[str]]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {_describe(value)}")
        out: dict[str, frozenset[str]] = {}
        for name, wanted in value.items():
            if name not in MATCH_KEYS:
                raise self.fail(_join(key, name), f"unknown match key; use {_one_of(MATCH_KEYS)}")
            items = self.strings(wanted, f"{key}.{name}")
            known = _MATCH_VALUES.get(name)
            for index, item in enumerate(items):
                if known is not None and item not in known:
                    where = f"{key}.{name}" if isinstance(wanted, str) else f"{key}.{name}[{index}]"
                    raise self.fail(where, f"unknown {name} {item!r}; use {_one_of(known)}")
            out[name] = frozenset(items)
        return MappingProxyType(out)

    def calendar_ref(
        self, value: object, key: str, calendars: Mapping[str, BusinessCalendar]
    ) -> BusinessCalendar:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a calendar name, got {_describe(value)}")
        if value not in calendars:
            defined = ", ".join(sorted(calendars)) or "none"
            raise self.fail(key, f"unknown calendar {value!r}; defined calendars: {defined}")
        return calendars[value]

    def targets(self, value: object, key: str) -> Mapping[SlaTarget, Micros]:
        names = tuple(t.value for t in SlaTarget)
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {_describe(value)}")
        out: dict[SlaTarget, Micros] = {}
        for name, amount in value.items():
            if name not in names:
                raise self.fail(_join(key, name), f"unknown target; use {_one_of(names)}")
            out[SlaTarget(name)] = self.duration(amount, f"{key}.{name}", positive=True)
        return MappingProxyType(out)

    def pauses(self, value: object, key: str) -> frozenset[Status]:
        if value == []:
            return frozenset()
        pausable = tuple(s.value for s in _PAUSABLE)
        out: set[Status] = set()
        for index, item in enumerate(self.strings(value, key)):
            where = key if isinstance(value, str) else f"{key}[{index}]"
            if item in (Status.SOLVED, Status.CLOSED):
                raise self.fail(
                    where, f"{item!r} can't pause: solved and closed stop the resolution clock"
                )
            if item not in pausable:
                raise self.fail(where, f"unknown status {item!r}; use {_one_of(pausable)}")
            out.add(Status(item))
        return frozenset(out)

    # -- calendars ------------------------------------------------------------------------
    def calendars(self, value: object) -> dict[str, BusinessCalendar]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail("calendars", f"expected a mapping of names, got {_describe(value)}")
        out: dict[str, BusinessCalendar] = {}
        for name, raw in value.items():
            if not isinstance(name, str) or not name:
                raise self.fail("calendars", f"calendar name {name!r} is not a string")
            out[name] = self.calendar(name, raw, f"calendars.{name}")
        return out

    def calendar(self, name: str, value: object, key: str) -> BusinessCalendar:
        raw = self.mapping(value, key, _CALENDAR_KEYS)
        if "timezone" not in raw:
            raise self.fail(f"{key}.timezone", "missing: a calendar needs a time zone")
        zone = self.zone(raw["timezone"], f"{key}.timezone")
        if "hours" not in raw:
            raise self.fail(f"{key}.hours", "missing: a calendar needs open hours")
        hours = self.hours(raw["hours"], f"{key}.hours")
        holidays = self.holidays(raw.get("holidays", []), f"{key}.holidays")
        return BusinessCalendar(name, zone, hours, holidays)

    def zone(self, value: object, key: str) -> ZoneInfo:
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"expected a time zone like Europe/Berlin, got {_describe(value)}")
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(key, f"unknown time zone {value!r}") from None

    def hours(self, value: object, key: str) -> tuple[tuple[Shift, ...], ...]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping of weekdays, got {_describe(value)}")
        table: dict[str, tuple[Shift, ...]] = {}
        for day, raw in value.items():
            if day not in WEEKDAYS:
                raise self.fail(_join(key, day), f"unknown weekday; use {_one_of(WEEKDAYS)}")
            table[day] = self.shifts(raw, f"{key}.{day}")
        if not any(table.values()):
            raise self.fail(key, "no open hours on any weekday; a calendar must be open sometime")
        return tuple(table.get(day, ()) for day in WEEKDAYS)

    def shifts(self, value: object, key: str) -> tuple[Shift, ...]:
        if value is None or value == []:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self.fail(key, f"expected a list like ['09:00-17:00'], got {_describe(value)}")
        parsed: list[tuple[Shift, int, str]] = []
        for index, item in enumerate(items):
            where = key if isinstance(value, str) else f"{key}[{index}]"
            if not isinstance(item, str):
                raise self.fail(where, f"{item!r} is not an interval like 09:00-17:00")
            try:
                parsed.append((parse_shift(item), index, item))
            except ValueError as error:
                raise self.fail(where, str(error)) from None
        parsed.sort()
        for (before, _, before_text), (after, index, text) in pairwise(parsed):
            if after.start < before.end:
                raise self.fail(f"{key}[{index}]", f"{text!r} overlaps {before_text!r}")
        return tuple(shift for shift, _, _ in parsed)

    def holidays(self, value: object, key: str) -> frozenset[date]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of dates, got {_describe(value)}")
        out: set[date] = set()
        for index, item in enumerate(value):
            # YAML reads an unquoted 2026-12-24 as a date already.
            if isinstance(item, date) and not isinstance(item, datetime):
                out.add(item)
                continue
            try:
                if not isinstance(item, str) or not _ISO_DATE.match(item):
                    raise ValueError
                out.add(date.fromisoformat(item))
            except ValueError:
                raise self.fail(
                    f"{key}[{index}]", f"{item!r} is not a date like 2026-12-24"
                ) from None
        return frozenset(out)


def _join(key: str, name: object) -> str:
    return str(name) if key == "(file)" else f"{key}.{name}"
