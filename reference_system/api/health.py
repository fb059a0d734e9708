"""Dependency probes behind ``/health``: each returns up/down with its latency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlparse

REQUIRED = ("postgres", "redis")


_in_flight: dict[str, tuple[asyncio.Task[Any], float]] = {}


async def probe(name: str, check: Coroutine[Any, Any, Any], timeout_s: float) -> dict[str, Any]:
    """Run one check with a timeout; never raises.

    A hung dependency (e.g. a SIGSTOPped server) can make even cancellation block, so the check
    runs shielded in its own task, and concurrent callers share the one in flight: a caller
    waits for it only until it is ``timeout_s`` old, then reports the component down.
    """
    started = time.perf_counter()
    task, since = _in_flight.get(name, (None, 0.0))
    if task is None or task.done():
        task, since = asyncio.ensure_future(check), started
        _in_flight[name] = (task, since)
    else:
        check.close()  # share the probe already running
    remaining = timeout_s - (started - since)
    try:
        if remaining <= 0:
            raise TimeoutError
        await asyncio.wait_for(asyncio.shield(task), remaining)
        status: dict[str, Any] = {"status": "up"}
    except TimeoutError:
        status = {"status": "down", "error": f"no answer within {timeout_s:g}s"}
    except Exception as exc:
        status = {"status": "down", "error": type(exc).__name__}
    status["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return status


async def postgres_check(pool: Any) -> None:
    """``SELECT 1`` on a pooled connection."""
    async with pool.connection() as conn:
        await conn.execute("SELECT 1")


async def nats_check(url: str) -> None:
    """Connect to the NATS server and read its INFO greeting."""
    parsed = urlparse(url)
    reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port or 4222)
    try:
        greeting = await reader.readline()
        if not greeting.startswith(b"INFO"):
            raise ConnectionError("not a NATS server")
    finally:
        writer.close()


def overall(components: dict[str, dict[str, Any]]) -> tuple[str, int]:
    """``(status, http status)``: 503 when a required component is down."""
    if any(components[name]["status"] != "up" for name in REQUIRED if name in components):
        return "down", 503
    if any(c["status"] != "up" for c in components.values()):
        return "degraded", 200
    return "ok", 200
