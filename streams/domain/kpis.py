"""KPIs as integer counters: what one fact adds, and how counters read back as the spec's ``K``.

The KPIs themselves are declared in ``catalog`` (names, order, units); this module holds
their fact rules and their arithmetic. A fact contributes integer increments to named
counters under each of its dimension keys; a window is a sum of such counters and a
retraction is a subtraction, so everything stays exact and merges by addition (the Redis
adapter keeps the same counters with HINCRBY, one hash per partition, and readers sum them).

Counter names:
- plain counts: ``created``, ``solved``, ``reopened``, ``one_touch``, ``zero_touch``,
  ``csat.responses``, ``csat.satisfied``, ``nps.responses``, ``nps.promoters``,
  ``nps.passives``, ``nps.detractors``, ``sla.<target>.met``, ``sla.<target>.breached``;
- a distribution ``<metric>`` (a distribution's ``counter`` in the catalog: ``first_reply``,
  ``reply``, ``resolution``, ``full_resolution``, ``touches``, ``handle``): ``<metric>:n``
  and ``<metric>:s`` (count and exact sum of the raw values), and per log bin
  ``<metric>:b<i>:n`` / ``<metric>:b<i>:s`` (count and exact sum of the values in bin ``i``);
  zeros have their own bin ``<metric>:z:n`` (its sum is always 0, so it has no ``:s``
  counter).

Bin ``i`` holds the integers in ``(GAMMA**(i-1), GAMMA**i]``. A percentile is the mean of the
bin that holds the nearest-rank sample, so it lies in the same bin as that sample: with
``GAMMA = 1.01`` the relative error is below 1%, the spec's bound, and it is exact when the
bin holds equal values (every touches count up to 100 has a bin of its own).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, ItemsView, Iterator, Mapping, Sequence
from itertools import accumulate
from typing import Any, Final

from streams.domain.catalog import DISTRIBUTIONS, KPIS, Aggregation, Kpi, kpi
from streams.domain.facts import Fact, FactKind, SlaTarget
from streams.domain.value import Value

DimKey = tuple[str, str]
Increments = tuple[tuple[str, int], ...]

OVERALL: DimKey = ("overall", "")

# The bin mean is within (GAMMA - 1) of any value in its bin; the DDSketch choice
# alpha = 0.005 would give GAMMA = 1.01005 and a bound just above the spec's 1%.
GAMMA = 1.01
_INV_LOG_GAMMA = 1.0 / math.log(GAMMA)
_ZERO_BIN = -1
PERCENTILES = (50, 90, 99)

# The plain counters, named by the catalog.
CREATED = kpi("tickets_created").counter
SOLVED = kpi("tickets_solved").counter
REOPENED = kpi("reopened").counter
ONE_TOUCH = kpi("one_touch").counter
ZERO_TOUCH = kpi("zero_touch").counter
CSAT_RESPONSES = kpi("csat.responses").counter
CSAT_SATISFIED = kpi("csat.satisfied").counter
NPS_RESPONSES = kpi("nps.responses").counter
NPS_PROMOTERS = kpi("nps.promoters").counter
NPS_PASSIVES = kpi("nps.passives").counter
NPS_DETRACTORS = kpi("nps.detractors").counter

_METRICS = frozenset(d.counter for d in DISTRIBUTIONS)
# fact kind -> the distribution it samples (a fact's value is the sample)
_SAMPLES: dict[FactKind, str] = {d.facts[0]: d.counter for d in DISTRIBUTIONS}


def sla_counter(target: SlaTarget, outcome: str) -> str:
    return f"sla.{target.value}.{outcome}"


_SLA_MET = {t: sla_counter(t, "met") for t in SlaTarget}
_SLA_BREACHED = {t: sla_counter(t, "breached") for t in SlaTarget}


# --- counter names -------------------------------------------------------------------------

# name -> (metric, bin, is_sum) for bin counters, None for every other counter. Names are
# memoised so that the same str objects key every bucket (less memory, faster hashing).
_NAME_INFO: dict[str, tuple[str, int, bool] | None] = {}
_BIN_NAMES: dict[tuple[str, int], tuple[str, str]] = {}
_TOTAL_NAMES = {m: (f"{m}:n", f"{m}:s") for m in _METRICS}


def bin_index(value: int) -> int:
    """The log bin of a non-negative raw value; zeros have a bin of their own."""
    if value == 0:
        return _ZERO_BIN
    return math.ceil(math.log(value) * _INV_LOG_GAMMA)


def bin_names(metric: str, index: int) -> tuple[str, str]:
    """The count and sum counter names of one bin."""
    names = _BIN_NAMES.get((metric, index))
    if names is None:
        label = "z" if index == _ZERO_BIN else f"b{index}"
        names = (f"{metric}:{label}:n", f"{metric}:{label}:s")
        _BIN_NAMES[(metric, index)] = names
        _NAME_INFO[names[0]] = (metric, index, False)
        _NAME_INFO[names[1]] = (metric, index, True)
    return names


def _parse(name: str) -> tuple[str, int, bool] | None:
    parts = name.split(":")
    if len(parts) != 3 or parts[0] not in _METRICS or parts[2] not in ("n", "s"):
        return None
    label = parts[1]
    if label == "z":
        index = _ZERO_BIN
    elif label[:1] == "b" and label[1:].isdigit():
        index = int(label[1:])
    else:
        return None
    bin_names(parts[0], index)  # registers the canonical names of this bin
    return (parts[0], index, parts[2] == "s")


def _name_info(name: str) -> tuple[str, int, bool] | None:
    try:
        return _NAME_INFO[name]
    except KeyError:
        info = _NAME_INFO[name] = _parse(name)
        return info


# --- facts -> counters ---------------------------------------------------------------------


def fact_dimensions(fact: Fact) -> tuple[DimKey, ...]:
    """Every key a fact is counted under; ``agent`` only when the fact has one."""
    dims: tuple[DimKey, ...] = (
        OVERALL,
        ("team", fact.team),
        ("channel", fact.channel),
        ("priority", fact.priority),
    )
    if fact.agent is not None:
        dims += (("agent", fact.agent),)
    return dims


def _sample(metric: str, value: int) -> Increments:
    count, total = _TOTAL_NAMES[metric]
    bin_count, bin_sum = bin_names(metric, bin_index(value))
    if value == 0:
        return ((count, 1), (bin_count, 1))
    return ((count, 1), (total, value), (bin_count, 1), (bin_sum, value))


def _touches(fact: Fact) -> Increments:
    extra: Increments = ()
    if fact.value == 1:
        extra = ((ONE_TOUCH, 1),)
    elif fact.value == 0:
        extra = ((ZERO_TOUCH, 1),)
    return (*_sample("touches", fact.value), *extra)


def _csat(fact: Fact) -> Increments:
    if not 1 <= fact.value <= 5:
        raise ValueError(f"csat fact with score {fact.value}, not 1..5")
    if fact.value >= 4:
        return ((CSAT_RESPONSES, 1), (CSAT_SATISFIED, 1))
    return ((CSAT_RESPONSES, 1),)


def _nps(fact: Fact) -> Increments:
    if not 0 <= fact.value <= 10:
        raise ValueError(f"nps fact with score {fact.value}, not 0..10")
    if fact.value >= 9:
        group = NPS_PROMOTERS
    elif fact.value >= 7:
        group = NPS_PASSIVES
    else:
        group = NPS_DETRACTORS
    return ((NPS_RESPONSES, 1), (group, 1))


def _sla(names: Mapping[SlaTarget, str]) -> Callable[[Fact], Increments]:
    def increments(fact: Fact) -> Increments:
        if fact.target is None:
            raise ValueError(f"{fact.kind.value} fact without a target")
        return ((names[fact.target], 1),)

    return increments


def _sampler(metric: str) -> Callable[[Fact], Increments]:
    def increments(fact: Fact) -> Increments:
        return _sample(metric, fact.value)

    return increments


# A distribution's facts add a sample (the catalog says which); these kinds add more.
_COUNTERS: dict[FactKind, Callable[[Fact], Increments]] = {
    **{kind: _sampler(metric) for kind, metric in _SAMPLES.items()},
    FactKind.CREATED: lambda f: ((CREATED, 1),),
    FactKind.RESOLUTION: lambda f: (*_sample("resolution", f.value), (SOLVED, 1)),
    FactKind.TOUCHES_TO_CLOSE: _touches,
    FactKind.REOPEN: lambda f: ((REOPENED, 1),),
    FactKind.CSAT: _csat,
    FactKind.NPS: _nps,
    FactKind.SLA_MET: _sla(_SLA_MET),
    FactKind.SLA_BREACHED: _sla(_SLA_BREACHED),
}


def fact_counters(fact: Fact) -> Increments:
    """The counter increments of one fact (the same under each of its dimensions).

    Retracting the fact is adding the same increments times -1.
    """
    if fact.value < 0:
        raise ValueError(f"{fact.kind.value} fact with negative value {fact.value}")
    return _COUNTERS[fact.kind](fact)


# --- a bag of counters ---------------------------------------------------------------------


# ``_Bins.merge`` adds bins one by one when they are fewer than 1/FEW_BINS of those held
FEW_BINS: Final = 8


class _Bins:
    """The bins of one distribution, sorted by index, so percentiles need no parsing.

    The percentiles are cached until the bins change: between two snapshots most
    distributions of a 7-day window do not change at all.
    """

    __slots__ = ("_cached", "counts", "indexes", "sums")

    def __init__(self) -> None:
        self.indexes: list[int] = []
        self.counts: list[int] = []
        self.sums: list[int] = []
        self._cached: tuple[int, int, tuple[float, ...]] | None = None

    def add(self, index: int, count: int, total: int) -> None:
        self._cached = None
        indexes = self.indexes
        i = bisect_left(indexes, index)
        if i < len(indexes) and indexes[i] == index:
            self.counts[i] += count
            self.sums[i] += total
            if not self.counts[i] and not self.sums[i]:
                del indexes[i], self.counts[i], self.sums[i]
        else:
            indexes.insert(i, index)
            self.counts.insert(i, count)
            self.sums.insert(i, total)

    def merge(self, indexes: Sequence[int], counts: Sequence[int], sums: Sequence[int]) -> None:
        """Add bins given as arrays sorted by index (another distribution's): one pass over
        both, where ``add`` would bisect and insert per bin; a few bins into many (a batch's
        changes into a week's window) still go one by one, which copies nothing. A bin
        whose count and sum both come to zero goes, as in ``add``."""
        mine, my_counts, my_sums = self.indexes, self.counts, self.sums
        if len(indexes) * FEW_BINS < len(mine):
            for index, count, total in zip(indexes, counts, sums, strict=True):
                self.add(index, count, total)
            return
        self._cached = None
        out: list[int] = []
        out_counts: list[int] = []
        out_sums: list[int] = []
        i = j = 0
        n, m = len(mine), len(indexes)
        while i < n and j < m:
            a, b = mine[i], indexes[j]
            if a < b:
                out.append(a)
                out_counts.append(my_counts[i])
                out_sums.append(my_sums[i])
                i += 1
            elif b < a:
                out.append(b)
                out_counts.append(counts[j])
                out_sums.append(sums[j])
                j += 1
            else:
                count, total = my_counts[i] + counts[j], my_sums[i] + sums[j]
                if count or total:
                    out.append(a)
                    out_counts.append(count)
                    out_sums.append(total)
                i += 1
                j += 1
        if i < n:
            out.extend(mine[i:])
            out_counts.extend(my_counts[i:])
            out_sums.extend(my_sums[i:])
        if j < m:
            out.extend(indexes[j:])
            out_counts.extend(counts[j:])
            out_sums.extend(sums[j:])
        self.indexes, self.counts, self.sums = out, out_counts, out_sums

    def get(self, index: int) -> tuple[int, int]:
        i = bisect_left(self.indexes, index)
        if i < len(self.indexes) and self.indexes[i] == index:
            return self.counts[i], self.sums[i]
        return 0, 0

    def percentiles(self, n: int, per_unit: int) -> tuple[float, ...]:
        """The mean of the bin holding the nearest-rank sample, for each percentile."""
        cached = self._cached
        if cached is not None and cached[0] == n and cached[1] == per_unit:
            return cached[2]
        counts = self.counts
        cumulative = list(accumulate(counts))
        if cumulative[-1] != n:
            raise ValueError(f"inconsistent bins: {cumulative[-1]} samples in bins, count {n}")
        picked = []
        for p in PERCENTILES:
            i = bisect_left(cumulative, -(-p * n // 100))
            if i == len(counts) or counts[i] <= 0:
                raise ValueError(f"inconsistent bins: p{p} falls on a bin counting {counts[i]}")
            picked.append(self.sums[i] / (counts[i] * per_unit))
        values = tuple(picked)
        self._cached = (n, per_unit, values)
        return values


class KpiCounters(Mapping[str, int]):
    """A mutable sum of counters, read as a ``Mapping[str, int]`` of the non-zero ones.

    Bin counters are kept as sorted per-distribution arrays rather than in the flat dict, so
    that rendering a window does not parse thousands of names each time it is read.
    """

    __slots__ = ("_bins", "_plain")

    def __init__(self, counters: dict[str, int] | None = None) -> None:
        self._plain: dict[str, int] = {}
        self._bins: dict[str, _Bins] = {}
        if counters:
            self.update(counters)

    def add(self, name: str, delta: int) -> None:
        if not delta:
            return
        info = _name_info(name)
        if info is None:
            value = self._plain.get(name, 0) + delta
            if value:
                self._plain[name] = value
            else:
                del self._plain[name]
            return
        metric, index, is_sum = info
        bins = self._bins.get(metric)
        if bins is None:
            bins = self._bins[metric] = _Bins()
        if is_sum:
            bins.add(index, 0, delta)
        else:
            bins.add(index, delta, 0)
        if not bins.indexes:
            del self._bins[metric]

    def update(self, counters: dict[str, int], sign: int = 1) -> None:
        """Add (or, with ``sign=-1``, subtract) every counter of ``counters``: each
        distribution's bins are gathered, sorted and merged in one pass (``_Bins.merge``)
        instead of a bisection and a list insert per bin (every window read sums its buckets
        into new bags). A ``dict``: the compiled loop reads it without a method call."""
        plain = self._plain
        cells: dict[str, dict[int, list[int]]] = {}
        for name, delta in counters.items():
            if not delta:
                continue
            info = _name_info(name)
            if info is None:
                value = plain.get(name, 0) + sign * delta
                if value:
                    plain[name] = value
                else:
                    del plain[name]
                continue
            metric, index, is_sum = info
            bins = cells.get(metric)
            if bins is None:
                bins = cells[metric] = {}
            cell = bins.get(index)
            if cell is None:
                cell = bins[index] = [0, 0]
            cell[1 if is_sum else 0] += sign * delta
        for metric, bins in cells.items():
            indexes = sorted(bins)
            target = self._bins.get(metric)
            if target is None:
                target = self._bins[metric] = _Bins()
            target.merge(indexes, [bins[i][0] for i in indexes], [bins[i][1] for i in indexes])
            if not target.indexes:
                del self._bins[metric]

    def wire(self) -> tuple[dict[str, int], dict[str, tuple[list[int], list[int], list[int]]]]:
        """The compact form a partition publishes: plain counters, and per distribution its
        bin indexes, counts and sums. The lists are this object's own: encode them before
        it changes again."""
        return self._plain, {m: (b.indexes, b.counts, b.sums) for m, b in self._bins.items()}

    def add_wire(
        self, plain: Mapping[str, int], bins: Mapping[str, Sequence[Sequence[int]]]
    ) -> None:
        """Add counters given in the form of ``wire`` (another partition's, or our own)."""
        mine = self._plain
        for name, value in plain.items():
            total = mine.get(name, 0) + value
            if total:
                mine[name] = total
            else:
                mine.pop(name, None)
        for metric, (indexes, counts, sums) in bins.items():
            target = self._bins.get(metric)
            if target is None:  # the common case: copy the arrays, no bin-by-bin work
                target = self._bins[metric] = _Bins()
                target.indexes, target.counts, target.sums = (
                    list(indexes),
                    list(counts),
                    list(sums),
                )
            else:
                if not len(indexes) == len(counts) == len(sums):
                    raise ValueError(f"{metric}: bin arrays of different lengths")
                target.merge(indexes, counts, sums)
            if not target.indexes:
                del self._bins[metric]

    def count(self, name: str) -> int:
        """A plain counter's value, 0 when absent."""
        return self._plain.get(name, 0)

    def __getitem__(self, name: str) -> int:
        info = _name_info(name)
        if info is None:
            return self._plain[name]
        metric, index, is_sum = info
        bins = self._bins.get(metric)
        count, total = bins.get(index) if bins else (0, 0)
        value = total if is_sum else count
        if not value:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        yield from self._plain
        for metric, bins in self._bins.items():
            for index, count, total in zip(bins.indexes, bins.counts, bins.sums, strict=True):
                count_name, sum_name = bin_names(metric, index)
                if count:
                    yield count_name
                if total:
                    yield sum_name

    def items(self) -> ItemsView[str, int]:
        """The non-zero counters and their values, read straight from the bins.

        The generic ``Mapping.items`` looks every name up again (parse, bisect); encoding a
        week of window sums for the snapshot walks every counter of every dimension.
        """
        return _CounterItems(self)

    def _pairs(self) -> Iterator[tuple[str, int]]:
        yield from self._plain.items()
        for metric, bins in self._bins.items():
            for index, count, total in zip(bins.indexes, bins.counts, bins.sums, strict=True):
                count_name, sum_name = bin_names(metric, index)
                if count:
                    yield count_name, count
                if total:
                    yield sum_name, total

    def __len__(self) -> int:
        binned = sum(
            sum(1 for c in b.counts if c) + sum(1 for s in b.sums if s) for b in self._bins.values()
        )
        return len(self._plain) + binned

    def __bool__(self) -> bool:
        return bool(self._plain or self._bins)

    def __repr__(self) -> str:
        return f"KpiCounters({dict(self)!r})"


class _CounterItems(ItemsView[str, int]):
    """``KpiCounters.items()``: a real items view whose iteration skips the name lookups."""

    _mapping: KpiCounters

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return self._mapping._pairs()


# One counter per fact: a key's number of facts, the volume that ranks it when a map folds.
_FACT_COUNT_NAMES = (
    CREATED,
    REOPENED,
    CSAT_RESPONSES,
    NPS_RESPONSES,
    *(_TOTAL_NAMES[d.counter][0] for d in DISTRIBUTIONS),
    *_SLA_MET.values(),
    *_SLA_BREACHED.values(),
)


def fact_count(counters: Mapping[str, int]) -> int:
    """The facts counted in ``counters``: in ``K`` terms tickets_created + reopened + the CSAT
    and NPS responses + every distribution's count + SLA met and breached of every target."""
    get = counters._plain.get if isinstance(counters, KpiCounters) else counters.get
    return sum(get(name, 0) for name in _FACT_COUNT_NAMES)


# --- counters -> K -------------------------------------------------------------------------


def _ratio(numerator: int, denominator: int, scale: int = 1) -> float | None:
    return scale * numerator / denominator if denominator else None


class Distribution(Value):
    """``D``: a distribution's samples, their exact mean and percentiles, in the KPI's unit
    (None without samples)."""

    _NAMES = ("count", "mean", "p50", "p90", "p99")
    __slots__ = _NAMES

    count: Final[int]
    mean: Final[float | None]
    p50: Final[float | None]
    p90: Final[float | None]
    p99: Final[float | None]

    def __init__(
        self,
        count: int = 0,
        mean: float | None = None,
        p50: float | None = None,
        p90: float | None = None,
        p99: float | None = None,
    ) -> None:
        self.count = count
        self.mean = mean
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99

    def _fields(self) -> tuple[Any, ...]:
        return (self.count, self.mean, self.p50, self.p90, self.p99)

    def stat(self, name: str) -> float | None:
        """``mean``, ``p50``, ``p90`` or ``p99`` by name (a gauge's ``stat`` label)."""
        return _STATS[name](self)

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean": self.mean,
            "p50": self.p50,
            "p90": self.p90,
            "p99": self.p99,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Distribution:
        return Distribution(data["count"], data["mean"], data["p50"], data["p90"], data["p99"])


_STATS: dict[str, Callable[[Distribution], float | None]] = {
    "mean": lambda d: d.mean,
    "p50": lambda d: d.p50,
    "p90": lambda d: d.p90,
    "p99": lambda d: d.p99,
}


class SlaOutcome(Value):
    """``S``: one SLA target's clocks met and breached, and ``met / (met + breached)``."""

    _NAMES = ("met", "breached", "compliance")
    __slots__ = _NAMES

    met: Final[int]
    breached: Final[int]
    compliance: Final[float | None]

    def __init__(self, met: int, breached: int, compliance: float | None) -> None:
        self.met = met
        self.breached = breached
        self.compliance = compliance

    @staticmethod
    def of(met: int, breached: int) -> SlaOutcome:
        return SlaOutcome(met, breached, _ratio(met, met + breached))

    def _fields(self) -> tuple[Any, ...]:
        return (self.met, self.breached, self.compliance)

    def field(self, name: str) -> int | float | None:
        """``met``, ``breached`` or ``compliance`` by name (the catalog's ``sla.<name>``)."""
        if name == "met":
            return self.met
        if name == "breached":
            return self.breached
        if name == "compliance":
            return self.compliance
        raise KeyError(f"no field {name!r} in an SLA outcome")

    def to_json(self) -> dict[str, Any]:
        return {"met": self.met, "breached": self.breached, "compliance": self.compliance}


class Csat(Value):
    """``K``'s ``csat``: responses, satisfied (4..5) and their percent."""

    _NAMES = ("responses", "satisfied", "percent")
    __slots__ = _NAMES

    responses: Final[int]
    satisfied: Final[int]
    percent: Final[float | None]

    def __init__(self, responses: int, satisfied: int, percent: float | None) -> None:
        self.responses = responses
        self.satisfied = satisfied
        self.percent = percent

    @staticmethod
    def of(responses: int, satisfied: int) -> Csat:
        return Csat(responses, satisfied, _ratio(satisfied, responses, 100))

    def _fields(self) -> tuple[Any, ...]:
        return (self.responses, self.satisfied, self.percent)

    def to_json(self) -> dict[str, Any]:
        return {"responses": self.responses, "satisfied": self.satisfied, "percent": self.percent}


class Nps(Value):
    """``K``'s ``nps``: responses per group and the score, -100..100."""

    _NAMES = ("responses", "promoters", "passives", "detractors", "score")
    __slots__ = _NAMES

    responses: Final[int]
    promoters: Final[int]
    passives: Final[int]
    detractors: Final[int]
    score: Final[float | None]

    def __init__(
        self,
        responses: int,
        promoters: int,
        passives: int,
        detractors: int,
        score: float | None,
    ) -> None:
        self.responses = responses
        self.promoters = promoters
        self.passives = passives
        self.detractors = detractors
        self.score = score

    @staticmethod
    def of(responses: int, promoters: int, passives: int, detractors: int) -> Nps:
        score = _ratio(promoters - detractors, responses, 100)
        return Nps(responses, promoters, passives, detractors, score)

    def _fields(self) -> tuple[Any, ...]:
        return (self.responses, self.promoters, self.passives, self.detractors, self.score)

    def to_json(self) -> dict[str, Any]:
        return {
            "responses": self.responses,
            "promoters": self.promoters,
            "passives": self.passives,
            "detractors": self.detractors,
            "score": self.score,
        }


_NO_SAMPLES = Distribution()
_DISTRIBUTION_INDEX = {d.key: i for i, d in enumerate(DISTRIBUTIONS)}
_TARGET_INDEX = {t.value: i for i, t in enumerate(SlaTarget)}


class Kpis(Value):
    """``K``: the KPIs of one key of one window, typed (``kpis_of`` computes one from
    counters). ``distributions`` follow the catalog's ``DISTRIBUTIONS``, ``sla`` the
    ``SlaTarget`` order."""

    _NAMES = (
        "distributions",
        "tickets_created",
        "tickets_solved",
        "reopened",
        "one_touch",
        "zero_touch",
        "fcr_rate",
        "csat",
        "nps",
        "sla",
    )
    __slots__ = _NAMES

    distributions: Final[tuple[Distribution, ...]]
    tickets_created: Final[int]
    tickets_solved: Final[int]
    reopened: Final[int]
    one_touch: Final[int]
    zero_touch: Final[int]
    fcr_rate: Final[float | None]
    csat: Final[Csat]
    nps: Final[Nps]
    sla: Final[tuple[SlaOutcome, ...]]

    def __init__(
        self,
        distributions: tuple[Distribution, ...],
        tickets_created: int,
        tickets_solved: int,
        reopened: int,
        one_touch: int,
        zero_touch: int,
        fcr_rate: float | None,
        csat: Csat,
        nps: Nps,
        sla: tuple[SlaOutcome, ...],
    ) -> None:
        if len(distributions) != len(DISTRIBUTIONS) or len(sla) != len(SlaTarget):
            raise ValueError(
                f"a K holds {len(DISTRIBUTIONS)} distributions and {len(SlaTarget)} SLA "
                f"targets, not {len(distributions)} and {len(sla)}"
            )
        self.distributions = distributions
        self.tickets_created = tickets_created
        self.tickets_solved = tickets_solved
        self.reopened = reopened
        self.one_touch = one_touch
        self.zero_touch = zero_touch
        self.fcr_rate = fcr_rate
        self.csat = csat
        self.nps = nps
        self.sla = sla

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.distributions,
            self.tickets_created,
            self.tickets_solved,
            self.reopened,
            self.one_touch,
            self.zero_touch,
            self.fcr_rate,
            self.csat,
            self.nps,
            self.sla,
        )

    def distribution(self, key: str) -> Distribution:
        """The distribution of a catalog key (``reply_seconds``)."""
        return self.distributions[_DISTRIBUTION_INDEX[key]]

    def sla_of(self, target: str) -> SlaOutcome:
        """The ``S`` of an SLA target (``first_reply``)."""
        return self.sla[_TARGET_INDEX[target]]

    def value(self, key: str) -> int | float | None:
        """The value of a count or ratio of the catalog (``csat.percent``)."""
        return _VALUES[key](self)

    def to_json(self) -> dict[str, Any]:
        """The spec's ``K`` object, in the catalog's key order."""
        data: dict[str, Any] = {
            d.key: x.to_json() for d, x in zip(DISTRIBUTIONS, self.distributions, strict=True)
        }
        data["tickets_created"] = self.tickets_created
        data["tickets_solved"] = self.tickets_solved
        data["reopened"] = self.reopened
        data["one_touch"] = self.one_touch
        data["zero_touch"] = self.zero_touch
        data["fcr_rate"] = self.fcr_rate
        data["csat"] = self.csat.to_json()
        data["nps"] = self.nps.to_json()
        data["sla"] = {t: s.to_json() for t, s in zip(_TARGETS, self.sla, strict=True)}
        return data

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Kpis:
        """A ``K`` object read back (``GET /kpis``, Redis), as it is."""
        csat, nps, sla = data["csat"], data["nps"], data["sla"]
        return Kpis(
            tuple(Distribution.from_json(data[d.key]) for d in DISTRIBUTIONS),
            data["tickets_created"],
            data["tickets_solved"],
            data["reopened"],
            data["one_touch"],
            data["zero_touch"],
            data["fcr_rate"],
            Csat(csat["responses"], csat["satisfied"], csat["percent"]),
            Nps(
                nps["responses"],
                nps["promoters"],
                nps["passives"],
                nps["detractors"],
                nps["score"],
            ),
            tuple(
                SlaOutcome(sla[t]["met"], sla[t]["breached"], sla[t]["compliance"])
                for t in _TARGETS
            ),
        )


_TARGETS = tuple(t.value for t in SlaTarget)

# A count or ratio of the catalog (its ``key``) -> its value in a ``K``.
_VALUES: dict[str, Callable[[Kpis], int | float | None]] = {
    "tickets_created": lambda k: k.tickets_created,
    "tickets_solved": lambda k: k.tickets_solved,
    "reopened": lambda k: k.reopened,
    "one_touch": lambda k: k.one_touch,
    "zero_touch": lambda k: k.zero_touch,
    "fcr_rate": lambda k: k.fcr_rate,
    "csat.responses": lambda k: k.csat.responses,
    "csat.satisfied": lambda k: k.csat.satisfied,
    "csat.percent": lambda k: k.csat.percent,
    "nps.responses": lambda k: k.nps.responses,
    "nps.promoters": lambda k: k.nps.promoters,
    "nps.passives": lambda k: k.nps.passives,
    "nps.detractors": lambda k: k.nps.detractors,
    "nps.score": lambda k: k.nps.score,
}
_VALUED = {k.key for k in KPIS if k.aggregation in (Aggregation.COUNT, Aggregation.RATIO)}
if set(_VALUES) != _VALUED:
    raise ImportError(
        f"K values and the catalog's counts and ratios differ: {set(_VALUES) ^ _VALUED}"
    )


def _distribution(dist: Kpi, get: Callable[[str, int], int], bins: _Bins | None) -> Distribution:
    count_name, sum_name = _TOTAL_NAMES[dist.counter]
    n = get(count_name, 0)
    if n <= 0 or bins is None:
        if n or bins is not None:
            raise ValueError(f"{dist.counter}: {n} samples but bins disagree")
        return _NO_SAMPLES
    p50, p90, p99 = bins.percentiles(n, dist.per_unit)
    mean = get(sum_name, 0) / (n * dist.per_unit)
    return Distribution(n, mean, p50, p90, p99)


_SLA_NAMES = tuple((_SLA_MET[t], _SLA_BREACHED[t]) for t in SlaTarget)


def as_bag(counters: Mapping[str, int]) -> KpiCounters:
    """``counters`` as a ``KpiCounters``: itself when it is one, else a new one."""
    if isinstance(counters, KpiCounters):
        return counters
    return KpiCounters(counters if isinstance(counters, dict) else dict(counters))


def kpis_of(counters: Mapping[str, int]) -> Kpis:
    """The ``K`` of one dimension key of one window, from its counters."""
    bag = as_bag(counters)
    get, bins = bag._plain.get, bag._bins.get
    one_touch, zero_touch = get(ONE_TOUCH, 0), get(ZERO_TOUCH, 0)
    return Kpis(
        tuple(_distribution(d, get, bins(d.counter)) for d in DISTRIBUTIONS),
        get(CREATED, 0),
        get(SOLVED, 0),
        get(REOPENED, 0),
        one_touch,
        zero_touch,
        _ratio(one_touch, get("touches:n", 0) - zero_touch),
        Csat.of(get(CSAT_RESPONSES, 0), get(CSAT_SATISFIED, 0)),
        Nps.of(
            get(NPS_RESPONSES, 0),
            get(NPS_PROMOTERS, 0),
            get(NPS_PASSIVES, 0),
            get(NPS_DETRACTORS, 0),
        ),
        tuple(SlaOutcome.of(get(met, 0), get(breached, 0)) for met, breached in _SLA_NAMES),
    )
