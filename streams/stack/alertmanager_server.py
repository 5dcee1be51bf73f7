"""Alertmanager from Debian's ``prometheus-alertmanager``: one node (no gossip), on loopback."""

from __future__ import annotations

import shutil

from streams.stack.component import Component, MissingDependency, StackError, require_binary
from streams.stack.paths import DEPLOY_DIR
from streams.stack.ports import HOST
from streams.stack.probes import http_status

TEMPLATE = DEPLOY_DIR / "alertmanager" / "alertmanager.yml"


class Alertmanager(Component):
    name = "alertmanager"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.config.ports.alertmanager}"

    def ports(self) -> tuple[int, ...]:
        return (self.config.ports.alertmanager,)

    def missing(self) -> list[MissingDependency]:
        return require_binary("prometheus-alertmanager", "prometheus-alertmanager")

    def write_config(self) -> bool:
        """Copy the template into the state dir; True when it changed."""
        target = self.home / "alertmanager.yml"
        text = TEMPLATE.read_text()
        if target.exists() and target.read_text() == text:
            return False
        target.write_text(text)
        return True

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        self.write_config()

    def reconfigure(self) -> None:
        """An edited ``deploy/alertmanager/alertmanager.yml`` is reloaded on the next ``up``."""
        if self.write_config():
            status = http_status(f"{self.url}/-/reload", method="POST", timeout=10.0)
            if status != 200:
                raise StackError(
                    f"Alertmanager at {self.url} rejected the new config (HTTP {status}); "
                    f"see {self.paths.log(self.name)}"
                )

    def command(self) -> list[str]:
        return [
            shutil.which("prometheus-alertmanager") or "prometheus-alertmanager",
            f"--config.file={self.home / 'alertmanager.yml'}",
            f"--storage.path={self.home / 'data'}",
            f"--web.listen-address={HOST}:{self.config.ports.alertmanager}",
            # An empty address turns off the gossip listener (default 0.0.0.0:9094).
            "--cluster.listen-address=",
        ]

    def ready(self) -> bool:
        return http_status(f"{self.url}/-/ready") == 200

    def endpoints(self) -> dict[str, str]:
        return {"url": self.url}
