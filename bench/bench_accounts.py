"""Replay throughput with account events mixed in: the cost of the accounts part.

    .venv/bin/python bench/bench_accounts.py [--events 1000000] [--accounts 5000] [--runs 3]

The ticket events are the seeded simulator's (``bench_replay``'s cached file, generated on
first use); the simulator names accounts ``acc-00000``..``acc-04999`` on its tickets and NPS
answers. Each of those accounts gets a seeded CRM life over the same span (a lead for most,
touches, a conversion for most, MRR changes, churn and win-backs for some), and the CRM lines
are spread through the file at random positions (order does not change the result). Measured,
median of ``--runs``: ``replay_lines`` of the ticket file alone and of the mixed file, as lines
per second of process CPU time, and the snapshot's size.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench_replay import events_file  # beside this file: python bench/bench_accounts.py

from streams import native
from streams.domain.instant import MICROS_PER_MINUTE, format_rfc3339, parse_rfc3339
from streams.domain.policies import default_policies
from streams.replay import replay_lines
from streams.simulator.simulate import DEFAULT_START

_REASONS = ("upsell", "cross_sell", "downgrade", "price_change")
_SOURCES = ("inbound", "outbound", "referral", "partner", "event", "other")
_CHANNELS = ("email", "phone", "meeting", "chat", "social", "ads")


def crm_lines(accounts: int, start: int, span: int, seed: int) -> list[bytes]:
    """A seeded CRM life for each account, as JSON lines."""
    rng = random.Random(seed)
    out: list[bytes] = []

    def emit(account: str, n: int, kind: str, at: int, **fields: object) -> None:
        event = {
            "event_id": f"{account}.{n}",
            "type": f"account.{kind}",
            "occurred_at": format_rfc3339(at - at % 1_000_000),
            "account_id": account,
            **fields,
        }
        out.append(json.dumps(event).encode() + b"\n")

    for number in range(accounts):
        account = f"acc-{number:05d}"
        at = start + rng.randrange(span // 4)
        n = 0

        def step() -> int:
            return rng.randrange(MICROS_PER_MINUTE, span // 8)

        segment = rng.choice(("smb", "mid", "ent"))
        manager = f"am-{rng.randrange(40):02d}"
        if rng.random() < 0.8:
            emit(
                account,
                n,
                "lead_created",
                at,
                source=rng.choice(_SOURCES),
                segment=segment,
                manager=manager,
            )
            n += 1
        for _ in range(rng.randrange(8)):
            at += step()
            emit(
                account,
                n,
                "touched",
                at,
                channel=rng.choice(_CHANNELS),
                duration_seconds=rng.randrange(3600),
            )
            n += 1
        if rng.random() < 0.75:
            mrr = rng.randrange(50, 5000)
            at += step()
            emit(account, n, "converted", at, mrr=mrr, segment=segment)
            n += 1
            for _ in range(rng.randrange(4)):
                mrr = max(0, mrr + rng.randrange(-500, 800))
                at += step()
                emit(account, n, "mrr_changed", at, mrr=mrr, reason=rng.choice(_REASONS))
                n += 1
            if rng.random() < 0.15:
                at += step()
                emit(account, n, "churned", at, voluntary=rng.random() < 0.8)
                n += 1
                if rng.random() < 0.3:
                    at += step()
                    emit(account, n, "converted", at, mrr=rng.randrange(50, 3000))
                    n += 1
        if rng.random() < 0.3:
            at += step()
            emit(account, n, "assigned", at, manager=f"am-{rng.randrange(40):02d}")
    return out


def mixed_file(tickets: Path, accounts: int, seed: int) -> Path:
    path = tickets.with_name(f"{tickets.stem}-accounts{accounts}.jsonl")
    if path.exists():
        return path
    lines = tickets.read_bytes().splitlines(keepends=True)
    first = json.loads(lines[0])["occurred_at"]
    last = json.loads(lines[-1])["occurred_at"]
    start, end = parse_rfc3339(first), parse_rfc3339(last)
    crm = crm_lines(accounts, start, max(end - start, MICROS_PER_MINUTE * 60), seed)
    rng = random.Random(seed)
    positions = sorted(rng.randrange(len(lines) + 1) for _ in crm)
    mixed: list[bytes] = []
    previous = 0
    for position, line in zip(positions, crm, strict=True):
        mixed.extend(lines[previous:position])
        mixed.append(line)
        previous = position
    mixed.extend(lines[previous:])
    path.write_bytes(b"".join(mixed))
    return path


def cpu_of(path: Path) -> tuple[float, dict[str, object]]:
    policies = default_policies()
    with path.open("rb") as handle:
        lines: Iterator[bytes] = iter(handle)
        started = time.process_time()
        result = replay_lines(lines, policies)
        took = time.process_time() - started
    return took, result.snapshot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="ticket events")
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    tickets = events_file(args.events, 1.0, args.seed)
    mixed = mixed_file(tickets, args.accounts, args.seed)
    counts = {p: sum(1 for _ in p.open("rb")) for p in (tickets, mixed)}
    print(f"domain: {native.status().reason}; start {DEFAULT_START}", file=sys.stderr)
    for name, path in (("tickets only", tickets), ("tickets + accounts", mixed)):
        runs = [cpu_of(path) for _ in range(args.runs)]
        cpu = statistics.median(t for t, _ in runs)
        size = len(json.dumps(runs[0][1]))
        has = "accounts" in runs[0][1]
        print(
            f"{name}: {counts[path]:,} lines, median {cpu:.1f} s CPU "
            f"({', '.join(f'{t:.1f}' for t, _ in runs)}), {counts[path] / cpu:,.0f} lines/CPU-s; "
            f"snapshot {size / 1024:,.0f} KiB{' with accounts' if has else ''}"
        )


if __name__ == "__main__":
    main()
