"""Readiness probes that make a real request, so "ready" means a client would succeed now."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import urllib.error
import urllib.request
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from streams.stack.ports import HOST, is_listening

T = TypeVar("T")


def http_status(url: str, method: str = "GET", timeout: float = 2.0) -> int | None:
    """The HTTP status code, or None when nothing answered."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (urllib.error.URLError, OSError):
        return None


def redis_ping(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    """``PING`` answered with ``+PONG`` (a loading server answers ``-LOADING`` instead)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even when called inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _kafka_metadata(
    bootstrap: str, timeout_ms: int, options: Mapping[str, Any]
) -> tuple[int, int, int]:
    """(registered brokers, partitions, under-replicated partitions: fewer in sync than
    replicas), from one Metadata request for every topic."""
    from aiokafka import AIOKafkaClient  # the client is only needed when Kafka is probed

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms, **options)
    try:
        await client.bootstrap()
        metadata = await client.fetch_all_metadata()
        # topic -> partition -> PartitionMetadata; no public accessor gives the ISR
        by_topic: dict[str, dict[int, Any]] = metadata._partitions
        partitions = [m for topic in by_topic.values() for m in topic.values()]
        under = sum(1 for m in partitions if len(m.isr) < len(m.replicas))
        return len(metadata.brokers()), len(partitions), under
    finally:
        await client.close()


def kafka_metadata(
    port: int,
    host: str = HOST,
    timeout_ms: int = 3000,
    options: Mapping[str, Any] | None = None,
    brokers: int = 1,
) -> bool:
    """A Metadata request lists at least ``brokers`` registered brokers (``options``: SASL)."""
    if not is_listening(port, host):
        return False
    try:
        coroutine = _kafka_metadata(f"{host}:{port}", timeout_ms, options or {})
        return run_coroutine(coroutine)[0] >= brokers
    except Exception:  # any client error means "not yet"; the caller retries until its deadline
        return False


def kafka_health(port: int, options: Mapping[str, Any], host: str = HOST) -> str:
    """The brokers a Metadata request lists and the partitions short of in-sync replicas."""
    try:
        brokers, partitions, under = run_coroutine(_kafka_metadata(f"{host}:{port}", 3000, options))
    except Exception as err:  # shown as it is: status reports, it does not fail
        return f"kafka: no metadata ({err.__class__.__name__})"
    return f"kafka: {brokers} brokers, {under}/{partitions} partitions under-replicated"
