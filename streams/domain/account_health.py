"""An account's health over the last 30 days: its support and CRM signals, and "at risk".

The signals, in this order: ``detractor`` (an NPS answer at or below ``detractor_nps``),
``unhappy`` (a CSAT answer at or below ``unhappy_csat``), ``sla_breaches`` (at least that many
SLA breaches on its tickets), ``reopens`` (at least that many reopens), ``silent`` (no
``account.touched``), ``contraction`` (a negative MRR change). A customer with at least
``at_risk_signals`` signals is at risk. The thresholds come from the policies file
(``accounts: health``); the defaults are the contract's.
"""

from __future__ import annotations

from typing import Final

from streams.domain.account_support import SupportSums
from streams.domain.account_thresholds import HealthThresholds

SIGNALS: Final = ("detractor", "unhappy", "sla_breaches", "reopens", "silent", "contraction")


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
