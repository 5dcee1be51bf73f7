"""Worker edges: consumer lag of owned partitions; the publish share setting."""

from __future__ import annotations

from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from streams.domain.policies import default_policies
from streams.errors import ConfigError
from streams.live.batch import PartitionState
from streams.live.metrics import Metrics
from streams.live.settings import WorkerSettings
from streams.live.store import RedisStore
from streams.live.worker import Worker


def lag_samples(metrics: Metrics) -> dict[tuple[str, str], float]:
    return {
        (s.labels["topic"], s.labels["partition"]): s.value
        for family in metrics.registry.collect()
        if family.name == "ticketpulse_consumer_lag_messages"
        for s in family.samples
    }


def test_lag_counts_messages_after_the_last_applied_offset() -> None:
    metrics = Metrics(CollectorRegistry())
    worker = Worker(
        policies=default_policies(),
        store=cast(RedisStore, None),
        metrics=metrics,
        deadletters=cast(Any, None),
        partitions=4,
    )
    worker.states[1] = PartitionState(1)
    worker.states[1].offsets = {"t.tickets": 9, "t.contacts": 4}

    highwaters: dict[tuple[str, int], int | None] = {
        ("t.tickets", 1): 25,  # offsets 10..24 not applied yet
        ("t.contacts", 1): 5,  # all applied
        ("t.surveys", 1): 3,  # nothing applied: offsets 0..2
        ("t.tickets", 2): 100,  # not owned: no series
        ("t.contacts", 3): None,  # unknown yet
    }
    worker.report_lag(highwaters)

    assert lag_samples(metrics) == {
        ("t.tickets", "1"): 15,
        ("t.contacts", "1"): 0,
        ("t.surveys", "1"): 3,
    }
    # what the publisher's backlog rule sums
    assert worker.lag(highwaters) == {
        ("t.tickets", 1): 15,
        ("t.contacts", 1): 0,
        ("t.surveys", 1): 3,
    }


def test_publish_share_must_be_a_fraction() -> None:
    with pytest.raises(ConfigError, match="TICKETPULSE_PUBLISH_MAX_SHARE"):
        WorkerSettings.from_env({"TICKETPULSE_PUBLISH_MAX_SHARE": "0"})
    with pytest.raises(ConfigError, match=r"TICKETPULSE_FETCH_MAX_WAIT_MS.*positive"):
        WorkerSettings.from_env({"TICKETPULSE_FETCH_MAX_WAIT_MS": "0"})
    assert (
        WorkerSettings.from_env({"TICKETPULSE_FETCH_MAX_WAIT_MS": "250"}).fetch_max_wait_ms == 250
    )
    assert (
        WorkerSettings.from_env({"TICKETPULSE_PUBLISH_MAX_SHARE": "0.5"}).publish_max_share == 0.5
    )
