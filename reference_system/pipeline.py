"""The telemetry pipeline: a durable JetStream pull consumer writing to PostgreSQL.

Acknowledges a message only after the transaction holding its row has committed; inserts are
idempotent on ``(device, seq)``; poison messages go to the dead-letter stream. The end-to-end
latency (edge publish time to commit time) is exported as a Prometheus histogram.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from reference_system import telemetry
from reference_system.httpd import MiniHttp, json_reply

log = logging.getLogger("prsm.pipeline")
INSERT = (
    "INSERT INTO telemetry (device, seq, published_at, cpu, memory, disk, battery, temperature,"
    " inference_count) VALUES (%s, %s, to_timestamp(%s), %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (device, seq) DO NOTHING"
)
ACK_WAIT_S = 5.0
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)


@dataclass
class PipelineMetrics:
    """What the pipeline exports."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.latency = Histogram("telemetry_e2e_latency_seconds", "Edge publish to DB commit",
                                 buckets=_BUCKETS, registry=self.registry)
        self.landed = Counter("telemetry_landed", "Rows inserted", registry=self.registry)
        self.duplicates = Counter("telemetry_duplicates", "Redeliveries already stored",
                                  registry=self.registry)
        self.dead = Counter("telemetry_dead_lettered", "Poison messages", registry=self.registry)


@dataclass
class Pipeline:
    """Consumer loop and its health endpoint."""

    nats_url: str
    postgres_dsn: str
    batch: int = 200
    metrics: PipelineMetrics = field(default_factory=PipelineMetrics)
    healthy: bool = False

    async def run(self, host: str, port: int) -> None:
        """Serve health/metrics and consume until cancelled."""
        http = MiniHttp()
        http.route("GET", "/health", self._health)
        http.route("GET", "/metrics", self._metrics)
        await http.start(host, port)
        from reference_system.edge import _jetstream

        js = await _jetstream(self.nats_url)
        from nats.js.api import ConsumerConfig

        # A short ack wait bounds how long messages held by a killed consumer stay invisible.
        sub = await js.pull_subscribe(telemetry.SUBJECTS, durable=telemetry.CONSUMER,
                                      stream=telemetry.STREAM,
                                      config=ConsumerConfig(ack_wait=ACK_WAIT_S))
        conn = await self._connect()
        while True:
            conn = await self._step(js, sub, conn)

    async def _connect(self) -> Any:
        import psycopg

        delay = 0.05
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.postgres_dsn, connect_timeout=2)
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (telemetry.SCHEMA_LOCK,))
                await conn.execute(telemetry.SCHEMA)
                await conn.commit()
                self.healthy = True
                return conn
            except Exception as exc:
                self.healthy = False
                log.warning("database not reachable (%s); retrying", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _step(self, js: Any, sub: Any, conn: Any) -> Any:
        try:
            messages = await sub.fetch(self.batch, timeout=0.5)
        except Exception:  # nothing pending, or the broker is away: nats-py reconnects
            return conn
        try:
            await self._store(js, messages, conn)
        except Exception as exc:
            log.warning("batch not stored (%s); will be redelivered", type(exc).__name__)
            for message in messages:
                await _quiet(message.nak(delay=0.2))
            await _quiet(conn.close())
            return await self._connect()
        return conn

    async def _store(self, js: Any, messages: list[Any], conn: Any) -> None:
        readings, poison = _split(messages)
        for message, reason in poison:
            await self._dead_letter(js, message, reason)
        if readings:
            async with conn.cursor() as cur:
                inserted = 0
                for _, reading in readings:
                    await cur.execute(INSERT, _row(reading))
                    inserted += cur.rowcount
            await conn.commit()  # only now may the broker forget these messages
            self._observe(readings, inserted)
        for message, _ in readings:
            await message.ack()

    def _observe(self, readings: list[tuple[Any, telemetry.Reading]], inserted: int) -> None:
        committed = telemetry.now()
        for _, reading in readings:
            self.metrics.latency.observe(max(0.0, committed - reading.published_at))
        self.metrics.landed.inc(inserted)
        self.metrics.duplicates.inc(len(readings) - inserted)

    async def _dead_letter(self, js: Any, message: Any, reason: str) -> None:
        seq = message.metadata.sequence.stream
        headers = {"Prsm-Dlq-Reason": reason, "Nats-Msg-Id": f"dlq/{seq}",
                   "Prsm-Original-Subject": message.subject}
        await js.publish(f"telemetry-dlq.{seq}", message.data, headers=headers, timeout=2)
        self.metrics.dead.inc()
        await message.ack()

    async def _health(self, _: bytes) -> tuple[int, str, bytes]:
        return json_reply(200 if self.healthy else 503, {"healthy": self.healthy})

    async def _metrics(self, _: bytes) -> tuple[int, str, bytes]:
        return 200, "text/plain; version=0.0.4", generate_latest(self.metrics.registry)


def _split(messages: list[Any]) -> tuple[list[tuple[Any, telemetry.Reading]],
                                         list[tuple[Any, str]]]:
    readings, poison = [], []
    for message in messages:
        try:
            readings.append((message, telemetry.decode(message.data)))
        except telemetry.PoisonMessage as exc:
            poison.append((message, str(exc)))
    return readings, poison


def _row(r: telemetry.Reading) -> tuple[Any, ...]:
    return (r.device, r.seq, r.published_at, r.cpu, r.memory, r.disk, r.battery, r.temperature,
            r.inference_count)


async def _quiet(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception as exc:
        log.debug("ignored %s", type(exc).__name__)
