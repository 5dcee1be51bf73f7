"""The policy file: the spec's example, first-match selection, and every validation error."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.domain.account_thresholds import AtRiskMrrLimits, HealthThresholds
from streams.domain.calendars import ALWAYS_OPEN, BusinessCalendar, Shift
from streams.domain.events import Status
from streams.domain.facts import SlaTarget
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.domain.policies import (
    DEFAULT_POLICIES_PATH,
    PolicySet,
    default_policies,
    load_policies,
    parse_policies,
)
from streams.errors import ConfigError, ConfigErrors

MINUTE = MICROS_PER_MINUTE
HOUR = 60 * MINUTE

SPEC_EXAMPLE = """
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon: ["09:00-17:00"], tue: ["09:00-17:00"], wed: ["09:00-17:00"],
            thu: ["09:00-17:00"], fri: ["09:00-13:00", "14:00-17:00"]}
    holidays: ["2026-12-24", "2026-12-25"]
at_risk_within: 15m
policies:
  - name: urgent
    match: {priority: urgent}
    targets: {first_reply: 15m, next_reply: 30m, resolution: 4h}
  - name: standard
    match: {}
    calendar: office
    targets: {first_reply: 4h, next_reply: 8h, resolution: 3d}
    pause_resolution_on: [pending]
"""


def parse(text: str) -> PolicySet:
    return parse_policies(yaml.safe_load(text), "p.yaml")


def summary(policies: PolicySet) -> list[tuple[Any, ...]]:
    return [
        (
            p.name,
            dict(p.match),
            p.calendar.name,
            dict(p.targets),
            p.pause_resolution_on,
        )
        for p in policies.policies
    ]


# -- the spec's example ----------------------------------------------------------------------


def test_spec_example() -> None:
    policies = parse(SPEC_EXAMPLE)
    assert policies.at_risk_within == 15 * MINUTE
    urgent, standard = policies.policies
    assert urgent.name == "urgent"
    assert urgent.match == {"priority": frozenset({"urgent"})}
    assert urgent.calendar is ALWAYS_OPEN
    assert urgent.targets == {
        SlaTarget.FIRST_REPLY: 15 * MINUTE,
        SlaTarget.NEXT_REPLY: 30 * MINUTE,
        SlaTarget.RESOLUTION: 4 * HOUR,
    }
    assert urgent.pause_resolution_on == frozenset()
    assert standard.match == {}
    assert standard.targets[SlaTarget.RESOLUTION] == 72 * HOUR
    assert standard.pause_resolution_on == {Status.PENDING}
    office = standard.calendar
    assert isinstance(office, BusinessCalendar)
    assert office is policies.calendars["office"]
    assert str(office.timezone) == "Europe/Berlin"
    assert office.hours[0] == (Shift(9 * 60, 17 * 60),)
    assert office.hours[4] == (Shift(9 * 60, 13 * 60), Shift(14 * 60, 17 * 60))
    assert office.hours[5] == office.hours[6] == ()
    assert office.holidays == {date(2026, 12, 24), date(2026, 12, 25)}


def test_policy_calendar_counts_business_time() -> None:
    office = parse(SPEC_EXAMPLE).policies[1].calendar
    friday_1600_berlin = parse_rfc3339("2026-11-06T15:00:00Z")
    monday_1200_berlin = parse_rfc3339("2026-11-09T11:00:00Z")
    assert office.add(friday_1600_berlin, 4 * HOUR) == monday_1200_berlin


def test_default_file_is_the_spec_example() -> None:
    assert DEFAULT_POLICIES_PATH.is_file()
    assert summary(default_policies()) == summary(parse(SPEC_EXAMPLE))
    assert default_policies().calendars["office"] == parse(SPEC_EXAMPLE).calendars["office"]
    assert summary(load_policies(DEFAULT_POLICIES_PATH)) == summary(default_policies())


def test_optional_parts_default() -> None:
    policies = parse("policies:\n  - name: bare\n")
    (bare,) = policies.policies
    assert policies.at_risk_within == 15 * MINUTE
    assert policies.calendars == {}
    assert (bare.match, bare.calendar, bare.targets) == ({}, ALWAYS_OPEN, {})
    assert bare.pause_resolution_on == frozenset()


def test_a_target_left_out_is_not_tracked() -> None:
    policy = parse("policies: [{name: p, targets: {first_reply: 1h}}]").policies[0]
    assert SlaTarget.FIRST_REPLY in policy.targets
    assert SlaTarget.NEXT_REPLY not in policy.targets
    assert SlaTarget.RESOLUTION not in policy.targets


def test_single_values_and_lists_are_both_accepted() -> None:
    policies = parse(
        """
