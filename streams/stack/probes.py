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


async def _kafka_broker_count(bootstrap: str, timeout_ms: int, options: Mapping[str, Any]) -> int:
    from aiokafka import AIOKafkaClient  # the client is only needed when Kafka is probed

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms, **options)
    try:
        await client.bootstrap()
        metadata = await client.fetch_all_metadata()
        return len(metadata.brokers())
    finally:
        await client.close()


def kafka_metadata(
    port: int,
    host: str = HOST,
    timeout_ms: int = 3000,
    options: Mapping[str, Any] | None = None,
) -> bool:
    """A Metadata request lists at least one registered broker (``options``: SASL settings)."""
    if not is_listening(port, host):
        return False
    try:
        coroutine = _kafka_broker_count(f"{host}:{port}", timeout_ms, options or {})
        return run_coroutine(coroutine) > 0
    except Exception:  # any client error means "not yet"; the caller retries until its deadline
        return False
