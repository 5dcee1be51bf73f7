"""``ticketpulse grafana push`` against a small fake Grafana on loopback that checks every request.

The fake keeps what it was sent (folders, rules), answers like Grafana's HTTP API (401 without
the token, 404 for what does not exist) and records each request's method, path and body.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.grafana import FOLDER_UID
from streams.grafana.alerts import ALERTS, api_rule_groups
from streams.grafana.dashboards import DASHBOARDS
from streams.grafana.files import DASHBOARD_DIR, REPO_ROOT
from streams.stack.ports import free_ports

TOKEN = "glsa_test_token"


@dataclass
class FakeGrafana:
    version: str = "12.0.0"
    forbid: str = ""  # a path prefix answered with 403
    folders: set[str] = field(default_factory=set)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.requests.append((method, path, body))
        if path.startswith(self.forbid) and self.forbid:
            return 403, {"message": "You'll need additional permissions"}
        if (method, path) == ("GET", "/api/frontend/settings"):
            return 200, {"buildInfo": {"version": self.version, "edition": "Open Source"}}
        if method == "GET" and path.startswith("/api/folders/"):
            uid = path.rsplit("/", 1)[1]
            return (200, {"uid": uid}) if uid in self.folders else (404, {"message": "not found"})
        if (method, path) == ("POST", "/api/folders"):
            assert set(body) == {"title", "uid"}
            self.folders.add(body["uid"])
            return 200, {"uid": body["uid"], "title": body["title"]}
        if (method, path) == ("POST", "/api/dashboards/db"):
            assert body["overwrite"] is True and body["folderUid"] in self.folders
            assert "id" not in body["dashboard"]
            self.dashboards[body["dashboard"]["uid"]] = body["dashboard"]
            return 200, {"status": "success", "uid": body["dashboard"]["uid"]}
        prefix = "/api/v1/provisioning/alert-rules"
        if path.startswith(prefix + "/"):
            uid = path.rsplit("/", 1)[1]
            if method == "GET":
                return (200, self.rules[uid]) if uid in self.rules else (404, {"message": "no"})
            if method == "PUT":
                assert uid in self.rules and body["uid"] == uid
                self.rules[uid] = body
                return 200, body
        if (method, path) == ("POST", prefix):
            assert body["uid"] not in self.rules
            assert body["folderUID"] in self.folders
            self.rules[body["uid"]] = body
            return 201, body
        if method == "PUT" and path.startswith(f"/api/v1/provisioning/folder/{FOLDER_UID}/"):
            name = path.rsplit("/", 1)[1]
            assert {r["uid"] for r in body["rules"]} <= set(self.rules)
            self.groups[name] = body
            return 200, body
        return 404, {"message": f"unexpected {method} {path}"}


@pytest.fixture
def grafana() -> Iterator[tuple[FakeGrafana, str]]:
    fake = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                fake.requests.append((self.command, self.path, body))
                status, answer = 401, {"message": "invalid API key"}
            else:
                status, answer = fake.handle(self.command, self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_ports(1)[0]), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_push(url: str, token: str = TOKEN) -> Any:
    return CliRunner().invoke(main, ["grafana", "push", "--url", url, "--token", token])


def test_push_uploads_folder_dashboards_and_rules(grafana: tuple[FakeGrafana, str]) -> None:
    fake, url = grafana
    result = run_push(url)
    assert result.exit_code == 0, result.output
    assert fake.folders == {FOLDER_UID}
    for name in DASHBOARDS:
        committed = json.loads((REPO_ROOT / DASHBOARD_DIR / f"{name}.json").read_text())
        assert fake.dashboards[committed["uid"]] == committed
    assert set(fake.rules) == {alert.uid for alert in ALERTS}
    expected_groups = {g["title"]: g for g in api_rule_groups()}
    assert fake.groups == expected_groups
    for rule in fake.rules.values():
        assert rule["keep_firing_for"] and rule["condition"] == "B"
        assert rule["data"][0]["model"]["expr"]
    methods = [(m, p) for m, p, _ in fake.requests]
    assert methods[0] == ("GET", "/api/frontend/settings")
    assert ("POST", "/api/folders") in methods
    assert methods.count(("POST", "/api/v1/provisioning/alert-rules")) == len(ALERTS)
    assert "folder ticketpulse: created" in result.output


def test_push_again_changes_nothing_and_creates_nothing(
    grafana: tuple[FakeGrafana, str],
) -> None:
    fake, url = grafana
    assert run_push(url).exit_code == 0
    state = (set(fake.folders), dict(fake.rules), dict(fake.dashboards), dict(fake.groups))
    fake.requests.clear()
    result = run_push(url)
    assert result.exit_code == 0, result.output
    assert (set(fake.folders), fake.rules, fake.dashboards, fake.groups) == state
    methods = [(m, p) for m, p, _ in fake.requests]
    assert ("POST", "/api/folders") not in methods
    assert ("POST", "/api/v1/provisioning/alert-rules") not in methods
    puts = [p for m, p in methods if m == "PUT" and "/alert-rules/" in p]
    assert len(puts) == len(ALERTS)
    assert "folder ticketpulse: exists" in result.output


def test_a_refused_token_is_reported_as_such(grafana: tuple[FakeGrafana, str]) -> None:
    fake, url = grafana
    result = run_push(url, token="wrong")
    assert result.exit_code == 1
    assert "refused the token" in result.output and "401" in result.output
    assert len(fake.requests) == 1  # stopped at the first call


def test_an_old_grafana_is_refused_before_anything_is_written(
    grafana: tuple[FakeGrafana, str],
) -> None:
    fake, url = grafana
    fake.version = "9.5.2"
    result = run_push(url)
    assert result.exit_code == 1
    assert "Grafana 9.5.2" in result.output and "too old" in result.output
    assert [m for m, _, _ in fake.requests] == ["GET"]


def test_missing_permissions_name_the_step_and_the_role(grafana: tuple[FakeGrafana, str]) -> None:
    fake, url = grafana
    fake.forbid = "/api/dashboards"
    result = run_push(url)
    assert result.exit_code == 1
    assert "403" in result.output and "Editor role" in result.output
    assert "save dashboard" in result.output


def test_an_unreachable_grafana_is_reported() -> None:
    port = free_ports(1)[0]
    result = run_push(f"http://127.0.0.1:{port}")
    assert result.exit_code == 1
    assert "cannot reach Grafana" in result.output


def test_a_url_without_scheme_is_refused() -> None:
    result = run_push("grafana:3000")
    assert result.exit_code == 1 and "expected http://" in result.output
