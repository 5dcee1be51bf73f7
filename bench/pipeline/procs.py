"""Child processes of the benchmark: the Quix peer, the contenders, their CPU time and memory.

The worker processes themselves are started and stopped by ``tests.support.workers``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.pipeline.common import ROOT
from tests.support.workers import WorkerProcess, memory_bytes

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss(pid: int) -> int:
    """``VmHWM`` of a running process, in bytes."""
    return memory_bytes(pid, "VmHWM")


def start_quix(
    bootstrap: str,
    redis_url: str,
    prefix: str,
    group: str,
    topics: list[str],
    state_dir: Path,
    log_dir: Path,
    publish_interval: float,
) -> WorkerProcess:
    log = log_dir / f"{prefix}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "peers" / "quix_app.py"),
                "--bootstrap",
                bootstrap,
                "--group",
                group,
                "--topics",
                ",".join(topics),
                "--redis-url",
                redis_url,
                "--prefix",
                prefix,
                "--state-dir",
                str(state_dir),
                "--publish-interval",
                str(publish_interval),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    return WorkerProcess(process, "", log)


def run_contender(contender: str, args: list[str], log: Path) -> dict[str, Any]:
    """``bench.pipeline.contenders`` in a fresh process; its JSON result."""
    with log.open("wb") as err:
        done = subprocess.run(
            [sys.executable, "-m", "bench.pipeline.contenders", contender, *args],
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=ROOT,
            check=False,
        )
    if done.returncode:
        raise RuntimeError(f"{contender} exited {done.returncode}: see {log}")
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result
