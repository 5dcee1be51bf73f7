"""The paging every list of the API shares: its parameters, its page size and its cursor.

A cursor is an opaque, URL-safe token for the position of the last row listed; each list says
what a position is (``decode_cursor``), so a cursor of one list is refused by another. The
next page starts strictly after it, so rows that come or go between pages neither repeat nor
shift them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_CURSOR = 4096  # characters: a position (an id and a number or two), base64-encoded

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Paging(Generic[P]):
    """A list request's parameters by name, its page size and the position it starts after."""

    given: dict[str, str]
    limit: int
    after: P | None


def parse_paging(
    pairs: Iterable[tuple[str, str]],
    known: Sequence[str],
    non_empty: Sequence[str],
    decode_cursor: Callable[[str], P | None],
) -> Paging[P] | str:
    """The query string's parameters, or the error of the first bad one (for a 400): each of
    ``known`` at most once, ``non_empty`` ones not empty, ``limit`` and ``cursor``."""
    given: dict[str, str] = {}
    for name, value in pairs:
        if name not in known:
            return f"{name}: unknown parameter; known: {', '.join(known)}"
        if name in given:
            return f"{name}: given more than once"
        given[name] = value
    for name in non_empty:
        if given.get(name) == "":
            return f"{name}: must not be empty"
    raw_limit = given.get("limit", str(DEFAULT_LIMIT))
    digits = raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 4
    if not digits or not 1 <= int(raw_limit) <= MAX_LIMIT:
        return f"limit: must be an integer from 1 to {MAX_LIMIT}, not {raw_limit!r}"
    after = None
    if "cursor" in given:
        after = decode_cursor(given["cursor"])
        if after is None:
            return "cursor: not a next_cursor of this API"
    return Paging(given, int(raw_limit), after)


def encode_token(values: Sequence[Any]) -> str:
    """An opaque, URL-safe token for a position (a list of JSON values)."""
    text = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def decode_token(token: str) -> Any:
    """What ``encode_token`` encoded, or None for a token it cannot have made."""
    if len(token) > MAX_CURSOR:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return None
