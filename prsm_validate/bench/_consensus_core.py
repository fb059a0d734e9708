"""The PBFT core's CPU cost per request, in one process: a figure a busy machine cannot blur.

Four :class:`~reference_system.consensus.replica.Replica` objects with real ed25519 keys and
client MACs exchange every message through the wire encoding (``encode``/``decode``), as the
node processes do, with no sockets, no disk and no scheduler in between; requests arrive in
rounds of ``batch``. ``time.process_time`` counts only this process's CPU, so the figure
moves with the code, not with what else the machine runs. One more round under cProfile gives
the top entries by own time: where the protocol's CPU goes.
"""

from __future__ import annotations

import collections
import cProfile
import io
import itertools
import json
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from reference_system.consensus.config import (
    ClusterConfig,
    generate_cluster,
    load_client_secrets,
    load_node_key,
)
from reference_system.consensus.crypto import ClientMacs, Ed25519Keyring, ReplicaMacs
from reference_system.consensus.durable import encode_record
from reference_system.consensus.events import (
    Broadcast,
    Executed,
    Receive,
    Send,
    SendReply,
    SetTimer,
    Start,
    TimerFired,
)
from reference_system.consensus.messages import Request, decode, encode
from reference_system.consensus.replica import Replica
from reference_system.consensus.state_machine import StateMachine

N = 4


class CoreCluster:
    """Replicas and one client in this process, every message through the wire form."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        with tempfile.TemporaryDirectory(prefix="prsm-core-") as directory:
            files = generate_cluster(N, Path(directory), [(1, 1)] * N, **(settings or {}))
            config = ClusterConfig.load(files.config)
            keys = [load_node_key(path) for path in files.keys]
            self.client = ClientMacs(load_client_secrets(files.client_keys))
        self.replicas = [Replica(i, config.params(), Ed25519Keyring(i, seed, config.public_keys()),
                                 ReplicaMacs(i, secret), StateMachine(config.genesis,
                                                                      config.workers))
                         for i, seed, secret in keys]
        self.wire: collections.deque[tuple[int, bytes]] = collections.deque()
        self.timers: set[tuple[int, str]] = set()
        self.replies = 0
        self.rounds = itertools.count(1)
        for replica in self.replicas:
            self._apply(replica.id, replica.step(Start()))
        self.wire.clear()
        self.timers.clear()

    def _apply(self, sender: int, outputs: list[Any]) -> None:
        for out in outputs:
            if isinstance(out, Send):
                self.wire.append((out.to, encode(out.message)))
            elif isinstance(out, Broadcast):
                data = encode(out.message)
                self.wire.extend((r, data) for r in range(N) if r != sender)
            elif isinstance(out, SendReply):
                reply = decode(encode(out.reply))
                self.replies += self.client.reply_ok(reply)  # type: ignore[arg-type]
            elif isinstance(out, Executed):
                json.dumps(encode_record(out))  # what the durable log writes
            elif isinstance(out, SetTimer) and out.name == "batch":
                self.timers.add((sender, out.name))

    def round(self, batch: int) -> None:
        """``batch`` new transfers reach the primary; deliver until nothing moves."""
        number = next(self.rounds)
        for k in range(batch):
            operation = {"op": "transfer", "id": f"core-{number}-{k}", "from": "treasury",
                         "to": "alice", "amount": 1}
            request = self.client.authenticate(Request(f"core/{k}", number, operation))
            self.wire.append((0, encode(request)))
        while self.wire or self.timers:
            while self.wire:
                to, data = self.wire.popleft()
                self._apply(to, self.replicas[to].step(Receive(decode(data))))
            for replica, name in sorted(self.timers):  # the batch timer: nothing else comes
                self.timers.discard((replica, name))
                self._apply(replica, self.replicas[replica].step(TimerFired(name)))


def cpu_per_request(batch: int, requests: int = 512,
                    settings: dict[str, Any] | None = None) -> float:
    """CPU microseconds per committed request (all replicas and the client's MACs)."""
    cluster = CoreCluster(settings)
    cluster.round(batch)  # warm up
    rounds = max(1, requests // batch)
    started = time.process_time()
    for _ in range(rounds):
        cluster.round(batch)
    return (time.process_time() - started) / (rounds * batch) * 1e6


def profile_top(batch: int, requests: int = 256, top: int = 10,
                settings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The ``top`` functions by own CPU time over ``requests`` requests, as JSON rows."""
    cluster = CoreCluster(settings)
    cluster.round(batch)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(max(1, requests // batch)):
        cluster.round(batch)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(row[2] for row in stats.stats.values()) or 1.0  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)  # type: ignore[attr-defined]
    return [{"function": f"{Path(file).name}:{line}({name})", "calls": calls,
             "own_pct": round(100 * own / total, 1)}
            for (file, line, name), (_, calls, own, _, _) in rows[:top]]
