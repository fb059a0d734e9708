"""The ``prsm-ref node`` process: one replica on asyncio TCP, with a durable log and HTTP.

Inbound: one listening socket for replicas and clients (length-prefixed JSON frames, HELLO
first), cut into frames by :class:`~.transport.FrameReceiver`. Outbound: one
:class:`~.transport.Link` per peer, dialling the address this node's entry in the per-sender
``peers`` map names (so a proxy can sit on every directed link).
Every frame becomes ``Replica.step(Receive(...))``; timers are ``loop.call_later``. Executions
are appended to the durable log and made durable by group commit before the replies they
produced are written to clients: one fdatasync at a time runs in a helper thread, covering
every record written out before it started, while the loop goes on with the protocol; replies
queued meanwhile wait for the next one. A failed sync stops the node (fail-stop: it cannot
promise durability any more).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import signal
import time
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
from reference_system.consensus.transport import FrameReceiver, Link, frame, hello

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
        # (checkpoint seq, number of entries executed before it): where state transfer
        # jumped, so a checker can tell a legitimate jump from a skipped sequence number.
        self.installs: list[tuple[int, int]] = []
        self.metrics = {"committed_requests": 0, "committed_batches": 0, "view_changes": 0,
                        "view_change_votes": 0, "state_transfers": 0, "frames_in": 0,
                        "bad_frames": 0}
        self.links: dict[int, Link] = {}
        self.clients: dict[str, asyncio.Transport] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.replies: list[tuple[str, bytes]] = []
        self.flush_pending = False
        self.syncing = False
        self.sync_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fsync")
        self.stopping: asyncio.Event | None = None
        self.closed = False
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
            for executed in self.replica.restore_executed(record.entry):
                self._note_executed(executed)
        elif isinstance(record, CheckpointStable):
            self.replica.restore_stable(record.seq, record.state_digest, record.proof)
            self.checkpoints[record.seq] = record.state_digest
        elif isinstance(record, StateInstalled):
            self.replica.restore_snapshot(record.seq, record.snapshot, record.proof)
            self.installs.append((record.seq, len(self.entries)))
        elif isinstance(record, ViewInstalled):
            self.replica.restore_view(record.view)

    # ---- the event loop side -----------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; release every socket on the way out."""
        self.stopping = stop
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: FrameReceiver(self._received, self._lost),
                                          *self.listen)
        http = introspect.IntrospectionServer({"/status": self._status, "/log": self._log,
                                               "/ledger": self._ledger,
                                               "/metrics": self._metrics})
        await http.start(*self.http)
        for peer in range(self.config.n):
            if peer != self.id:
                link = self.links[peer] = Link(self.config.peer_address(self.id, peer),
                                               hello(replica=self.id))
                link.start()
        self.step(Start())  # the core's resync timer keeps asking the peers while idle
        try:
            await stop.wait()
        finally:
            await self._shutdown(server, http)

    async def _shutdown(self, server: asyncio.base_events.Server,
                        http: introspect.IntrospectionServer) -> None:
        # From here on nothing is stepped: frames still arriving on open inbound connections
        # while the links close must not append to a durable log about to be closed.
        self.closed = True
        for handle in self.timers.values():
            handle.cancel()
        server.close()
        for writer in list(self.clients.values()):
            writer.close()
        await http.close()
        for link in self.links.values():
            await link.close()
        self.sync_pool.shutdown(wait=True)
        if self.durable is not None:
            self.durable.close()

    def _received(self, receiver: FrameReceiver, data: bytes) -> None:
        if not receiver.greeted:
            receiver.greeted = True
            self._greeted(receiver, data)
        else:
            self._on_frame(data)

    def _greeted(self, receiver: FrameReceiver, data: bytes) -> None:
        try:
            client = json.loads(data).get("client")
        except (ValueError, AttributeError):
            receiver.transport.close()  # type: ignore[union-attr]
            return
        if isinstance(client, str):
            receiver.peer = client
            self.clients[client] = receiver.transport  # type: ignore[assignment]

    def _lost(self, receiver: FrameReceiver) -> None:
        if receiver.peer is not None and self.clients.get(receiver.peer) is receiver.transport:
            del self.clients[receiver.peer]

    def _on_frame(self, data: bytes) -> None:
        self.metrics["frames_in"] += 1
        try:
            message = decode(data)
        except MessageError:
            self.metrics["bad_frames"] += 1
            return
        self.step(Receive(message))

    def step(self, event: Any) -> None:
        """Feed one event to the core and carry out its outputs (none once shutting down)."""
        if self.closed:
            return
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
            self.installs.append((out.seq, len(self.entries)))
        elif isinstance(out, ViewInstalled):
            self.metrics["view_changes"] += 1
        elif isinstance(out, ViewChangeStarted):
            self.metrics["view_change_votes"] += 1
            return
        if self.durable is not None and not isinstance(out, ViewChangeStarted):
            self.durable.append(out)
            self._schedule_flush()

    def _note_executed(self, out: Executed) -> None:
        # A request ordered a second time (a retransmission re-proposed across views) is not
        # executed again (its result is None): only executed requests are listed.
        ids = [(r.request_id, r.operation_id) for r, result in zip(out.batch, out.results,
                                                                   strict=True)
               if result is not None]
        self.entries.append((out.seq, out.view, out.digest, ids))
        self.metrics["committed_batches"] += 1
        self.metrics["committed_requests"] += len(ids)

    def _schedule_flush(self) -> None:
        if not self.flush_pending:
            self.flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Group commit: start a sync of what was appended, or release replies it covers."""
        self.flush_pending = False
        if self.syncing or self.closed:
            return  # the sync in flight calls back here when it is done; close() syncs
        replies, self.replies = self.replies, []
        if self.durable is None or not self.durable.write_out():
            self._release(replies)  # every record so far is covered by a finished sync
            return
        self.syncing = True
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(self.sync_pool, self.durable.sync_written)
        done.add_done_callback(lambda future: self._synced(future, replies))

    def _synced(self, future: asyncio.Future[None], replies: list[tuple[str, bytes]]) -> None:
        self.syncing = False
        if future.cancelled() or future.exception() is not None:
            log.critical("durable log sync failed, stopping: %r",
                         None if future.cancelled() else future.exception())
            if self.stopping is not None:
                self.stopping.set()
            return
        self._release(replies)
        if self.replies or (self.durable is not None and self.durable.dirty):
            self._schedule_flush()

    def _release(self, replies: list[tuple[str, bytes]]) -> None:
        by_client: dict[str, list[bytes]] = {}
        for client, data in replies:
            by_client.setdefault(client, []).append(data)
        for client, frames in by_client.items():  # one write per connection, not per reply
            writer = self.clients.get(client)
            if writer is not None and not writer.is_closing():
                writer.write(b"".join(frames))

    # ---- introspection -----------------------------------------------------------------

    def _status(self, _query: dict[str, str]) -> tuple[int, str, bytes]:
        status = self.replica.status()
        status.update(byzantine=[s.mode for s in self.byzantine], recovered=self.recovered)
        return introspect.json_body(200, status)

    def _log(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        low = int(query.get("from", 0))
        high = int(query.get("to", 1 << 62))
        entries = [{"seq": s, "view": v, "digest": d,
                    "request_ids": [request for request, _ in ids],
                    "operation_ids": [operation for _, operation in ids]}
                   for s, v, d, ids in self.entries if low <= s <= high]
        checkpoints = {str(s): d for s, d in self.checkpoints.items() if low <= s <= high}
        body = {"entries": entries, "checkpoints": checkpoints}
        if low == 0 and high == 1 << 62:  # positions refer to the whole execution order
            body["installs"] = [{"seq": s, "after_entries": n} for s, n in self.installs]
        return introspect.json_body(200, body)

    def _ledger(self, _query: dict[str, str]) -> tuple[int, str, bytes]:
        machine = self.replica.machine
        return introspect.json_body(200, {**machine.ledger.state(), "genesis": machine.genesis,
                                          "last_executed": self.replica.last_executed})

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
    started = time.monotonic()
    if node.durable is not None and node.durable.path.exists():
        log.info("replaying durable log %s (%.1f MB)", node.durable.path,
                 node.durable.path.stat().st_size / 1e6)
    count = node.recover()
    log.info("recovered %d durable records in %.2f s (last executed %d)", count,
             time.monotonic() - started, node.replica.last_executed)

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
