"""The KPI catalog: one typed declaration per KPI, in the order of the spec's ``K`` object.

Every place that shows a KPI reads its row here: the snapshot's key order and distributions
(``kpis``), the Prometheus metrics (``streams/live/metrics/``), ``ticketpulse top`` and the
Grafana boards. The catalog holds names and descriptions only (no Prometheus or Grafana
import), so the domain stays pure; what a fact adds to a KPI's counters is ``kpis``'s
fact rule, and which facts a timeline yields is ``ticket``'s evaluation.

Adding a KPI: a row here, its fact rule (``facts``, ``ticket``, ``kpis``), its tests and a
line in docs/kpis.md (docs/architecture.md, "Where to add a KPI").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streams.domain.facts import FactKind
from streams.domain.instant import MICROS_PER_SECOND

# The dimensions of a fact (spec section 3), the ``by_*`` maps of a window in this order.
# ``agent`` is the touching agent for reply and handle facts, the assignee for the others.
AGENT = "agent"
DIMENSIONS = ("team", "channel", "priority", AGENT)


class Aggregation(StrEnum):
    """How a KPI reads its facts back in a window."""

    DISTRIBUTION = "distribution"  # D: count, exact mean, nearest-rank p50, p90, p99
    COUNT = "count"  # n: facts counted
    RATIO = "ratio"  # x or null: a ratio of counts, null without a denominator
    SLA = "sla"  # per SLA target: clocks met, breached, or met / (met + breached)


class Unit(StrEnum):
    SECONDS = "seconds"
    TOUCHES = "touches"
    TICKETS = "tickets"
    RESPONSES = "responses"
    CLOCKS = "clocks"
    RATIO = "ratio"  # 0..1
    PERCENT = "percent"  # 0..100
    POINTS = "points"  # NPS, -100..100


@dataclass(frozen=True, slots=True)
class Panel:
    """A panel on a Grafana board: the KPI's window gauge, one bar per ``by`` value."""

    board: str  # a key of the boards (``team-agent``, ...)
    row: str  # the row of the board it goes in
    title: str
    description: str
    by: str  # the dimension split into bars
    window: str
    stat: str  # for a distribution: mean, p50, p90 or p99
    thresholds: tuple[tuple[float | None, str], ...]


@dataclass(frozen=True, slots=True)
class Kpi:
    """One KPI.

    ``key`` is its path in ``K`` (``csat.percent`` is the ``percent`` field of ``csat``);
    ``counter`` names its counter in ``kpis`` (a distribution's prefix, or a plain count),
    empty for a ratio, which is computed from other counters.
    """

    key: str
    aggregation: Aggregation
    facts: tuple[FactKind, ...]
    unit: Unit
    help: str
    counter: str = ""
    fact_metric: str = ""  # facts as first seen: a histogram (distribution) or a counter
    window_metric: str = ""  # the snapshot gauge; a distribution's has a ``stat`` label
    samples_metric: str = ""  # a distribution's sample count in the window
    buckets: tuple[float, ...] = ()  # a distribution's histogram bounds, in ``unit``
    top_label: str = ""  # its row in ``ticketpulse top`` ("" = not shown)
    panel: Panel | None = None
    dimensions: tuple[str, ...] = DIMENSIONS

    @property
    def per_unit(self) -> int:
        """Raw fact values per reported unit: durations are facts in microseconds."""
        return MICROS_PER_SECOND if self.unit is Unit.SECONDS else 1

    @property
    def fact_metric_type(self) -> str:
        if not self.fact_metric:
            return ""
        return "histogram" if self.aggregation is Aggregation.DISTRIBUTION else "counter"


# Support times: 1m 5m 15m 30m 1h 2h 4h 8h 1d 3d 7d 30d; the default SLA targets
# (15m, 30m, 4h, 8h, 3d) are bucket bounds, so "share within target" is exact at them.
DURATION_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800, 2592000)
# Calls: 30s to 2h.
HANDLE_BUCKETS = (30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200)
TOUCH_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21)


