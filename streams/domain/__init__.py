"""The pure domain: events, clocks, calendars, facts, windows, snapshot.

Nothing here imports Kafka, Redis, Prometheus or HTTP libraries, and nothing reads the
clock: time is always passed in. Replay and the live pipeline share this code.

The hot modules run compiled by mypyc when a build of exactly these sources exists
(``streams.native``); otherwise, and with ``TICKETPULSE_PURE_PYTHON=1``, as Python.
"""

from streams.native import activate

activate(__name__, __path__)
