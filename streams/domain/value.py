"""``@value``: the domain's immutable records, checked frozen by mypy, built at plain speed.

A ``@dataclass(frozen=True)`` sets each field through ``object.__setattr__`` to get past its
own guard: about 1.5 µs for an eight-field fact against 0.3 µs for a plain slots class
(``bench/bench_values.py``). Replay and the worker build an event per line and a fact per
KPI sample, so that guard cost about a tenth of their CPU. ``@value`` makes a slots
dataclass without the runtime guard; ``dataclass_transform(frozen_default=True)`` keeps the
guard where it catches mistakes, in the type checker (``mypy --strict`` on every commit
refuses an assignment to a field). Equality, hashing and ordering are those of a frozen
dataclass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, dataclass_transform, overload

T = TypeVar("T")


@overload
def value(cls: type[T], /) -> type[T]: ...


@overload
def value(*, order: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, eq_default=True)
def value(
    cls: type[T] | None = None, /, *, order: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    def make(klass: type[T]) -> type[T]:
        return dataclass(klass, slots=True, order=order, unsafe_hash=True)

    return make if cls is None else make(cls)
