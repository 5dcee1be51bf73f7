"""Child processes of the benchmark: the worker, the Quix peer, their CPU time and memory."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.stack.ports import free_ports

TICKS = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parents[2]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss(pid: int) -> int:
    """``VmHWM`` of a running process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Child:
    """A started process with its log file."""

    process: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return json.loads(response.read())

    def get_text(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            text: str = response.read().decode()
            return text


@dataclass
class WorkerConfig:
    """What ``ticketpulse worker`` is told through its ``TICKETPULSE_*`` environment."""

    bootstrap: str
    redis_url: str
    prefix: str
    group: str
    topics: dict[str, str]  # tickets, contacts, surveys, deadletter -> topic name
    partitions: int
    extra: dict[str, str] = field(default_factory=dict)

    def env(self, port: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            TICKETPULSE_KAFKA_BOOTSTRAP=self.bootstrap,
            TICKETPULSE_REDIS_URL=self.redis_url,
            TICKETPULSE_REDIS_PREFIX=self.prefix,
            TICKETPULSE_GROUP_ID=self.group,
            TICKETPULSE_PARTITIONS=str(self.partitions),
            TICKETPULSE_WEB_PORT=str(port),
        )
        for kind, topic in self.topics.items():
            env[f"TICKETPULSE_TOPIC_{kind.upper()}"] = topic
        env.update(self.extra)
        return env


def start_worker(config: WorkerConfig, log_dir: Path, name: str, timeout: float = 90.0) -> Child:
    """A ``ticketpulse worker`` process, returned once ``/readyz`` says ready."""
    child = spawn_worker(config, log_dir, name)
    wait_ready(child, timeout)
    return child


def spawn_worker(config: WorkerConfig, log_dir: Path, name: str) -> Child:
    """A ``ticketpulse worker`` process, just started."""
    port = free_ports(1)[0]
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streams",
                "worker",
                "--web-port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=config.env(port),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    return Child(process, log, f"http://127.0.0.1:{port}")


def wait_ready(child: Child, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"worker exited {child.process.returncode}:\n{child.tail()}")
        with contextlib.suppress(OSError, ValueError):
            body = child.get_json("/readyz")
            if body.get("ready"):
                return
        time.sleep(0.2)
    child.stop()
    raise RuntimeError(f"worker not ready in {timeout:.0f} s:\n{child.tail()}")


def start_quix(
    bootstrap: str,
    redis_url: str,
    prefix: str,
    group: str,
    topics: list[str],
    state_dir: Path,
    log_dir: Path,
    publish_interval: float,
) -> Child:
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
    return Child(process, log)


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
