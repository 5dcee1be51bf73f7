"""SLA policies (spec section 4): which targets apply to a ticket and how their time counts.

The policy file is the one place operators tune SLAs, so it is validated strictly: every
problem is a ``ConfigError`` naming the file, the dotted key path and what is wrong, all of
them at once (``ConfigErrors``), and no unknown key is ignored. The file is modelled with
pydantic at this boundary (which also gives editors a JSON Schema); the engine gets the
plain ``PolicySet``. ``docs/policies.md`` describes the format for users.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_core.core_schema import WithDefaultSchema

from streams.domain.account_thresholds import (
    DEFAULT_HEALTH,
    NO_AT_RISK_MRR_ALERTS,
    AtRiskMrrLimits,
    HealthThresholds,
)
from streams.domain.calendars import (
    ALWAYS_OPEN,
    SHIFT_PATTERN,
    WEEKDAYS,
    BusinessCalendar,
    Calendar,
    Shift,
    parse_shift,
)
from streams.domain.events import Channel, Priority, Status
from streams.domain.facts import SlaTarget
from streams.domain.instant import DURATION_PATTERN, Micros, parse_duration
from streams.errors import ConfigError, ConfigErrors

MATCH_KEYS: Final = ("priority", "team", "channel")
DEFAULT_AT_RISK_WITHIN: Final[Micros] = parse_duration("15m")
DEFAULT_POLICIES_PATH: Final = Path(str(files("streams") / "data" / "policies.yaml"))
SCHEMA_PATH: Final = Path(str(files("streams") / "data" / "policies.schema.json"))

_ISO_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PAUSABLE: Final = tuple(s.value for s in (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD))
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
    account_health: HealthThresholds = DEFAULT_HEALTH  # ``accounts: health``
    at_risk_mrr: AtRiskMrrLimits = NO_AT_RISK_MRR_ALERTS  # ``accounts: alerts: at_risk_mrr``

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
    """Validate the YAML document ``data``; ``source`` names the file in errors.

    Every problem is reported at once: a ``ConfigErrors`` lists each with its key path."""
    return _validate(data, source).policy_set()


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
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


# -- the file as pydantic models -----------------------------------------------------------
# Each leaf validator raises ``_problem`` with the message users see; the models give every
# problem its key path, so one run reports all of them, and they generate the JSON Schema.


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("policies", "{problem}", {"problem": message})


def _listed(value: object) -> object:
    """One value stands for a list of one."""
    return [value] if isinstance(value, str) else value


def _not_empty(values: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        raise _problem("expected a value or a list of values, got an empty list")
    return values


def _duration(value: object, *, positive: bool = False) -> Micros:
    if not isinstance(value, str):
        raise _problem(f"{value!r} is not a duration like 15m, 4h or 3d")
    try:
        amount = parse_duration(value)
    except ValueError as error:
        raise _problem(str(error)) from None
    if positive and amount <= 0:
        raise _problem(f"{value!r} must be longer than zero")
    return amount


def _target(value: object) -> Micros:
    return _duration(value, positive=True)


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _problem(f"expected a policy name, got {_describe(value)}")
    return value


def _choice(kind: str, known: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str) or value not in known:
            raise _problem(f"unknown {kind} {value!r}; use {_one_of(known)}")
        return value

    return check


def _team(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _problem(f"expected a non-empty string, got {value!r}")
    return value


def _calendar_ref(value: object, info: ValidationInfo) -> str:
    if not isinstance(value, str):
        raise _problem(f"expected a calendar name, got {_describe(value)}")
    defined = (info.context or {}).get("calendars")
    if defined is not None and value not in defined:
        raise _problem(
            f"unknown calendar {value!r}; defined calendars: {', '.join(sorted(defined)) or 'none'}"
        )
    return value


def _pause(value: object) -> Status:
    if value in (Status.SOLVED, Status.CLOSED):
        raise _problem(f"{value!r} can't pause: solved and closed stop the resolution clock")
    if not isinstance(value, str) or value not in _PAUSABLE:
        raise _problem(f"unknown status {value!r}; use {_one_of(_PAUSABLE)}")
    return Status(value)


def _zone(value: object) -> ZoneInfo:
    if not isinstance(value, str) or not value:
        raise _problem(f"expected a time zone like Europe/Berlin, got {_describe(value)}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _problem(f"unknown time zone {value!r}") from None


def _shift(value: object) -> Shift:
    if not isinstance(value, str):
        raise _problem(f"{value!r} is not an interval like 09:00-17:00")
    try:
        return parse_shift(value)
    except ValueError as error:
        raise _problem(str(error)) from None


def _shifts(value: object) -> object:
    """A day: one interval, a list of them, or nothing (closed)."""
    return [] if value is None else _listed(value)


def _no_overlap(shifts: tuple[Shift, ...]) -> tuple[Shift, ...]:
    ordered = tuple(sorted(shifts))
    for before, after in pairwise(ordered):
        if after.start < before.end:
            raise _problem(f"{str(after)!r} overlaps {str(before)!r}")
    return ordered


def _holiday(value: object) -> date:
    # YAML reads an unquoted 2026-12-24 as a date already.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        if not isinstance(value, str) or not _ISO_DATE.match(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise _problem(f"{value!r} is not a date like 2026-12-24") from None


def _enum_schema(values: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _one_or_many(item: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [item, {"type": "array", "items": item, "minItems": 1}]}


_DURATION_SCHEMA: Final = {
    "type": "string",
    "pattern": DURATION_PATTERN,
    "description": "a number and a unit: 90s, 15m, 4h, 1.5h, 3d, 1w",
}
_SHIFT_SCHEMA: Final = {
    "type": "string",
    "pattern": SHIFT_PATTERN,
    "description": "an interval HH:MM-HH:MM, e.g. 09:00-17:00",
}

Duration = Annotated[Micros, PlainValidator(_duration), WithJsonSchema(_DURATION_SCHEMA)]
Target = Annotated[Micros | None, PlainValidator(_target), WithJsonSchema(_DURATION_SCHEMA)]


_PRIORITY_SCHEMA: Final = _enum_schema(_MATCH_VALUES["priority"])
_CHANNEL_SCHEMA: Final = _enum_schema(_MATCH_VALUES["channel"])
_TEAM_SCHEMA: Final = {"type": "string", "minLength": 1}

# A match key: one value or a non-empty list of them.
Priorities = Annotated[
    tuple[Annotated[str, PlainValidator(_choice("priority", _MATCH_VALUES["priority"]))], ...],
    BeforeValidator(_listed),
    AfterValidator(_not_empty),
    WithJsonSchema(_one_or_many(_PRIORITY_SCHEMA)),
]
Channels = Annotated[
    tuple[Annotated[str, PlainValidator(_choice("channel", _MATCH_VALUES["channel"]))], ...],
    BeforeValidator(_listed),
    AfterValidator(_not_empty),
    WithJsonSchema(_one_or_many(_CHANNEL_SCHEMA)),
]
Teams = Annotated[
    tuple[Annotated[str, PlainValidator(_team)], ...],
    BeforeValidator(_listed),
    AfterValidator(_not_empty),
    WithJsonSchema(_one_or_many(_TEAM_SCHEMA)),
]

Day = Annotated[
    tuple[Annotated[Shift, PlainValidator(_shift)], ...],
    BeforeValidator(_shifts),
    AfterValidator(_no_overlap),
    WithJsonSchema({"anyOf": [_SHIFT_SCHEMA, {"type": "array", "items": _SHIFT_SCHEMA}]}),
]


class _Section(BaseModel):
    """A mapping of the file: no unknown keys, each value checked where it is."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    UNKNOWN: ClassVar[str] = "unknown key"


