"""The Kafka topic names, defined once for the worker, the emitters and the simulator.

The support topics and the workers' internal ``account_support`` topic share a prefix
(``TICKETPULSE_TOPIC_PREFIX``, default ``support.``), so one variable moves them; a
``TICKETPULSE_TOPIC_<NAME>`` variable names one topic outright and wins. The CRM's account
topic is ``crm.accounts`` unless ``TICKETPULSE_TOPIC_ACCOUNTS`` names another.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from streams.domain.events import Topic

DEFAULT_PREFIX = "support."
DEFAULT_ACCOUNTS = "crm.accounts"
KINDS = ("tickets", "contacts", "surveys", "deadletter", "account_support")
ACCOUNTS: Final = "accounts"  # the logical name of the accounts topic (Topic has the support ones)


@dataclass(frozen=True, slots=True)
class TopicNames:
    """The Kafka topic names; the defaults are the spec's."""

    tickets: str = DEFAULT_PREFIX + "tickets"
    contacts: str = DEFAULT_PREFIX + "contacts"
    surveys: str = DEFAULT_PREFIX + "surveys"
    deadletter: str = DEFAULT_PREFIX + "deadletter"
    # internal: each ticket's support facts for its account, keyed by account_id, written
    # and read by the workers (``streams.domain.account_links``)
    account_support: str = DEFAULT_PREFIX + "account_support"
    accounts: str = DEFAULT_ACCOUNTS  # account events (``account.*``), keyed by account_id

    def name_of(self, topic: Topic | Literal["accounts"]) -> str:
        """The Kafka name of a logical topic."""
        if topic == ACCOUNTS:
            return self.accounts
        if topic is Topic.TICKETS:
            return self.tickets
        if topic is Topic.CONTACTS:
            return self.contacts
        return self.surveys

    @property
    def inputs(self) -> tuple[str, str, str]:
        """The topics the worker consumes."""
        return (self.tickets, self.contacts, self.surveys)

    @property
    def consumed(self) -> tuple[str, ...]:
        """Every topic the worker consumes, co-partitioned: the support topics, the accounts
        topic and the internal account support topic."""
        return (*self.inputs, self.accounts, self.account_support)

    @classmethod
    def resolve(cls, prefix: str = DEFAULT_PREFIX, **names: str) -> TopicNames:
        """``<prefix><kind>`` for each kind, but for those ``names`` gives (empty: unset)."""
        topics = {kind: names.get(kind) or prefix + kind for kind in KINDS}
        return cls(**topics, accounts=names.get("accounts") or DEFAULT_ACCOUNTS)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TopicNames:
        """The worker's ``TICKETPULSE_TOPIC_PREFIX`` and ``TICKETPULSE_TOPIC_<NAME>`` variables,
        so that services and the worker configured by one environment agree."""
        env = os.environ if env is None else env
        names = {
            kind: env.get(f"TICKETPULSE_TOPIC_{kind.upper()}", "") for kind in (*KINDS, "accounts")
        }
        return cls.resolve(env.get("TICKETPULSE_TOPIC_PREFIX", DEFAULT_PREFIX), **names)


DEFAULT_TOPICS = TopicNames()
