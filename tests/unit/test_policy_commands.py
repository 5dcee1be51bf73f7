"""``ticketpulse policies check|schema``: every error at once, a summary, the editors' schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner, Result

from streams.cli import main
from streams.domain.policies import DEFAULT_POLICIES_PATH, SCHEMA_PATH, policies_schema

GOLDEN_POLICIES = Path(__file__).parents[1] / "golden" / "policies.yaml"

BROKEN = """\
calendars:
  office:
    timezone: Europe/Berln
    hours: {mon: ["09:00-17:00"], tue: ["17:00-09:00"]}
policies:
  - name: urgent
    match: {priority: [urgent, hgh]}
    targets: {first_reply: 15m}
  - name: standard
    calendar: ofice
    targets: {first_reply: 4x, resolution: 3d}
    pause_resolution_on: solved
    escalate: true
  - name: urgent
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["policies", *args])


def test_check_reports_every_error_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    result = run("check", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}: {line}"
        for line in [
            "calendars.office.timezone: unknown time zone 'Europe/Berln'",
            "calendars.office.hours.tue[0]: '17:00-09:00' ends before it starts",
            "policies[0].match.priority[1]: unknown priority 'hgh'; "
            "use low, normal, high or urgent",
            "policies[1].calendar: unknown calendar 'ofice'; defined calendars: office",
            "policies[1].targets.first_reply: '4x' is not a duration like 15m, 4h or 3d",
            "policies[1].pause_resolution_on: 'solved' can't pause: "
            "solved and closed stop the resolution clock",
            "policies[1].escalate: unknown key; "
            "use name, match, calendar, targets or pause_resolution_on",
            "policies[2].name: 'urgent' is already the name of policies[0]",
        ]
    ]


def test_check_names_a_missing_file(tmp_path: Path) -> None:
    result = run("check", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert result.stderr == f"{tmp_path / 'nope.yaml'}: (file): no such file\n"


def test_check_summarises_a_valid_file() -> None:
    result = run("check", str(DEFAULT_POLICIES_PATH))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        f"{DEFAULT_POLICIES_PATH}: valid: 1 calendar, 2 policies, at risk within 15m",
        "  calendar office: Europe/Berlin, 39h open a week, 2 holidays",
        "  policy urgent: priority urgent; calendar time; "
        "first_reply 15m, next_reply 30m, resolution 4h",
        "  policy standard: every ticket; calendar office; "
        "first_reply 4h, next_reply 8h, resolution 3d; resolution paused on pending",
    ]


def test_the_golden_policies_are_valid() -> None:
    result = run("check", str(GOLDEN_POLICIES))
    assert result.exit_code == 0, result.output
    assert "valid: 1 calendar, 3 policies" in result.stdout


def test_check_warns_of_a_policy_after_the_catch_all(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("policies:\n  - {name: all, match: {}}\n  - {name: vip, match: {team: vip}}\n")
    result = run("check", str(path))
    assert result.exit_code == 0
    assert (
        result.stderr
        == f"{path}: warning: policy vip comes after the catch-all all and never applies\n"
    )


# -- the JSON Schema ----------------------------------------------------------------------------


def test_committed_schema_is_the_generated_one() -> None:
    """Regenerate with: ticketpulse policies schema > streams/data/policies.schema.json"""
    assert SCHEMA_PATH.read_text() == json.dumps(policies_schema(), indent=2) + "\n"
    assert run("schema").stdout == SCHEMA_PATH.read_text()


@pytest.mark.parametrize("path", [DEFAULT_POLICIES_PATH, GOLDEN_POLICIES])
def test_schema_accepts_the_shipped_files(path: Path) -> None:
    jsonschema.validate(yaml.safe_load(path.read_text()), json.loads(SCHEMA_PATH.read_text()))


@pytest.mark.parametrize(
    "document",
    [
        {"policies": [{"name": "a", "targets": {"first_reply": "4x"}}]},
        {"policies": [{"name": "a", "targets": {"first_response": "4h"}}]},
        {"policies": [{"name": "a", "match": {"priority": "hgh"}}]},
        {"policies": [{"name": "a", "pause_resolution_on": ["solved"]}]},
        {"calendars": {"c": {"timezone": "UTC", "hours": {"mon": "9-5"}}}, "policies": []},
        {"policies": [], "polices": []},
        {"at_risk_within": "15m"},
    ],
)
def test_schema_rejects_what_the_checker_rejects(document: object) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json.loads(SCHEMA_PATH.read_text()))
