"""The four ticketpulse boards, built with grafana-foundation-sdk's typed builders: the panel
kit in ``kit``, one module a board.

- *Support overview* (leads): response times, quality, SLA compliance, volume and backlog;
- *SLA on-call*: what is about to breach or has breached, burn rates, pipeline health;
- *Team and agent drill-down*: per team and (with ``agent_labels``) per agent;
- *Accounts*: the account managers' customers, revenue, churn, retention and risk (its own
  ``segment`` variable, ``accounts``).

The variables ``team``, ``channel`` and ``priority`` pick dimension rows of the metrics
(docs/metrics.md): their "All" value is the empty label, so with all three on All a panel
shows the overall row, and with one set, that team's, channel's or priority's row. The rows
are marginals, so with two set a panel shows both rows side by side (``promql.picked_rows``).
Snapshot gauges (the product's corrected numbers) are read with ``max without (instance)``;
fact counters are summed over workers, and counts from them are rounded. Every panel reads the
data source the ``datasource`` variable picks. ``streams.grafana.files`` writes the JSON to
grafana/dashboards/.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

from streams.grafana.alerts import Links
from streams.grafana.dashboards.accounts import accounts
from streams.grafana.dashboards.sla_oncall import sla_oncall
from streams.grafana.dashboards.support_overview import support_overview
from streams.grafana.dashboards.team_agent import team_agent

DASHBOARDS: dict[str, Callable[[Links], dm.Dashboard]] = {
    "support-overview": support_overview,
    "sla-oncall": sla_oncall,
    "team-agent": team_agent,
    "accounts": accounts,
}


def dashboard_json(dashboard: dm.Dashboard) -> dict[str, Any]:
    """The dashboard as plain JSON data (what Grafana stores and the repository commits)."""
    data: dict[str, Any] = json.loads(json.dumps(dashboard, cls=JSONEncoder))
    return data
