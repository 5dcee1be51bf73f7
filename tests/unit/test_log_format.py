"""TICKETPULSE_LOG_FORMAT: the JSON lines' fields, and Faust's logging config keeping ours."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr

import pytest

from streams.errors import ConfigError
from streams.live.log_format import faust_logging_config, formatter
from streams.live.settings import WorkerSettings


def record(exc_info: bool = False) -> logging.LogRecord:
    try:
        raise ValueError("boom")
    except ValueError:
        return logging.getLogger("ticketpulse.test").makeRecord(
            "ticketpulse.test",
            logging.ERROR,
            __file__,
            1,
            "partition %d: %s",
            (3, "failed"),
            exc_info=sys.exc_info() if exc_info else None,
        )


def test_a_json_line_has_time_level_logger_message_and_the_traceback_as_text() -> None:
    line = formatter("json").format(record(exc_info=True))
    assert "\n" not in line
    fields = json.loads(line)
    assert fields["level"] == "ERROR" and fields["logger"] == "ticketpulse.test"
    assert fields["message"] == "partition 3: failed"
    assert fields["time"].endswith("+00:00")
    assert fields["exc_info"].startswith("Traceback") and "ValueError: boom" in fields["exc_info"]
    assert "exc_info" not in json.loads(formatter("json").format(record()))


def test_text_stays_text() -> None:
    assert formatter("text").format(record()).endswith("ERROR ticketpulse.test partition 3: failed")
    assert faust_logging_config("text", "info") is None  # Faust's own lines


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.usefixtures("restored_logging")
def test_faust_json_config_keeps_the_loggers_that_exist_and_writes_json() -> None:
    existing = logging.getLogger("ticketpulse.existing")
    config = faust_logging_config("json", "info")
    assert config is not None
    stream = io.StringIO()
    with redirect_stderr(stream):
        logging.config.dictConfig(config)  # as Faust's worker applies it
        existing.info("still %s", "enabled")
    assert json.loads(stream.getvalue())["message"] == "still enabled"


def test_the_setting_takes_text_or_json_only() -> None:
    assert WorkerSettings.from_env({}).log_format == "text"
    assert WorkerSettings.from_env({"TICKETPULSE_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(ConfigError, match="TICKETPULSE_LOG_FORMAT: 'yaml'"):
        WorkerSettings.from_env({"TICKETPULSE_LOG_FORMAT": "yaml"})
