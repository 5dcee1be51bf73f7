"""The accounts section's segment and manager maps are bounded (``account_folding``).

A producer naming a new segment per account, or a new manager per touch, must not grow the
snapshot without bound: beyond 1,000 segments and 5,000 managers the least busy share the row
``(other)``, which sums theirs, so totals stay whole; the live worker folds as replay does.
"""

from __future__ import annotations

import json
from typing import Any

from streams.domain.folding import OTHER
from streams.live.stores.memory import MemoryStore
from streams.replay import replay_lines
from tests.unit.test_worker_accounts import AS_OF, POLICIES, live_snapshot

SEGMENTS = 1_003
MANAGERS = 5_004
TOUCHES_PER_ACCOUNT = 834  # within the 1,000 events an account may have


def event(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def hostile_lines() -> list[bytes]:
    lines = []
    for n in range(SEGMENTS):
        lines.append(
            event(
                event_id=f"c{n}",
                type="account.converted",
                occurred_at="2026-11-20T10:00:00Z",
                account_id=f"A{n}",
                mrr=n + 1,
                segment=f"segment {n}",
            )
        )
    for m in range(MANAGERS):
        lines.append(
            event(
                event_id=f"t{m}",
                type="account.touched",
                occurred_at="2026-11-25T10:00:00Z",
                account_id=f"A{m // TOUCHES_PER_ACCOUNT}",
                channel="email",
                manager=f"manager {m}",
            )
        )
    return lines


def test_segments_and_managers_beyond_the_limits_share_other() -> None:
    section = replay_lines(iter(hostile_lines()), POLICIES, AS_OF).snapshot["accounts"]
    now, week = section["now"], section["windows"]["7d"]
    assert len(now["by_segment"]) == 1_001
    assert now["by_segment"][OTHER]["customers"] == 3  # one customer each: the 3 sorting last
    assert sum(row["customers"] for row in now["by_segment"].values()) == now["customers"]
    assert sum(row["mrr"] for row in now["by_segment"].values()) == now["mrr"]
    assert len(week["by_manager"]) == 5_001
    assert week["by_manager"][OTHER]["touches"] == 4
    touches = sum(row["touches"] for row in week["by_manager"].values())
    assert touches == week["overall"]["touches"] == MANAGERS
    month = section["windows"]["30d"]
    assert len(month["by_segment"]) == 1_001
    assert sum(r["conversions"] for r in month["by_segment"].values()) == SEGMENTS


async def test_the_live_worker_folds_as_replay_does() -> None:
    lines = hostile_lines()
    want = replay_lines(iter(lines), POLICIES, AS_OF).snapshot
    assert await live_snapshot(MemoryStore(), lines) == want
