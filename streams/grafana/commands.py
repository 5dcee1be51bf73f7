"""``ticketpulse grafana generate`` and ``ticketpulse grafana push`` (docs/grafana.md).

The SDK and grafana-client take a second to import, so they are imported only when one of
these commands runs, not for every ``ticketpulse`` invocation.
"""

from __future__ import annotations

from pathlib import Path

import click

from streams.grafana import API_URL, GRAFANA_URL, RUNBOOKS_URL
from streams.grafana.paths import REPO_ROOT


@click.group("grafana")
def grafana() -> None:
    """Grafana boards and alert rules: generate the committed files, push them to a Grafana."""


@grafana.command("generate")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=REPO_ROOT,
    show_default="the checkout",
    help="Repository root to write into.",
)
@click.option("--check", is_flag=True, help="Write nothing; fail if a file is out of date.")
@click.option(
    "--runbooks-url",
    envvar="TICKETPULSE_RUNBOOKS_URL",
    default=RUNBOOKS_URL,
    show_default=True,
    help="Where docs/runbooks.md is published; alerts link to its sections "
    "[TICKETPULSE_RUNBOOKS_URL].",
)
@click.option(
    "--grafana-url",
    envvar="GRAFANA_URL",
    default=GRAFANA_URL,
    show_default=True,
    help="Grafana base URL for the alerts' dashboard links [GRAFANA_URL].",
)
@click.option(
    "--api-url",
    envvar="TICKETPULSE_API_URL",
    default=API_URL,
    show_default=True,
    help="A worker's HTTP API, where the SLA alerts list their tickets [TICKETPULSE_API_URL].",
)
def generate(root: Path, check: bool, runbooks_url: str, grafana_url: str, api_url: str) -> None:
    """Write the dashboards JSON and the Grafana and Prometheus alert rule files."""
    from streams.grafana import files
    from streams.grafana.alerts import Links

    for option, url in (("--runbooks-url", runbooks_url), ("--grafana-url", grafana_url),
                        ("--api-url", api_url)):  # fmt: skip
        if not url.startswith(("http://", "https://")):
            message = f"{url!r}: expected an absolute http(s) URL"
            raise click.BadParameter(message, param_hint=option)
    links = Links(runbooks=runbooks_url, grafana=grafana_url, api=api_url)
    if check:
        stale = files.stale(root, links)
        if stale:
            names = "\n".join(f"  {p}" for p in stale)
            raise click.ClickException(
                f"out of date (run `ticketpulse grafana generate`):\n{names}"
            )
        click.echo("generated files are up to date")
        return
    changed = files.write(root, links)
    for path in changed:
        click.echo(f"wrote {path}")
    if not changed:
        click.echo("nothing changed")


@grafana.command("push")
@click.option("--url", required=True, envvar="GRAFANA_URL", help="Grafana base URL [GRAFANA_URL].")
@click.option(
    "--token",
    required=True,
    envvar="GRAFANA_TOKEN",
    help="Service account token with the Editor role [GRAFANA_TOKEN].",
)
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per request.")
def push_command(url: str, token: str, timeout: float) -> None:
    """Upload the ticketpulse folder, boards and alert rules to a running Grafana (idempotent)."""
    from streams.grafana.push import PushError, connect, push

    try:
        report = push(connect(url.rstrip("/"), token, timeout), url)
    except PushError as error:
        raise click.ClickException(str(error)) from error
    for line in report.lines():
        click.echo(line)
