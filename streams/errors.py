"""The small error vocabulary of ticketpulse.

- ``ConfigError``: a configuration file is wrong; names the file, the key and the problem.
  Commands print it and exit non-zero.
- Invalid events are not exceptions: decoding returns an ``InvalidEvent`` value that goes
  to the dead-letter topic (see ``streams.domain.decode``).
- ``TransientError``: an I/O failure worth retrying with backoff; the message is not acked.
"""

from __future__ import annotations


class TicketpulseError(Exception):
    """Base of every error ticketpulse raises on purpose."""


class ConfigError(TicketpulseError):
    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}")
        self.file = file
        self.key = key
        self.problem = problem


class TransientError(TicketpulseError):
    """A dependency (Kafka, Redis) failed in a way that may pass; retry, do not ack."""
