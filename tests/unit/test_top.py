"""``ticketpulse top``: durations at a glance, freshness, every figure of a frame in its row
and column, the per-dimension table, errors in the view, and ``--once`` over real HTTP."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from streams.domain.facts import Fact, FactDiff, FactKind, SlaTarget
from streams.domain.instant import MICROS_PER_MINUTE, MICROS_PER_SECOND, parse_rfc3339
from streams.domain.policies import load_policies
from streams.domain.snapshot import Backlog, SlaNow, Snapshot, build_snapshot
from streams.domain.windows import WINDOWS, Windows
from streams.replay import replay_lines
from streams.top import format_seconds, freshness, render, top

AS_OF = parse_rfc3339("2026-11-02T10:00:00Z")
GOLDEN_ACCOUNTS = Path(__file__).parent.parent / "golden" / "accounts"
SECOND = MICROS_PER_SECOND
HOUR_AGO = 60.0


def fact(minutes_ago: float, kind: FactKind, value: int = 0, **kw: Any) -> Fact:
    fields: dict[str, Any] = {"team": "billing", "channel": "email", "priority": "high"}
    fields.update(kw)
    return Fact(AS_OF - round(minutes_ago * MICROS_PER_MINUTE), kind, value, **fields)


def sla(minutes_ago: float, met: bool, target: SlaTarget, **kw: Any) -> Fact:
    kind = FactKind.SLA_MET if met else FactKind.SLA_BREACHED
    return fact(minutes_ago, kind, target=target, **kw)


# Figures worked by hand. In the last hour: 3 created (2 billing, 1 tech), first replies of
# 252 s and 11100 s, replies of 5 x 60 s, 4 x 252 s and 11100 s (p50, p90 and p99 differ),
# one resolution of 2 d 4 h with one touch, CSAT 5, 4, 2, NPS 10, 9, 3, 7,
# first-reply SLA 3 met and 1 breached, one billing call of 312 s (handle time). Five hours
# ago: one more tech ticket, a reopen and a breached resolution clock. Three days ago: three
# vip chat tickets and a met resolution clock.
FACTS = (
    fact(10, FactKind.CREATED, agent="ag-1"),
    fact(12, FactKind.CREATED),
    fact(15, FactKind.CREATED, team="tech", channel="chat"),
    fact(10, FactKind.FIRST_REPLY, 252 * SECOND, agent="ag-1"),
    fact(20, FactKind.FIRST_REPLY, 11_100 * SECOND, team="tech", agent="ag-2"),
    *(fact(10, FactKind.REPLY, 60 * SECOND, agent="ag-1") for _ in range(5)),
    *(fact(10, FactKind.REPLY, 252 * SECOND, agent="ag-1") for _ in range(4)),
    fact(20, FactKind.REPLY, 11_100 * SECOND, team="tech", agent="ag-2"),
    fact(10, FactKind.HANDLE, 312 * SECOND, agent="ag-1"),
    fact(30, FactKind.RESOLUTION, 187_200 * SECOND, team="tech", agent="ag-2"),
    fact(30, FactKind.TOUCHES_TO_CLOSE, 1, team="tech", agent="ag-2"),
    *(fact(40, FactKind.CSAT, score) for score in (5, 4, 2)),
    *(fact(40, FactKind.NPS, score) for score in (10, 9, 3, 7)),
    *(sla(50, True, SlaTarget.FIRST_REPLY) for _ in range(3)),
    sla(50, False, SlaTarget.FIRST_REPLY, team="tech"),
    fact(5 * HOUR_AGO, FactKind.CREATED, team="tech"),
    fact(5 * HOUR_AGO, FactKind.REOPEN, team="tech"),
    sla(5 * HOUR_AGO, False, SlaTarget.RESOLUTION, team="tech"),
    *(fact(3 * 24 * HOUR_AGO, FactKind.CREATED, channel="chat", team="vip") for _ in range(3)),
    sla(3 * 24 * HOUR_AGO, True, SlaTarget.RESOLUTION, team="vip"),
)


def snapshot() -> Snapshot:
    store = Windows()
    store.apply(FactDiff(added=FACTS))
    windows = {name: store.window(name, AS_OF) for name in WINDOWS}
    backlog = Backlog.from_tickets(
        [
            ("new", "high", "billing"),
            ("new", "urgent", "billing"),
            ("open", "normal", "tech"),
            ("pending", "normal", "tech"),
            ("solved", "low", "tech"),
        ]
    )
    now = SlaNow(at_risk={"first_reply": 2}, breached_running={"resolution": 5})
    return build_snapshot(AS_OF, windows, backlog, now)


def text_of(renderable: Any, width: int = 220) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text()


def cells(text: str, label: str) -> list[str]:
    """The cells right of the first cell reading ``label``, up to the end of its table.

    Tables may stand side by side; an empty part (the gap between them) ends a table.
    """
    for line in text.splitlines():
        parts = [part.strip() for part in re.split("[│┃]", line)]
        if label in parts[1:-1]:
            start = parts.index(label, 1) + 1
            end = parts.index("", start) if "" in parts[start:] else len(parts)
            return parts[start:end]
    raise AssertionError(f"no row {label!r} in:\n{text}")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "-"),
        (0, "0.0s"),
        (0.44, "0.4s"),
        (42, "42s"),
        (59.4, "59s"),
        (59.6, "1m00s"),
        (252, "4m12s"),
        (3599.6, "1h00m"),
        (11_100, "3h05m"),
        (86_399, "1d0h"),
        (187_200, "2d4h"),
        (10 * 86_400 + 3 * 3600 + 1700, "10d3h"),
        (-150, "-2m30s"),
    ],
)
def test_format_seconds(seconds: float | None, shown: str) -> None:
    assert format_seconds(seconds) == shown


def test_freshness_live_stale_and_ahead() -> None:
    assert freshness(AS_OF, AS_OF - 10 * SECOND) == ("live", "green")
    assert freshness(AS_OF, AS_OF)[0] == "live"
    assert freshness(AS_OF, AS_OF + 150 * SECOND)[0] == "stale: 2m30s behind"
    assert freshness(AS_OF, AS_OF - 5 * 60 * SECOND)[0] == "as_of is 5m00s ahead of this clock"


def test_a_frame_shows_every_figure_per_window() -> None:
    text = text_of(render(snapshot(), None, "24h", now=AS_OF - 10 * SECOND))
    assert "as_of 2026-11-02T10:00:00Z" in text and "live" in text
    assert re.search(r"┃\s+┃\s+1h ┃\s+24h ┃\s+7d ┃", text)
    expected = {
        "First reply p50 / p90": ["4m12s / 3h05m"] * 3,
        "Reply p50 / p90": ["1m00s / 4m12s"] * 3,
        "Resolution p50 / p90": ["2d4h / 2d4h"] * 3,
        "Handle p50 / p90": ["5m12s / 5m12s"] * 3,
        "Created": ["3", "4", "7"],
        "Solved": ["1", "1", "1"],
        "Reopened": ["0", "1", "1"],
        "FCR": ["100.0%"] * 3,
        "CSAT": ["66.7% (n=3)"] * 3,
        "NPS": ["+25.0 (n=4)"] * 3,
        "SLA first reply": ["75.0% (3/4)"] * 3,
        "SLA next reply": ["-"] * 3,
        "SLA resolution": ["-", "0.0% (0/1)", "50.0% (1/2)"],
    }
    for label, row in expected.items():
        assert cells(text, label) == row, label


def test_a_frame_shows_backlog_and_sla_now() -> None:
    text = text_of(render(snapshot(), None, "24h"))
    assert "Backlog: 4 open" in text
    assert cells(text, "new")[0] == "2"
    assert cells(text, "pending")[0] == "1"
    assert cells(text, "urgent")[0] == "1"
    assert cells(text, "normal")[0] == "2"
    assert cells(text, "first reply")[-2:] == ["2", "0"]
    assert cells(text, "resolution")[-2:] == ["0", "5"]


def first_column(text: str, title: str) -> list[str]:
    """The first cells of the rows of the table under ``title``."""
    rows = text.split(title, 1)[1].splitlines()
    return [line.split("│")[1].strip() for line in rows if line.startswith("│")]


def test_the_by_table_lists_the_window_s_values_busiest_first() -> None:
    text = text_of(render(snapshot(), "team", "24h"))
    assert first_column(text, "24h by team") == ["billing", "tech"]  # vip: nothing in 24h
    billing, tech = cells(text, "billing"), cells(text, "tech")
    assert billing[:4] == ["2", "0", "4m12s / 4m12s", "1m00s / 4m12s"]
    assert tech[:7] == [
        "2",
        "1",
        "3h05m / 3h05m",
        "3h05m / 3h05m",
        "2d4h / 2d4h",
        "- / -",
        "100.0%",
    ]
    assert billing[5] == "5m12s / 5m12s"  # handle time
    assert billing[-3:] == ["100.0% (3/3)", "-", "-"]
    assert tech[-3:] == ["0.0% (0/1)", "-", "0.0% (0/1)"]
    week = text_of(render(snapshot(), "team", "7d"))
    assert first_column(week, "7d by team") == ["vip", "billing", "tech"]
    assert cells(week, "vip")[:2] == ["3", "0"]
    assert cells(week, "vip")[-1] == "100.0% (1/1)"


def test_the_by_table_holds_only_values_with_facts_and_is_cut_at_the_limit() -> None:
    full = text_of(render(snapshot(), "agent", "1h"))
    assert first_column(full, "1h by agent") == ["ag-1", "ag-2"]
    assert cells(full, "ag-1")[:3] == ["1", "0", "4m12s / 4m12s"]
    assert cells(full, "ag-2")[:2] == ["0", "1"]
    cut = text_of(render(snapshot(), "agent", "1h", limit=1))
    assert first_column(cut, "1h by agent") == ["ag-1"]
    assert "... and 1 more" in cut


def test_errors_and_a_missing_snapshot_are_shown_not_raised() -> None:
    text = text_of(render(None, "team", "24h", status="cannot reach http://x/kpis: refused"))
    assert "cannot reach http://x/kpis: refused" in text and "no snapshot yet" in text
    stale = text_of(render(snapshot(), None, "24h", now=AS_OF + 90 * SECOND, status="timeout"))
    assert "stale: 1m30s behind" in stale and "timeout" in stale
    assert cells(stale, "Created") == ["3", "4", "7"]


# -- the command over HTTP -----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    status = 200
    body = b""
    token = ""  # when set, a request without "Bearer <token>" gets 401, as from the worker

    def do_GET(self) -> None:
        if self.token and self.headers.get("Authorization") != f"Bearer {self.token}":
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b'{"error": "(auth): missing or wrong bearer token"}')
            return
        if self.path != "/kpis":
            self.send_error(404)
            return
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(status: int, body: Any, token: str = "") -> Iterator[str]:
    text = json.dumps(body.to_json() if isinstance(body, Snapshot) else body)
    attributes = {"status": status, "body": text.encode(), "token": token}
    handler = type("Handler", (_Handler,), attributes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def worker() -> Iterator[str]:
    yield from _serve(200, snapshot())


@pytest.fixture
def starting_worker() -> Iterator[str]:
    body = {"error": "no snapshot yet: the worker has not published one"}
    yield from _serve(503, body)


@pytest.fixture
def locked_worker() -> Iterator[str]:
    yield from _serve(200, snapshot(), token="s3cret")


def accounts_snapshot() -> Snapshot:
    """The golden accounts log replayed (its README works out every figure below)."""
    with (GOLDEN_ACCOUNTS / "events.jsonl").open("rb") as handle:
        policies = load_policies(GOLDEN_ACCOUNTS / "policies.yaml")
        result = replay_lines(iter(handle), policies, parse_rfc3339("2026-12-01T00:00:00Z"))
    return Snapshot.from_json(result.snapshot)


@pytest.fixture
def accounts_worker() -> Iterator[str]:
    yield from _serve(200, accounts_snapshot())


def test_the_accounts_view_shows_now_the_windows_and_the_customers_at_risk() -> None:
    snapshot = accounts_snapshot()
    assert "Customers at risk" not in text_of(render(snapshot))  # only when asked
    text = text_of(render(snapshot, accounts=True))
    assert "Accounts now: 14 customers, 3 open leads" in text
    # customers, MRR, ARPA, CLV, at risk, at-risk MRR
    assert cells(text, "(all)") == ["14", "3,250.00", "232.14", "2,553.57", "4", "510.00"]
    assert cells(text, "ent") == ["4", "2,200.00", "550.00", "2,200.00", "0", "0.00"]
    assert cells(text, "smb") == ["6", "750.00", "125.00", "-", "3", "470.00"]  # no 30d churn
    assert cells(text, "Churn rate") == ["0.0%", "9.1%", "50.0%"]  # 7d, 30d, 90d
    assert cells(text, "NRR") == ["100.9%", "89.9%", "71.4%"]
    assert cells(text, "Acquisition") == ["33.3%", "50.0%", "44.4%"]
    assert cells(text, "Leads / converted") == ["3 / 1", "8 / 4", "9 / 4"]
    assert cells(text, "New MRR") == ["1,100.00", "1,360.00", "2,930.00"]
    assert first_column(text, "Customers at risk") == ["G17", "G08", "G21", "G18"]
    assert cells(text, "G08") == ["150.00", "smb", "ann", "silent, contraction"]
    cut = text_of(render(snapshot, accounts=True, limit=2))
    assert first_column(cut, "Customers at risk") == ["G17", "G08"]
    assert "... and 2 more" in cut


def test_the_accounts_view_fits_an_80_column_terminal() -> None:
    """``make demo`` prints it to a terminal (or a pipe) of 80 columns: the windows table
    goes below the now table rather than squeezing both into cut-off cells."""
    text = text_of(render(accounts_snapshot(), accounts=True), width=80)
    assert cells(text, "(all)") == ["14", "3,250.00", "232.14", "2,553.57", "4", "510.00"]
    assert cells(text, "ent") == ["4", "2,200.00", "550.00", "2,200.00", "0", "0.00"]
    assert cells(text, "Churn rate") == ["0.0%", "9.1%", "50.0%"]
    assert cells(text, "G08") == ["150.00", "smb", "ann", "silent, contraction"]
    assert max(len(line) for line in text.splitlines()) <= 80


def test_the_accounts_view_says_when_the_snapshot_has_no_accounts() -> None:
    text = text_of(render(snapshot(), accounts=True))
    assert "no accounts section in the snapshot (no account events yet)" in text
    assert "KPIs per window" in text  # the ticket view is still there


def test_once_with_accounts_prints_them_from_the_worker(accounts_worker: str) -> None:
    result = invoke("--once", "--accounts", "--url", accounts_worker)
    assert result.exit_code == 0, result.output
    assert cells(result.output, "(all)")[:2] == ["14", "3,250.00"]
    assert first_column(result.output, "Customers at risk") == ["G17", "G08", "G21", "G18"]


def invoke(*args: str, **env: str) -> Any:
    return CliRunner().invoke(top, list(args), env={"COLUMNS": "200", **env})


def test_once_prints_one_frame_from_the_worker(worker: str) -> None:
    result = invoke("--once", "--url", worker + "/", "--by", "channel", "--window", "7d")
    assert result.exit_code == 0, result.output
    assert "as_of 2026-11-02T10:00:00Z" in result.output
    assert cells(result.output, "Created") == ["3", "4", "7"]
    assert first_column(result.output, "7d by channel") == ["chat", "email"]
    assert cells(result.output, "chat")[:2] == ["4", "0"]


def test_once_shows_the_worker_s_error_and_exits_1(starting_worker: str) -> None:
    result = invoke("--once", "--url", starting_worker)
    assert result.exit_code == 1
    assert "HTTP 503: no snapshot yet: the worker has not published one" in result.output


def test_the_api_token_is_sent_from_its_variable_or_option(locked_worker: str) -> None:
    refused = invoke("--once", "--url", locked_worker)
    assert refused.exit_code == 1
    assert "HTTP 401: (auth): missing or wrong bearer token" in refused.output
    by_variable = invoke("--once", "--url", locked_worker, TICKETPULSE_API_TOKEN="s3cret")
    assert by_variable.exit_code == 0 and "as_of 2026-11-02T10:00:00Z" in by_variable.output
    assert invoke("--once", "--url", locked_worker, "--token", "s3cret").exit_code == 0


def test_once_shows_an_unreachable_worker_and_exits_1() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = invoke("--once", "--url", f"http://127.0.0.1:{port}")
    assert result.exit_code == 1
    assert f"cannot reach http://127.0.0.1:{port}/kpis" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_options_are_checked() -> None:
    assert invoke("--once", "--by", "ticket").exit_code == 2
    assert invoke("--once", "--window", "30d").exit_code == 2


@pytest.fixture
def half_snapshot_worker() -> Iterator[str]:
    data = snapshot().to_json()
    del data["sla_now"]
    yield from _serve(200, data)


def test_an_answer_that_is_not_a_whole_snapshot_is_shown_not_drawn(
    half_snapshot_worker: str,
) -> None:
    """top reads the answer as a typed snapshot: a part missing is a clear line, not a
    KeyError half-way through a frame."""
    result = invoke("--once", "--url", half_snapshot_worker)
    assert result.exit_code == 1
    assert "/kpis: the answer is not a snapshot" in result.output