def _distribution(
    key: str,
    counter: str,
    kind: FactKind,
    unit: Unit,
    help: str,
    buckets: tuple[float, ...],
    top_label: str = "",
    panel: Panel | None = None,
) -> Kpi:
    stem = key.removesuffix("_seconds")
    return Kpi(
        key,
        Aggregation.DISTRIBUTION,
        (kind,),
        unit,
        help,
        counter=counter,
        fact_metric=f"ticketpulse_{key}",
        window_metric=f"ticketpulse_window_{key}",
        samples_metric=f"ticketpulse_window_{stem}_samples",
        buckets=buckets,
        top_label=top_label,
        panel=panel,
    )


def _count(
    key: str,
    counter: str,
    kinds: tuple[FactKind, ...],
    unit: Unit,
    help: str,
    fact_metric: str,
    window_metric: str,
    top_label: str = "",
) -> Kpi:
    return Kpi(
        key,
        Aggregation.COUNT,
        kinds,
        unit,
        help,
        counter=counter,
        fact_metric=fact_metric,
        window_metric=window_metric,
        top_label=top_label,
    )


_TOUCHES = (FactKind.TOUCHES_TO_CLOSE,)
_CSAT = (FactKind.CSAT,)
_NPS = (FactKind.NPS,)
_SLA = (FactKind.SLA_MET, FactKind.SLA_BREACHED)

HANDLE_PANEL = Panel(
    board="team-agent",
    row="Agents",
    title="Handle time p50 per agent (24h)",
    description="Median duration_seconds of each agent's calls (public touches with a "
    "duration) over the last 24 hours.",
    by=AGENT,
    window="24h",
    stat="p50",
    thresholds=((None, "green"), (600, "yellow"), (1200, "red")),
)

