"""What every part of the bench uses: its progress log on stderr and the wall clock."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from streams.domain.instant import MICROS_PER_SECOND, Instant

ROOT = Path(__file__).resolve().parents[2]


def now_micros() -> Instant:
    return int(time.time() * MICROS_PER_SECOND)


def log(text: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {text}", file=sys.stderr, flush=True)
