"""Seek back or apply: a batch must continue what Redis applied, gaps only after a seek."""

from __future__ import annotations

import pytest

from streams.live.batch import Message
from streams.live.continuity import first_offsets, seek_back

T, C = "t.tickets", "t.contacts"


@pytest.mark.parametrize(
    ("first", "applied", "positioned", "wanted"),
    [
        # continues Redis: apply
        ({T: 11}, {T: 10}, {}, {}),
        # starts at or before Redis's offset (redelivery, the first records are skipped)
        ({T: 5}, {T: 10}, {}, {}),
        ({T: 0}, {}, {}, {}),
        # fetched past Redis: Redis went back (restored from an older copy): seek back
        ({T: 120}, {T: 10}, {}, {T: 11}),
        ({T: 7}, {}, {}, {T: 0}),  # Redis lost the partition's offsets altogether
        # ...also when the consumer was positioned, but somewhere else
        ({T: 120}, {T: 10}, {T: 101}, {T: 11}),
        ({T: 120}, {T: 10}, {C: 11}, {T: 11}),
        # positioned at exactly Redis's offset + 1, the first record is further: a real gap
        # (retention deleted the records in between, or a transaction's commit marker)
        ({T: 120}, {T: 10}, {T: 11}, {}),
        ({T: 7}, {}, {T: 0}, {}),
        # per topic of the partition: only the one that does not continue
        ({T: 11, C: 50}, {T: 10, C: 20}, {}, {C: 21}),
        ({T: 30, C: 50}, {T: 10, C: 20}, {T: 11}, {C: 21}),
    ],
)
def test_seek_back_or_apply(
    first: dict[str, int],
    applied: dict[str, int],
    positioned: dict[str, int],
    wanted: dict[str, int],
) -> None:
    assert seek_back(first, applied, positioned) == wanted


def test_first_offsets_are_the_lowest_per_topic() -> None:
    messages = [Message(T, 0, 9, b""), Message(C, 0, 4, b""), Message(T, 0, 7, b"")]
    assert first_offsets(messages) == {T: 7, C: 4}
    assert first_offsets([]) == {}
