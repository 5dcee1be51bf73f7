"""``ticketpulse policies check|schema``: validate an SLA policy file before a worker reads it,
and print the JSON Schema editors use to complete and check it.

``check`` reports every problem of the file at once (one ``<file>: <key>: <problem>`` line
each) and, for a valid file, a short summary of what the worker would do with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from streams.domain.calendars import ALWAYS_OPEN, BusinessCalendar
from streams.domain.facts import SlaTarget
from streams.domain.instant import MICROS_PER_SECOND, Micros
from streams.domain.policies import Policy, PolicySet, load_policies, policies_schema
from streams.errors import ConfigError, ConfigErrors

_UNITS = (("w", 7 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


def format_duration(amount: Micros) -> str:
    """The largest unit that divides the amount: ``15m``, ``4h``, ``3d``; else seconds."""
    for unit, seconds in _UNITS:
        if amount and amount % (seconds * MICROS_PER_SECOND) == 0:
            return f"{amount // (seconds * MICROS_PER_SECOND)}{unit}"
    return f"{amount / MICROS_PER_SECOND:g}s"


def _count(count: int, word: str, words: str) -> str:
    return f"{count} {word if count == 1 else words}"


def _calendar_line(calendar: BusinessCalendar) -> str:
    minutes = sum(shift.end - shift.start for day in calendar.hours for shift in day)
    open_hours = f"{minutes / 60:g}h open a week"
    return (
        f"calendar {calendar.name}: {calendar.timezone}, {open_hours}, "
        f"{_count(len(calendar.holidays), 'holiday', 'holidays')}"
    )


def _policy_line(policy: Policy) -> str:
    match = (
        ", ".join(f"{key} {'|'.join(sorted(values))}" for key, values in policy.match.items())
        or "every ticket"
    )
    calendar = (
        "calendar time" if policy.calendar is ALWAYS_OPEN else f"calendar {policy.calendar.name}"
    )
    targets = (
        ", ".join(
            f"{target.value} {format_duration(policy.targets[target])}"
            for target in SlaTarget
            if target in policy.targets
        )
        or "no targets"
    )
    parts = [match, calendar, targets]
    if policy.pause_resolution_on:
        paused = "|".join(sorted(status.value for status in policy.pause_resolution_on))
        parts.append(f"resolution paused on {paused}")
    return f"policy {policy.name}: {'; '.join(parts)}"


def summary(policy_set: PolicySet) -> list[str]:
    """What a valid file sets up, one line per calendar and per policy."""
    lines = [
        f"{_count(len(policy_set.calendars), 'calendar', 'calendars')}, "
        f"{_count(len(policy_set.policies), 'policy', 'policies')}, "
        f"at risk within {format_duration(policy_set.at_risk_within)}"
    ]
    lines += [_calendar_line(calendar) for calendar in policy_set.calendars.values()]
    lines += [_policy_line(policy) for policy in policy_set.policies]
    return lines


def unreachable(policy_set: PolicySet) -> list[str]:
    """Policies after a catch-all (``match: {}``): valid, but never chosen."""
    for index, policy in enumerate(policy_set.policies):
        if not policy.match:
            return [
                f"policy {later.name} comes after the catch-all {policy.name} and never applies"
                for later in policy_set.policies[index + 1 :]
            ]
    return []


@click.group()
def policies() -> None:
    """Check an SLA policy file, or print its JSON Schema (docs/policies.md)."""


@policies.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check(file: Path) -> None:
    """Validate FILE: every problem with its key path (exit 1), or a summary (exit 0)."""
    try:
        policy_set = load_policies(file)
    except ConfigError as error:
        problems = error.errors if isinstance(error, ConfigErrors) else (error,)
        for problem in problems:
            click.echo(str(problem), err=True)
        raise SystemExit(1) from None
    click.echo(f"{file}: valid: " + "\n  ".join(summary(policy_set)))
    for warning in unreachable(policy_set):
        click.echo(f"{file}: warning: {warning}", err=True)


@policies.command()
def schema() -> None:
    """Print the JSON Schema of the policy file (also at streams/data/policies.schema.json)."""
    click.echo(json.dumps(policies_schema(), indent=2))
