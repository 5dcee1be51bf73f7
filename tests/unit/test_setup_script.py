"""scripts/setup.sh: a slow step says what it does and shows a heartbeat; a done one is silent.

Runs the real script's ``venv`` step on a stand-in .venv whose python only sleeps (pip's time).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

SETUP = Path(__file__).parents[2] / "scripts" / "setup.sh"


def setup_venv(venv: Path, *, rc: int = 0, seconds: float = 0) -> subprocess.CompletedProcess[str]:
    python = venv / "bin" / "python"
    python.parent.mkdir(parents=True, exist_ok=True)
    python.write_text(f"#!/bin/sh\nsleep {seconds}\necho pip says a lot\nexit {rc}\n")
    python.chmod(0o755)
    return subprocess.run(
        ["bash", str(SETUP), "venv"],
        env={**os.environ, "VENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_slow_install_shows_what_how_long_and_a_heartbeat_then_nothing_when_done(
    tmp_path: Path,
) -> None:
    done = setup_venv(tmp_path, seconds=5.5)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        rf"setup: installing ticketpulse and dev tools into {re.escape(str(tmp_path))} "
        r"\(pip, [^)]*min\) "
        r"\.+ \d+ s\n",
        done.stdout,
    ), done.stdout
    assert "pip says a lot" not in done.stdout + done.stderr
    again = setup_venv(tmp_path)
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_a_failed_install_shows_the_tool_output_and_fails(tmp_path: Path) -> None:
    failed = setup_venv(tmp_path, rc=3)
    assert failed.returncode == 1
    assert failed.stdout.endswith(" s\n")  # the step's line is complete
    assert "pip says a lot" in failed.stderr and "failed (3)" in failed.stderr
