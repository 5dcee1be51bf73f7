"""Pure helpers of the pipeline benchmark: summaries, percentiles, snapshot diffs, tables.

Nothing here talks to Kafka, Redis or a process, so ``tests/unit/test_bench_stats.py`` checks
it in milliseconds.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Summary:
    """Median and range of repeated measurements."""

    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        data = sorted(values)
        if not data:
            return cls(math.nan, math.nan, math.nan, 0)
        return cls(statistics.median(data), data[0], data[-1], len(data))

    def text(self, fmt: str = ",.0f", unit: str = "") -> str:
        """``median (low..high)``; the range is left out for a single value."""
        if not self.count:
            return "n/a"
        middle = f"{self.median:{fmt}}{unit}"
        if self.count == 1:
            return middle
        return f"{middle} ({self.low:{fmt}}..{self.high:{fmt}})"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` (0..100) percentile by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    rank = (len(data) - 1) * q / 100
    below = math.floor(rank)
    above = min(below + 1, len(data) - 1)
    return data[below] + (data[above] - data[below]) * (rank - below)


def ratio(numerator: float, denominator: float) -> float:
    if not denominator or math.isnan(denominator) or math.isnan(numerator):
        return math.nan
    return numerator / denominator


def count_latencies(
    produced: Sequence[float], seen: Sequence[tuple[float, int]], since: float = -math.inf
) -> tuple[list[float], int]:
    """Latency of the k-th counted item: first time a reading showed at least k, minus its send.

    ``produced[k-1]`` is when the k-th item was sent; ``seen`` is (time, count) readings in time
    order. Items sent before ``since`` (a warm-up) count towards k but are not reported.
    Items never seen are left out and counted as the second value. This assumes the
    consumer counts items roughly in send order, which holds within a partition and, across
    partitions, to within one batch.
    """
    times = [t for t, _ in seen]
    counts = [c for _, c in seen]
    best: list[int] = []
    peak = -1
    for count in counts:  # a count may drop for a moment (a stale read): keep the peak so far
        peak = max(peak, count)
        best.append(peak)
    out: list[float] = []
    missing = 0
    for k, sent in enumerate(produced, start=1):
        if sent < since:
            continue
        index = bisect.bisect_left(best, k)
        if index == len(best):
            missing += 1
            continue
        out.append(max(times[index] - sent, 0.0))
    return out, missing


def snapshot_diff(
    expected: Any, actual: Any, path: str = "", limit: int = 20
) -> tuple[int, list[str]]:
    """How many leaves differ, and the first ``limit`` as ``path: expected != actual``."""
    lines: list[str] = []
    total = _diff(expected, actual, path or "$", lines, limit)
    return total, lines


def _diff(expected: Any, actual: Any, path: str, lines: list[str], limit: int) -> int:
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        total = 0
        for key in sorted(set(expected) | set(actual), key=str):
            where = f"{path}.{key}"
            if key not in actual:
                total += 1
                _note(lines, limit, f"{where}: missing (expected {_short(expected[key])})")
            elif key not in expected:
                total += 1
                _note(lines, limit, f"{where}: unexpected {_short(actual[key])}")
            else:
                total += _diff(expected[key], actual[key], where, lines, limit)
        return total
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return sum(
            _diff(e, a, f"{path}[{i}]", lines, limit)
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
        )
    if expected == actual:
        return 0
    _note(lines, limit, f"{path}: expected {_short(expected)}, got {_short(actual)}")
    return 1


def _note(lines: list[str], limit: int, text: str) -> None:
    if len(lines) < limit:
        lines.append(text)


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return out


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


@dataclass(frozen=True, slots=True)
class Profile:
    """Shares of samples: own time per function, inclusive time per ``streams/`` function."""

    own: list[tuple[str, float]]
    inclusive: list[tuple[str, float]]
    samples: int


def _function(frame: str) -> str:
    """``name (path/file.py:12)`` -> ``name (file.py)``: one row per function, not per line."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    short = path.split("site-packages/")[-1].split("/work/main/")[-1]
    return f"{name} ({short})" if where else name


_COMPILED = "ticketpulse_domain__mypyc"  # the library of the mypyc build (py-spy --native)


def summarise_profile(raw: str, top: int) -> Profile:
    """py-spy ``--format raw`` (collapsed stacks ``a;b;c count``) to per-function shares."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";")]
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            if "streams/" in frame or _COMPILED in frame:
                inclusive[frame] = inclusive.get(frame, 0) + count
        total += count
    if not total:
        return Profile([], [], 0)

    # The entry point and the CLI command hold every sample: they say nothing, leave them out.
    root = max(inclusive.values(), default=0)
    inclusive = {name: count for name, count in inclusive.items() if count < root}

    def shares(counts: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)[:top]
        return [(name, count / total) for name, count in ranked]

    return Profile(shares(own), shares(inclusive), total)
