"""The account events (topic ``crm.accounts``, key ``account_id``): types, values, order.

An ``AccountEvent`` is a validated CRM event; decoding lives in ``account_decode``. An
account's events are processed in the order of ``sort_key``: (occurred_at, kind rank,
event_id), the rank being the order of ``AccountEventType`` below.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from streams.domain.instant import MICROS_PER_SECOND, Instant, format_rfc3339
from streams.domain.value import Value

# Money is kept as integer millionths of the currency unit: sums and retractions stay exact.
MONEY_UNITS: Final = 1_000_000


class AccountEventType(StrEnum):
    LEAD_CREATED = "account.lead_created"
    ASSIGNED = "account.assigned"
    TOUCHED = "account.touched"
    CONVERTED = "account.converted"
    MRR_CHANGED = "account.mrr_changed"
    CHURNED = "account.churned"


class LeadSource(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    REFERRAL = "referral"
    PARTNER = "partner"
    EVENT = "event"
    OTHER = "other"


DIRECT_SOURCE: Final = "direct"  # the source of an account with no lead


class TouchChannel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    MEETING = "meeting"
    CHAT = "chat"
    SOCIAL = "social"
    ADS = "ads"


class MrrReason(StrEnum):
    UPSELL = "upsell"
    CROSS_SELL = "cross_sell"
    DOWNGRADE = "downgrade"
    PRICE_CHANGE = "price_change"


ACCOUNT_KIND_RANK: Final[dict[AccountEventType, int]] = {
    t: rank for rank, t in enumerate(AccountEventType)
}
ACCOUNT_TYPES: Final[dict[str, AccountEventType]] = {t.value: t for t in AccountEventType}


def money(units: int) -> float:
    """An amount kept in millionths, as the snapshot reports it."""
    return units / MONEY_UNITS


class AccountEvent(Value):
    """One validated account event. Fields a type does not carry stay None.

    ``mrr`` is in millionths of the currency unit and ``duration`` in microseconds (both
    integers, so that sums are exact). ``reason`` is the MRR change's reason or the churn's
    free text. ``extra`` keeps unknown fields; it is not part of the value.
    """

    _NAMES = (
        "event_id",
        "type",
        "occurred_at",
        "account_id",
        "source",
        "segment",
        "manager",
        "channel",
        "duration",
        "mrr",
        "reason",
        "voluntary",
    )
    __slots__ = (*_NAMES, "extra")

    event_id: Final[str]
    type: Final[AccountEventType]
    occurred_at: Final[Instant]
    account_id: Final[str]
    source: Final[str | None]
    segment: Final[str | None]
    manager: Final[str | None]
    channel: Final[str | None]
    duration: Final[int | None]
    mrr: Final[int | None]
    reason: Final[str | None]
    voluntary: Final[bool]
    extra: Final[dict[str, Any]]

    def __init__(
        self,
        event_id: str,
        type: AccountEventType,
        occurred_at: Instant,
        account_id: str,
        source: str | None = None,
        segment: str | None = None,
        manager: str | None = None,
        channel: str | None = None,
        duration: int | None = None,
        mrr: int | None = None,
        reason: str | None = None,
        voluntary: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.event_id = event_id
        self.type = type
        self.occurred_at = occurred_at
        self.account_id = account_id
        self.source = source
        self.segment = segment
        self.manager = manager
        self.channel = channel
        self.duration = duration
        self.mrr = mrr
        self.reason = reason
        self.voluntary = voluntary
        self.extra = {} if extra is None else extra

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.event_id,
            self.type,
            self.occurred_at,
            self.account_id,
            self.source,
            self.segment,
            self.manager,
            self.channel,
            self.duration,
            self.mrr,
            self.reason,
            self.voluntary,
        )

    @property
    def sort_key(self) -> tuple[Instant, int, str]:
        return (self.occurred_at, ACCOUNT_KIND_RANK[self.type], self.event_id)

    def to_json(self) -> dict[str, Any]:
        """The wire form: only the fields this type carries."""
        out: dict[str, Any] = dict(self.extra)
        out.update(
            event_id=self.event_id,
            type=self.type.value,
            occurred_at=format_rfc3339(self.occurred_at),
            account_id=self.account_id,
        )
        optional: dict[str, Any] = {
            "source": self.source,
            "segment": self.segment,
            "manager": self.manager,
            "channel": self.channel,
            "duration_seconds": None
            if self.duration is None
            else self.duration / MICROS_PER_SECOND,
            "mrr": None if self.mrr is None else money(self.mrr),
            "reason": self.reason,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.type is AccountEventType.CHURNED:
            out["voluntary"] = self.voluntary
        return out
