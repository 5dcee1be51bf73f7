"""``ticketpulse replay``: the snapshot of an events file, computed offline.

Replay is the reference the live pipeline is checked against: it runs the worker's own
planner over the in-memory store (``streams.live.partition_replay``); this module reads the file
and prints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click

from streams.collector import fewer_collections, frozen_batches
from streams.domain.instant import MICROS_PER_MINUTE, Instant, parse_rfc3339
from streams.domain.policies import PolicySet, default_policies, load_policies
from streams.domain.snapshot import dumps_snapshot
from streams.errors import ConfigError
from streams.live.partition_replay import ReplayResult, replay_log

__all__ = ["ReplayResult", "dumps_accounts", "parse_as_of", "replay", "replay_lines"]

PROGRESS_BAR_BYTES = 4 * 1024 * 1024


def replay_lines(
    lines: Iterator[bytes],
    policies: PolicySet,
    at: Instant | None = None,
    *,
    with_accounts: bool = False,
) -> ReplayResult:
    """Decode, ingest and evaluate every line; the snapshot as of ``at`` (or the data's end).

    The snapshot has ``accounts`` when the log has an account event or ``with_accounts``."""
    with fewer_collections(), frozen_batches() as batch_done:
        return replay_log(lines, policies, at, with_accounts=with_accounts, batch_done=batch_done)


def dumps_accounts(views: list[dict[str, Any]]) -> str:
    """The account views, one JSON object per line (JSONL)."""
    return "".join(json.dumps(view, ensure_ascii=False, allow_nan=False) + "\n" for view in views)


def parse_as_of(text: str) -> Instant:
    """``--at``: an RFC 3339 instant on a whole UTC minute."""
    try:
        at = parse_rfc3339(text)
    except ValueError as error:
        raise click.BadParameter(f"{text!r}: {error}") from error
    if at % MICROS_PER_MINUTE:
        raise click.BadParameter(f"{text!r} is not a whole UTC minute")
    return at


def _read_lines(handle: IO[bytes], size: int) -> Iterator[bytes]:
    if size < PROGRESS_BAR_BYTES or not sys.stderr.isatty():
        yield from handle
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True, console=None) as progress:
        task = progress.add_task("replay", total=size)
        for line in handle:
            progress.advance(task, len(line))
            yield line


@click.command()
@click.argument("events", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--policies",
    "policies_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SLA policy file (YAML). Default: the policies shipped with ticketpulse.",
)
@click.option("--at", "at_text", help="as_of, a whole UTC minute, e.g. 2026-11-02T12:00:00Z.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not stdout."
)
@click.option("--indent", type=int, default=2, show_default=True, help="JSON indent; 0: one line.")
@click.option("--max-errors", type=int, default=50, show_default=True, help="Invalid lines shown.")
@click.option(
    "--accounts",
    "accounts_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every account's view here (JSONL, sorted by account_id); the snapshot "
    "then has its accounts section even with no account event.",
)
def replay(
    events: Path,
    policies_path: Path | None,
    at_text: str | None,
    out: Path | None,
    indent: int,
    max_errors: int,
    accounts_out: Path | None,
) -> None:
    """Print the KPI snapshot (spec section 5) of an events file (JSONL)."""
    try:
        policies = load_policies(policies_path) if policies_path else default_policies()
    except ConfigError as problem:
        raise click.ClickException(str(problem)) from problem
    at = parse_as_of(at_text) if at_text else None
    with events.open("rb") as handle:
        lines = _read_lines(handle, events.stat().st_size)
        result = replay_lines(lines, policies, at, with_accounts=accounts_out is not None)
    for number, error in result.errors[:max_errors]:
        click.echo(f"{events}:{number}: {error}", err=True)
    if len(result.errors) > max_errors:
        click.echo(f"... and {len(result.errors) - max_errors} more invalid lines", err=True)
    text = dumps_snapshot(result.snapshot, indent=indent or None)
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if accounts_out is not None:
        accounts_out.write_text(dumps_accounts(result.accounts or []), encoding="utf-8")
    c = result.counts
    click.echo(
        f"replayed {c['lines']} lines: {c['accepted']} applied, {c['duplicate']} duplicates, "
        f"{c['invalid']} invalid, {c['rejected']} after closed, {c['over_limit']} over the "
        f"per-ticket limit, {c['after_as_of']} at/after "
        f"as_of, {c['anomalies']} anomalies; {c['tickets']} tickets; "
        f"as_of {result.snapshot['as_of']}"
        + (f"; {c['accounts']} accounts" if result.accounts is not None else ""),
        err=True,
    )
