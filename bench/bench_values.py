"""What building and reading the domain's records costs: frozen dataclasses against ``Value``.

    .venv/bin/python bench/bench_values.py

Builds a fact (eight fields) and an event (fifteen) and reads two of their fields, a million
times each, with a ``@dataclass(frozen=True, slots=True)`` of the same fields and with the
domain's own class (``streams.domain.value.Value``: a native class under the mypyc build,
a slots class in plain Python, ``TICKETPULSE_PURE_PYTHON=1``). Prints nanoseconds per record,
the best of five rounds, so that another process on the machine does not count. See
``streams/domain/value.py`` for why the records are written this way.
"""

from __future__ import annotations

import dataclasses
import timeit
from collections.abc import Callable
from typing import Any

from streams import native
from streams.domain.events import Event, EventType
from streams.domain.facts import Fact, FactKind
from streams.domain.value import Value

ROUNDS, NUMBER = 5, 200_000


def frozen_twin(cls: type[Value]) -> type[Any]:
    """The same fields in a ``@dataclass(frozen=True, slots=True)``: the earlier records."""
    spec: list[tuple[str, Any, Any]] = [(name, Any, None) for name in cls._NAMES]
    if cls is Event:
        spec.append(("extra", Any, dataclasses.field(default_factory=dict, compare=False)))
    return dataclasses.make_dataclass(f"Frozen{cls.__name__}", spec, frozen=True, slots=True)


def best(build: Callable[[], object]) -> float:
    return min(timeit.repeat(build, number=NUMBER, repeat=ROUNDS)) / NUMBER * 1e9


def main() -> None:
    print(f"domain: {native.status().reason}")
    fact_args = (1_700_000_000_000_000, FactKind.REPLY, 42, "billing", "email", "high", "a1")
    event_args = ("e1", EventType.CONTACT_OUTBOUND, 1_700_000_000_000_000, "T1")
    event_kwargs: dict[str, Any] = {"channel": None, "team": "billing", "agent_id": "a1"}
    for name, cls, args, kwargs, first, second in (
        ("fact", Fact, fact_args, {}, "time", "value"),
        ("event", Event, event_args, event_kwargs, "occurred_at", "team"),
    ):
        frozen = frozen_twin(cls)

        def build_and_read(
            make: Any = frozen, a: Any = args, k: Any = kwargs, f: str = first, s: str = second
        ) -> object:
            record = make(*a, **k)
            return getattr(record, f), getattr(record, s)

        guarded = best(build_and_read)
        own = best(lambda cls=cls, build_and_read=build_and_read: build_and_read(cls))
        print(f"{name}: frozen dataclass {guarded:.0f} ns, {cls.__name__} {own:.0f} ns")


if __name__ == "__main__":
    main()
