"""Grafana boards and SLA alerting as code (docs/grafana.md).

``dashboards`` builds the three boards with grafana-foundation-sdk's typed builders (one module
a board, from the panel kit ``dashboards.kit``), ``alerts`` holds every alert once and renders
it as Prometheus alerting rules and as Grafana-managed rules, ``files`` writes the generated
files the repository commits, and ``push`` uploads boards and rules to a running Grafana.
Every query names only metrics of ``streams.live.metrics.METRICS``.
"""

from __future__ import annotations

DATASOURCE_UID = "ticketpulse-prometheus"
# The worker's HTTP API through the Infinity plugin (yesoreyeram-infinity-datasource).
API_DATASOURCE_UID = "ticketpulse-api"
FOLDER_UID = "ticketpulse"
FOLDER_TITLE = "ticketpulse"

# Where the alerts' annotations link to by default, absolute because a page or a chat message
# has no repository to be relative to; `ticketpulse grafana generate` takes others
# (docs/grafana.md, "Links in the alerts").
RUNBOOKS_URL = "https://ticketpulse.example.com/docs/runbooks.md"
GRAFANA_URL = "http://127.0.0.1:3000"  # Grafana of docker-compose.yml and of `make demo`
API_URL = "http://127.0.0.1:6066"  # a worker's HTTP API (TICKETPULSE_WEB_PORT)
