"""What building the domain's records costs: frozen dataclasses against ``@value``.

    .venv/bin/python bench/bench_values.py

Builds a fact (eight fields) and an event (fifteen) a million times each with the guarded
``@dataclass(frozen=True, slots=True)`` and with ``streams.domain.value.value``, and prints
microseconds per record (the best of five rounds, so another process on the machine does not
count). See ``streams/domain/value.py`` for why the domain uses ``@value``.
"""

from __future__ import annotations

import dataclasses
import timeit
from collections.abc import Callable
from typing import Any

from streams.domain.events import Event, EventType
from streams.domain.facts import Fact, FactKind

ROUNDS, NUMBER = 5, 200_000


def frozen_twin(cls: type[Any]) -> type[Any]:
    """The same fields in a ``@dataclass(frozen=True, slots=True)``: the earlier records."""
    spec = [(f.name, f.type, f) for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(f"Frozen{cls.__name__}", spec, frozen=True, slots=True)


def best(build: Callable[[], object]) -> float:
    return min(timeit.repeat(build, number=NUMBER, repeat=ROUNDS)) / NUMBER * 1e6


def main() -> None:
    fact_args = (1_700_000_000_000_000, FactKind.REPLY, 42, "billing", "email", "high", "a1")
    event_args = ("e1", EventType.CONTACT_OUTBOUND, 1_700_000_000_000_000, "T1")
    event_kwargs: dict[str, Any] = {"channel": None, "team": "billing", "agent_id": "a1"}
    for name, cls, args, kwargs in (
        ("fact", Fact, fact_args, {}),
        ("event", Event, event_args, event_kwargs),
    ):
        frozen = frozen_twin(cls)
        guarded = best(lambda frozen=frozen, args=args, kwargs=kwargs: frozen(*args, **kwargs))
        plain = best(lambda cls=cls, args=args, kwargs=kwargs: cls(*args, **kwargs))
        print(f"{name}: frozen dataclass {guarded:.2f} µs, @value {plain:.2f} µs")


if __name__ == "__main__":
    main()
