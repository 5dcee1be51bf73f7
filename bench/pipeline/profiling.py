"""Profile: where F spends its time draining the data set, sampled by py-spy."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.pipeline.harness import Bench, Topics
from bench.pipeline.stats import Profile, summarise_profile


def run_profile(bench: Bench, topics: Topics) -> Profile:
    """py-spy samples of F draining the data set: the top functions by own time."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    name = f"{bench.run_id}-profile"
    worker = bench.start_worker(topics, name)
    out = bench.work / "f-profile.txt"
    try:
        while not bench.applied(name, topics.partitions):
            time.sleep(0.1)
        subprocess.run(
            [
                pyspy,
                "record",
                "--pid",
                str(worker.pid),
                "--duration",
                str(bench.args.profile),
                "--format",
                "raw",
                "--output",
                str(out),
                "--rate",
                "50",
                # native stacks need the process paused at each sample; Python ones do not
                *(["--native"] if bench.args.profile_native else ["--nonblocking"]),
            ],
            check=True,
            capture_output=True,
        )
    finally:
        worker.stop(15)
    return summarise_profile(out.read_text(), bench.args.top)
