"""Every Prometheus metric of the worker, declared in this one package (see docs/metrics.md).

Two kinds of KPI metrics, on purpose:

- fact histograms and counters (``observe_facts``) count facts *as first seen*: a late event
  that retracts a fact cannot un-observe a histogram or decrement a counter, so these are for
  rates and alerting on what happens now;
- snapshot gauges (``mirror_snapshot``, every ``ticketpulse_window_*``) mirror the merged
  snapshot: they are the corrected truth, equal to ``GET /kpis``.

Label names come only from ``ALLOWED_LABELS``; a label value is a team, channel, priority,
SLA target, status, window, stat, topic, event type, outcome, partition, or an account's
segment, manager or source, never a ticket, account or requester. Both kinds have the
snapshot's shape, marginal rows rather than crossings (a fact counts in four rows: overall,
its team, its channel, its priority): dimension labels hold ``""`` where a row is not split
by that dimension, so ``{team="",channel="",priority=""}`` is "overall" and ``{team!=""}``
is "per team". ``agent`` exists only with ``agent_labels=True``. Team and agent values are
bounded (``Metrics.label_limits``): beyond the limit they share the value ``"(other)"``; so
do account segments and managers (``account_gauges``), whose thresholds ``at_risk_mrr`` are
exported for the at-risk MRR alert.

One module per idea: ``definitions`` (every ``MetricDef``, the ``METRICS`` list), ``facts``
(the fact collector), ``pipeline`` (the pipeline's health metrics), ``snapshot_gauges`` (the
gauges rebuilt from each snapshot, with ``account_gauges``) and ``exposition`` (the text
``/metrics`` serves); ``Metrics`` puts them in one registry.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry

from streams.domain.account_thresholds import NO_AT_RISK_MRR_ALERTS, AtRiskMrrLimits
from streams.domain.facts import Fact
from streams.domain.folding import SNAPSHOT_LIMITS, KeyLimits
from streams.domain.instant import MICROS_PER_SECOND, Instant
from streams.domain.snapshot import Snapshot
from streams.live.metrics.definitions import ALLOWED_LABELS, METRICS, MetricDef
from streams.live.metrics.exposition import render, render_in_thread
from streams.live.metrics.facts import FactCollector
from streams.live.metrics.pipeline import PipelineMetrics
from streams.live.metrics.snapshot_gauges import SnapshotCollector
from streams.live.settings import RECENT_SLA_SECONDS

__all__ = ["ALLOWED_LABELS", "METRICS", "MetricDef", "Metrics", "render", "render_in_thread"]

DEFAULT_LABEL_LIMIT = 200


class Metrics(PipelineMetrics):
    """The worker's metrics in their own registry (tests and workers never share one): the
    fact collector, the pipeline's health metrics and the snapshot gauges, in that order."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        agent_labels: bool = False,
        recent_seconds: float = RECENT_SLA_SECONDS,
        label_limit: int = DEFAULT_LABEL_LIMIT,
        kept_teams: frozenset[str] = frozenset(),
        at_risk_mrr: AtRiskMrrLimits = NO_AT_RISK_MRR_ALERTS,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.agent_labels = agent_labels
        self.recent_micros = round(recent_seconds * MICROS_PER_SECOND)
        # The team and agent label values of one dimension: ``kept_teams`` (the policies'),
        # then at most ``label_limit`` others; the rest are "(other)". Without agent labels
        # the snapshot's own agent limit applies, so its agents never force a second render.
        self.label_limits = KeyLimits(
            team=label_limit,
            agent=label_limit if agent_labels else SNAPSHOT_LIMITS.agent,
            kept_teams=kept_teams,
        )
        self._facts = FactCollector(agent_labels, self.label_limits)
        self.registry.register(self._facts)
        super().__init__(self.registry)
        self._snapshot = SnapshotCollector(agent_labels, label_limit, at_risk_mrr)
        self.registry.register(self._snapshot)

    # --- facts ---------------------------------------------------------------------------

    def observe_facts(self, added: Iterable[Fact], now: Instant) -> None:
        """Count the facts a ticket gained; retracted facts are not passed (see module doc).

        ``now`` is the worker's clock: SLA outcomes whose time is within ``recent_seconds`` of
        it also count in the ``*_recent_total`` counters.
        """
        self._facts.observe(added, now - self.recent_micros)

    # --- snapshot ------------------------------------------------------------------------

    def mirror_snapshot(self, snapshot: Snapshot) -> None:
        """Replace every snapshot gauge by the values of ``snapshot`` (spec section 5),
        built with ``label_limits`` so that its team and agent maps fit the labels.

        Series of keys no longer in the snapshot and of null values disappear. A malformed
        snapshot raises ``ValueError`` and leaves the previous values exposed.
        """
        self._snapshot.replace(snapshot)
