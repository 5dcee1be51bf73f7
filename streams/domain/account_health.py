"""An account's health over the last 30 days: its support and CRM signals, and "at risk".

The signals, in this order: ``detractor`` (an NPS answer at or below ``detractor_nps``),
``unhappy`` (a CSAT answer at or below ``unhappy_csat``), ``sla_breaches`` (at least that many
SLA breaches on its tickets), ``reopens`` (at least that many reopens), ``silent`` (no
``account.touched``), ``contraction`` (a negative MRR change). A customer with at least
``at_risk_signals`` signals is at risk. The thresholds come from the policies file
(``accounts: health``); the defaults are the contract's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from streams.domain.value import Value

if TYPE_CHECKING:  # account_support imports the ticket engine, which imports the policies
    from streams.domain.account_support import SupportSums

SIGNALS: Final = ("detractor", "unhappy", "sla_breaches", "reopens", "silent", "contraction")


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


def signals(
    support: SupportSums, manager_touches: int, contraction: bool, health: HealthThresholds
) -> tuple[str, ...]:
    """The health signals that are on, in ``SIGNALS`` order."""
    on = (
        any(score <= health.detractor_nps for score in support.nps),
        any(score <= health.unhappy_csat for score in support.csat),
        support.sla_breached >= health.sla_breaches,
        support.reopened >= health.reopens,
        manager_touches == 0,
        contraction,
    )
    return tuple(name for name, flag in zip(SIGNALS, on, strict=True) if flag)
