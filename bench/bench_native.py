"""Replay on the mypyc build against the plain-Python domain, alternated, same file and result.

    .venv/bin/python bench/bench_native.py [--events 100000] [--rounds 3]

Each round runs ``replay_lines`` over the cached simulated events file (``bench_replay.py``
makes it) in two fresh processes, one with ``TICKETPULSE_PURE_PYTHON=1`` and one without, and
prints events per CPU-second of each and whether their snapshots are byte for byte the same.
Alternating spreads the drift of a shared machine over both. Needs ``make setup``'s build.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench_replay import events_file  # beside this file: python bench/bench_native.py

CHILD = """
import hashlib, json, sys, time
from streams import native
from streams.domain.policies import default_policies
from streams.domain.snapshot import dumps_snapshot
from streams.replay import replay_lines
policies = default_policies()
with open(sys.argv[1], "rb") as lines:
    started = time.process_time()
    result = replay_lines(iter(lines), policies)
    cpu = time.process_time() - started
digest = hashlib.sha256(dumps_snapshot(result.snapshot).encode()).hexdigest()
print(json.dumps({"compiled": native.status().compiled, "lines": result.counts["lines"],
                  "cpu": cpu, "sha256": digest}))
"""


def run(path: Path, pure: bool) -> dict[str, object]:
    env = dict(os.environ)
    env.pop("TICKETPULSE_PURE_PYTHON", None)
    if pure:
        env["TICKETPULSE_PURE_PYTHON"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    path = events_file(args.events, 1.0, 1)
    rates: dict[bool, list[float]] = {True: [], False: []}
    digests = set()
    for round_ in range(1, args.rounds + 1):
        for pure in (True, False):
            result = run(path, pure)
            if result["compiled"] is pure:
                print(f"the {'pure' if pure else 'compiled'} run was not", file=sys.stderr)
                return 1
            rate = float(str(result["lines"])) / float(str(result["cpu"]))
            rates[pure].append(rate)
            digests.add(result["sha256"])
            label = "plain Python" if pure else "mypyc build "
            print(f"round {round_}: {label} {rate:9,.0f} events per CPU-second")
    same = "identical" if len(digests) == 1 else "DIFFERENT"
    pure_median = statistics.median(rates[True])
    compiled_median = statistics.median(rates[False])
    print(
        f"{path.name}: median {pure_median:,.0f} (plain) / {compiled_median:,.0f} (compiled) "
        f"events per CPU-second, {compiled_median / pure_median:.2f}x; snapshots {same}"
    )
    return 0 if len(digests) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
