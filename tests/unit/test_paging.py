"""The paging both at-risk lists share: parameters, page size bounds and cursors."""

from __future__ import annotations

import pytest

from streams.live.paging import (
    DEFAULT_LIMIT,
    MAX_CURSOR,
    MAX_LIMIT,
    Paging,
    decode_token,
    encode_token,
    parse_paging,
)

KNOWN = ("limit", "cursor", "team")


def pair_cursor(token: str) -> tuple[int, str] | None:
    """A list whose position is a number and an id."""
    value = decode_token(token)
    if isinstance(value, list) and len(value) == 2 and type(value[0]) is int:
        return value[0], str(value[1])
    return None


def parse(*pairs: tuple[str, str]) -> Paging[tuple[int, str]] | str:
    return parse_paging(pairs, KNOWN, ("team",), pair_cursor)


def test_defaults_and_every_parameter() -> None:
    assert parse() == Paging({}, DEFAULT_LIMIT, None)
    cursor = encode_token((7, "T-1"))
    given = {"limit": "3", "cursor": cursor, "team": "billing"}
    assert parse(*given.items()) == Paging(given, 3, (7, "T-1"))


@pytest.mark.parametrize("limit", ["1", "0001", "999", str(MAX_LIMIT)])
def test_limits_from_1_to_the_maximum_are_read(limit: str) -> None:
    page = parse(("limit", limit))
    assert isinstance(page, Paging) and page.limit == int(limit)


@pytest.mark.parametrize("limit", ["0", str(MAX_LIMIT + 1), "01000", "-1", "+5", "", "ten", "²"])
def test_other_limits_are_errors(limit: str) -> None:
    assert parse(("limit", limit)) == f"limit: must be an integer from 1 to 1000, not {limit!r}"


@pytest.mark.parametrize(
    ("pairs", "error"),
    [
        ([("bogus", "1")], "bogus: unknown parameter; known: limit, cursor, team"),
        ([("team", "a"), ("team", "b")], "team: given more than once"),
        ([("team", "")], "team: must not be empty"),
        # the first bad one is named: names, then emptiness, then limit, then cursor
        ([("cursor", "x"), ("limit", "0"), ("team", ""), ("x", "")], "x: unknown parameter"),
        ([("cursor", "x"), ("limit", "0"), ("team", "")], "team: must not be empty"),
        ([("cursor", "x"), ("limit", "0")], "limit: must be an integer"),
    ],
)
def test_the_first_bad_parameter_is_named(pairs: list[tuple[str, str]], error: str) -> None:
    result = parse(*pairs)
    assert isinstance(result, str) and result.startswith(error), result


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "!!!",
        "",
        encode_token((7,)),  # a token of another shape: another list's cursor
        encode_token(("7", "T-1")),
        encode_token((7, "T")) + "A" * MAX_CURSOR,  # longer than any cursor made
    ],
)
def test_a_cursor_the_list_did_not_make_is_refused(token: str) -> None:
    assert parse(("cursor", token)) == "cursor: not a next_cursor of this API"


def test_tokens_round_trip_url_safe_and_unpadded() -> None:
    values = [2**53 - 1, "T-ü/1?+"]
    token = encode_token(values)
    assert token.isascii() and not set(token) & set("=/+")
    assert decode_token(token) == values
    assert decode_token("A" * (MAX_CURSOR + 1)) is None
