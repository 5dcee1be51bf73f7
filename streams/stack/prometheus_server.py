"""Prometheus from Debian's ``prometheus``: scrapes the configured targets, alerts to Alertmanager.

The config is rendered from ``deploy/prometheus/prometheus.yml``; changing the scrape targets of a
running stack rewrites it and asks Prometheus to reload (``--web.enable-lifecycle``), so the data
and the process stay.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from streams.stack.component import Component, MissingDependency, StackError, require_binary
from streams.stack.paths import DEPLOY_DIR
from streams.stack.ports import HOST
from streams.stack.probes import http_status

TEMPLATE = DEPLOY_DIR / "prometheus" / "prometheus.yml"


class Prometheus(Component):
    name = "prometheus"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.config.ports.prometheus}"

    @property
    def config_path(self) -> Path:
        return self.home / "prometheus.yml"

    def ports(self) -> tuple[int, ...]:
        return (self.config.ports.prometheus,)

    def missing(self) -> list[MissingDependency]:
        return require_binary("prometheus", "prometheus") + require_binary("promtool", "prometheus")

    def render(self) -> dict[str, Any]:
        """The template with this stack's Alertmanager, rule files and scrape jobs filled in."""
        doc: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
        doc.setdefault("global", {})["scrape_interval"] = self.config.scrape_interval
        doc["global"]["evaluation_interval"] = self.config.scrape_interval
        am = f"{HOST}:{self.config.ports.alertmanager}"
        doc["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [am]}]}]}
        doc["rule_files"] = list(self.config.rule_files)
        jobs: list[dict[str, Any]] = doc.get("scrape_configs") or []
        for job in jobs:
            if job.get("job_name") == "prometheus":
                job["static_configs"] = [{"targets": [f"{HOST}:{self.config.ports.prometheus}"]}]
        doc["scrape_configs"] = jobs + [
            {
                "job_name": t.job,
                "metrics_path": t.metrics_path,
                "static_configs": [{"targets": [t.address]}],
            }
            for t in self.config.scrape_targets
        ]
        return doc

    def write_config(self) -> bool:
        """Write and check the config; True when it changed."""
        text = "# Rendered by streams/stack/prometheus_server.py; edit the template in deploy/.\n"
        text += yaml.safe_dump(self.render(), sort_keys=False)
        self.home.mkdir(parents=True, exist_ok=True)
        if self.config_path.exists() and self.config_path.read_text() == text:
            return False
        candidate = self.config_path.with_suffix(".yml.new")
        candidate.write_text(text)
        check = subprocess.run(
            [shutil.which("promtool") or "promtool", "check", "config", str(candidate)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise StackError(f"promtool rejects the rendered config {candidate}:\n{check.stderr}")
        candidate.replace(self.config_path)
        return True

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        self.write_config()

    def command(self) -> list[str]:
        return [
            shutil.which("prometheus") or "prometheus",
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--web.listen-address={HOST}:{self.config.ports.prometheus}",
            "--web.enable-lifecycle",
            # A firing alert sent before Alertmanager was discovered (at start or after a reload)
            # is dropped and only re-sent after this delay; the default minute hides it in a demo.
            "--rules.alert.resend-delay=10s",
            "--storage.tsdb.retention.time=7d",
        ]

    def ready(self) -> bool:
        return http_status(f"{self.url}/-/ready") == 200

    def reconfigure(self) -> None:
        if self.write_config():
            self.reload()

    def reload(self) -> None:
        status = http_status(f"{self.url}/-/reload", method="POST", timeout=10.0)
        if status != 200:
            raise StackError(
                f"Prometheus at {self.url} did not reload {self.config_path} (HTTP {status}); "
                f"see {self.paths.log(self.name)}"
            )

    def endpoints(self) -> dict[str, str]:
        return {"url": self.url}
