"""Decoding throughput on a realistic mix of simulated events.

    .venv/bin/python bench/bench_decode.py [--events 200000] [--repeat 5]

Prints, per stage, the best of ``--repeat`` runs in CPU time (process time, so other
processes on the machine disturb it less): generating and serialising the mix, JSON parsing
alone (the floor), and ``decode_event`` on bytes, as Kafka delivers them.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from pydantic_core import from_json

from streams.domain.decode import InvalidEvent, decode_event
from streams.domain.instant import parse_rfc3339
from streams.simulator.simulation import SimulationConfig, generate, take

START = parse_rfc3339("2026-11-02T08:00:00Z")


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        began = time.process_time()
        work()
        times.append(time.process_time() - began)
    return min(times)


def is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def report(name: str, seconds: float, count: int) -> None:
    print(f"{name:<32} {count / seconds:>12,.0f} events/s {seconds / count * 1e6:>8.2f} µs/event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    # A week-long mix at a realistic rate: every type, offsets, unicode, 1% invalid.
    config = SimulationConfig(seed=options.seed, events_per_second=0.5)

    lines: list[bytes] = []

    def simulate() -> None:
        lines.clear()
        for emitted in take(generate(config, START), count=options.events):
            lines.append(emitted.line().encode())

    generated = best_of(1, simulate)
    invalid = sum(isinstance(decode_event(line), InvalidEvent) for line in lines)
    size = sum(map(len, lines)) / len(lines)
    print(f"{len(lines):,} events, {size:.0f} bytes each on average, {invalid:,} invalid")
    report("simulate + serialise", generated, len(lines))

    parsable = [line for line in lines if is_json(line)]  # baselines must not raise

    def parse_json() -> None:
        for line in parsable:
            json.loads(line)

    def parse_fast() -> None:
        for line in parsable:
            from_json(line, allow_inf_nan=False, cache_strings=False)

    def decode() -> None:
        for line in lines:
            decode_event(line)

    report("json.loads only", best_of(options.repeat, parse_json), len(parsable))
    report("pydantic_core.from_json only", best_of(options.repeat, parse_fast), len(parsable))
    report("decode_event", best_of(options.repeat, decode), len(lines))


if __name__ == "__main__":
    main()
