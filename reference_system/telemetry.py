"""Telemetry: the message format, the JetStream streams and the PostgreSQL table.

Durability choices (documented here because they are the point):

- Stream ``TELEMETRY`` (subjects ``telemetry.>``): file storage, and the NATS server runs with
  ``jetstream { sync_interval: always }`` so a PubAck means the message was fsynced; a broker
  SIGKILL loses nothing acknowledged. A 10-minute duplicate window deduplicates re-publishes by
  ``Nats-Msg-Id = <device>/<seq>``.
- Stream ``TELEMETRY_DLQ`` (subjects ``telemetry-dlq.>``): poison messages (not JSON, missing
  fields) are copied there with the reason in a header, then acknowledged on the main stream,
  so one bad message never blocks the rest.
- Table ``telemetry`` keyed by ``(device, seq)``; the pipeline inserts with
  ``ON CONFLICT DO NOTHING`` and acknowledges only after the transaction commits: a redelivery
  is harmless and nothing acknowledged to the broker is missing from the database.
  Time-partitioned layout for production volumes: ``PARTITION BY RANGE (published_at)`` with one
  partition per day and the key ``(device, seq, published_at)``; this is safe because an edge
  agent re-publishes a pending message byte-for-byte (same ``published_at``). The reference
  system keeps one table so the harness can start it in milliseconds.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

STREAM = "TELEMETRY"
SUBJECTS = "telemetry.>"
DLQ_STREAM = "TELEMETRY_DLQ"
DLQ_SUBJECTS = "telemetry-dlq.>"
CONSUMER = "pipeline"
DUPLICATE_WINDOW_S = 600
METRIC_FIELDS = ("cpu", "memory", "disk", "battery", "temperature", "inference_count")

# Advisory lock key taken by every process creating tables (API replicas, the pipeline):
# concurrent CREATE ... IF NOT EXISTS statements race in PostgreSQL without it.
SCHEMA_LOCK = 0x505253
SCHEMA = """
CREATE TABLE IF NOT EXISTS telemetry (
    device          text NOT NULL,
    seq             bigint NOT NULL,
    published_at    timestamptz NOT NULL,
    landed_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    cpu             double precision,
    memory          double precision,
    disk            double precision,
    battery         double precision,
    temperature     double precision,
    inference_count bigint,
    PRIMARY KEY (device, seq)
)
"""


@dataclass(frozen=True)
class Reading:
    """One telemetry message from one device."""

    device: str
    seq: int
    published_at: float  # wall-clock seconds, set once when the reading is created
    cpu: float
    memory: float
    disk: float
    battery: float
    temperature: float
    inference_count: int

    @property
    def msg_id(self) -> str:
        """The JetStream deduplication id."""
        return f"{self.device}/{self.seq}"

    @property
    def subject(self) -> str:
        """The subject this reading is published on."""
        return f"telemetry.{self.device}"

    def encode(self) -> bytes:
        """Wire form (JSON)."""
        return json.dumps(asdict(self), separators=(",", ":")).encode()


class PoisonMessage(ValueError):
    """A message that can never be stored; it goes to the dead-letter stream."""


def decode(payload: bytes) -> Reading:
    """Parse and validate a message; raises :class:`PoisonMessage` with the reason."""
    try:
        data: Any = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise PoisonMessage("not JSON") from None
    if not isinstance(data, dict):
        raise PoisonMessage("not a JSON object")
    try:
        return Reading(
            device=_text(data["device"]), seq=int(data["seq"]),
            published_at=float(data["published_at"]),
            **{k: float(data[k]) for k in METRIC_FIELDS if k != "inference_count"},
            inference_count=int(data["inference_count"]),
        )
    except KeyError as exc:
        raise PoisonMessage(f"missing field {exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise PoisonMessage(f"bad field value: {exc}") from None


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 128:
        raise ValueError("device must be a non-empty string of at most 128 characters")
    return value


def now() -> float:
    """Wall-clock seconds (latency from edge to database spans processes)."""
    return time.time()


async def ensure_streams(js: Any) -> None:
    """Create (or update) the telemetry and dead-letter streams."""
    from nats.js.api import StorageType, StreamConfig

    for name, subjects in ((STREAM, SUBJECTS), (DLQ_STREAM, DLQ_SUBJECTS)):
        config = StreamConfig(name=name, subjects=[subjects], storage=StorageType.FILE,
                              duplicate_window=DUPLICATE_WINDOW_S)
        try:
            await js.add_stream(config)
        except Exception:
            await js.update_stream(config)
