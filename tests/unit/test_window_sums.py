"""Per-partition window sums as published to Redis, and their merge across partitions."""

from __future__ import annotations

from pydantic_core import to_json

from streams.domain.facts import Fact, FactDiff, FactKind
from streams.domain.instant import MICROS_PER_MINUTE, parse_rfc3339
from streams.domain.windows import WINDOWS, Windows
from streams.live.window_sums import (
    add_window_sums,
    empty_window_sums,
    encode_window_sums,
    merge_window_sums,
)

T0 = parse_rfc3339("2026-11-02T09:00:00Z")
AS_OF = T0 + 10 * MICROS_PER_MINUTE


def partition(*facts: Fact) -> bytes:
    windows = Windows()
    windows.apply(FactDiff(added=facts))
    return encode_window_sums(AS_OF, {name: windows.window(name, AS_OF) for name in WINDOWS})


def test_partitions_merge_into_the_sum_of_their_counters() -> None:
    reply = Fact(T0, FactKind.FIRST_REPLY, 90_000_000, "Zürich-support", "chat", "high", "ag-ø")
    created = Fact(T0 + 1, FactKind.CREATED, 0, "Zürich-support", "chat", "high")
    merged = merge_window_sums([partition(reply, created), partition(created)])
    everything = Windows()
    everything.apply(FactDiff(added=(reply, created, created)))
    for name in WINDOWS:
        expected = {dim: dict(c) for dim, c in everything.window(name, AS_OF).items()}
        assert merged[name] == expected
    assert merged["1h"][("team", "Zürich-support")]["created"] == 2
    assert merged["1h"][("agent", "ag-ø")]["first_reply:n"] == 1


def test_counters_that_cancel_across_partitions_disappear() -> None:
    created = Fact(T0, FactKind.CREATED, 0, "billing", "email", "low")
    windows = Windows()
    windows.apply(FactDiff(retracted=(created,)))  # a late correction in another partition
    minus = encode_window_sums(AS_OF, {name: windows.window(name, AS_OF) for name in WINDOWS})
    merged = merge_window_sums([partition(created), minus])
    assert merged == {name: {} for name in WINDOWS}


def test_blobs_of_the_earlier_row_format_still_merge() -> None:
    """Rows of [dim, value, counter, count], as workers before the wire format publish."""
    reply = Fact(T0, FactKind.FIRST_REPLY, 90_000_000, "billing", "chat", "high", "ag-1")
    windows = Windows()
    windows.apply(FactDiff(added=(reply,)))
    sums = {name: windows.window(name, AS_OF) for name in WINDOWS}
    rows = {
        name: [[d, v, c, n] for (d, v), counters in dims.items() for c, n in counters.items()]
        for name, dims in sums.items()
    }
    legacy = to_json({"as_of": AS_OF, "windows": rows})
    merged = merge_window_sums([legacy, partition(reply)])
    doubled = Windows()
    doubled.apply(FactDiff(added=(reply, reply)))
    for name in WINDOWS:
        assert merged[name] == {dim: dict(c) for dim, c in doubled.window(name, AS_OF).items()}


def test_in_memory_sums_are_copied_not_shared() -> None:
    """The publisher merges its own partitions from memory; a later batch must not move them."""
    created = Fact(T0, FactKind.CREATED, 0, "billing", "email", "low")
    reply = Fact(T0, FactKind.FIRST_REPLY, 60_000_000, "billing", "email", "low", "ag-2")
    windows = Windows()
    windows.apply(FactDiff(added=(created, reply)))
    merged = empty_window_sums()
    add_window_sums(merged, {name: windows.window(name, AS_OF) for name in WINDOWS})
    before = {dim: dict(c) for dim, c in merged["1h"].items()}
    windows.apply(FactDiff(added=(reply, created)))
    windows.window("1h", AS_OF)
    assert {dim: dict(c) for dim, c in merged["1h"].items()} == before
    assert merged["1h"][("agent", "ag-2")]["first_reply:n"] == 1