KPIS: tuple[Kpi, ...] = (
    _distribution(
        "first_reply_seconds",
        "first_reply",
        FactKind.FIRST_REPLY,
        Unit.SECONDS,
        "First reply time: created to first touch.",
        DURATION_BUCKETS,
        "First reply p50 / p90",
    ),
    _distribution(
        "reply_seconds",
        "reply",
        FactKind.REPLY,
        Unit.SECONDS,
        "Reply time (ART): every first- and next-reply sample.",
        DURATION_BUCKETS,
        "Reply p50 / p90",
    ),
    _distribution(
        "resolution_seconds",
        "resolution",
        FactKind.RESOLUTION,
        Unit.SECONDS,
        "Resolution time: created to first solve.",
        DURATION_BUCKETS,
        "Resolution p50 / p90",
    ),
    _distribution(
        "full_resolution_seconds",
        "full_resolution",
        FactKind.FULL_RESOLUTION,
        Unit.SECONDS,
        "Full resolution time: created to closed.",
        DURATION_BUCKETS,
    ),
    _distribution(
        "touches_to_close",
        "touches",
        FactKind.TOUCHES_TO_CLOSE,
        Unit.TOUCHES,
        "Touches to close: touches from creation to the first solve.",
        TOUCH_BUCKETS,
    ),
    _distribution(
        "handle_seconds",
        "handle",
        FactKind.HANDLE,
        Unit.SECONDS,
        "Handle time: the duration_seconds of each call (a public touch with one).",
        HANDLE_BUCKETS,
        "Handle p50 / p90",
        HANDLE_PANEL,
    ),
    _count(
        "tickets_created",
        "created",
        (FactKind.CREATED,),
        Unit.TICKETS,
        "Tickets created.",
        "ticketpulse_tickets_created_total",
        "ticketpulse_window_tickets_created",
        "Created",
    ),
    _count(
        "tickets_solved",
        "solved",
        (FactKind.RESOLUTION,),
        Unit.TICKETS,
        "Tickets first solved.",
        "ticketpulse_tickets_solved_total",
        "ticketpulse_window_tickets_solved",
        "Solved",
    ),
    _count(
        "reopened",
        "reopened",
        (FactKind.REOPEN,),
        Unit.TICKETS,
        "Reopens (solved -> not solved).",
        "ticketpulse_tickets_reopened_total",
        "ticketpulse_window_tickets_reopened",
        "Reopened",
    ),
    _count(
        "one_touch",
        "one_touch",
        _TOUCHES,
        Unit.TICKETS,
        "First solves with one touch.",
        "ticketpulse_one_touch_tickets_total",
        "ticketpulse_window_one_touch_tickets",
    ),
    _count(
        "zero_touch",
        "zero_touch",
        _TOUCHES,
        Unit.TICKETS,
        "First solves with no touch.",
        "ticketpulse_zero_touch_tickets_total",
        "ticketpulse_window_zero_touch_tickets",
    ),
    Kpi(
        "fcr_rate",
        Aggregation.RATIO,
        _TOUCHES,
        Unit.RATIO,
        "One-touch / first solves with a touch.",
        window_metric="ticketpulse_window_fcr_ratio",
        top_label="FCR",
    ),
    _count(
        "csat.responses",
        "csat.responses",
        _CSAT,
        Unit.RESPONSES,
        "CSAT responses.",
        "ticketpulse_csat_responses_total",
        "ticketpulse_window_csat_responses",
    ),
    _count(
        "csat.satisfied",
        "csat.satisfied",
        _CSAT,
        Unit.RESPONSES,
        "CSAT responses scoring 4..5.",
        "ticketpulse_csat_satisfied_total",
        "ticketpulse_window_csat_satisfied",
    ),
    Kpi(
        "csat.percent",
        Aggregation.RATIO,
        _CSAT,
        Unit.PERCENT,
        "CSAT percent satisfied.",
        window_metric="ticketpulse_window_csat_percent",
        top_label="CSAT",
    ),
    _count(
        "nps.responses",
        "nps.responses",
        _NPS,
        Unit.RESPONSES,
        "NPS responses.",
        "ticketpulse_nps_responses_total",
        "ticketpulse_window_nps_responses",
    ),
    _count(
        "nps.promoters",
        "nps.promoters",
        _NPS,
        Unit.RESPONSES,
        "NPS responses scoring 9..10.",
        "ticketpulse_nps_promoters_total",
        "ticketpulse_window_nps_promoters",
    ),
    _count(
        "nps.passives",
        "nps.passives",
        _NPS,
        Unit.RESPONSES,
        "NPS responses scoring 7..8.",
        "ticketpulse_nps_passives_total",
        "ticketpulse_window_nps_passives",
    ),
    _count(
        "nps.detractors",
        "nps.detractors",
        _NPS,
        Unit.RESPONSES,
        "NPS responses scoring 0..6.",
        "ticketpulse_nps_detractors_total",
        "ticketpulse_window_nps_detractors",
    ),
    Kpi(
        "nps.score",
        Aggregation.RATIO,
        _NPS,
        Unit.POINTS,
        "NPS, -100..100.",
        window_metric="ticketpulse_window_nps_score",
        top_label="NPS",
    ),
    Kpi(
        "sla.met",
        Aggregation.SLA,
        _SLA,
        Unit.CLOCKS,
        "SLA clocks stopped by their deadline.",
        counter="met",
        fact_metric="ticketpulse_sla_met_total",
        window_metric="ticketpulse_window_sla_met",
    ),
    Kpi(
        "sla.breached",
        Aggregation.SLA,
        _SLA,
        Unit.CLOCKS,
        "SLA clocks breached.",
        counter="breached",
        fact_metric="ticketpulse_sla_breached_total",
        window_metric="ticketpulse_window_sla_breached",
    ),
    Kpi(
        "sla.compliance",
        Aggregation.SLA,
        _SLA,
        Unit.RATIO,
        "Met / (met + breached).",
        window_metric="ticketpulse_window_sla_compliance_ratio",
    ),
)

BY_KEY: dict[str, Kpi] = {kpi.key: kpi for kpi in KPIS}
DISTRIBUTIONS: tuple[Kpi, ...] = tuple(k for k in KPIS if k.aggregation is Aggregation.DISTRIBUTION)
# The keys of ``K`` in order (``csat.responses`` .. ``csat.percent`` are the one key ``csat``).
K_KEYS: tuple[str, ...] = tuple(dict.fromkeys(k.key.split(".")[0] for k in KPIS))


def kpi(key: str) -> Kpi:
    """The row of a ``K`` key; a ``KeyError`` names a key the catalog does not have."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"no KPI {key!r} in the catalog") from None