class MatchSection(_Section):
    """Which tickets a policy applies to: every key given must fit (AND); a list means any of
    its values (OR). No key: every ticket."""

    UNKNOWN: ClassVar[str] = "unknown match key"
    priority: Priorities = ()
    team: Teams = ()
    channel: Channels = ()


class TargetsSection(_Section):
    """SLA targets as durations of elapsed time under the policy's calendar; a target left
    out is not tracked."""

    UNKNOWN: ClassVar[str] = "unknown target"
    first_reply: Target = Field(default=None, description="the first public agent reply")
    next_reply: Target = Field(
        default=None, description="each agent reply after a customer contact"
    )
    resolution: Target = Field(default=None, description="solving the ticket")


class PolicySection(_Section):
    """One SLA policy; the first policy whose match fits a ticket applies."""

    name: Annotated[str, PlainValidator(_name), WithJsonSchema({"type": "string"})] = Field(
        description="unique; shown on GET /tickets/{id}"
    )
    match: MatchSection = MatchSection()
    calendar: Annotated[
        str | None, PlainValidator(_calendar_ref), WithJsonSchema({"type": "string"})
    ] = Field(default=None, description="a calendar under `calendars`; without one, calendar time")
    targets: TargetsSection = TargetsSection()
    pause_resolution_on: Annotated[
        tuple[Annotated[Status, PlainValidator(_pause)], ...],
        BeforeValidator(_listed),
        WithJsonSchema(
            {
                "anyOf": [
                    _enum_schema(_PAUSABLE),
                    {"type": "array", "items": _enum_schema(_PAUSABLE)},
                ]
            }
        ),
    ] = Field(default=(), description="statuses that pause the resolution clock")


