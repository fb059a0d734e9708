"""Dependency probes behind ``/health``: each returns up/down with its latency."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

REQUIRED = ("postgres", "redis")


FRESH_S = 0.2  # a component's last "up" this recent is the answer; nothing is probed
STALE_S = 0.5  # an "up" older than this is not trusted: the caller waits for a new probe

Check = Callable[[], Coroutine[Any, Any, Any]]


@dataclass
class _Probe:
    task: asyncio.Task[Any]
    since: float


class Probes:
    """The ``/health`` probes of one API process, each dependency probed at most every
    ``fresh_s`` however often ``/health`` is called.

    An "up" younger than ``fresh_s`` is answered as is; one younger than ``stale_s`` is
    answered at once while a new probe runs in the background, so a ``/health`` call does not
    wait for a dependency's round trip; older (or none yet), the caller waits for the probe. A
    "down" is never answered from memory: the next call probes again, so a recovery shows at
    once. Every component's answer says how old it is (``age_ms``).
    """

    def __init__(self, fresh_s: float = FRESH_S, stale_s: float = STALE_S) -> None:
        self.fresh_s, self.stale_s = fresh_s, stale_s
        self.running: dict[str, _Probe] = {}
        self.results: dict[str, tuple[dict[str, Any], float]] = {}

    async def probe(self, name: str, check: Check, timeout_s: float) -> dict[str, Any]:
        """Component ``name``'s status; never raises."""
        now = time.monotonic()
        status, at = self.results.get(name, ({}, -math.inf))
        age = now - at if status.get("status") == "up" else math.inf
        if age >= self.fresh_s:
            running = self._running(name, check, now)
            if age >= self.stale_s:
                return await self._outcome(name, running, timeout_s)
        return {**status, "age_ms": round(age * 1000, 1)}

    def _running(self, name: str, check: Check, now: float) -> _Probe:
        """The probe of ``name`` in flight, started if there is none (callers share it)."""
        running = self.running.get(name)
        if running is None or running.task.done():
            running = _Probe(asyncio.ensure_future(check()), now)
            running.task.add_done_callback(lambda task: self._finished(name, running))
            self.running[name] = running
        return running

    def _finished(self, name: str, probe: _Probe) -> None:
        task = probe.task
        if task.cancelled():
            status = {"status": "down", "error": "probe cancelled"}
        elif (error := task.exception()) is not None:
            status = {"status": "down", "error": type(error).__name__}
        else:
            status = {"status": "up"}
        self._remember(name, status, probe.since)

    async def _outcome(self, name: str, probe: _Probe, timeout_s: float) -> dict[str, Any]:
        """Wait for ``probe`` until it is ``timeout_s`` old.

        A hung dependency (e.g. a SIGSTOPped server) can make even cancellation block, so the
        probe runs shielded in its own task and is left running when the caller gives up.
        """
        remaining = timeout_s - (time.monotonic() - probe.since)
        with contextlib.suppress(Exception):
            if remaining > 0:
                await asyncio.wait_for(asyncio.shield(probe.task), remaining)
        if probe.task.done():
            self._finished(name, probe)
        else:
            self._remember(name, {"status": "down", "error": f"no answer within {timeout_s:g}s"},
                           probe.since)
        status, _ = self.results[name]
        return {**status, "age_ms": 0.0}

    def _remember(self, name: str, status: dict[str, Any], since: float) -> None:
        now = time.monotonic()
        status["latency_ms"] = round((now - since) * 1000, 3)
        self.results[name] = (status, now)

    async def close(self) -> None:
        """Cancel the probes still running."""
        for running in self.running.values():
            running.task.cancel()


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
