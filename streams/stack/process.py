"""Detached processes tracked by pid files, so ``stack down`` stops only what ``stack up`` started.

A pid file records the pid together with the process's start time from ``/proc``: a pid reused by
an unrelated process after a crash or reboot never matches, so it is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    start_ticks: int
    command: tuple[str, ...]
    log: str
    started_at: float
    """Wall-clock seconds since the epoch, for display only."""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ProcessRecord | None:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            return None
        return cls(
            name=raw["name"],
            pid=int(raw["pid"]),
            start_ticks=int(raw["start_ticks"]),
            command=tuple(raw["command"]),
            log=raw["log"],
            started_at=float(raw["started_at"]),
        )


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) of a live pid, from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name sits in parentheses and may itself hold spaces or parentheses.
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


# Children spawned by this interpreter; holding them keeps Popen from warning that they outlive it.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our own child, so it does not linger as a zombie."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]


def is_running(record: ProcessRecord) -> bool:
    _reap(record.pid)
    stat = _stat(record.pid)
    return stat is not None and stat[0] != "Z" and stat[1] == record.start_ticks


def spawn(
    name: str,
    command: Sequence[str],
    log: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> ProcessRecord:
    """Start ``command`` in its own session, output appended to ``log``; it outlives the caller."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S%z')} {' '.join(command)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=None if env is None else {**os.environ, **env},
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    stat = _stat(proc.pid)
    return ProcessRecord(
        name=name,
        pid=proc.pid,
        start_ticks=stat[1] if stat else -1,
        command=tuple(command),
        log=str(log),
        started_at=time.time(),
    )


def stop(record: ProcessRecord, grace_seconds: float = 30.0) -> bool:
    """SIGTERM, then SIGKILL after ``grace_seconds``. False if it was not running."""
    if not is_running(record):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not is_running(record):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGKILL)
    while is_running(record):
        time.sleep(0.05)
    return True


def log_tail(path: Path, lines: int = 15) -> str:
    """The end of a log, to show why a process did not come up."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
