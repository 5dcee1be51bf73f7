"""TICKETPULSE_LOG_FORMAT=json: a real worker's whole log is JSON lines, with no secret in it."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

import pytest

from tests.support.workers import iter_until, now_micros

from .workers import Run, produce, shifted_golden

TOKEN = "tok-never-in-the-log"
READ = "ticketpulse_events_total{"


def parsed(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        pytest.fail(f"not a JSON line: {line!r}")
    assert isinstance(record, dict), line
    return record


def test_a_json_worker_logs_one_object_per_line_from_start_to_stop(run: Run) -> None:
    worker = run.start_worker(
        log_level="info", TICKETPULSE_LOG_FORMAT="json", TICKETPULSE_API_TOKEN=TOKEN
    )
    # the golden log has invalid events: dead letters, and the warnings about them
    records = shifted_golden(now_micros())
    asyncio.run(produce(run, records))
    for _ in iter_until(40):
        read = sum(v for k, v in worker.metrics().items() if k.startswith(READ))
        if read >= len(records):
            break
    else:
        pytest.fail(f"the worker did not read the {len(records)} events:\n{worker.tail()}")
    assert worker.get("/kpis")[0] == 401  # no token given
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(60) == 0, worker.tail()

    text = worker.log.read_text()
    assert TOKEN not in text
    lines = [parsed(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines), lines
    loggers = {line["logger"] for line in lines}
    assert "ticketpulse.worker" in loggers, loggers  # ours, before Faust's worker takes over
    assert any(name.startswith(("faust", "mode")) for name in loggers), loggers  # Faust's own
    assert all(line["time"].endswith("+00:00") for line in lines)
