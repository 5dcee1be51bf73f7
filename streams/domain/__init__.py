"""The pure domain: events, clocks, calendars, facts, windows, snapshot.

Nothing here imports Kafka, Redis, Prometheus or HTTP libraries, and nothing reads the
clock: time is always passed in. Replay and the live pipeline share this code.
"""
