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
RETRY_WAIT_S = 0.1  # how long a caller waits for a component already known to be down
MAX_HUNG = 2  # unanswered probes of one component kept in flight at most

Check = Callable[[], Coroutine[Any, Any, Any]]


@dataclass
class _Probe:
    task: asyncio.Task[Any]
    since: float
    recorded: bool = False


class Probes:
    """The ``/health`` probes of one API process, each dependency probed at most every
    ``fresh_s`` however often ``/health`` is called.

    An "up" younger than ``fresh_s`` is answered as is; one younger than ``stale_s`` is
    answered at once while a new probe runs in the background, so a ``/health`` call does not
    wait for a dependency's round trip; older (or none yet), the caller waits for the probe, at
    most ``timeout_s`` after it started. A "down" is never answered from memory: the next call
    probes again, waiting at most ``retry_wait_s``, so a recovery shows at once and callers of a
    hung dependency do not each wait for the timeout. A probe still unanswered after
    ``timeout_s`` is left running (a hung server can make even cancellation block) and the next
    call starts a new one, up to ``max_hung`` in flight. Every answer says how old it is
    (``age_ms``).
    """

    def __init__(self, fresh_s: float = FRESH_S, stale_s: float = STALE_S,
                 retry_wait_s: float = RETRY_WAIT_S, max_hung: int = MAX_HUNG) -> None:
        self.fresh_s, self.stale_s = fresh_s, stale_s
        self.retry_wait_s, self.max_hung = retry_wait_s, max_hung
        self.running: dict[str, list[_Probe]] = {}
        self.results: dict[str, tuple[dict[str, Any], float]] = {}

    async def probe(self, name: str, check: Check, timeout_s: float) -> dict[str, Any]:
        """Component ``name``'s status; never raises."""
        now = time.monotonic()
        status, at = self.results.get(name, ({}, -math.inf))
        age = now - at if status.get("status") == "up" else math.inf
        if age >= self.fresh_s:
            running = self._running(name, check, now, timeout_s)
            if age >= self.stale_s:
                wait = (self.retry_wait_s if status.get("status") == "down"
                        else running.since + timeout_s - now)
                return await self._outcome(name, running, wait, timeout_s)
        return {**status, "age_ms": round(age * 1000, 1)}

    def _running(self, name: str, check: Check, now: float, timeout_s: float) -> _Probe:
        """The newest probe of ``name`` in flight (callers share it), a new one if there is
        none or it is past ``timeout_s`` and fewer than ``max_hung`` are unanswered."""
        in_flight = [p for p in self.running.get(name, []) if not p.task.done()]
        self.running[name] = in_flight
        newest = in_flight[-1] if in_flight else None
        if newest is None or (now - newest.since >= timeout_s
                              and len(in_flight) < self.max_hung):
            newest = _Probe(asyncio.ensure_future(check()), now)
            newest.task.add_done_callback(lambda _task, probe=newest: self._finished(name, probe))
            in_flight.append(newest)
        return newest

    def _finished(self, name: str, probe: _Probe) -> None:
        if probe.recorded:
            return
        probe.recorded = True
        task = probe.task
        if task.cancelled():
            status = {"status": "down", "error": "probe cancelled"}
        elif (error := task.exception()) is not None:
            status = {"status": "down", "error": type(error).__name__}
        else:
            status = {"status": "up"}
        self._remember(name, status, probe.since)

    async def _outcome(self, name: str, probe: _Probe, wait_s: float,
                       timeout_s: float) -> dict[str, Any]:
        """Wait ``wait_s`` at most for ``probe``; unanswered ``timeout_s`` after its start it
        is "down". The probe runs shielded in its own task, left running if the caller gives
        up."""
        with contextlib.suppress(Exception):
            if wait_s > 0:
                await asyncio.wait_for(asyncio.shield(probe.task), wait_s)
        if probe.task.done():
            self._finished(name, probe)
        elif time.monotonic() - probe.since >= timeout_s:
            self._remember(name, {"status": "down", "error": f"no answer within {timeout_s:g}s"},
                           probe.since)
        status, _ = self.results[name]  # else it is still the "down" that shortened the wait
        return {**status, "age_ms": 0.0}

    def _remember(self, name: str, status: dict[str, Any], since: float) -> None:
        now = time.monotonic()
        status["latency_ms"] = round((now - since) * 1000, 3)
        self.results[name] = (status, now)

    async def close(self) -> None:
        """Cancel the probes still running."""
        for in_flight in self.running.values():
            for running in in_flight:
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