class HoursSection(_Section):
    """Open hours per weekday, local to the calendar's time zone: HH:MM-HH:MM intervals
    (24:00 allowed as an end); a weekday left out is closed."""

    UNKNOWN: ClassVar[str] = "unknown weekday"
    mon: Day = ()
    tue: Day = ()
    wed: Day = ()
    thu: Day = ()
    fri: Day = ()
    sat: Day = ()
    sun: Day = ()

    @model_validator(mode="after")
    def _open_sometime(self) -> HoursSection:
        if not any(self.table()):
            raise _problem("no open hours on any weekday; a calendar must be open sometime")
        return self

    def table(self) -> tuple[tuple[Shift, ...], ...]:
        return tuple(getattr(self, day) for day in WEEKDAYS)


class CalendarSection(_Section):
    """Business hours: only open time counts towards a target of a policy using it."""

    timezone: Annotated[ZoneInfo, PlainValidator(_zone), WithJsonSchema({"type": "string"})] = (
        Field(description="an IANA time zone name, e.g. Europe/Berlin")
    )
    hours: HoursSection
    holidays: Annotated[
        tuple[Annotated[date, PlainValidator(_holiday)], ...],
        WithJsonSchema({"type": "array", "items": {"type": "string", "format": "date"}}),
    ] = Field(default=(), description="local dates YYYY-MM-DD, closed all day")


def _whole(low: int, high: int) -> tuple[PlainValidator, WithJsonSchema]:
    """The validator and schema of a whole number in [low, high]."""

    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _problem(f"expected a whole number from {low} to {high}, got {value!r}")
        return value

    schema = {"type": "integer", "minimum": low, "maximum": high}
    return PlainValidator(check), WithJsonSchema(schema)


NpsScore = Annotated[int, *_whole(0, 10)]
CsatScore = Annotated[int, *_whole(1, 5)]
SignalCount = Annotated[int, *_whole(1, 6)]
Threshold = Annotated[int, *_whole(1, 1_000_000)]


class HealthSection(_Section):
    """When an account shows a health signal, and how many signals make a customer at risk
    (docs/accounts.md); every signal looks at the last 30 days."""

    UNKNOWN: ClassVar[str] = "unknown health setting"
    detractor_nps: NpsScore = Field(
        default=DEFAULT_HEALTH.detractor_nps,
        description="signal `detractor`: an NPS answer at or below this (default 6)",
    )
    unhappy_csat: CsatScore = Field(
        default=DEFAULT_HEALTH.unhappy_csat,
        description="signal `unhappy`: a CSAT answer at or below this (default 2)",
    )
    sla_breaches: Threshold = Field(
        default=DEFAULT_HEALTH.sla_breaches,
        description="signal `sla_breaches`: at least this many SLA breaches (default 2)",
    )
    reopens: Threshold = Field(
        default=DEFAULT_HEALTH.reopens,
        description="signal `reopens`: at least this many reopened tickets (default 2)",
    )
    at_risk_signals: SignalCount = Field(
        default=DEFAULT_HEALTH.at_risk_signals,
        description="a customer with at least this many signals is at risk (default 2)",
    )

    def thresholds(self) -> HealthThresholds:
        return HealthThresholds(
            self.detractor_nps,
            self.unhappy_csat,
            self.sla_breaches,
            self.reopens,
            self.at_risk_signals,
        )


