"""``ConsensusClient``: the asyncio client library the API uses to order operations.

``await client.submit(operation, timeout)`` sends a REQUEST to the primary it believes in,
broadcasts it to every replica after ``retry`` seconds without an answer (again every
``retry``), and returns the result once f+1 replicas sent matching, MAC-verified REPLYs; on
``timeout`` it raises :class:`TimeoutError` (outcome unknown: the operation may still
execute). Retransmissions keep the timestamp, so a retried request executes once.

PBFT allows one outstanding request per client, so one ``ConsensusClient`` is a pool of
logical clients ``<name>/<k>``, each with its own timestamps: many users' requests are in flight
at once, up to ``max_outstanding``. Node addresses come from ``client_addresses`` in the
cluster config, so a proxy may sit on every API-to-node link.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reference_system.consensus.config import ClusterConfig, load_client_secrets
from reference_system.consensus.crypto import ClientMacs
from reference_system.consensus.messages import (
    MessageError,
    Reply,
    Request,
    canonical,
    encode,
    from_wire,
)
from reference_system.consensus.transport import Link, frame, hello


@dataclass
class _Outstanding:
    future: asyncio.Future[Any]
    data: bytes
    deadline: float
    replies: dict[int, bytes] = field(default_factory=dict)
    timer: asyncio.TimerHandle | None = None


class ConsensusClient:
    """A pool of PBFT clients sharing one connection per replica."""

    def __init__(self, config: ClusterConfig, client_secrets: dict[int, bytes],
                 name: str | None = None, retry: float = 0.5,
                 max_outstanding: int = 1024) -> None:
        self.config = config
        self.f = (config.n - 1) // 3
        self.name = name or f"client-{secrets.token_hex(4)}"
        self.macs = ClientMacs(client_secrets)
        self.retry = retry
        self.view = 0
        self.links: dict[int, Link] = {}
        self._free: list[str] = []
        self._timestamps: dict[str, int] = {}
        self._slots = asyncio.Semaphore(max_outstanding)
        self._outstanding: dict[tuple[str, int], _Outstanding] = {}

    @classmethod
    def from_files(cls, config: Path, client_keys: Path, **options: Any) -> ConsensusClient:
        """Build from ``cluster.json`` and ``client-keys.json``."""
        return cls(ClusterConfig.load(config), load_client_secrets(client_keys), **options)

    async def start(self, wait: float = 5.0) -> None:
        """Dial every replica; waits until f+1 links are up (or ``wait`` seconds pass)."""
        for i in range(self.config.n):
            link = Link(self.config.client_address(i), hello(client=self.name))
            link.on_frame = self._on_frame
            link.start()
            self.links[i] = link
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._links_up(self.f + 1), wait)

    async def _links_up(self, count: int) -> None:
        while sum(link.connected.is_set() for link in self.links.values()) < count:
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Close every link and fail outstanding submissions."""
        for link in self.links.values():
            await link.close()
        for outstanding in self._outstanding.values():
            if not outstanding.future.done():
                outstanding.future.set_exception(ConnectionError("client closed"))

    async def __aenter__(self) -> ConsensusClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- submitting --------------------------------------------------------------------

    async def submit(self, operation: dict[str, Any], timeout: float = 5.0) -> Any:
        """Order ``operation`` through consensus and return its result (f+1 matching)."""
        async with self._slots:
            logical = self._free.pop() if self._free else f"{self.name}/{len(self._timestamps)}"
            try:
                return await self._submit_as(logical, operation, timeout)
            finally:
                self._free.append(logical)

    async def _submit_as(self, logical: str, operation: dict[str, Any], timeout: float) -> Any:
        # Timestamps start from the clock: a restarted client that reuses its name still sends
        # newer timestamps than any replica has cached (else they would be taken as retries).
        timestamp = max(self._timestamps.get(logical, 0) + 1, time.time_ns() // 1000)
        self._timestamps[logical] = timestamp
        request = self.macs.authenticate(Request(logical, timestamp, operation))
        key = (logical, timestamp)
        loop = asyncio.get_running_loop()
        outstanding = self._outstanding[key] = _Outstanding(
            loop.create_future(), frame(encode(request)), loop.time() + timeout)
        try:
            return await self._await_replies(outstanding, timeout)
        finally:
            if outstanding.timer is not None:
                outstanding.timer.cancel()
            del self._outstanding[key]

    async def _await_replies(self, outstanding: _Outstanding, timeout: float) -> Any:
        # A timer per request rather than wait_for: no task per wait, which at thousands of
        # requests a second is most of the client's cost.
        self.links[self.view % self.config.n].send(outstanding.data)
        self._arm_retry(outstanding, timeout)
        return await outstanding.future

    def _arm_retry(self, outstanding: _Outstanding, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        remaining = outstanding.deadline - loop.time()
        outstanding.timer = loop.call_later(max(min(self.retry, remaining), 0),
                                            self._retry, outstanding, timeout)

    def _retry(self, outstanding: _Outstanding, timeout: float) -> None:
        if outstanding.future.done():
            return
        if asyncio.get_running_loop().time() >= outstanding.deadline:
            outstanding.future.set_exception(
                TimeoutError(f"no f+1 matching replies within {timeout} s"))
            return
        for link in self.links.values():  # the primary may be faulty: tell everyone
            link.send(outstanding.data)
        self._arm_retry(outstanding, timeout)

    def _on_frame(self, data: bytes) -> None:
        try:
            envelope = json.loads(data.decode())
            # Routing by the envelope only: late replies beyond the f+1 needed are not worth
            # parsing or a MAC check. What is accepted is what the MAC'd payload says.
            if "c" in envelope:
                outstanding = self._outstanding.get((envelope["c"], envelope.get("t")))
                if outstanding is None or outstanding.future.done():
                    return
            reply = from_wire(envelope)
        except (MessageError, ValueError, AttributeError, TypeError):
            return
        if not isinstance(reply, Reply):
            return
        outstanding = self._outstanding.get((reply.client, reply.timestamp))
        if outstanding is None or outstanding.future.done():
            return
        if not self.macs.reply_ok(reply):
            return
        result = canonical(reply.result)
        outstanding.replies[reply.replica] = result
        if sum(r == result for r in outstanding.replies.values()) >= self.f + 1:
            self.view = max(self.view, reply.view)
            outstanding.future.set_result(reply.result)
