"""The ``prsm-ref node`` process: one replica on asyncio TCP, with a durable log and HTTP.

Inbound: one listening socket for replicas and clients (length-prefixed JSON frames, HELLO
first). Outbound: one :class:`~.transport.Link` per peer, dialling the address this node's
entry in the per-sender ``peers`` map names (so a proxy can sit on every directed link).
Every frame becomes ``Replica.step(Receive(...))``; timers are ``loop.call_later``. Executions
are appended to the durable log and fsync'd once per loop iteration (group commit) before the
replies they produced are written to clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from pathlib import Path
from typing import Any

from reference_system.consensus import introspect
from reference_system.consensus.byzantine import ByzantineReplica, ByzantineSpec
from reference_system.consensus.config import ClusterConfig
from reference_system.consensus.crypto import Ed25519Keyring, ReplicaMacs
from reference_system.consensus.durable import DurableLog
from reference_system.consensus.events import (
    Broadcast,
    CancelTimer,
    CheckpointStable,
    Executed,
    Output,
    Receive,
    Send,
    SendReply,
    SetTimer,
    Start,
    StateInstalled,
    TimerFired,
    ViewChangeStarted,
    ViewInstalled,
)
from reference_system.consensus.messages import MessageError, decode, encode
from reference_system.consensus.replica import Replica
from reference_system.consensus.state_machine import StateMachine
from reference_system.consensus.transport import Link, frame, hello, read_frame

log = logging.getLogger("prsm.consensus.node")


class Node:
    """One replica process: transport, timers, durable log, introspection."""

    def __init__(self, config: ClusterConfig, node_id: int, seed: bytes, client_secret: bytes,
                 data_dir: Path | None = None, byzantine: list[ByzantineSpec] | None = None,
                 listen: tuple[str, int] | None = None,
                 http: tuple[str, int] | None = None) -> None:
        self.config, self.id = config, node_id
        keyring = Ed25519Keyring(node_id, seed, config.public_keys())
        self.replica = Replica(node_id, config.params(), keyring,
                               ReplicaMacs(node_id, client_secret),
                               StateMachine(config.genesis, config.workers))
        self.byzantine = byzantine or []
        self.core: Any = (ByzantineReplica(self.replica, self.byzantine, seed=node_id)
                          if self.byzantine else self.replica)
        self.listen = listen or config.listen(node_id)
        self.http = http or config.http(node_id)
        self.durable = DurableLog(data_dir / "log.jsonl") if data_dir else None
        self.entries: list[tuple[int, int, str, list[Any]]] = []
        self.checkpoints: dict[int, str] = {}
        self.metrics = {"committed_requests": 0, "committed_batches": 0, "view_changes": 0,
                        "view_change_votes": 0, "state_transfers": 0, "frames_in": 0,
                        "bad_frames": 0}
        self.links: dict[int, Link] = {}
        self.clients: dict[str, asyncio.StreamWriter] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.replies: list[tuple[str, bytes]] = []
        self.flush_pending = False
        self.recovered = 0

    # ---- recovery ----------------------------------------------------------------------

    def recover(self) -> int:
        """Replay the durable log into the replica; returns the records replayed."""
        if self.durable is None:
            return 0
        count = 0
        for record in self.durable.replay():
            self._replay(record)
            count += 1
        self.recovered = count
        return count

    def _replay(self, record: Any) -> None:
        if isinstance(record, Executed):
            before = self.replica.last_executed
            self.replica.restore_executed(record.entry)
            if self.replica.last_executed > before:
                self._note_executed(record)
        elif isinstance(record, CheckpointStable):
            self.replica.restore_stable(record.seq, record.state_digest, record.proof)
            self.checkpoints[record.seq] = record.state_digest
        elif isinstance(record, StateInstalled):
            self.replica.restore_snapshot(record.seq, record.snapshot, record.proof)
        elif isinstance(record, ViewInstalled):
            self.replica.restore_view(record.view)

    # ---- the event loop side -----------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; release every socket on the way out."""
        server = await asyncio.start_server(self._serve, *self.listen)
        http = introspect.IntrospectionServer({"/status": self._status, "/log": self._log,
                                               "/metrics": self._metrics})
        await http.start(*self.http)
        for peer in range(self.config.n):
            if peer != self.id:
                link = self.links[peer] = Link(self.config.peer_address(self.id, peer),
                                               hello(replica=self.id))
                link.start()
        self.step(Start())
        try:
            await stop.wait()
        finally:
            await self._shutdown(server, http)

    async def _shutdown(self, server: asyncio.base_events.Server,
                        http: introspect.IntrospectionServer) -> None:
        for handle in self.timers.values():
            handle.cancel()
        server.close()
        for writer in list(self.clients.values()):
            writer.close()
        await http.close()
        for link in self.links.values():
            await link.close()
        if self.durable is not None:
            self.durable.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = None
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            greeting = json.loads(await read_frame(reader))
            client = greeting.get("client")
            if isinstance(client, str):
                self.clients[client] = writer
            while True:
                self._on_frame(await read_frame(reader))
        if client is not None and self.clients.get(client) is writer:
            del self.clients[client]
        writer.close()

    def _on_frame(self, data: bytes) -> None:
        self.metrics["frames_in"] += 1
        try:
            message = decode(data)
        except MessageError:
            self.metrics["bad_frames"] += 1
            return
        self.step(Receive(message))

    def step(self, event: Any) -> None:
        """Feed one event to the core and carry out its outputs."""
        for output in self.core.step(event):
            self._apply(output)

    def _apply(self, out: Output) -> None:
        if isinstance(out, Send):
            link = self.links.get(out.to)
            if link is not None:
                link.send(frame(encode(out.message)))
        elif isinstance(out, Broadcast):
            data = frame(encode(out.message))
            for link in self.links.values():
                link.send(data)
        elif isinstance(out, SendReply):
            self.replies.append((out.reply.client.split("/", 1)[0], frame(encode(out.reply))))
            self._schedule_flush()
        elif isinstance(out, SetTimer | CancelTimer):
            self._timer(out)
        else:
            self._record(out)

    def _timer(self, out: SetTimer | CancelTimer) -> None:
        old = self.timers.pop(out.name, None)
        if old is not None:
            old.cancel()
        if isinstance(out, SetTimer):
            loop = asyncio.get_running_loop()
            self.timers[out.name] = loop.call_later(out.duration, self._fire, out.name)

    def _fire(self, name: str) -> None:
        self.timers.pop(name, None)
        self.step(TimerFired(name))

    def _record(self, out: Any) -> None:
        if isinstance(out, Executed):
            self._note_executed(out)
        elif isinstance(out, CheckpointStable):
            self.checkpoints[out.seq] = out.state_digest
        elif isinstance(out, StateInstalled):
            self.metrics["state_transfers"] += 1
        elif isinstance(out, ViewInstalled):
            self.metrics["view_changes"] += 1
        elif isinstance(out, ViewChangeStarted):
            self.metrics["view_change_votes"] += 1
            return
        if self.durable is not None and not isinstance(out, ViewChangeStarted):
            self.durable.append(out)
            self._schedule_flush()

    def _note_executed(self, out: Executed) -> None:
        ids = [r.request_id for r in out.batch]
        self.entries.append((out.seq, out.view, out.digest, ids))
        self.metrics["committed_batches"] += 1
        self.metrics["committed_requests"] += len(ids)

    def _schedule_flush(self) -> None:
        if not self.flush_pending:
            self.flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Group commit: make this iteration's executions durable, then release replies."""
        self.flush_pending = False
        if self.durable is not None:
            self.durable.sync()
        replies, self.replies = self.replies, []
        for client, data in replies:
            writer = self.clients.get(client)
            if writer is not None and not writer.is_closing():
                writer.write(data)

    # ---- introspection -----------------------------------------------------------------

    def _status(self, _query: dict[str, str]) -> tuple[int, str, bytes]:
        status = self.replica.status()
        status.update(byzantine=[s.mode for s in self.byzantine], recovered=self.recovered)
        return introspect.json_body(200, status)

    def _log(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        low = int(query.get("from", 0))
        high = int(query.get("to", 1 << 62))
        entries = [{"seq": s, "view": v, "digest": d, "request_ids": ids}
                   for s, v, d, ids in self.entries if low <= s <= high]
        checkpoints = {str(s): d for s, d in self.checkpoints.items() if low <= s <= high}
        return introspect.json_body(200, {"entries": entries, "checkpoints": checkpoints})

    def _metrics(self, _query: dict[str, str]) -> tuple[int, str, bytes]:
        lines = []
        gauges = {"view": self.replica.view, "last_executed": self.replica.last_executed,
                  "stable_checkpoint": self.replica.stable_seq}
        for name, value in self.metrics.items():
            lines += [f"# TYPE prsm_consensus_{name}_total counter",
                      f'prsm_consensus_{name}_total{{node="{self.id}"}} {value}']
        for name, value in gauges.items():
            lines += [f"# TYPE prsm_consensus_{name} gauge",
                      f'prsm_consensus_{name}{{node="{self.id}"}} {value}']
        return 200, "text/plain; version=0.0.4", ("\n".join(lines) + "\n").encode()


def serve(node: Node) -> None:
    """Recover, then run the node until SIGINT/SIGTERM."""
    node.recover()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await node.run(stop)

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
