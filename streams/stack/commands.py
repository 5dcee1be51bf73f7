"""``ticketpulse stack up|down|status``: the local services for the demo and for development."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from streams.stack.component import StackError
from streams.stack.config import ScrapeTarget, StackConfig
from streams.stack.paths import STATE_DIR_ENV, default_state_dir
from streams.stack.stack import ComponentStatus, Stack

F = TypeVar("F", bound=Callable[..., Any])

_PORT_OPTIONS = {
    "kafka": "Kafka broker (PLAINTEXT) port",
    "kafka_controller": "Kafka KRaft controller port",
    "redis": "Redis port",
    "prometheus": "Prometheus port",
    "alertmanager": "Alertmanager port",
}


def _state_dir_option(func: F) -> F:
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=STATE_DIR_ENV,
        default=default_state_dir,
        show_default=".stack/ in the checkout",
        help=f"Pid files, configs, data and logs (env {STATE_DIR_ENV}).",
    )(func)


@click.group()
def stack() -> None:
    """Run Kafka, Redis, Prometheus and Alertmanager locally (no Docker)."""


@stack.command()
@_state_dir_option
@click.option("--kafka-port", type=int, help=_PORT_OPTIONS["kafka"])
@click.option("--kafka-controller-port", type=int, help=_PORT_OPTIONS["kafka_controller"])
@click.option("--redis-port", type=int, help=_PORT_OPTIONS["redis"])
@click.option("--prometheus-port", type=int, help=_PORT_OPTIONS["prometheus"])
@click.option("--alertmanager-port", type=int, help=_PORT_OPTIONS["alertmanager"])
@click.option(
    "--scrape",
    "scrape",
    multiple=True,
    metavar="JOB=HOST:PORT[/PATH]",
    help="A Prometheus scrape target (repeatable; replaces the saved list). "
    "Default: ticketpulse=127.0.0.1:6066.",
)
@click.option(
    "--rule-file",
    "rule_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Prometheus rule file (repeatable; replaces the saved list).",
)
@click.option(
    "--redis-cluster/--single-redis",
    "redis_cluster",
    default=None,
    help="A Redis Cluster of 3 masters and 3 replicas (ports 6391-6396, bus 16391-16396) "
    "instead of one Redis. Default: as the last `up`, else one Redis.",
)
@click.option(
    "--kafka-brokers",
    type=click.IntRange(min=1),
    help="KRaft nodes (broker and controller each; the 2nd and 3rd on 19094/19095, "
    "19096/19097); with 3, replication factor 3 and min.insync.replicas=2. "
    "Default: as the last `up`, else 1.",
)
@click.option("--timeout", type=float, default=90.0, show_default=True, help="Seconds to wait.")
def up(
    state_dir: Path,
    kafka_port: int | None,
    kafka_controller_port: int | None,
    redis_port: int | None,
    prometheus_port: int | None,
    alertmanager_port: int | None,
    scrape: tuple[str, ...],
    rule_files: tuple[Path, ...],
    redis_cluster: bool | None,
    kafka_brokers: int | None,
    timeout: float,
) -> None:
    """Start what is not running; print what runs where. Safe to repeat.

    Ports, scrape targets and rule files not given keep the values of the last `up` here.
    """
    saved = StackConfig.load(state_dir / "stack.json") or StackConfig()
    given: dict[str, Any] = {
        "kafka": kafka_port,
        "kafka_controller": kafka_controller_port,
        "redis": redis_port,
        "prometheus": prometheus_port,
        "alertmanager": alertmanager_port,
    }
    ports = dataclasses.replace(saved.ports, **{k: v for k, v in given.items() if v is not None})
    ports = ports.shaped(
        bool(saved.ports.redis_cluster) if redis_cluster is None else redis_cluster,
        saved.ports.broker_count if kafka_brokers is None else kafka_brokers,
    )
    try:
        targets = tuple(ScrapeTarget.parse(s) for s in scrape) or saved.scrape_targets
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--scrape") from err
    rules = tuple(str(p.resolve()) for p in rule_files) or saved.rule_files
    config = dataclasses.replace(saved, ports=ports, scrape_targets=targets, rule_files=rules)
    began = time.monotonic()
    statuses = _run(lambda: Stack(state_dir, config).up(timeout=timeout))
    _print(statuses, state_dir)
    click.echo(f"stack ready in {time.monotonic() - began:.1f}s")
    _print_targets(config.scrape_targets)


@stack.command()
@_state_dir_option
def down(state_dir: Path) -> None:
    """Stop the processes this state dir started (and nothing else)."""
    _print(_run(lambda: Stack(state_dir).down()), state_dir)


@stack.command()
@_state_dir_option
def status(state_dir: Path) -> None:
    """Show each component's state, pid, ports, addresses and log; exit 3 unless all are ready."""
    statuses = _run(lambda: Stack(state_dir).status())
    _print(statuses, state_dir)
    if any(s.state != "ready" for s in statuses):
        raise SystemExit(3)


def _run(action: Callable[[], list[ComponentStatus]]) -> list[ComponentStatus]:
    try:
        return action()
    except StackError as err:
        raise click.ClickException(str(err)) from err


def _print(statuses: Sequence[ComponentStatus], state_dir: Path) -> None:
    rows = [("COMPONENT", "STATE", "PID", "PORTS", "ADDRESS", "")]
    for s in statuses:
        address = "  ".join(s.endpoints.values())
        rows.append(
            (
                s.name,
                s.state,
                str(s.pid or "-"),
                ",".join(map(str, s.ports)),
                address,
                f"({s.action})" if s.action else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for s in statuses:
        if s.health:
            click.echo(f"health: {s.health}")
    click.echo(f"logs:  {state_dir / 'logs'}/<component>.log")
    click.echo(f"state: {state_dir}")


def _print_targets(targets: Sequence[ScrapeTarget]) -> None:
    listed = ", ".join(f"{t.job}={t.address}{t.metrics_path}" for t in targets) or "none"
    click.echo(f"prometheus scrapes: {listed}")
