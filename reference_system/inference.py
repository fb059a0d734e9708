"""Inference routing: the edge when it is healthy, the cloud (built-in generator) when not.

A background task probes the edge's ``/health`` every ``probe_interval_s``; a failed edge call
marks the edge unhealthy at once and the same request is answered by the cloud, so a client
sees no error. Traffic returns to the edge at the first successful probe, i.e. within one
probe interval of its recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from reference_system import llm

log = logging.getLogger("prsm.inference")


@dataclass
class EdgeRouter:
    """Routes inference requests and tracks the edge's health."""

    edge_url: str | None
    probe_interval_s: float = 0.2
    timeout_s: float = 1.0
    healthy: bool = False
    counts: dict[str, int] = field(default_factory=lambda: {"edge": 0, "cloud": 0})
    _client: httpx.AsyncClient | None = None
    _probe: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin probing the edge (if one is configured)."""
        if self.edge_url:
            self._client = httpx.AsyncClient(base_url=self.edge_url, timeout=self.timeout_s,
                                             trust_env=False)
            self._probe = asyncio.create_task(self._probe_loop())

    async def stop(self) -> None:
        """Stop probing and close the client."""
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        if self._client is not None:
            await self._client.aclose()

    async def _probe_loop(self) -> None:
        """Probe until stopped. Any error of a probe (not only httpx's) marks the edge
        unhealthy and the loop goes on: a probe task that died would leave traffic on the
        cloud for good (seen in a nightly run after edge and broker faults)."""
        assert self._client is not None
        while True:
            try:
                self.healthy = (await self._client.get("/health")).status_code == 200
            except httpx.HTTPError:
                self.healthy = False
            except Exception as exc:  # an unexpected error must not end the probing
                log.warning("edge probe failed (%s: %s)", type(exc).__name__, exc)
                self.healthy = False
            await asyncio.sleep(self.probe_interval_s)

    async def infer(self, prompt: str, max_tokens: int) -> dict[str, Any]:
        """Answer from the edge if healthy, else (or on edge failure) from the cloud."""
        started = time.perf_counter()
        if self.healthy and self._client is not None:
            try:
                response = await self._client.post("/infer", json={
                    "prompt": prompt, "max_tokens": max_tokens})
                response.raise_for_status()
                return self._answer(response.json()["response"], "edge", started)
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                log.warning("edge inference failed (%s): failing over", type(exc).__name__)
                self.healthy = False
        gen = llm.builtin_generate(prompt, "prsm-edge", max_tokens, 0.0)
        return self._answer(gen.text, "cloud", started)

    def _answer(self, text: str, location: str, started: float) -> dict[str, Any]:
        self.counts[location] += 1
        return {"response": text, "location": location,
                "latency_ms": round((time.perf_counter() - started) * 1000, 3)}