def _amount(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise _problem(f"expected an amount (a number, 0 or more), got {value!r}")
    return float(value)


Amount = Annotated[float, PlainValidator(_amount), WithJsonSchema({"type": "number", "minimum": 0})]


class AtRiskMrrSection(_Section):
    """The at-risk MRR above which a segment's account managers are alerted
    (docs/runbooks.md); amounts in the accounts' currency."""

    UNKNOWN: ClassVar[str] = "unknown at_risk_mrr setting"
    default: Amount | None = Field(
        default=None,
        description="for every segment not under `segments`; unset: those are never alerted",
    )
    segments: dict[str, Amount] = Field(
        default_factory=dict, description="a threshold of its own per segment"
    )

    def limits(self) -> AtRiskMrrLimits:
        return AtRiskMrrLimits(self.default, self.segments)


class AlertsSection(_Section):
    """Thresholds of the account alerts."""

    UNKNOWN: ClassVar[str] = "unknown account alert"
    at_risk_mrr: AtRiskMrrSection = AtRiskMrrSection()


class AccountsSection(_Section):
    """Settings of the account KPIs."""

    health: HealthSection = HealthSection()
    alerts: AlertsSection = AlertsSection()


def _no_calendars(value: object) -> object:
    return {} if value is None else value


class PolicyFile(_Section):
    """A ticketpulse SLA policy file (docs/policies.md)."""

    model_config = ConfigDict(title="ticketpulse SLA policies")
    calendars: Annotated[dict[str, CalendarSection], BeforeValidator(_no_calendars)] = Field(
        default_factory=dict, description="named business-hours calendars"
    )
    at_risk_within: Duration = Field(
        default=DEFAULT_AT_RISK_WITHIN,
        description="a running clock is at risk when its deadline is at most this far ahead "
        "(default 15m)",
    )
    policies: list[PolicySection] = Field(
        description="tried in order; the first whose match fits the ticket applies"
    )
    accounts: AccountsSection = Field(
        default=AccountsSection(), description="settings of the account KPIs"
    )

    def policy_set(self) -> PolicySet:
        """The domain's form, for the engine."""
        calendars = {
            name: BusinessCalendar(name, raw.timezone, raw.hours.table(), frozenset(raw.holidays))
            for name, raw in self.calendars.items()
        }
        return PolicySet(
            tuple(_policy(raw, calendars) for raw in self.policies),
            self.at_risk_within,
            MappingProxyType(calendars),
            self.accounts.health.thresholds(),
            self.accounts.alerts.at_risk_mrr.limits(),
        )


def _policy(raw: PolicySection, calendars: Mapping[str, BusinessCalendar]) -> Policy:
    match = {key: frozenset(getattr(raw.match, key)) for key in MATCH_KEYS}
    targets = {target: getattr(raw.targets, target.value) for target in SlaTarget}
    return Policy(
        name=raw.name,
        match=MappingProxyType({key: values for key, values in match.items() if values}),
        calendar=calendars[raw.calendar] if raw.calendar is not None else ALWAYS_OPEN,
        targets=MappingProxyType({t: amount for t, amount in targets.items() if amount}),
        pause_resolution_on=frozenset(raw.pause_resolution_on),
    )


class _NoDefaults(GenerateJsonSchema):
    """Defaults are domain values (microseconds, empty tuples); the descriptions give them."""

    def default_schema(self, schema: WithDefaultSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])


