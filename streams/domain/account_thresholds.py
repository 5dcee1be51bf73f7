"""The thresholds of an account's health signals: the ``accounts: health`` settings of the
policies file, with the contract's defaults. A leaf module, so that the policies parser can
hold them without importing the support experience the signals are computed from."""

from __future__ import annotations

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
