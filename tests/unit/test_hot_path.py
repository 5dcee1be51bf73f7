"""The batch hot path does no per-event Python-level work that a lookup can do instead.

An enum member's ``.value`` is a Python-level property of ``Enum``: a Python call even from
the mypyc-compiled planner (about 13,000 instructions per event when the planner, the record
encoder and the evaluation each read one per event, measured with callgrind). These tests
count the calls of that property (``sys.setprofile`` sees Python functions called from
compiled code too) while a batch of the golden events is decoded and planned.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from streams.domain.events import TEXT, Channel, EventType, Priority, Status, Topic
from streams.domain.instant import parse_rfc3339
from streams.domain.policies import default_policies
from streams.live.batch import Message, PartitionState, decode_batch, plan

GOLDEN = Path(__file__).parent.parent / "golden"
_ENUM_FILE = enum.__file__


@contextmanager
def enum_value_reads() -> Iterator[list[int]]:
    """Counts the calls of ``Enum.value`` (the property's getter) inside the block."""
    count = [0]

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_name == "value" and code.co_filename == _ENUM_FILE:
            count[0] += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield count
    finally:
        sys.setprofile(previous)


def test_enum_text_is_each_members_value() -> None:
    for members in (EventType, Topic, Channel, Priority, Status):
        for member in members:
            assert TEXT[member] == member.value
            assert type(TEXT[member]) is str


def test_planning_a_batch_reads_no_enum_value_per_event() -> None:
    lines = (GOLDEN / "events.jsonl").read_bytes().splitlines()
    messages = [Message("support.tickets", 0, i, line) for i, line in enumerate(lines)]
    state = PartitionState(0)
    policies = default_policies()
    now = parse_rfc3339("2026-11-03T12:00:00Z")
    with enum_value_reads() as reads:
        batch = decode_batch(messages, state.offsets)
        state.load({}, state.missing_for(batch), policies)
        result = plan(state, batch, policies, now)
    assert len(batch.events) > 20 and result.writes.tickets  # records were encoded
    assert sum(result.outcomes.values()) == len(messages)
    assert reads[0] == 0
