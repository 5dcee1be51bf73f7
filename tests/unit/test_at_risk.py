"""``GET /sla/at-risk`` without I/O: its parameters, its order and its pages."""

from __future__ import annotations

import base64

import pytest

from streams.domain.facts import SlaTarget
from streams.live.at_risk import (
    BREACHED,
    DEFAULT_LIMIT,
    STATES,
    AtRiskQuery,
    decode_cursor,
    encode_cursor,
    next_entries,
    parse_query,
    position,
)
from streams.live.stores.protocol import ClockEntry

FR, RES = SlaTarget.FIRST_REPLY, SlaTarget.RESOLUTION
NOW = 1_800_000_000_000_000
MIN = 60_000_000
UNTIL = NOW + 15 * MIN


def test_defaults() -> None:
    assert parse_query([]) == AtRiskQuery()
    assert AtRiskQuery().limit == DEFAULT_LIMIT and AtRiskQuery().states == STATES


def test_every_parameter_is_read() -> None:
    cursor = encode_cursor((NOW, "T-1", "resolution"))
    query = parse_query(
        [
            ("limit", "7"),
            ("cursor", cursor),
            ("state", "breached"),
            ("target", "resolution"),
            ("team", "billing"),
            ("priority", "urgent"),
            ("agent", "ana"),
        ]
    )
    assert query == AtRiskQuery(
        limit=7,
        after=(NOW, "T-1", "resolution"),
        states=(BREACHED,),
        targets=(RES,),
        team="billing",
        priority="urgent",
        agent="ana",
    )


@pytest.mark.parametrize(
    ("pairs", "error"),
    [
        ([("team", "billing"), ("bogus", "1")], "bogus: unknown parameter"),
        ([("teams", "billing")], "teams: unknown parameter"),
        ([("team", "a"), ("team", "b")], "team: given more than once"),
        ([("team", "")], "team: must not be empty"),
        ([("agent", "")], "agent: must not be empty"),
        ([("limit", "0")], "limit: must be an integer from 1 to 1000"),
        ([("limit", "1001")], "limit: must be an integer from 1 to 1000"),
        ([("limit", "-1")], "limit: must be an integer from 1 to 1000"),
        ([("limit", "ten")], "limit: must be an integer from 1 to 1000"),
        ([("limit", "²")], "limit: must be an integer from 1 to 1000"),
        ([("limit", "9" * 5000)], "limit: must be an integer from 1 to 1000"),
        ([("state", "late")], "state: unknown 'late'; one of breached, at_risk"),
        ([("target", "reply")], "target: unknown 'reply'"),
        ([("priority", "top")], "priority: unknown 'top'"),
        ([("cursor", "nonsense")], "cursor: not a next_cursor"),
    ],
)
def test_unknown_parameters_and_bad_values_are_errors(
    pairs: list[tuple[str, str]], error: str
) -> None:
    result = parse_query(pairs)
    assert isinstance(result, str) and result.startswith(error), result


def test_cursor_round_trip_and_tampering() -> None:
    at = (NOW, "T-ü/1", "next_reply")
    token = encode_cursor(at)
    assert token.isascii() and "=" not in token and "/" not in token and "+" not in token
    assert decode_cursor(token) == at
    nested = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    too_late = encode_cursor((2**53, "T", "first_reply"))
    for bad in ("", "e30", encode_cursor((NOW, "T", "bogus")), "W1sxXV0", "!!!", "é", nested):
        assert decode_cursor(bad) is None, bad[:20]
    assert decode_cursor(too_late) is None


def entry(minutes: float, ticket: str, target: SlaTarget = FR, *, late: bool = False) -> ClockEntry:
    return ClockEntry(NOW + int(minutes * MIN), ticket, target, 0, late)


# breached in the late index, overdue but not yet scanned (due), at risk, and one beyond
LATE_1 = entry(-30, "L1", late=True)
LATE_2 = entry(-5, "L2", RES, late=True)
OVERDUE = entry(-1, "O1")
SOON = entry(2, "S1")
SOON_TIE_A = entry(10, "S2", RES)
SOON_TIE_B = entry(10, "S3")
BEYOND = entry(16, "B1")
ALL = [SOON_TIE_B, BEYOND, LATE_2, SOON, OVERDUE, SOON_TIE_A, LATE_1]
LISTED = [LATE_1, LATE_2, OVERDUE, SOON, SOON_TIE_A, SOON_TIE_B]


def test_order_is_breached_longest_overdue_first_then_at_risk_by_deadline() -> None:
    assert next_entries(ALL, None, STATES, NOW, UNTIL, 100) == (LISTED, False)
    legacy = ClockEntry(0, "X", FR, 3, True)  # breached, deadline known to its record only
    assert next_entries([*ALL, legacy], None, STATES, NOW, UNTIL, 1) == ([legacy], True)


def test_states_filter() -> None:
    assert next_entries(ALL, None, (BREACHED,), NOW, UNTIL, 100)[0] == [LATE_1, LATE_2, OVERDUE]
    assert next_entries(ALL, None, ("at_risk",), NOW, UNTIL, 100)[0] == [
        SOON,
        SOON_TIE_A,
        SOON_TIE_B,
    ]


def test_pages_follow_the_cursor_without_gaps_or_repeats() -> None:
    pages: list[list[ClockEntry]] = []
    after = None
    more = True
    while more:
        page, more = next_entries(ALL + ALL, after, STATES, NOW, UNTIL, 2)  # read twice: once
        pages.append(page)
        after = position(page[-1])
    assert pages == [LISTED[0:2], LISTED[2:4], LISTED[4:6]]


def test_a_page_starts_after_its_cursor_even_when_the_list_changed() -> None:
    after = position(SOON)
    gone = [e for e in ALL if e is not SOON_TIE_A]
    new_before = entry(1, "N1")  # arrived before the cursor: not shown on later pages
    page, more = next_entries([*gone, new_before], after, STATES, NOW, UNTIL, 10)
    assert page == [SOON_TIE_B] and not more


def test_clock_range_reads_only_what_the_states_need() -> None:
    both = AtRiskQuery().clock_range((NOW - MIN, "T", "first_reply"), NOW, UNTIL, 5)
    assert (both.start, both.late, both.due_from, both.due_until) == (NOW - MIN, True, None, UNTIL)
    breached = AtRiskQuery(states=(BREACHED,)).clock_range(None, NOW, UNTIL, 5)
    assert (breached.late, breached.due_from, breached.due_until) == (True, None, NOW - 1)
    at_risk = AtRiskQuery(states=("at_risk",)).clock_range(None, NOW, UNTIL, 5)
    assert (at_risk.late, at_risk.due_from, at_risk.due_until) == (False, NOW, UNTIL)
