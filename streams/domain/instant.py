"""Instants and durations as integer microseconds.

The core works on integers, not datetimes: comparisons and sums are exact and cheap, and
the same numbers travel to Redis and back without rounding. An ``Instant`` is microseconds
since the Unix epoch (UTC); a ``Micros`` is a duration in microseconds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

Instant = int
Micros = int

MICROS_PER_SECOND = 1_000_000
MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND
# Later than any valid event (year 9999 is 2.5e17): a ``now`` that leaves no event out.
FOREVER = 2**62

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
DURATION_PATTERN: Final = r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$"
_DURATION = re.compile(DURATION_PATTERN)
_UNIT_MICROS = {
    "s": MICROS_PER_SECOND,
    "m": MICROS_PER_MINUTE,
    "h": 60 * MICROS_PER_MINUTE,
    "d": 24 * 60 * MICROS_PER_MINUTE,
    "w": 7 * 24 * 60 * MICROS_PER_MINUTE,
}


def parse_rfc3339(text: str) -> Instant:
    """Parse an RFC 3339 timestamp that carries an offset; raise ValueError otherwise."""
    if not _RFC3339.match(text):
        raise ValueError("not an RFC 3339 timestamp with an offset")
    # datetime handles at most 6 fractional digits: drop nanoseconds.
    head, dot, rest = text.partition(".")
    if dot:
        digits = re.match(r"\d+", rest)
        assert digits is not None
        frac = digits.group(0)
        text = f"{head}.{frac[:6].ljust(6, '0')}{rest[len(frac) :]}"
    parsed = datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    return from_datetime(parsed)


def from_datetime(moment: datetime) -> Instant:
    """Convert an aware datetime to an Instant."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: an offset is required")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS_PER_SECOND + delta.microseconds


def to_datetime(instant: Instant) -> datetime:
    """Convert an Instant to an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=instant)


def format_rfc3339(instant: Instant) -> str:
    """Format as RFC 3339 UTC with a ``Z``; fractions only when present."""
    moment = to_datetime(instant)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str) -> Micros:
    """Parse ``90s``, ``15m``, ``4h``, ``3d`` or ``1w`` into microseconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 15m, 4h or 3d")
    return round(float(match.group(1)) * _UNIT_MICROS[match.group(2)])


def seconds(micros: Micros) -> float:
    """A duration in seconds, as the snapshot and metrics report it."""
    return micros / MICROS_PER_SECOND


def floor_minute(instant: Instant) -> Instant:
    """The start of the UTC minute that holds ``instant``."""
    return instant - instant % MICROS_PER_MINUTE


def ceil_minute(instant: Instant) -> Instant:
    """The end of the UTC minute that holds ``instant`` (the next whole minute)."""
    return floor_minute(instant) + MICROS_PER_MINUTE