def policies_schema() -> dict[str, Any]:
    """The JSON Schema of the file, for editors (``streams/data/policies.schema.json``)."""
    schema = PolicyFile.model_json_schema(schema_generator=_NoDefaults)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


# -- errors as users read them ---------------------------------------------------------------

Loc = tuple[int | str, ...]

_MISSING: Final = {
    "policies": "missing: the file must list its policies",
    "name": "expected a policy name, got nothing",
    "timezone": "missing: a calendar needs a time zone",
    "hours": "missing: a calendar needs open hours",
}


_LIST_OF: Final = {
    "policies": " of policies",
    "holidays": " of dates",
    **{day: " like ['09:00-17:00']" for day in WEEKDAYS},
}


def _section_at(loc: Loc) -> type[_Section] | None:
    match loc:
        case ():
            return PolicyFile
        case ("policies", int()):
            return PolicySection
        case ("policies", int(), "match"):
            return MatchSection
        case ("policies", int(), "targets"):
            return TargetsSection
        case ("calendars", str()):
            return CalendarSection
        case ("calendars", str(), "hours"):
            return HoursSection
        case ("accounts",):
            return AccountsSection
        case ("accounts", "health"):
            return HealthSection
        case ("accounts", "alerts"):
            return AlertsSection
        case ("accounts", "alerts", "at_risk_mrr"):
            return AtRiskMrrSection
    return None


def _path(loc: Loc) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return path.removeprefix(".") or "(file)"


def _raw_at(data: object, loc: Loc) -> object:
    for part in loc:
        try:
            data = data[part]  # type: ignore[index]
        except (TypeError, KeyError, IndexError):
            return None
    return data


def _config_error(source: str, data: object, error: ErrorDetails) -> ConfigError:
    loc, kind, value = tuple(error["loc"]), error["type"], error["input"]
    if loc and loc[-1] == 0 and isinstance(_raw_at(data, loc[:-1]), str):
        loc = loc[:-1]  # a single value where a list may be: its path has no [0]
    if loc and loc[-1] == "[key]":
        return ConfigError(source, _path(loc[:-2]), f"key {value!r} is not a string")
    if kind == "extra_forbidden":
        section = _section_at(loc[:-1])
        known = f"; use {_one_of(tuple(section.model_fields))}" if section else ""
        return ConfigError(
            source, _path(loc), f"{section.UNKNOWN if section else 'unknown key'}{known}"
        )
    of = _LIST_OF.get(str(loc[-1]) if loc else "", "")
    problem = {
        "missing": _MISSING.get(str(loc[-1]) if loc else "", "missing"),
        "model_type": f"expected a mapping, got {_describe(value)}",
        "dict_type": f"expected a mapping, got {_describe(value)}",
        "list_type": f"expected a list{of}, got {_describe(value)}",
        "tuple_type": f"expected a list{of}, got {_describe(value)}",
        "string_type": f"expected a string, got {_describe(value)}",
    }.get(kind, error["msg"])
    return ConfigError(source, _path(loc), problem)


def _duplicate_names(data: object, source: str) -> list[ConfigError]:
    """Two policies of one name: checked across the list, so outside the models."""
    raw = data.get("policies") if isinstance(data, dict) else None
    first: dict[str, int] = {}
    errors = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in first:
            problem = f"{name!r} is already the name of policies[{first[name]}]"
            errors.append(ConfigError(source, f"policies[{index}].name", problem))
        else:
            first[name] = index
    return errors


def _validate(data: object, source: str) -> PolicyFile:
    if data is None:
        raise ConfigError(source, "(file)", "the file is empty; it needs a list of `policies`")
    calendars = data.get("calendars") if isinstance(data, dict) else None
    context = {
        "calendars": [n for n in calendars if isinstance(n, str)]
        if isinstance(calendars, dict)
        else []
    }
    errors: list[ConfigError] = []
    model: PolicyFile | None = None
    try:
        model = PolicyFile.model_validate(data, context=context)
    except ValidationError as invalid:
        errors = [_config_error(source, data, error) for error in invalid.errors()]
    errors += _duplicate_names(data, source)
    if errors or model is None:
        raise ConfigErrors(errors)
    return model
