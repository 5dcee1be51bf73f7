"""The boards' queries and the alerts against the real Prometheus, fed by a real worker.

A Prometheus and an Alertmanager of their own (seconds to start) scrape one worker every second
and evaluate the alert rules without pending periods (``fast_variant``), and Alertmanager
delivers to a webhook receiver in this test. The worker reads the session stack's Kafka and
Redis, with ``agent_labels`` on so that the per-agent panels have rows.

1. A ticket whose first-reply deadline passes a few seconds after it arrives: the SLA-breach
   alert reaches the webhook within a bounded time after the deadline.
2. A backfilled ticket whose deadline passed a month ago: the breach counts on the boards'
   counter, and no alert reaches the webhook.
3. The golden stream moved to now, and the golden accounts' CRM events posted to the worker
   (``POST /events``, to the run's own accounts topic): every panel query and every alert
   expression is valid PromQL on the real server and returns data, except where none can exist
   (named below; the accounts board while the worker's snapshot has no accounts section);
   with a team and a priority picked together too; counts are whole numbers; the snapshot
   age is between 0 and a minute.
4. A team whose clocks stopped before Prometheus first saw them (so nothing stopped within
   any window): the ratio panels leave it out instead of showing NaN.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.domain.account_decode import decode_any
from streams.domain.account_events import AccountEvent
from streams.domain.account_thresholds import AtRiskMrrLimits
from streams.domain.instant import MICROS_PER_MINUTE, ceil_minute, format_rfc3339, parse_rfc3339
from streams.domain.policies import load_policies
from streams.domain.snapshot import Snapshot
from streams.grafana import RUNBOOKS_URL
from streams.grafana.alerts import ALERTS, fast_variant, prometheus_rules
from streams.grafana.dashboards import DASHBOARDS, dashboard_json
from streams.grafana.files import dump_yaml
from streams.live.metrics import Metrics
from streams.live.metrics.exposition import render
from streams.replay import replay_lines
from streams.stack import Stack, StackConfig, StackPaths, StackPorts
from streams.stack.alertmanager_server import Alertmanager
from streams.stack.component import Component
from streams.stack.config import ScrapeTarget
from streams.stack.prometheus_server import Prometheus
from tests.conftest import start_stack
from tests.support.workers import WorkerProcess, iter_until, now_micros, post

from .workers import Run, produce, shifted_golden

BREACH_BOUND_SECONDS = 30.0
GOLDEN_ACCOUNTS_AS_OF = parse_rfc3339("2026-12-01T00:00:00Z")
# Panels and alert queries that cannot have data here, and why.
MAY_BE_EMPTY = {
    "TicketpulseSlaBudgetBurnFast": "it needs 20 recent clocks stopped in the hour",
    "TicketpulseSlaBudgetBurnSlow": "it needs 20 recent clocks stopped and a 30m burn above 4",
    "TicketpulseAccountAtRiskMrr": "the golden policies set no at-risk MRR threshold",
}
# The accounts board reads the snapshot's accounts section: without one, its queries run (they
# must be valid) but have no data.
ACCOUNTS_BOARD = "accounts"
QUIET_SECONDS = 8.0  # rules evaluate every second, Alertmanager groups within a second
VARIABLES = {
    "$team": "^$",
    "$channel": "^$",
    "$priority": "^$",
    "$segment": "^$",
    "$agent": ".+",
    "$__rate_interval": "1m",
}


@dataclass
class Webhook:
    """Alertmanager's webhook deliveries: (time received, payload)."""

    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    def alerts(self) -> list[tuple[float, dict[str, Any]]]:
        return [(at, alert) for at, body in list(self.received) for alert in body["alerts"]]


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            hook.received.append((time.time(), json.loads(self.rfile.read(length))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()


def webhook_alertmanager(url: str) -> type[Alertmanager]:
    class WebhookAlertmanager(Alertmanager):
        """The stack's Alertmanager with a config that delivers every alert to ``url``."""

        def write_config(self) -> bool:
            config = {
                "route": {
                    "receiver": "test",
                    "group_by": ["alertname", "target", "priority", "team"],
                    "group_wait": "1s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [{"name": "test", "webhook_configs": [{"url": url}]}],
            }
            target = self.home / "alertmanager.yml"
            target.write_text(yaml.safe_dump(config))
            return True

    return WebhookAlertmanager


@dataclass
class Live:
    run: Run
    worker: WorkerProcess
    stack: Stack

    @property
    def prometheus(self) -> str:
        return self.stack.addresses.prometheus_url


@pytest.fixture(scope="module")
def live(
    stack: Stack, webhook: Webhook, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("grafana-live")
    run = Run(
        name="tgrafanalive",
        bootstrap=stack.addresses.bootstrap_servers,
        redis_url=stack.addresses.redis_url,
        log_dir=home,
    )
    # the golden policies with an at-risk MRR threshold no golden segment reaches: the
    # threshold's gauge (an accounts board panel) has data, its alert stays quiet
    golden_policies = run.policies.read_text(encoding="utf-8")
    run.policies = home / "policies.yaml"
    run.policies.write_text(
        golden_policies + "\naccounts: {alerts: {at_risk_mrr: {default: 1000000}}}\n"
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TICKETPULSE_AGENT_LABELS", "true")
        worker = run.start_worker(TICKETPULSE_TOPIC_ACCOUNTS=f"{run.name}.accounts")
    rules = home / "ticketpulse.fast.rules.yml"
    rules.write_text(dump_yaml(prometheus_rules(fast_variant(), interval="1s")))
    manager = webhook_alertmanager(webhook.url)

    def components(paths: StackPaths, config: StackConfig) -> list[Component]:
        return [manager(paths, config), Prometheus(paths, config)]

    address = worker.url.removeprefix("http://")
    config = StackConfig(
        ports=StackPorts.free(),
        scrape_targets=(ScrapeTarget("ticketpulse", address),),
        scrape_interval="1s",
        rule_files=(str(rules),),
    )
    alerting = start_stack(home / "stack", config, components)
    try:
        yield Live(run, worker, alerting)
    finally:
        alerting.down()
        run.stop_all()


def query(prometheus: str, expr: str) -> dict[str, Any]:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = json.loads(error.read())
    return body


def result(prometheus: str, expr: str) -> list[dict[str, Any]]:
    body = query(prometheus, expr)
    assert body["status"] == "success", f"{body.get('error')}\n{expr}"
    found: list[dict[str, Any]] = body["data"]["result"]
    return found


def substitute(expr: str, **picked: str) -> str:
    """``expr`` with the board variables on All, or on the ``picked`` values."""
    values = {**VARIABLES, **{f"${name}": value for name, value in picked.items()}}
    for name, value in sorted(values.items(), key=lambda item: -len(item[0])):
        expr = expr.replace(name, value)
    return expr


def board_targets() -> Iterator[tuple[str, dict[str, Any], str]]:
    """(board name, panel, PromQL) of every Prometheus query of every board."""
    for name, build in DASHBOARDS.items():
        for panel in dashboard_json(build())["panels"]:
            for target in panel.get("targets", []):
                if "expr" in target:
                    yield name, panel, target["expr"]


def is_count(panel: dict[str, Any], expr: str) -> bool:
    return panel["fieldConfig"]["defaults"].get("unit") == "short" and "increase(" in expr


def wait_for(prometheus: str, expr: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for _ in iter_until(timeout, interval=0.5):
        found = result(prometheus, expr)
        if found:
            break
    return found


def test_sla_breach_alert_reaches_the_webhook_through_alertmanager(
    live: Live, webhook: Webhook
) -> None:
    assert wait_for(live.prometheus, 'ticketpulse_worker_up{job="ticketpulse"} == 1'), (
        live.worker.tail()
    )
    deadline = now_micros() + 5_000_000
    created = deadline - 15 * MICROS_PER_MINUTE  # urgent: first reply due in 15 minutes
    event = {
        "event_id": "grafana-live-1",
        "type": "ticket.created",
        "occurred_at": format_rfc3339(created),
        "ticket_id": "GL1",
        "channel": "chat",
        "priority": "urgent",
        "team": "billing",
    }
    asyncio.run(produce(live.run, [("tickets", b"GL1", json.dumps(event).encode())]))
    breach: dict[str, Any] = {}
    delivered_at = 0.0
    for _ in iter_until(BREACH_BOUND_SECONDS + 5, interval=0.2):
        for at, alert in webhook.alerts():
            labels = alert["labels"]
            if labels["alertname"] == "TicketpulseSlaBreach" and alert["status"] == "firing":
                breach, delivered_at = alert, at
        if breach:
            break
    assert breach, f"no breach alert; webhook got {webhook.received}\n{live.worker.tail()}"
    assert delivered_at - deadline / 1e6 < BREACH_BOUND_SECONDS
    labels = breach["labels"]
    assert labels["target"] == "first_reply" and labels["priority"] == "urgent"
    assert labels["severity"] == "critical" and labels["service"] == "ticketpulse"
    assert breach["annotations"]["runbook_url"] == f"{RUNBOOKS_URL}#ticketpulseslabreach"
    assert breach["annotations"]["tickets_url"].endswith("/sla/at-risk?target=first_reply&limit=50")
    team = [
        a for _, a in webhook.alerts() if a["labels"]["alertname"] == "TicketpulseTeamSlaBreach"
    ]
    for _ in iter_until(10, interval=0.2):
        if team:
            break
        team = [
            a for _, a in webhook.alerts() if a["labels"]["alertname"] == "TicketpulseTeamSlaBreach"
        ]
    assert team and team[0]["labels"]["team"] == "billing"


def ticket(ticket_id: str, created: int, priority: str, team: str) -> tuple[str, bytes, bytes]:
    event = {
        "event_id": f"{ticket_id}-created",
        "type": "ticket.created",
        "occurred_at": format_rfc3339(created),
        "ticket_id": ticket_id,
        "channel": "chat",
        "priority": priority,
        "team": team,
    }
    return ("tickets", ticket_id.encode(), json.dumps(event).encode())


def test_a_backfilled_breach_counts_on_the_boards_but_does_not_page(
    live: Live, webhook: Webhook
) -> None:
    team = {"team": "backfill", "target": "first_reply"}
    selector = 'team="backfill", target="first_reply"'
    # a current ticket first, so that the team's rows are scraped at 0 before the breach
    asyncio.run(produce(live.run, [ticket("BF-NOW", now_micros(), "low", team["team"])]))
    assert wait_for(live.prometheus, f"ticketpulse_sla_breached_total{{{selector}}} == 0")
    time.sleep(2)  # a few scrapes and rule evaluations at 0
    month_ago = now_micros() - 30 * 24 * 60 * MICROS_PER_MINUTE
    sent = time.time()
    asyncio.run(produce(live.run, [ticket("BF-OLD", month_ago, "low", team["team"])]))
    assert wait_for(live.prometheus, f"ticketpulse_sla_breached_total{{{selector}}} == 1"), (
        live.worker.tail()
    )
    recent = result(live.prometheus, f"ticketpulse_sla_breached_recent_total{{{selector}}}")
    assert [float(r["value"][1]) for r in recent] == [0.0]
    time.sleep(QUIET_SECONDS)
    paged = [
        alert["labels"]
        for at, alert in webhook.alerts()
        if at >= sent
        and (alert["labels"].get("team") == "backfill" or alert["labels"].get("priority") == "low")
    ]
    assert paged == []


@pytest.fixture(scope="module")
def golden(live: Live) -> Live:
    """The golden stream moved to now, applied and scraped (once for the module)."""
    records = shifted_golden(ceil_minute(now_micros()))
    half = len(records) // 2
    # two steps, so that counters increase between scrapes and rates are not all zero
    asyncio.run(produce(live.run, records[:half]))
    assert wait_for(live.prometheus, 'ticketpulse_window_tickets_solved{agent!=""}')
    time.sleep(2.5)
    # and one event keyed by something else than its ticket (misplaced), for that alert
    topic, _, value = next(r for r in records if json.loads(r[2]).get("type") == "ticket.created")
    asyncio.run(produce(live.run, [*records[half:], (topic, b"acct-1", value)]))
    assert wait_for(live.prometheus, "ticketpulse_deadletter_total")
    assert wait_for(live.prometheus, 'ticketpulse_events_total{outcome="misplaced"}')
    assert wait_for(live.prometheus, "ticketpulse_last_breach_timestamp_seconds")
    body = b"\n".join(shifted_account_events(ceil_minute(now_micros())))
    assert post(live.worker.url + "/events", body, "application/x-ndjson")[0] == 202
    for _ in iter_until(10, interval=0.5):  # a worker that computes accounts shows them
        if "accounts" in live.worker.get("/kpis")[1]:
            assert wait_for(live.prometheus, "ticketpulse_account_customers")
            break
    time.sleep(3)  # a few more scrapes after the last batch
    return live


def shifted_account_events(as_of: int) -> list[bytes]:
    """The golden accounts log's valid account events before its as_of, moved to ``as_of``."""
    golden = Path(__file__).parents[1] / "golden" / "accounts"
    delta = as_of - GOLDEN_ACCOUNTS_AS_OF
    lines = []
    for line in (golden / "events.jsonl").read_bytes().splitlines():
        event = decode_any(line)
        if isinstance(event, AccountEvent) and event.occurred_at < GOLDEN_ACCOUNTS_AS_OF:
            data = json.loads(line)
            data["occurred_at"] = format_rfc3339(event.occurred_at + delta)
            lines.append(json.dumps(data).encode())
    return lines


def test_every_panel_query_and_alert_expression_runs_and_returns_data(golden: Live) -> None:
    live = golden
    empty = []
    fractional = []
    checked = 0
    no_accounts = "accounts" not in live.worker.get("/kpis")[1]
    for name, panel, expr in board_targets():
        found = result(live.prometheus, substitute(expr))
        checked += 1
        if no_accounts and name == ACCOUNTS_BOARD:
            continue
        if not found and panel["title"] not in MAY_BE_EMPTY:
            empty.append(f"{name} / {panel['title']}: {expr}")
        if is_count(panel, expr):
            values = [float(sample["value"][1]) for sample in found]
            if any(value != round(value) for value in values):
                fractional.append(f"{name} / {panel['title']}: {values}")
    for name, build in DASHBOARDS.items():
        board = dashboard_json(build())
        for variable in board["templating"]["list"]:
            if variable["type"] != "query" or (no_accounts and name == ACCOUNTS_BOARD):
                continue
            label = variable["name"]
            selector = variable["query"].split("(", 1)[1].rsplit(",", 1)[0]
            url = f"{live.prometheus}/api/v1/label/{label}/values?" + urllib.parse.urlencode(
                {"match[]": selector}
            )
            with urllib.request.urlopen(url, timeout=10) as response:
                values = json.loads(response.read())["data"]
            assert [v for v in values if v], f"variable {label} of {name} has no values"
    assert checked > 50
    for alert in ALERTS:
        result(live.prometheus, alert.expr)  # valid as written in the rule file
        found = result(live.prometheus, alert.query)
        if not found and alert.name not in MAY_BE_EMPTY:
            empty.append(f"alert {alert.name}: {alert.query}")
    assert not empty, "queries without data:\n" + "\n".join(empty)
    assert not fractional, "counts that are not whole numbers:\n" + "\n".join(fractional)


def test_a_team_and_a_priority_picked_together_show_both_rows(golden: Live) -> None:
    """Rows are marginals: team billing and priority urgent cannot be crossed, so each panel
    that follows the variables shows billing's row and urgent's row (it showed nothing)."""
    live = golden
    empty = []
    rows: set[tuple[str, str]] = set()
    for name, panel, expr in board_targets():
        if "$team" not in expr or "$priority" not in expr:
            continue
        found = result(live.prometheus, substitute(expr, team="billing", priority="urgent"))
        if not found and panel["title"] not in MAY_BE_EMPTY:
            empty.append(f"{name} / {panel['title']}: {expr}")
        rows |= {(s["metric"].get("team", ""), s["metric"].get("priority", "")) for s in found}
    assert not empty, "queries without data for team and priority:\n" + "\n".join(empty)
    assert rows == {("billing", ""), ("", "urgent")}


def test_snapshot_age_counts_from_the_publish_not_from_as_of(live: Live) -> None:
    """as_of is the end of the snapshot's minute: now minus as_of was below 0 for a fresh one."""
    assert wait_for(live.prometheus, "ticketpulse_snapshot_timestamp_seconds")
    time.sleep(2)  # a scrape after the first snapshot
    (expr,) = [e for _, p, e in board_targets() if p["title"] == "Snapshot age"]
    for _ in range(3):
        (sample,) = result(live.prometheus, expr)
        age = float(sample["value"][1])
        assert 0 <= age < 60, age
        time.sleep(0.7)


def test_ratio_panels_leave_out_rows_where_no_clock_stopped(live: Live) -> None:
    """One ticket of a new team replied in time, one past its deadline: both clocks stopped
    (met, breached) before Prometheus first scraped the team's counters, so within every
    window none stopped, and breached / (met + breached) is 0 / 0 for that team."""
    now = now_micros()
    team = "nightdesk"

    def event(n: int, type_: str, at: int, ticket: str, **fields: Any) -> tuple[str, bytes, bytes]:
        value = {
            "event_id": f"{ticket}-{n}",
            "type": type_,
            "occurred_at": format_rfc3339(at),
            "ticket_id": ticket,
            **fields,
        }
        topic = "contacts" if type_.startswith("contact.") else "tickets"
        return topic, ticket.encode(), json.dumps(value).encode()

    fields = {"channel": "chat", "priority": "urgent", "team": team}
    records = [
        event(1, "ticket.created", now - 2 * MICROS_PER_MINUTE, "ND1", **fields),
        event(1, "ticket.created", now - 20 * MICROS_PER_MINUTE, "ND2", **fields),
        event(
            2,
            "contact.outbound",
            now - MICROS_PER_MINUTE,
            "ND1",
            agent_id="night",
            channel="chat",
            public=True,
        ),
    ]
    asyncio.run(produce(live.run, records))
    for metric in ("ticketpulse_sla_met_total", "ticketpulse_sla_breached_total"):
        assert wait_for(live.prometheus, f'{metric}{{team="{team}"}}'), live.worker.tail()
    time.sleep(3)  # more scrapes: the counters stay where they first appeared
    ratios = [
        (panel["title"], expr)
        for _, panel, expr in board_targets()
        if panel["title"] in ("Breached share per team, last hour", "Error-budget burn rate")
    ]
    assert len(ratios) == 3
    for title, expr in ratios:
        found = result(live.prometheus, substitute(expr))
        values = [sample["value"][1] for sample in found]
        assert "NaN" not in values, f"{title}: {found}"
        assert team not in {sample["metric"].get("team") for sample in found}, title


def test_the_at_risk_table_reads_its_columns_from_the_workers_api(live: Live) -> None:
    """The on-call board's ticket table asks the worker what Infinity would (the data source's
    URL is the worker's) and finds every column it shows in each ticket."""
    (query,) = [
        target
        for panel in dashboard_json(DASHBOARDS["sla-oncall"]())["panels"]
        if panel["type"] == "table"
        for target in panel["targets"]
    ]
    created = now_micros() - 5 * MICROS_PER_MINUTE  # urgent: first reply due in 10 minutes
    asyncio.run(produce(live.run, [ticket("AR1", created, "urgent", "billing")]))
    rows: list[dict[str, Any]] = []
    for _ in iter_until(30, interval=0.5):
        with urllib.request.urlopen(live.worker.url + query["url"], timeout=10) as response:
            rows = json.loads(response.read())[query["root_selector"]]
        if any(row["ticket_id"] == "AR1" for row in rows):
            break
    (row,) = [row for row in rows if row["ticket_id"] == "AR1" and row["target"] == "first_reply"]
    assert {column["selector"] for column in query["columns"]} <= set(row), row
    assert row["overdue"] is False and 0 < row["seconds_left"] <= 600


def test_the_fast_rules_loaded_are_the_generated_ones(live: Live, tmp_path: Path) -> None:
    with urllib.request.urlopen(f"{live.prometheus}/api/v1/rules", timeout=10) as response:
        groups = json.loads(response.read())["data"]["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    assert loaded == {alert.name for alert in ALERTS}
    assert all(rule["health"] != "err" for group in groups for rule in group["rules"])


@pytest.fixture
def accounts_exporter() -> Iterator[str]:
    """The /metrics text of the worker's own ``Metrics`` mirroring the replayed golden accounts
    log (at-risk MRR threshold 100 for every segment), served by this test: the board's
    queries get real account gauges on the real Prometheus whatever the worker computes."""
    golden = Path(__file__).parents[1] / "golden" / "accounts"
    with (golden / "events.jsonl").open("rb") as handle:
        replayed = replay_lines(
            iter(handle), load_policies(golden / "policies.yaml"), GOLDEN_ACCOUNTS_AS_OF
        )
    metrics = Metrics(at_risk_mrr=AtRiskMrrLimits(100))
    metrics.mirror_snapshot(Snapshot.from_json(replayed.snapshot))
    text = render(metrics.registry)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_accounts_board_and_alert_read_the_account_gauges(
    golden: Live, accounts_exporter: str
) -> None:
    live = golden
    worker = ScrapeTarget("ticketpulse", live.worker.url.removeprefix("http://"))
    live.stack.set_scrape_targets([worker, ScrapeTarget("accounts", accounts_exporter)])
    try:
        assert wait_for(live.prometheus, 'ticketpulse_account_customers{job="accounts"}')
        empty = []
        targets = [(p, e) for name, p, e in board_targets() if name == ACCOUNTS_BOARD]
        assert len(targets) > 15
        for segment in ("^$", "ent"):  # the overall row, and a segment with churn in 30d
            for panel, expr in targets:
                if not result(live.prometheus, substitute(expr, segment=segment)):
                    empty.append(f"{panel['title']} (segment {segment}): {expr}")
        assert not empty, "queries without data:\n" + "\n".join(empty)
        (variable,) = [
            v
            for v in dashboard_json(DASHBOARDS[ACCOUNTS_BOARD]())["templating"]["list"]
            if v["name"] == "segment"
        ]
        selector = variable["query"].split("(", 1)[1].rsplit(",", 1)[0]
        url = f"{live.prometheus}/api/v1/label/segment/values?" + urllib.parse.urlencode(
            {"match[]": selector}
        )
        with urllib.request.urlopen(url, timeout=10) as response:
            assert json.loads(response.read())["data"] == ["ent", "mid", "smb"]
        # The worker computes accounts too (from the CRM events alone, without the golden
        # tickets' support): the figures below are the exporter's, the replayed golden log's.
        overall = result(live.prometheus, substitute(targets[0][1]))
        exported = [float(s["value"][1]) for s in overall if s["metric"].get("job") == "accounts"]
        assert exported == [14.0]  # customers now
        # smb (470) and mid (40) against 100; ent has none at risk
        (alert,) = [a for a in ALERTS if a.name == "TicketpulseAccountAtRiskMrr"]
        assert alert.expr.count('{segment!=""') == 2
        firing = result(
            live.prometheus, alert.expr.replace('{segment!=""', '{job="accounts", segment!=""')
        )
        assert [(s["metric"]["segment"], float(s["value"][1])) for s in firing] == [("smb", 470)]
    finally:
        live.stack.set_scrape_targets([worker])
