"""The edge agent: M simulated devices publishing telemetry, plus local inference over HTTP.

Each device keeps ``next_seq`` and the pending (not yet acknowledged) reading in a state file,
replaced atomically. A pending reading is re-published byte-for-byte after a restart, so the
broker's duplicate window and the pipeline's idempotent insert make re-publishing harmless;
the sequence only advances after a PubAck.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reference_system import llm, telemetry
from reference_system.httpd import MiniHttp, json_reply

log = logging.getLogger("prsm.edge")


@dataclass
class DeviceState:
    """Persistent per-device publishing state."""

    path: Path
    next_seq: int = 1
    pending: dict[str, Any] | None = None

    @classmethod
    def load(cls, path: Path) -> DeviceState:
        """Read the state file, or start at sequence 1."""
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text())
        return cls(path, int(data["next_seq"]), data.get("pending"))

    def save(self) -> None:
        """Atomically replace the state file (fsynced: a restart never reuses a sequence)."""
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as out:
            json.dump({"next_seq": self.next_seq, "pending": self.pending}, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)


@dataclass
class EdgeAgent:
    """Devices, their publisher loops, and the inference endpoint."""

    devices: list[str]
    nats_url: str
    state_dir: Path
    interval_s: float = 0.5
    max_readings: int | None = None
    inferences: int = 0
    acked: dict[str, int] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)

    async def run(self, host: str, port: int) -> None:
        """Serve HTTP and publish until cancelled."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        http = MiniHttp()
        http.route("GET", "/health", self._health)
        http.route("GET", "/stats", self._stats)
        http.route("POST", "/infer", self._infer)
        await http.start(host, port)
        js = await _jetstream(self.nats_url)
        await asyncio.gather(*(self._publish_loop(js, d) for d in self.devices))

    async def _publish_loop(self, js: Any, device: str) -> None:
        state = DeviceState.load(self.state_dir / f"{device}.json")
        self.acked[device] = state.next_seq - 1
        published = 0
        while self.max_readings is None or published < self.max_readings:
            if state.pending is None:
                state.pending = asdict(self._reading(device, state.next_seq))
                state.save()
            reading = telemetry.Reading(**state.pending)
            await publish_until_acked(js, reading)
            state.next_seq, state.pending = reading.seq + 1, None
            state.save()
            self.acked[device] = reading.seq
            published += 1
            await asyncio.sleep(self.interval_s)

    def _reading(self, device: str, seq: int) -> telemetry.Reading:
        r = self.rng
        return telemetry.Reading(
            device=device, seq=seq, published_at=telemetry.now(), cpu=r.uniform(0, 100),
            memory=r.uniform(0, 100), disk=r.uniform(0, 100), battery=r.uniform(5, 100),
            temperature=r.uniform(20, 80), inference_count=self.inferences)

    async def _health(self, _: bytes) -> tuple[int, str, bytes]:
        return json_reply(200, {"status": "ok", "devices": len(self.devices)})

    async def _stats(self, _: bytes) -> tuple[int, str, bytes]:
        return json_reply(200, {"acked_seq": self.acked, "inferences": self.inferences})

    async def _infer(self, body: bytes) -> tuple[int, str, bytes]:
        request = json.loads(body or b"{}")
        prompt = request.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise ValueError("prompt must be a non-empty string")
        gen = llm.builtin_generate(prompt, "prsm-edge", int(request.get("max_tokens", 16)), 0.0)
        self.inferences += 1
        return json_reply(200, {"response": gen.text, "model": gen.model, "location": "edge"})


async def _jetstream(url: str) -> Any:
    """Connect (retrying until the broker is up) and make sure the streams exist."""
    import nats

    delay = 0.05
    while True:
        try:
            nc = await nats.connect(url, connect_timeout=1, max_reconnect_attempts=-1,
                                    reconnect_time_wait=0.1, allow_reconnect=True)
            js = nc.jetstream()
            await telemetry.ensure_streams(js)
            return js
        except Exception as exc:
            log.warning("broker not reachable (%s); retrying", type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


async def publish_until_acked(js: Any, reading: telemetry.Reading, timeout_s: float = 2.0
                              ) -> Any:
    """Publish with ``Nats-Msg-Id`` until the broker acknowledges; returns the PubAck."""
    delay = 0.05
    headers = {"Nats-Msg-Id": reading.msg_id}
    while True:
        try:
            return await js.publish(reading.subject, reading.encode(), timeout=timeout_s,
                                    headers=headers)
        except Exception as exc:
            log.info("publish %s not acknowledged (%s); retrying", reading.msg_id,
                     type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
