"""A deterministic simulated network for the replica core, driven by one seed.

Messages wait in a pool; each step the seeded RNG either delivers a random pending message
(so messages are reordered), possibly dropping or duplicating it, or fires the earliest timer
(advancing virtual time). Faults are per replica: ``crash``, ``crash-restart`` (down for part
of the run, then restarted from its durable records), ``wipe`` (restarted with no state, must
catch up by state transfer) or a byzantine spec (``equivocate``, ``double-vote:2`` ...).
After the chaotic phase the network becomes synchronous and reliable (PBFT's liveness
assumption): messages are delivered in rounds before any timer fires, until every client got
its replies. A ``cut(view, seq, src, dst)`` predicate (ByzzFuzz's round-scoped network
faults) drops replica-to-replica messages during the chaotic phase only; a message's rounds are
its view and sequence fields, or its sender's current view and last executed sequence.
``twins`` (Bano et al., OPODIS 2022) run a second process with a replica's identity (its keys)
during the chaotic phase: process ``n + k`` is the twin of replica ``twins[k]``; a message to
an identity reaches each of its processes that ``cut`` does not separate from the sender;
clients talk to the originals only (a twin has no client connection, as on real processes),
and the twins stop when the chaotic phase ends (as the harness stops a real twin). A twinned
identity counts as Byzantine.
:meth:`Simulation.violations` checks agreement, validity, exactly-once execution, supply
conservation and that clients accepted what replicas executed.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reference_system.consensus.byzantine import ByzantineReplica, parse_spec
from reference_system.consensus.crypto import ClientMacs, FastKeyring, ReplicaMacs
from reference_system.consensus.events import (
    Broadcast,
    CancelTimer,
    CheckpointStable,
    Executed,
    Receive,
    Send,
    SendReply,
    SetTimer,
    Start,
    StateInstalled,
    TimerFired,
    ViewInstalled,
)
from reference_system.consensus.messages import Reply, Request, batch_digest, canonical
from reference_system.consensus.replica import Replica, ReplicaParams
from reference_system.consensus.state_machine import StateMachine

GENESIS = {"alice": 100, "bob": 50, "carol": 0}
CLIENT_RETRY = 0.5
CRASH_FAULTS = ("crash", "crash-restart", "wipe")


@dataclass
class SimConfig:
    """One simulated run."""

    seed: int = 0
    n: int = 4
    clients: int = 2
    ops_per_client: int = 3
    drop: float = 0.0
    duplicate: float = 0.0
    timer_bias: float = 0.03
    chaos_steps: int = 300
    max_steps: int = 6000
    faults: dict[int, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    cut: Callable[[int, int, int, int], bool] | None = None  # (view, seq, src, dst) -> drop
    twins: tuple[int, ...] = ()  # identities that also run process n + k during the chaos


class SimClient:
    """A client with one outstanding request, retrying by broadcast, accepting f+1 replies."""

    def __init__(self, name: str, ops: list[dict[str, Any]], macs: ClientMacs, f: int) -> None:
        self.name, self.ops, self.macs, self.f = name, ops, macs, f
        self.timestamp = 0
        self.view = 0
        self.replies: dict[int, bytes] = {}
        self.accepted: dict[tuple[str, int], Any] = {}
        self.request: Request | None = None

    def next_request(self) -> Request | None:
        """The next operation as an authenticated request (None when all are done)."""
        if self.timestamp >= len(self.ops):
            self.request = None
            return None
        self.timestamp += 1
        self.replies = {}
        op = self.ops[self.timestamp - 1]
        self.request = self.macs.authenticate(Request(self.name, self.timestamp, op))
        return self.request

    def on_reply(self, reply: Reply) -> bool:
        """Record a reply; True when f+1 matching replies complete the current request."""
        if self.request is None or reply.timestamp != self.timestamp:
            return False
        if not self.macs.reply_ok(reply):
            return False
        self.replies[reply.replica] = canonical(reply.result)
        matching = [r for r in self.replies.values() if r == self.replies[reply.replica]]
        if len(matching) < self.f + 1:
            return False
        self.accepted[(self.name, self.timestamp)] = reply.result
        self.view = max(self.view, reply.view)
        return True


class Simulation:
    """Replicas, clients, a message pool and virtual timers under one seeded RNG."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.params = ReplicaParams(n=config.n, **{"checkpoint_interval": 2, "max_batch": 3,
                                                   "max_inflight": 2, **config.params})
        n = config.n
        self.secrets = {i: f"replica-{i}".encode() for i in range(n)}
        self.mac_secrets = {i: f"client-key-{i}".encode() for i in range(n)}
        self.durable: dict[int, list[Any]] = {i: [] for i in range(n)}
        self.identity = {p: p if p < n else config.twins[p - n]
                         for p in range(n + len(config.twins))}
        self.durable.update({p: [] for p in self.identity if p >= n})
        self.replicas: dict[int, Any] = {p: self._make_replica(p) for p in self.identity}
        self.down: set[int] = set()
        self.executed: dict[int, dict[int, str]] = {p: {} for p in self.identity}
        self.incarnation: dict[int, dict[tuple[str, int], int]] = {p: {} for p in self.identity}
        self.results: dict[int, dict[tuple[str, int], Any]] = {p: {} for p in self.identity}
        self.problems: list[str] = []
        self.pending: list[tuple[Any, Any]] = []
        self.timers: list[tuple[float, int, Any, str]] = []
        self.timer_ids: dict[tuple[Any, str], int] = {}
        self.counter = itertools.count()
        self.chaotic = True
        self.now = 0.0
        self.clients = [SimClient(f"c{k}", self._workload(k), ClientMacs(self.mac_secrets),
                                  self.params.f) for k in range(config.clients)]
        self.submitted = {r.digest for c in self.clients for r in self._all_requests(c)}

    # ---- set-up ------------------------------------------------------------------------

    def _make_replica(self, process: int) -> Any:
        i = self.identity[process]
        replica = Replica(i, self.params, FastKeyring(i, self.secrets),
                          ReplicaMacs(i, self.mac_secrets[i]),
                          StateMachine(GENESIS, [f"node-{k}" for k in range(self.config.n)]))
        fault = self.config.faults.get(process, "")
        if fault and fault not in CRASH_FAULTS:
            return ByzantineReplica(replica, [parse_spec(s) for s in fault.split("+")],
                                    seed=self.config.seed * 31 + i)
        return replica

    def processes_of(self, identity: int) -> list[int]:
        """The processes running replica ``identity`` (two while it is twinned)."""
        return [p for p, i in self.identity.items() if i == identity]

    def _workload(self, k: int) -> list[dict[str, Any]]:
        accounts = list(GENESIS)
        ops: list[dict[str, Any]] = []
        for j in range(self.config.ops_per_client):
            op_id, kind = f"c{k}-{j}", self.rng.random()
            if kind < 0.6:
                a, b = self.rng.sample(accounts, 2)
                ops.append({"op": "transfer", "id": op_id, "from": a, "to": b,
                            "amount": self.rng.randint(1, 80)})
            elif kind < 0.8:
                ops.append({"op": "task_submit", "id": op_id, "type": "infer",
                            "payload": {"k": j}, "priority": j % 3})
            else:
                ops.append({"op": "balance", "id": op_id, "account": self.rng.choice(accounts)})
        return ops

    def _all_requests(self, client: SimClient) -> list[Request]:
        return [Request(client.name, t + 1, op) for t, op in enumerate(client.ops)]

    @property
    def honest(self) -> list[int]:
        """Replicas that are neither byzantine nor twinned (crashed ones included: they must
        not diverge)."""
        return [i for i in range(self.config.n) if i not in self.config.twins
                and self.config.faults.get(i, "crash") in CRASH_FAULTS]

    # ---- running -----------------------------------------------------------------------

    def run(self) -> Simulation:
        """Chaotic phase, then synchronous phase until clients finish; returns self."""
        for i in self.replicas:
            self._apply(i, self.replicas[i].step(Start()))
        for client in self.clients:
            self._client_send(client, client.next_request(), broadcast=False)
        crash_at, restart_at = self._fault_times()
        for step in range(self.config.chaos_steps):
            self._fault_events(step, crash_at, restart_at)
            self._chaotic_step()
        self.chaotic = False
        self.down |= {p for p in self.identity if p >= self.config.n}  # the twins stop
        for i in list(self.down):
            if i < self.config.n and self.config.faults.get(i) != "crash":
                self._restart(i)
        self._synchronous_phase()
        return self

    def _fault_times(self) -> tuple[int, int]:
        steps = self.config.chaos_steps
        crash_at = self.rng.randrange(steps // 2) if steps > 1 else 0
        return crash_at, self.rng.randrange(crash_at, steps) if steps > 1 else 0

    def _fault_events(self, step: int, crash_at: int, restart_at: int) -> None:
        for i, fault in self.config.faults.items():
            if fault in CRASH_FAULTS and step == crash_at:
                self.down.add(i)
            elif fault in ("crash-restart", "wipe") and step == restart_at and i in self.down:
                self._restart(i)

    def _restart(self, i: int) -> None:
        self.down.discard(i)
        replica = self._make_replica(i)
        self.incarnation[i] = {}
        if self.config.faults.get(i) == "wipe":
            self.durable[i] = []
        for record in self.durable[i]:
            _replay(replica, record)
        self.replicas[i] = replica
        self._apply(i, replica.step(Start()))

    def _chaotic_step(self) -> None:
        if self.pending and (not self.timers or self.rng.random() > self.config.timer_bias):
            index = self.rng.randrange(len(self.pending))
            self.pending[index], self.pending[-1] = self.pending[-1], self.pending[index]
            item = self.pending.pop()
            if self.rng.random() < self.config.drop:
                return
            if self.rng.random() < self.config.duplicate:
                self.pending.append(item)
            self._deliver(*item)
        else:
            self._fire_timer()

    def _synchronous_phase(self) -> None:
        for _ in range(self.config.max_steps):
            if all(c.request is None for c in self.clients):
                return
            if self.pending:
                batch, self.pending = self.pending, []
                for item in batch:
                    self._deliver(*item)
            elif not self._fire_timer():
                break
        unfinished = [c.name for c in self.clients if c.request is not None]
        self.problems.append(f"liveness: clients {unfinished} unfinished at t={self.now:.1f}")

    def _fire_timer(self) -> bool:
        while self.timers:
            deadline, timer_id, owner, name = heapq.heappop(self.timers)
            if self.timer_ids.get((owner, name)) != timer_id:
                continue  # cancelled or re-armed
            del self.timer_ids[(owner, name)]
            self.now = max(self.now, deadline)
            if isinstance(owner, SimClient):
                self._client_send(owner, owner.request, broadcast=True)
            elif owner not in self.down:
                self._apply(owner, self.replicas[owner].step(TimerFired(name)))
            return True
        return False

    def _set_timer(self, owner: Any, name: str, duration: float) -> None:
        timer_id = next(self.counter)
        self.timer_ids[(owner, name)] = timer_id
        heapq.heappush(self.timers, (self.now + duration, timer_id, owner, name))

    # ---- message plumbing --------------------------------------------------------------

    def _deliver(self, destination: Any, message: Any) -> None:
        if isinstance(destination, SimClient):
            if destination.on_reply(message):
                self._client_send(destination, destination.next_request(), broadcast=False)
        elif destination not in self.down:
            self._apply(destination, self.replicas[destination].step(Receive(message)))

    def _client_send(self, client: SimClient, request: Request | None, broadcast: bool) -> None:
        if request is None:
            self.timer_ids.pop((client, "retry"), None)
            return
        targets = range(self.config.n) if broadcast else [client.view % self.config.n]
        self.pending.extend((t, request) for t in targets)  # clients reach originals only
        self._set_timer(client, "retry", CLIENT_RETRY)

    def _apply(self, i: int, outputs: list[Any]) -> None:
        for out in outputs:
            if isinstance(out, Send):
                self.pending.extend((p, out.message) for p in self.processes_of(out.to)
                                    if not self._cut(i, p, out.message))
            elif isinstance(out, Broadcast):
                self.pending.extend((p, out.message) for p, j in self.identity.items()
                                    if j != self.identity[i] and not self._cut(i, p, out.message))
            elif isinstance(out, SendReply):
                if i >= self.config.n:
                    continue  # a twin has no client connection: its replies go nowhere
                client = self._client_named(out.reply.client)
                if client is not None:
                    self.pending.append((client, out.reply))
            elif isinstance(out, SetTimer):
                self._set_timer(i, out.name, out.duration)
            elif isinstance(out, CancelTimer):
                self.timer_ids.pop((i, out.name), None)
            else:
                self._record(i, out)

    def _cut(self, src: int, dst: int, message: Any) -> bool:
        cut = self.config.cut
        if cut is None or not self.chaotic:
            return False
        sender = self.replicas[src]
        return cut(getattr(message, "view", sender.view),
                   getattr(message, "seq", sender.last_executed), src, dst)

    def _client_named(self, name: str) -> SimClient | None:
        return next((c for c in self.clients if c.name == name), None)

    def _record(self, i: int, out: Any) -> None:
        if isinstance(out, CheckpointStable | StateInstalled | ViewInstalled):
            self.durable[i].append(out)
        if not isinstance(out, Executed):
            return
        self.durable[i].append(out)
        if self.identity[i] in self.config.twins:
            return  # a twinned identity is Byzantine: its own executions are not judged
        # Agreement is on what was executed: the digest of the requests run, not the one the
        # certificate names (a batch that does not hash to it must not pass as agreeing).
        executed = batch_digest(out.batch)
        previous = self.executed[i].setdefault(out.seq, executed)
        if previous != executed:
            self.problems.append(f"replica {i} executed seq {out.seq} twice, differently")
        for request, result in zip(out.batch, out.results, strict=True):
            self._record_request(i, out.seq, request, result)

    def _record_request(self, i: int, seq: int, request: Request, result: Any) -> None:
        if request.digest not in self.submitted:
            self.problems.append(f"validity: replica {i} executed unsubmitted {request.key}")
        if result is None:
            return
        if request.key in self.incarnation[i]:
            self.problems.append(f"replica {i} executed {request.key} twice")
        self.incarnation[i][request.key] = seq
        self.results[i][request.key] = result

    # ---- verdict -----------------------------------------------------------------------

    def violations(self) -> list[str]:
        """Every safety (and, with at most f faults, liveness) property that failed."""
        problems = list(self.problems)
        problems += self._agreement() + self._conservation() + self._client_results()
        return problems

    def _agreement(self) -> list[str]:
        found: dict[int, tuple[int, str]] = {}
        problems = []
        for i in self.honest:
            for seq, digest in self.executed[i].items():
                j, other = found.setdefault(seq, (i, digest))
                if other != digest:
                    problems.append(f"agreement: seq {seq} differs on replicas {j} and {i}")
        return problems

    def _conservation(self) -> list[str]:
        total = sum(GENESIS.values())
        return [f"supply: replica {i} holds {self.replicas[i].machine.ledger.total_supply()}"
                for i in self.honest
                if self.replicas[i].machine.ledger.total_supply() != total]

    def _client_results(self) -> list[str]:
        problems = []
        for client in self.clients:
            for key, result in client.accepted.items():
                for i in self.honest:
                    executed = self.results[i].get(key, result)
                    if canonical(executed) != canonical(result):
                        problems.append(f"client {key} accepted {result}, replica {i} "
                                        f"executed {executed}")
        return problems


def _replay(replica: Replica, record: Any) -> None:
    if isinstance(record, Executed):
        replica.restore_executed(record.entry)
    elif isinstance(record, CheckpointStable):
        replica.restore_stable(record.seq, record.state_digest, record.proof)
    elif isinstance(record, StateInstalled):
        replica.restore_snapshot(record.seq, record.snapshot, record.proof)
    elif isinstance(record, ViewInstalled):
        replica.restore_view(record.view)


def simulate(seed: int, **options: Any) -> Simulation:
    """Run one seeded simulation with :class:`SimConfig` options."""
    return Simulation(SimConfig(seed=seed, **options)).run()
