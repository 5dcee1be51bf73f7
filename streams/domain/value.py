"""``Value``: the base of the domain's immutable records (events, facts, views).

Replay and the worker build an event per line, a fact per KPI sample and a view per
evaluated ticket, and the compiled domain reads their fields in every rule. A dataclass
(``@dataclass(frozen=True)`` or a slots one made by a decorator) is not a class mypyc compiles
natively, so each read went through Python's attribute lookup and each build through a
Python ``__init__``. As plain classes compiled natively, replay of a million events ran 1.2x
faster (``bench/results/replay.md``, session 9; ``bench/bench_values.py`` compares building
them from Python). So the records are plain
classes: ``__slots__``, an ``__init__`` written out, ``Final`` fields that ``mypy --strict``
refuses to reassign, and ``_fields`` (the fields that make the value, in order). This base
gives them a dataclass's equality, hashing and repr from ``_fields``; the subclasses that are
ordered (facts) compare those tuples too.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Value:
    """Equal, hashed and shown by ``_fields()``; a value equals only one of its own class."""

    __slots__ = ()
    _NAMES: ClassVar[tuple[str, ...]] = ()  # the names of ``_fields()``, for repr

    def _fields(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if other is self:  # a re-evaluated ticket's facts are mostly the same objects
            return True
        if not isinstance(other, Value) or type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    def __ne__(self, other: object) -> bool:
        if other is self:
            return False
        if not isinstance(other, Value) or type(other) is not type(self):
            return NotImplemented
        return self._fields() != other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={v!r}" for n, v in zip(self._NAMES, self._fields(), strict=True))
        return f"{type(self).__name__}({shown})"
