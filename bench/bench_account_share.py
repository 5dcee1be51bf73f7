"""The owner's memory per account: its events, and its kept share of the partition's partial.

    .venv/bin/python bench/bench_account_share.py [--accounts 20000] [--days 90]
        [--partitions 4]

The accounts get the simulator's CRM lives (``account_lives``) over ``--days``, placed on
``--partitions`` partitions as the worker places them. Measured with ``tracemalloc`` (bytes
still allocated after a full garbage collection, so what stays, not the peak):

- **events**: the partitions' account timelines, events included;
- **ledgers**: what ``PartialCache`` keeps after a publish of every partition (each account's
  share, the at-risk customers, the heap of change instants, the partition's partial and its
  published blobs);
- **shares**: of those, the accounts' shares alone (what dropping them frees).

Each per account with events. ``TICKETPULSE_PURE_PYTHON=1`` measures the pure-Python domain
(the domain's objects are smaller in the mypyc build).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tracemalloc

from account_lives import crm_events, partition_states  # beside this file

from streams import native
from streams.domain.instant import floor_minute
from streams.domain.policies import default_policies
from streams.live.account_share import PartialCache


def held() -> int:
    """The bytes allocated since ``tracemalloc.start()`` that are still alive."""
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=90.0)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    print(f"domain: {native.status().reason}", file=sys.stderr)
    tracemalloc.start()
    events, end = crm_events(args.accounts, args.days)
    states = partition_states(events, args.partitions)
    count = len(events)
    del events
    events_bytes = held()
    accounts = sum(len(s.accounts) for s in states.values())

    cache = PartialCache()
    health = default_policies().account_health
    for state in states.values():
        asyncio.run(cache.partial(state, floor_minute(end), health))
    ledgers = held() - events_bytes
    for ledger in cache.held.values():
        ledger.shares.clear()
    shares = ledgers - (held() - events_bytes)
    tracemalloc.stop()
    print(f"{accounts:,} accounts, {count:,} events over {args.days:g} days")
    for name, size in (("events", events_bytes), ("ledgers", ledgers), ("shares", shares)):
        print(f"{name}: {size / 2**20:,.1f} MiB, {size / accounts:,.0f} B per account")


if __name__ == "__main__":
    main()
