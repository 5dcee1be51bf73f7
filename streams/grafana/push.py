"""``ticketpulse grafana push``: upload the folder, the boards and the alert rules to a Grafana.

For teams that do not use file provisioning. Every step is an upsert keyed by a fixed uid (the
folder, each dashboard, each rule, each rule group), so running it again changes nothing but
what the code changed. Problems are reported as ``PushError`` with what to do about them:
a refused token, missing permissions, a Grafana too old for the alerting provisioning API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NoReturn, TypeVar

from grafana_client.api import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaUnauthorizedError,
)

from streams.errors import TicketpulseError
from streams.grafana import FOLDER_TITLE, FOLDER_UID
from streams.grafana.alerts import LINKS, api_rule_groups
from streams.grafana.dashboards import DASHBOARDS, dashboard_json

MIN_VERSION = (11, 0)
T = TypeVar("T")


class PushError(TicketpulseError):
    """The upload cannot go on; the message says why and what to do."""


@dataclass
class PushReport:
    grafana_version: str = ""
    folder: str = ""
    dashboards: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"Grafana {self.grafana_version}",
            f"folder {FOLDER_UID}: {self.folder}",
            *(f"dashboard {d}" for d in self.dashboards),
            *(f"alert rule {r}" for r in self.rules),
        ]


def parse_version(text: str) -> tuple[int, ...]:
    """``11.6.0-pre`` -> (11, 6, 0); anything unreadable -> ()."""
    numbers = []
    for part in text.split("-")[0].split("+")[0].split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers)


class Pusher:
    def __init__(self, api: GrafanaApi, url: str) -> None:
        self.api: Any = api  # grafana-client is untyped
        self.url = url

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """Run one API call; turn its failure into a PushError that names the step."""
        try:
            return call()
        except Exception as error:
            self._fail(what, error)

    def _exists(self, what: str, call: Callable[[], object]) -> bool:
        """Whether a GET finds the object: False on 404, a PushError on any other failure."""
        try:
            call()
        except GrafanaClientError as error:
            if error.status_code == 404:
                return False
            self._fail(what, error)
        except Exception as error:
            self._fail(what, error)
        return True

    def _fail(self, what: str, error: Exception) -> NoReturn:
        if isinstance(error, GrafanaUnauthorizedError):
            raise PushError(
                f"Grafana at {self.url} refused the token while trying to {what} "
                "(401 Unauthorized): pass a valid service account token with --token "
                "or GRAFANA_TOKEN"
            ) from error
        if isinstance(error, GrafanaClientError) and error.status_code == 403:
            raise PushError(
                f"the token may not {what} on Grafana at {self.url} (403 Forbidden): use a "
                "service account with the Editor role (Admin to change alert rules that "
                "others provisioned)"
            ) from error
        if isinstance(error, GrafanaException) and error.status_code:
            raise PushError(
                f"Grafana at {self.url} could not {what} (HTTP {error.status_code}): "
                f"{error.message}"
            ) from error
        raise PushError(f"cannot reach Grafana at {self.url} to {what}: {error}") from error

    def check_version(self) -> str:
        info = self._call("read its version", self.api.health.check)
        version = str((info or {}).get("version", "")) if isinstance(info, dict) else ""
        parsed = parse_version(version)
        if not parsed:
            raise PushError(
                f"cannot tell the version of the Grafana at {self.url} (got {version!r}); "
                "is the url a Grafana?"
            )
        if parsed[:2] < MIN_VERSION:
            need = ".".join(map(str, MIN_VERSION))
            raise PushError(
                f"Grafana {version} at {self.url} is too old: ticketpulse's boards (schema 41) "
                f"and alert rules (alerting provisioning API) need Grafana {need} or newer"
            )
        return version

    def ensure_folder(self) -> str:
        folders = self.api.folder
        if self._exists("read the ticketpulse folder", lambda: folders.get_folder(FOLDER_UID)):
            return "exists"
        self._call(
            "create the ticketpulse folder",
            lambda: folders.create_folder(FOLDER_TITLE, uid=FOLDER_UID),
        )
        return "created"

    def put_dashboard(self, name: str, dashboard: Mapping[str, Any]) -> str:
        body = {
            "dashboard": {k: v for k, v in dashboard.items() if k != "id"},
            "folderUid": FOLDER_UID,
            "overwrite": True,
            "message": "ticketpulse grafana push",
        }
        self._call(f"save dashboard {name}", lambda: self.api.dashboard.update_dashboard(body))
        return str(dashboard["uid"])

    def put_rule_group(self, group: Mapping[str, Any]) -> list[str]:
        provisioning = self.api.alertingprovisioning
        done = []
        for rule in group["rules"]:
            uid = rule["uid"]
            if self._exists(f"read alert rule {uid}", partial(provisioning.get_alertrule, uid)):
                self._call(
                    f"update alert rule {uid}", partial(provisioning.update_alertrule, uid, rule)
                )
                done.append(f"{uid} updated")
            else:
                self._call(f"create alert rule {uid}", partial(provisioning.create_alertrule, rule))
                done.append(f"{uid} created")
        self._call(
            f"set rule group {group['title']}",
            lambda: provisioning.update_rule_group(FOLDER_UID, group["title"], dict(group)),
        )
        return done


def push(api: GrafanaApi, url: str) -> PushReport:
    """Upload the folder, every dashboard and every alert rule group; idempotent."""
    pusher = Pusher(api, url)
    report = PushReport(grafana_version=pusher.check_version())
    report.folder = pusher.ensure_folder()
    for name, build in DASHBOARDS.items():
        report.dashboards.append(pusher.put_dashboard(name, dashboard_json(build(LINKS))))
    for group in api_rule_groups():
        report.rules += pusher.put_rule_group(group)
    return report


def connect(url: str, token: str, timeout: float = 10.0) -> GrafanaApi:
    if not url.startswith(("http://", "https://")):
        raise PushError(f"--url {url!r}: expected http://host:port or https://host:port")
    api: GrafanaApi = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    return api
