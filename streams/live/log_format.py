"""How the worker's log lines look: text for a terminal, or one JSON object per line.

``TICKETPULSE_LOG_FORMAT=json`` is for log pipelines (Loki, Elasticsearch, journald's JSON
readers): each line is ``{"time", "level", "logger", "message"}``, plus ``exc_info`` (the
traceback as text) when there is one, plus any ``extra`` fields. python-json-logger rather than
structlog: it is a ``logging.Formatter``, so every logger in the process (ticketpulse's, Faust's,
mode's, aiokafka's) goes through it unchanged; structlog would need its stdlib bridge for the
same lines.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def formatter(kind: LogFormat) -> logging.Formatter:
    if kind == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # ISO 8601, UTC
        )
    return logging.Formatter(TEXT)


def configure(kind: LogFormat, level: str) -> None:
    """The log until Faust's worker takes over (settings, topics, the first lines)."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(kind))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def faust_logging_config(kind: LogFormat, level: str) -> dict[str, Any] | None:
    """Faust's ``logging_config``: None keeps its own text lines; json makes it use ours."""
    if kind == "text":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,  # ticketpulse's and aiokafka's loggers exist already
        "formatters": {"json": {"()": formatter, "kind": kind}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",  # as Faust's own handler and configure()
            }
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }
