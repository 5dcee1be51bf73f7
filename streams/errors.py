"""The small error vocabulary of ticketpulse.

- ``ConfigError``: a configuration file is wrong; names the file, the key and the problem.
  Commands print it and exit non-zero. ``ConfigErrors`` holds every problem of one file.
- Invalid events are not exceptions: decoding returns an ``InvalidEvent`` value that goes
  to the dead-letter topic (see ``streams.domain.decode``).
- ``TransientError``: an I/O failure worth retrying with backoff; the message is not acked.
- ``RecordVersionError``: a stored ticket record of a version this code does not know.
"""

from __future__ import annotations

from collections.abc import Sequence


class TicketpulseError(Exception):
    """Base of every error ticketpulse raises on purpose."""


class ConfigError(TicketpulseError):
    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}")
        self.file = file
        self.key = key
        self.problem = problem


class ConfigErrors(ConfigError):
    """Every problem found in one file, so a user fixes them in one go; one line each.

    ``file``, ``key`` and ``problem`` are the first problem's."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        first = errors[0]
        super().__init__(first.file, first.key, first.problem)
        self.errors = tuple(errors)
        self.args = ("\n".join(str(error) for error in self.errors),)


class TransientError(TicketpulseError):
    """A dependency (Kafka, Redis) failed in a way that may pass; retry, do not ack."""


class RecordVersionError(TicketpulseError):
    """A stored ticket record written by a newer ticketpulse (a rollback after an upgrade).

    Reading it as an older version would silently lose or misplace fields, so it stops here.
    """

    def __init__(self, ticket_id: str, version: object, known: int, kind: str = "ticket") -> None:
        super().__init__(
            f"{kind} {ticket_id!r}: stored record version {version!r} is not known to this "
            f"ticketpulse (it reads versions 1 to {known}); run the version that wrote it"
        )
        self.ticket_id = ticket_id
        self.version = version
