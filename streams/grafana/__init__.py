"""Grafana boards and SLA alerting as code (docs/grafana.md).

``dashboards`` builds the three boards with grafana-foundation-sdk's typed builders, ``alerts``
holds every alert once and renders it as Prometheus alerting rules and as Grafana-managed rules,
``files`` writes the generated files the repository commits, and ``push`` uploads boards and
rules to a running Grafana. Every query names only metrics of ``streams.live.metrics.METRICS``.
"""

from __future__ import annotations

DATASOURCE_UID = "ticketpulse-prometheus"
FOLDER_UID = "ticketpulse"
FOLDER_TITLE = "ticketpulse"
