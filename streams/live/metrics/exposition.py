"""The text exposition of a registry, for the ``/metrics`` route."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, generate_latest


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition for the HTTP ``/metrics`` route."""
    return generate_latest(registry)


async def render_in_thread(registry: CollectorRegistry) -> bytes:
    """``render`` for the ``/metrics`` route: in a thread, so that however long a scrape
    takes, the event loop keeps applying batches and answering ``/readyz``."""
    return await asyncio.to_thread(render, registry)