calendars:
  c: {timezone: UTC, hours: {sat: "10:00-12:00"}, holidays: [2026-12-26]}
policies:
  - name: p
    match: {priority: [high, urgent], team: billing, channel: [chat]}
    calendar: c
    pause_resolution_on: on_hold
"""
    )
    policy = policies.policies[0]
    assert policy.match == {
        "priority": frozenset({"high", "urgent"}),
        "team": frozenset({"billing"}),
        "channel": frozenset({"chat"}),
    }
    assert policy.pause_resolution_on == {Status.ON_HOLD}
    assert policies.calendars["c"].hours[5] == (Shift(600, 720),)
    assert policies.calendars["c"].holidays == {date(2026, 12, 26)}


# -- selection -------------------------------------------------------------------------------

SELECTION = parse(
    """
policies:
  - name: vip-urgent
    match: {team: vip, priority: urgent}
    targets: {first_reply: 5m}
  - name: vip
    match: {team: vip}
    targets: {first_reply: 10m}
  - name: phone-or-chat
    match: {channel: [phone, chat]}
    targets: {first_reply: 1m}
  - name: high
    match: {priority: [high, urgent]}
"""
)


@pytest.mark.parametrize(
    ("priority", "team", "channel", "expected"),
    [
        ("urgent", "vip", "email", "vip-urgent"),  # every key must fit
        ("high", "vip", "chat", "vip"),  # first match wins over later ones
        ("urgent", "support", "phone", "phone-or-chat"),
        ("urgent", "support", "email", "high"),
        ("low", "support", "email", None),  # no match: no SLA clocks
    ],
)
def test_first_matching_policy_applies(
    priority: str, team: str, channel: str, expected: str | None
) -> None:
    chosen = SELECTION.select(priority=priority, team=team, channel=channel)
    assert (chosen.name if chosen else None) == expected


def test_empty_match_fits_every_ticket() -> None:
    standard = parse(SPEC_EXAMPLE).policies[1]
    assert standard.matches(priority="low", team="any", channel="api")


# -- errors ----------------------------------------------------------------------------------

VALID_CALENDAR = "{timezone: Europe/Berlin, hours: {mon: ['09:00-17:00']}}"


def with_calendar(body: str) -> str:
    return f"calendars:\n  office: {body}\npolicies: [{{name: p, calendar: office}}]\n"


def with_policy(body: str) -> str:
    return f"calendars:\n  office: {VALID_CALENDAR}\npolicies:\n  - {{name: a}}\n  - {body}\n"


ERRORS = [
    # the document
    ("", "(file)", "the file is empty; it needs a list of `policies`"),
    ("[1, 2]", "(file)", "expected a mapping, got a list"),
    ("at_risk_within: 15m", "policies", "missing: the file must list its policies"),
    (
        "polices: []\npolicies: []",
        "polices",
        "unknown key; use calendars, at_risk_within, policies or accounts",
    ),
    ("policies: {a: 1}", "policies", "expected a list of policies, got a mapping"),
    (
        "at_risk_within: soon\npolicies: []",
        "at_risk_within",
        ("'soon' is not a duration like 15m, 4h or 3d"),
    ),
    # policies
    ("policies: [p]", "policies[0]", "expected a mapping, got 'p'"),
    ("policies: [{match: {}}]", "policies[0].name", "expected a policy name, got nothing"),
    (
        "policies: [{name: a}, {name: a}]",
        "policies[1].name",
        "'a' is already the name of policies[0]",
    ),
    (
        with_policy("{name: b, target: {first_reply: 4h}}"),
        "policies[1].target",
        "unknown key; use name, match, calendar, targets or pause_resolution_on",
    ),
    (
        with_policy("{name: b, targets: {first_reply: 4x}}"),
        "policies[1].targets.first_reply",
        "'4x' is not a duration like 15m, 4h or 3d",
    ),
    (
        with_policy("{name: b, targets: {first_reply: 15}}"),
        "policies[1].targets.first_reply",
        "15 is not a duration like 15m, 4h or 3d",
    ),
    (
        with_policy("{name: b, targets: {resolution: 0h}}"),
        "policies[1].targets.resolution",
        "'0h' must be longer than zero",
    ),
    (
        with_policy("{name: b, targets: {first_response: 4h}}"),
        "policies[1].targets.first_response",
        "unknown target; use first_reply, next_reply or resolution",
    ),
    (
        with_policy("{name: b, match: {group: vip}}"),
        "policies[1].match.group",
        "unknown match key; use priority, team or channel",
    ),
    (
        with_policy("{name: b, match: {priority: [high, urgnt]}}"),
        "policies[1].match.priority[1]",
        "unknown priority 'urgnt'; use low, normal, high or urgent",
    ),
    (
        with_policy("{name: b, match: {channel: fax}}"),
        "policies[1].match.channel",
        "unknown channel 'fax'; use email, chat, phone, web, social or api",
    ),
    (
        with_policy("{name: b, match: {team: []}}"),
        "policies[1].match.team",
        "expected a value or a list of values, got an empty list",
    ),
    (
        with_policy("{name: b, calendar: ofice}"),
        "policies[1].calendar",
        "unknown calendar 'ofice'; defined calendars: office",
    ),
    (
        "policies: [{name: p, calendar: office}]",
        "policies[0].calendar",
        "unknown calendar 'office'; defined calendars: none",
    ),
    (
        with_policy("{name: b, pause_resolution_on: [pending, solved]}"),
        "policies[1].pause_resolution_on[1]",
        "'solved' can't pause: solved and closed stop the resolution clock",
    ),
    (
        with_policy("{name: b, pause_resolution_on: closed}"),
        "policies[1].pause_resolution_on",
        "'closed' can't pause: solved and closed stop the resolution clock",
    ),
    (
        with_policy("{name: b, pause_resolution_on: [waiting]}"),
        "policies[1].pause_resolution_on[0]",
        "unknown status 'waiting'; use new, open, pending or on_hold",
    ),
    # calendars
    (
        with_calendar("{timezone: Europe/Berln, hours: {mon: ['09:00-17:00']}}"),
        "calendars.office.timezone",
        "unknown time zone 'Europe/Berln'",
    ),
    (
        with_calendar("{hours: {mon: ['09:00-17:00']}}"),
        "calendars.office.timezone",
        "missing: a calendar needs a time zone",
    ),
    (
        with_calendar("{timezone: UTC}"),
        "calendars.office.hours",
        "missing: a calendar needs open hours",
    ),
    (
        with_calendar("{timezone: UTC, hours: {mon: ['17:00-09:00']}}"),
        "calendars.office.hours.mon[0]",
        "'17:00-09:00' ends before it starts",
    ),
    (
        with_calendar("{timezone: UTC, hours: {tue: ['9-5']}}"),
        "calendars.office.hours.tue[0]",
        "'9-5' is not an interval like 09:00-17:00",
    ),
    (
        with_calendar("{timezone: UTC, hours: {fri: ['09:00-13:00', '08:00-09:30']}}"),
        "calendars.office.hours.fri",
        "'09:00-13:00' overlaps '08:00-09:30'",
    ),
    (
        with_calendar("{timezone: UTC, hours: {monday: ['09:00-17:00']}}"),
        "calendars.office.hours.monday",
        "unknown weekday; use mon, tue, wed, thu, fri, sat or sun",
    ),
    (
        with_calendar("{timezone: UTC, hours: {sat: [], sun: []}}"),
        "calendars.office.hours",
        "no open hours on any weekday; a calendar must be open sometime",
    ),
    (
        with_calendar("{timezone: UTC, hours: {mon: ['09:00-17:00']}, holidays: ['2026-02-30']}"),
        "calendars.office.holidays[0]",
        "'2026-02-30' is not a date like 2026-12-24",
    ),
    (
        with_calendar("{timezone: UTC, hours: {mon: ['09:00-17:00']}, holidays: ['24.12.']}"),
        "calendars.office.holidays[0]",
        "'24.12.' is not a date like 2026-12-24",
    ),
    (
        with_calendar("{timezone: UTC, hours: {mon: ['09:00-17:00']}, days_off: []}"),
        "calendars.office.days_off",
        "unknown key; use timezone, hours or holidays",
    ),
    # the account health settings
    (
        "policies: []\naccounts: {health: {detractor_nps: 11}}",
        "accounts.health.detractor_nps",
        "expected a whole number from 0 to 10, got 11",
    ),
    (
        "policies: []\naccounts: {health: {at_risk_signals: true}}",
        "accounts.health.at_risk_signals",
        "expected a whole number from 1 to 6, got True",
    ),
    (
        "policies: []\naccounts: {health: {silent_days: 30}}",
        "accounts.health.silent_days",
        "unknown health setting; use detractor_nps, unhappy_csat, sla_breaches, reopens or "
        "at_risk_signals",
    ),
    ("policies: []\naccounts: {churn: {}}", "accounts.churn", "unknown key; use health or alerts"),
    # the at-risk MRR alert's thresholds
    (
        "policies: []\naccounts: {alerts: {at_risk_mrr: {default: -1}}}",
        "accounts.alerts.at_risk_mrr.default",
        "expected an amount (a number, 0 or more), got -1",
    ),
    (
        "policies: []\naccounts: {alerts: {at_risk_mrr: {segments: {ent: lots}}}}",
        "accounts.alerts.at_risk_mrr.segments.ent",
        "expected an amount (a number, 0 or more), got 'lots'",
    ),
    (
        "policies: []\naccounts: {alerts: {at_risk_mrr: {segment: {ent: 5}}}}",
        "accounts.alerts.at_risk_mrr.segment",
        "unknown at_risk_mrr setting; use default or segments",
    ),
    (
        "policies: []\naccounts: {alerts: {churn_rate: 0.1}}",
        "accounts.alerts.churn_rate",
        "unknown account alert; use at_risk_mrr",
    ),
]


def test_at_risk_mrr_alert_settings() -> None:
    assert parse("policies: []").at_risk_mrr == AtRiskMrrLimits(None, {})
    assert parse("policies: []").at_risk_mrr.of("ent") is None  # unset: never alerted
    alerts = "{at_risk_mrr: {default: 500, segments: {ent: 5000.5}}}"
    text = f"policies: []\naccounts: {{alerts: {alerts}}}"
    limits = parse(text).at_risk_mrr
    assert (limits.of("ent"), limits.of("smb")) == (5000.5, 500.0)


def test_account_health_settings() -> None:
    assert parse("policies: []").account_health == HealthThresholds(6, 2, 2, 2, 2)
    text = "policies: []\naccounts:\n  health: {unhappy_csat: 3, sla_breaches: 4}\n"
    assert parse(text).account_health == HealthThresholds(6, 3, 4, 2, 2)


@pytest.mark.parametrize(("text", "key", "problem"), ERRORS)
def test_config_errors(text: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert (caught.value.file, caught.value.key, caught.value.problem) == ("p.yaml", key, problem)
    assert str(caught.value) == f"p.yaml: {key}: {problem}"


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_policies(missing)
    assert str(caught.value) == f"{missing}: (file): no such file"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("policies:\n  - name: a\n    match: {priority: [urgent}\n")
    with pytest.raises(ConfigError) as caught:
        load_policies(path)
    assert caught.value.file == str(path)
    assert caught.value.key == "line 3, column 30"
    assert caught.value.problem.startswith("YAML syntax error: ")


def test_unquoted_impossible_date_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "dates.yaml"
    path.write_text(
        with_calendar("{timezone: UTC, hours: {mon: ['09:00-17:00']}, holidays: [2026-02-30]}")
    )
    with pytest.raises(ConfigError) as caught:
        load_policies(path)
    assert caught.value.key == "calendars.office.holidays[0]"
    assert caught.value.problem == "'2026-02-30' is not a date like 2026-12-24"


def test_duplicate_yaml_keys_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("policies:\n  - name: a\n    targets: {first_reply: 1h, first_reply: 2h}\n")
    with pytest.raises(ConfigError) as caught:
        load_policies(path)
    assert caught.value.key == "line 3, column 32"
    assert caught.value.problem == "YAML syntax error: duplicate key 'first_reply'"


def test_load_reads_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(SPEC_EXAMPLE)
    assert summary(load_policies(str(path))) == summary(parse(SPEC_EXAMPLE))


def test_every_problem_is_reported_at_once() -> None:
    text = with_policy("{name: b, targets: {first_reply: 4x, resolution: 0h}, match: {team: []}}")
    with pytest.raises(ConfigErrors) as caught:
        parse(text)
    assert [(error.key, error.problem) for error in caught.value.errors] == [
        ("policies[1].match.team", "expected a value or a list of values, got an empty list"),
        ("policies[1].targets.first_reply", "'4x' is not a duration like 15m, 4h or 3d"),
        ("policies[1].targets.resolution", "'0h' must be longer than zero"),
    ]
    assert caught.value.key == "policies[1].match.team"  # the first problem's fields
    assert str(caught.value).splitlines() == [str(error) for error in caught.value.errors]


def test_named_teams_are_every_team_a_match_names() -> None:
    policies = parse(
        """
policies:
  - {name: a, match: {team: [billing, tech], priority: urgent}}
  - {name: b, match: {team: returns}}
  - {name: c, match: {channel: chat}}
"""
    )
    assert policies.named_teams == {"billing", "tech", "returns"}
    assert parse(SPEC_EXAMPLE).named_teams == frozenset()
