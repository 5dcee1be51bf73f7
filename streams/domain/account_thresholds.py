"""The account thresholds of the policies file: the health signals' (``accounts: health``, with
the contract's defaults) and the at-risk MRR alert's (``accounts: alerts``). A leaf module, so
that the policies parser can hold them without importing the support experience the signals
are computed from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from streams.domain.value import Value


class HealthThresholds(Value):
    """The ``accounts: health`` settings of the policies file."""

    _NAMES = ("detractor_nps", "unhappy_csat", "sla_breaches", "reopens", "at_risk_signals")
    __slots__ = _NAMES

    detractor_nps: Final[int]
    unhappy_csat: Final[int]
    sla_breaches: Final[int]
    reopens: Final[int]
    at_risk_signals: Final[int]

    def __init__(
        self,
        detractor_nps: int = 6,
        unhappy_csat: int = 2,
        sla_breaches: int = 2,
        reopens: int = 2,
        at_risk_signals: int = 2,
    ) -> None:
        self.detractor_nps = detractor_nps
        self.unhappy_csat = unhappy_csat
        self.sla_breaches = sla_breaches
        self.reopens = reopens
        self.at_risk_signals = at_risk_signals

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.detractor_nps,
            self.unhappy_csat,
            self.sla_breaches,
            self.reopens,
            self.at_risk_signals,
        )


DEFAULT_HEALTH: Final[HealthThresholds] = HealthThresholds()


class AtRiskMrrLimits(Value):
    """The ``accounts: alerts: at_risk_mrr`` settings: above how much at-risk MRR a segment's
    account managers are alerted. ``default`` applies to a segment not in ``segments``; None
    (unset) means such a segment is never alerted."""

    _NAMES = ("default", "segments")
    __slots__ = _NAMES

    default: Final[float | None]
    segments: Final[tuple[tuple[str, float], ...]]  # sorted by segment

    def __init__(
        self, default: float | None = None, segments: Mapping[str, float] | None = None
    ) -> None:
        self.default = default
        self.segments = tuple(sorted((segments or {}).items()))

    def _fields(self) -> tuple[Any, ...]:
        return (self.default, self.segments)

    def of(self, segment: str) -> float | None:
        """The threshold of ``segment``: its own, else the default (None: no alert)."""
        return dict(self.segments).get(segment, self.default)


NO_AT_RISK_MRR_ALERTS: Final[AtRiskMrrLimits] = AtRiskMrrLimits()
