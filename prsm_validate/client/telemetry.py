"""Scenario-side telemetry tools: publish readings as a device, count what landed.

The scenario acts as one more edge device (its own device name), so every acknowledged publish
is known exactly and can be checked against the database: lost = acknowledged but not landed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prsm_validate.history import History
from reference_system import telemetry
from reference_system.edge import publish_until_acked


@dataclass
class PublishRun:
    """What a scenario publisher did."""

    device: str
    attempted: int = 0
    acknowledged: list[int] = field(default_factory=list)


def reading(device: str, seq: int, rng: random.Random) -> telemetry.Reading:
    """A valid reading for ``device``."""
    return telemetry.Reading(device, seq, telemetry.now(), rng.uniform(0, 100),
                             rng.uniform(0, 100), rng.uniform(0, 100), rng.uniform(0, 100),
                             rng.uniform(20, 80), 0)


async def _connect(nats_url: str) -> Any:
    import nats

    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=-1,
                            reconnect_time_wait=0.1)
    return nc


async def publish(nats_url: str, device: str, count: int, pace_s: float, seed: int,
                  during: Callable[[int], None] | None = None,
                  history: History | None = None) -> PublishRun:
    """Publish ``count`` readings, each retried until acknowledged.

    ``during(seq)`` is called (in a thread) before each publish, so a scenario can inject a
    fault at a chosen point of the stream.
    """
    nc = await _connect(nats_url)
    run, rng = PublishRun(device), random.Random(seed)
    try:
        js = nc.jetstream()
        for seq in range(1, count + 1):
            if during is not None:
                await asyncio.to_thread(during, seq)
            run.attempted += 1
            value = {"device": device, "seq": seq}
            if history is not None:
                history.invoke(0, "publish", value)
            try:
                await asyncio.wait_for(publish_until_acked(js, reading(device, seq, rng)), 60)
            except TimeoutError:
                if history is not None:
                    history.append(0, "info", "publish", value)
                raise
            if history is not None:
                history.append(0, "ok", "publish", value)
            run.acknowledged.append(seq)
            await asyncio.sleep(pace_s)
    finally:
        await nc.close()
    return run


def landed(postgres_dsn: str, device: str) -> dict[int, int]:
    """``{seq: rows}`` for ``device`` in the database."""
    import psycopg

    with psycopg.connect(postgres_dsn, connect_timeout=5) as conn:
        rows = conn.execute("SELECT seq, count(*) FROM telemetry WHERE device = %s GROUP BY seq",
                            (device,)).fetchall()
    return {int(seq): int(n) for seq, n in rows}


def latencies_ms(postgres_dsn: str, device: str) -> list[float]:
    """Edge-publish to database-commit latency of every landed reading of ``device``."""
    import psycopg

    with psycopg.connect(postgres_dsn, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM landed_at - published_at) * 1000 FROM telemetry "
            "WHERE device = %s", (device,)).fetchall()
    return [float(r[0]) for r in rows]


def wait_landed(postgres_dsn: str, device: str, expected: set[int], timeout_s: float
                ) -> dict[int, int]:
    """Poll until every expected sequence has landed (or the timeout); returns the last view."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = landed(postgres_dsn, device)
        if expected <= set(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


async def stream_copies(nats_url: str, device: str) -> int:
    """Messages the broker holds for ``device`` (more than the unique sequences = duplicates)."""
    nc = await _connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(telemetry.STREAM,
                                                subjects_filter=f"telemetry.{device}")
        return int((info.state.subjects or {}).get(f"telemetry.{device}", 0))
    finally:
        await nc.close()


@dataclass(frozen=True)
class Accounting:
    """The no-loss verdict's numbers."""

    published: int
    acknowledged: int
    landed: int
    duplicates: int
    lost: list[int]

    def to_json(self) -> dict[str, Any]:
        """For the report."""
        return {"published": self.published, "acknowledged": self.acknowledged,
                "landed": self.landed, "duplicates": self.duplicates, "lost": len(self.lost),
                "lost_sample": self.lost[:10]}


def account(run: PublishRun, rows: dict[int, int], broker_copies: int) -> Accounting:
    """Compare what was acknowledged with what landed and what the broker holds."""
    acked = set(run.acknowledged)
    duplicates = sum(n - 1 for n in rows.values() if n > 1) + max(0, broker_copies - len(acked))
    return Accounting(run.attempted, len(acked), len(acked & set(rows)), duplicates,
                      sorted(acked - set(rows)))
