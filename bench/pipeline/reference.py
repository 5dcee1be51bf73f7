"""The gate: a snapshot compared with ``ticketpulse replay`` of the same events."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.pipeline.common import log
from bench.pipeline.stats import snapshot_diff
from streams.domain.instant import Instant, format_rfc3339, parse_rfc3339
from streams.domain.policies import default_policies
from streams.domain.snapshot import dumps_snapshot
from streams.live.partition_replay import PartitionReplay, replay_log


class Reference:
    """``ticketpulse replay`` of the moved data set, for any ``as_of`` after its last event.

    The file is replayed once, to the data's end, into a ``PartitionReplay`` (the worker's
    planner over the memory store); each later ``at`` then does what the worker's breach scan
    does: the tickets whose wake-up time has come are evaluated at ``as_of``, and the snapshot
    is assembled at ``as_of``, equal to ``ticketpulse replay --at`` (``cli_replay`` checks it
    once per run). An instant before the data's end replays the file again up to it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.policies = default_policies()
        self.cache: dict[Instant, dict[str, Any]] = {}
        self._build(None)

    def _build(self, at: Instant | None) -> None:
        self.replay = PartitionReplay(self.policies)
        with self.path.open("rb") as lines:
            result = replay_log(lines, self.policies, at, replay=self.replay)
        self.evaluated = parse_rfc3339(result.snapshot["as_of"])

    def at(self, as_of: Instant) -> dict[str, Any]:
        if as_of not in self.cache:
            if as_of < self.evaluated:
                self._build(as_of)
            replay = self.replay
            replay.wake_due(as_of)
            self.evaluated = as_of
            snapshot = replay.snapshot(as_of)
            if replay.book.events:  # the ``accounts`` section, as replay adds it
                report, _ = replay.account_report(as_of)
                snapshot = snapshot.with_accounts(report.section)
            self.cache[as_of] = normal(snapshot)
        return self.cache[as_of]


def normal(snapshot: Any) -> dict[str, Any]:
    """A snapshot as JSON reads it back (tuples become lists, keys strings)."""
    if isinstance(snapshot, bytes | str):
        loaded: dict[str, Any] = json.loads(snapshot)
        return loaded
    loaded = json.loads(dumps_snapshot(snapshot))
    return loaded


def cli_replay(events: Path, as_of: Instant, out: Path) -> dict[str, Any]:
    """The real ``ticketpulse replay FILE --at T``, once per run, to check the reference."""
    subprocess.run(
        [
            str(Path(sys.executable).parent / "ticketpulse"),
            "replay",
            str(events),
            "--at",
            format_rfc3339(as_of),
            "--out",
            str(out),
            "--indent",
            "0",
            "--max-errors",
            "0",
        ],
        check=True,
        capture_output=True,
    )
    return normal(out.read_text())


@dataclass
class Gate:
    ok: bool
    as_of: str
    differing: int = 0
    lines: list[str] = field(default_factory=list)
    tries: int = 1

    def text(self) -> str:
        if self.ok:
            return f"equal at {self.as_of}" + (f" (try {self.tries})" if self.tries > 1 else "")
        return f"**{self.differing} values differ** at {self.as_of}"


def compare(reference: Reference, snapshot: dict[str, Any], tries: int = 1) -> Gate:
    as_of = snapshot.get("as_of", "")
    expected = reference.at(parse_rfc3339(as_of))
    total, lines = snapshot_diff(expected, snapshot)
    return Gate(total == 0, as_of, total, lines, tries)


def live_gate(
    reference: Reference, read: Callable[[], dict[str, Any] | None], interval: float
) -> Gate:
    """Compare the published snapshot with replay at its ``as_of``.

    Two honest reasons for a first difference are retried before a failure is reported:
    the snapshot read may predate the last batch (publishing takes seconds under load), so
    it is read again every 3 s for 15 s; and a live snapshot counts SLA clocks at the wall
    clock while replay counts at ``as_of`` (the next whole minute), so a deadline between the
    two differs, so it is then read twice more at second 58.7 of a minute.
    """
    time.sleep(interval * 2.5)  # the last batch's publication
    gate: Gate | None = None
    waits = [0.0] + [3.0] * 5 + [-1.0, -1.0]  # -1: until second 58.7 of a minute
    for attempt, wait in enumerate(waits, start=1):
        time.sleep(wait if wait >= 0 else (58.7 - time.time() % 60) % 60)
        snapshot = read()
        if snapshot is None:
            gate = Gate(False, "", 1, ["no snapshot in Redis"], attempt)
            continue
        gate = compare(reference, snapshot, attempt)
        if gate.ok:
            return gate
        log(f"  gate try {attempt}: {gate.differing} values differ at {gate.as_of}, e.g.")
        for line in gate.lines[:3]:
            log(f"    {line}")
    assert gate is not None
    return gate
