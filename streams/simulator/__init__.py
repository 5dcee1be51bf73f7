"""The seeded traffic simulator: the pure generator (``simulation``), the ``ticketpulse
simulate`` command and its pump (``simulate``), and its Kafka output and pacing
(``kafka_sink``). Services emit real events with ``streams.emit``, not with this package.
"""
