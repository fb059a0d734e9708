"""The sans-IO PBFT replica (Castro & Liskov, OSDI '99 / TOCS 2002).

``Replica.step(event) -> list[Output]`` is the only entry point: an inbound message, a timer
firing or a (re)start goes in; messages to send, replies, timer requests and execution records
come out. No sockets, no clock, no randomness: a seeded simulation and the asyncio node drive
the same object.

Normal case: the primary batches queued requests into a PRE-PREPARE (at most
``max_inflight`` batches outstanding, so batches grow with load and stay single requests when
idle); backups accept it and broadcast PREPARE; prepared = pre-prepare + 2f matching prepares
from distinct backups; then COMMIT; committed-local = prepared + 2f+1 matching commits;
execution is strictly in sequence order. Requests are deduplicated by (client, timestamp)
against the reply cache, which is part of the replicated state. View change lives in
:mod:`.viewchange`, checkpoints' use for catch-up and state transfer in :mod:`.recovery`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reference_system.consensus.certs import primary_of
from reference_system.consensus.crypto import Keyring, ReplicaMacs, sign_message, verify_message
from reference_system.consensus.events import (
    Broadcast,
    CancelTimer,
    CheckpointStable,
    Event,
    Executed,
    Output,
    Receive,
    Send,
    SendReply,
    SetTimer,
    Start,
    TimerFired,
)
from reference_system.consensus.messages import (
    Checkpoint,
    Commit,
    CommittedEntry,
    NewView,
    Prepare,
    PreparedCert,
    PrePrepare,
    Reply,
    Request,
    ViewChange,
    batch_digest,
)
from reference_system.consensus.recovery import RecoveryMixin
from reference_system.consensus.state_machine import Mark, StateMachine
from reference_system.consensus.viewchange import ViewChangeMixin

VIEW_CHANGE_TIMER = "view_change"
CATCHUP_TIMER = "catchup"
RESYNC_TIMER = "resync"
BATCH_TIMER = "batch"


@dataclass(frozen=True)
class ReplicaParams:
    """Protocol parameters shared by all replicas of a cluster (times in seconds)."""

    n: int
    checkpoint_interval: int = 32
    max_batch: int = 256
    max_inflight: int = 4
    batch_delay: float = 0.002  # a batch not full waits this long while another is in flight
    view_change_timeout: float = 1.0
    catchup_timeout: float = 0.3
    resync_interval: float = 1.0
    fetch_limit: int = 128

    @property
    def f(self) -> int:
        """Faults tolerated: (n - 1) // 3."""
        return (self.n - 1) // 3

    @property
    def window(self) -> int:
        """L, the distance between the low and high watermarks (two checkpoint intervals)."""
        return 2 * self.checkpoint_interval


class Slot:
    """Log entry for one (view, seq): the pre-prepare and votes grouped by digest."""

    __slots__ = ("commits", "committed", "pre_prepare", "prepared", "prepares")

    def __init__(self) -> None:
        self.pre_prepare: PrePrepare | None = None
        self.prepares: dict[str, dict[int, Prepare]] = {}
        self.commits: dict[str, dict[int, Commit]] = {}
        self.prepared = False
        self.committed = False


def _certifies(slot: Slot, digest: str) -> bool:
    """Whether a vote for ``digest`` is for the slot's own pre-prepare."""
    return slot.pre_prepare is not None and slot.pre_prepare.digest == digest


class Replica(ViewChangeMixin, RecoveryMixin):
    """One PBFT replica's protocol state; drive it with :meth:`step`."""

    def __init__(self, replica_id: int, params: ReplicaParams, keyring: Keyring,
                 macs: ReplicaMacs, machine: StateMachine) -> None:
        self.id = replica_id
        self.params = params
        self.n, self.f = params.n, params.f
        self.keyring, self.macs, self.machine = keyring, macs, machine
        self.view = 0
        self.view_active = True
        self.installed_view = 0
        self.last_executed = 0
        self.next_seq = 0
        genesis = machine.mark()
        self.stable_seq, self.stable_digest = 0, genesis.digest
        self.stable_proof: tuple[Checkpoint, ...] = ()
        self.snapshots: dict[int, Mark] = {0: genesis}  # own checkpoints at or above stable
        self.checkpoint_votes: dict[int, dict[str, dict[int, Checkpoint]]] = {}
        self.slots: dict[tuple[int, int], Slot] = {}
        self.prepared_certs: dict[int, PreparedCert] = {}
        self.committed: dict[int, CommittedEntry] = {}
        self.queue: dict[tuple[str, int], Request] = {}
        self.in_progress: dict[tuple[str, int], Request] = {}
        self.view_changes: dict[int, dict[int, ViewChange]] = {}
        self.helped: set[tuple[int, int, bool]] = set()  # (replica, view, NEW-VIEW?) sent
        self.new_view: NewView | None = None
        self.vc_attempts = 0
        self.vc_timer_armed = False
        self.batch_timer_armed = False
        self.batch_due = False  # the batch timer fired: propose what is queued
        self._init_recovery()
        self._out: list[Output] = []
        self.replaying = False

    # ---- entry point -------------------------------------------------------------------

    def step(self, event: Event) -> list[Output]:
        """Process one event; return what the environment must do."""
        self._out = []
        if isinstance(event, Receive):
            handler = self._HANDLERS.get(type(event.message))
            if handler is not None:
                handler(self, event.message)
        elif isinstance(event, TimerFired):
            self._on_timer(event.name)
        elif isinstance(event, Start):
            self._on_start()
        return self._out

    @property
    def primary(self) -> int:
        """The primary of the current view."""
        return primary_of(self.view, self.n)

    @property
    def is_primary(self) -> bool:
        """Whether this replica leads the current, installed view."""
        return self.view_active and self.primary == self.id

    def _emit(self, output: Output) -> None:
        self._out.append(output)

    def _sign(self, message: Any) -> Any:
        return sign_message(message, self.keyring)

    def _in_window(self, seq: int) -> bool:
        return self.stable_seq < seq <= self.stable_seq + self.params.window

    def _slot(self, view: int, seq: int) -> Slot:
        slot = self.slots.get((view, seq))
        if slot is None:
            slot = self.slots[(view, seq)] = Slot()
        return slot

    def _on_timer(self, name: str) -> None:
        if name == VIEW_CHANGE_TIMER:
            self._on_view_change_timer()
        elif name == CATCHUP_TIMER:
            self._on_catchup_timer()
        elif name == RESYNC_TIMER:
            self._on_resync_timer()
        elif name == BATCH_TIMER:
            self.batch_timer_armed, self.batch_due = False, True
            self._propose()
            self.batch_due = False

    # ---- requests and batching ---------------------------------------------------------

    def _executed_already(self, request: Request) -> bool:
        cached = self.machine.replies.get(request.client)
        return cached is not None and request.timestamp <= cached[0]

    def _on_request(self, request: Request) -> None:
        if not self.macs.request_ok(request):
            return
        cached = self.machine.replies.get(request.client)
        if cached is not None and request.timestamp <= cached[0]:
            if request.timestamp == cached[0]:  # a retransmission: resend the cached reply
                self._reply(request.client, request.timestamp, cached[1])
            return
        known = request.key in self.queue or request.key in self.in_progress
        if not known:
            self.queue[request.key] = request
        if self.is_primary:
            self._propose()
            return
        # A backup relays a request new to it to the primary and starts waiting for it. Only a
        # new one: two replicas that disagree on the view (each taking the other for the
        # primary) would otherwise relay one request between them forever. A client's retry is
        # broadcast to every replica, the primary included.
        if self.view_active and not known:
            self._emit(Send(self.primary, request))
        self._arm_view_change_timer()

    def _propose(self) -> None:
        """Primary: turn queued requests into pre-prepares while the window allows.

        Batching by size and time: with nothing in flight a request is proposed at once (an
        idle cluster's latency); while a batch is in flight, a batch short of ``max_batch``
        waits up to ``batch_delay`` for more requests.
        """
        if not self.is_primary:
            return
        limit = self.stable_seq + self.params.window
        while (self.queue and self.next_seq < limit
               and self.next_seq - self.last_executed < self.params.max_inflight):
            if self._batch_should_wait():
                if not self.batch_timer_armed:
                    self.batch_timer_armed = True
                    self._emit(SetTimer(BATCH_TIMER, self.params.batch_delay))
                return
            batch = self._take_batch()
            if batch:
                self._pre_prepare(tuple(batch))

    def _batch_should_wait(self) -> bool:
        return (self.params.batch_delay > 0 and not self.batch_due
                and self.next_seq > self.last_executed
                and len(self.queue) < self.params.max_batch)

    def _take_batch(self) -> list[Request]:
        batch: list[Request] = []
        while self.queue and len(batch) < self.params.max_batch:
            request = self.queue.pop(next(iter(self.queue)))
            if not self._executed_already(request):
                batch.append(request)
        return batch

    def _pre_prepare(self, batch: tuple[Request, ...]) -> None:
        self.next_seq += 1
        pp = self._sign(PrePrepare(self.view, self.next_seq, batch_digest(batch), self.id, batch))
        self._slot(self.view, pp.seq).pre_prepare = pp
        for request in batch:
            self.in_progress[request.key] = request
        self._emit(Broadcast(pp))

    # ---- three phases ------------------------------------------------------------------

    def _on_pre_prepare(self, pp: PrePrepare) -> None:
        if pp.view != self.view or not self.view_active or pp.replica == self.id:
            self._hint_from(pp, pp.seq)
            return
        if pp.replica != self.primary or not self._in_window(pp.seq):
            self._hint_from(pp, pp.seq)
            return
        slot = self._slot(pp.view, pp.seq)
        if slot.pre_prepare is not None or pp.digest != batch_digest(pp.batch):
            return
        if not verify_message(pp, self.keyring):
            return
        if not all(self.macs.request_ok(r) for r in pp.batch):
            return
        self._accept_pre_prepare(slot, pp)
        self._arm_view_change_timer()

    def _accept_pre_prepare(self, slot: Slot, pp: PrePrepare) -> None:
        """Log a pre-prepare of the current view; backups vote PREPARE for it."""
        slot.pre_prepare = pp
        if pp.seq > self.last_executed:
            for request in pp.batch:
                self.queue.pop(request.key, None)
                if not self._executed_already(request):
                    self.in_progress[request.key] = request
        if pp.replica != self.id:
            prepare = self._sign(Prepare(pp.view, pp.seq, pp.digest, self.id))
            slot.prepares.setdefault(pp.digest, {})[self.id] = prepare
            self._emit(Broadcast(prepare))
        self._check_prepared(slot)

    def _on_prepare(self, prepare: Prepare) -> None:
        # Votes for the view being installed are kept: NEW-VIEW may arrive after them.
        if prepare.view != self.view or not self._in_window(prepare.seq):
            self._hint_from(prepare, prepare.seq)
            return
        if prepare.replica == primary_of(prepare.view, self.n):
            return
        slot = self._slot(prepare.view, prepare.seq)
        if slot.prepared and _certifies(slot, prepare.digest):
            return  # the certificate is complete: a surplus vote is not worth a verify
        votes = slot.prepares.setdefault(prepare.digest, {})
        if prepare.replica in votes or not verify_message(prepare, self.keyring):
            return
        votes[prepare.replica] = prepare
        self._check_prepared(slot)

    def _check_prepared(self, slot: Slot) -> None:
        pp = slot.pre_prepare
        if slot.prepared or pp is None or not self.view_active or pp.view != self.view:
            return
        votes = slot.prepares.get(pp.digest, {})
        if len(votes) < 2 * self.f:
            return
        slot.prepared = True
        self.prepared_certs[pp.seq] = PreparedCert(pp, tuple(votes.values())[: 2 * self.f])
        commit = self._sign(Commit(pp.view, pp.seq, pp.digest, self.id))
        slot.commits.setdefault(pp.digest, {})[self.id] = commit
        self._emit(Broadcast(commit))
        self._check_committed(slot)

    def _on_commit(self, commit: Commit) -> None:
        if commit.view != self.view or not self._in_window(commit.seq):
            self._hint_from(commit, commit.seq)
            return
        slot = self._slot(commit.view, commit.seq)
        if slot.committed and _certifies(slot, commit.digest):
            return  # as for PREPARE: nothing left to certify
        votes = slot.commits.setdefault(commit.digest, {})
        if commit.replica in votes or not verify_message(commit, self.keyring):
            return
        votes[commit.replica] = commit
        if commit.seq > self.last_executed + self.params.max_inflight:
            self._hint_behind(commit.seq, commit.view)
        self._check_committed(slot)

    def _check_committed(self, slot: Slot) -> None:
        if not slot.prepared or slot.committed or slot.pre_prepare is None:
            return
        pp = slot.pre_prepare
        votes = slot.commits.get(pp.digest, {})
        if len(votes) < 2 * self.f + 1:
            return
        slot.committed = True
        if pp.seq > self.last_executed:
            self.committed[pp.seq] = CommittedEntry(pp, tuple(votes.values())[: 2 * self.f + 1])
            self._execute_ready()

    # ---- execution ---------------------------------------------------------------------

    def _execute_ready(self) -> None:
        progressed = False
        while (entry := self.committed.get(self.last_executed + 1)) is not None:
            self._execute(entry)
            progressed = True
        if progressed:
            self._update_view_change_timer()
            self._propose()

    def _execute(self, entry: CommittedEntry) -> None:
        pp = entry.pre_prepare
        results: list[Any] = []
        for request in pp.batch:
            self.queue.pop(request.key, None)
            self.in_progress.pop(request.key, None)
            if self._executed_already(request):  # ordered twice (e.g. across views): once only
                results.append(None)
                continue
            result = self.machine.apply(request.operation, pp.seq)
            self.machine.replies[request.client] = (request.timestamp, result)
            results.append(result)
            self._reply(request.client, request.timestamp, result)
        self.last_executed = pp.seq
        self.next_seq = max(self.next_seq, pp.seq)
        self._emit(Executed(entry, tuple(results)))
        if pp.seq % self.params.checkpoint_interval == 0:
            self._take_checkpoint(pp.seq)

    def _reply(self, client: str, timestamp: int, result: Any) -> None:
        if self.replaying:
            return  # a replayed execution's reply was sent (or lost) before the restart
        reply = Reply(self.view, timestamp, client, self.id, result)
        self._emit(SendReply(self.macs.mac_reply(reply)))

    # ---- checkpoints and garbage collection --------------------------------------------

    def _take_checkpoint(self, seq: int) -> None:
        mark = self.machine.mark()
        self.snapshots[seq] = mark
        checkpoint = self._sign(Checkpoint(seq, mark.digest, self.id))
        self._emit(Broadcast(checkpoint))
        self._record_checkpoint(checkpoint)

    def _on_checkpoint(self, checkpoint: Checkpoint) -> None:
        if checkpoint.seq <= self.stable_seq or not verify_message(checkpoint, self.keyring):
            return
        self._record_checkpoint(checkpoint)

    def _record_checkpoint(self, cp: Checkpoint) -> None:
        votes = self.checkpoint_votes.setdefault(cp.seq, {}).setdefault(cp.state_digest, {})
        if cp.replica in votes:
            return
        votes[cp.replica] = cp
        if len(votes) >= 2 * self.f + 1:
            self._certified_checkpoint(cp.seq, cp.state_digest, tuple(votes.values()))
        elif cp.seq > self.last_executed:
            self._hint_behind(cp.seq, self.view)

    def _certified_checkpoint(self, seq: int, digest: str, proof: tuple[Checkpoint, ...]) -> None:
        if seq <= self.stable_seq:
            return
        own = self.snapshots.get(seq)
        if own is not None and own.digest == digest:
            self._make_stable(seq, digest, proof)
        elif seq > self.last_executed:
            self._hint_behind(seq, self.view)

    def _make_stable(self, seq: int, digest: str, proof: tuple[Checkpoint, ...]) -> None:
        """Checkpoint ``seq`` is stable: move the low watermark and discard the log below it."""
        self.stable_seq, self.stable_digest, self.stable_proof = seq, digest, proof
        self.slots = {k: s for k, s in self.slots.items() if k[1] > seq}
        self.prepared_certs = {s: c for s, c in self.prepared_certs.items() if s > seq}
        self.committed = {s: e for s, e in self.committed.items() if s > seq}
        self.snapshots = {s: v for s, v in self.snapshots.items() if s >= seq}
        self.checkpoint_votes = {s: v for s, v in self.checkpoint_votes.items() if s > seq}
        self._emit(CheckpointStable(seq, digest, proof))
        self._propose()

    # ---- view-change timer (PBFT liveness) ---------------------------------------------

    def _pending_work(self) -> bool:
        return bool(self.queue or self.in_progress)

    def _arm_view_change_timer(self) -> None:
        if not self.vc_timer_armed and self.view_active:
            self.vc_timer_armed = True
            self._emit(SetTimer(VIEW_CHANGE_TIMER, self.params.view_change_timeout))

    def _update_view_change_timer(self) -> None:
        """After progress: restart the timer while requests wait, stop it when none do."""
        if not self.view_active:
            return
        if self._pending_work():
            self.vc_timer_armed = True
            self._emit(SetTimer(VIEW_CHANGE_TIMER, self.params.view_change_timeout))
        elif self.vc_timer_armed:
            self.vc_timer_armed = False
            self._emit(CancelTimer(VIEW_CHANGE_TIMER))

    def status(self) -> dict[str, Any]:
        """Introspection: what ``GET /status`` reports."""
        return {"id": self.id, "view": self.view, "primary": self.primary,
                "view_active": self.view_active, "last_executed": self.last_executed,
                "stable_checkpoint": self.stable_seq,
                "state_digest": self.machine.digest(),
                "stable_digest": self.stable_digest,
                "low_watermark": self.stable_seq,
                "high_watermark": self.stable_seq + self.params.window}

    _HANDLERS: dict[type, Any] = {}


Replica._HANDLERS = {
    Request: Replica._on_request,
    PrePrepare: Replica._on_pre_prepare,
    Prepare: Replica._on_prepare,
    Commit: Replica._on_commit,
    Checkpoint: Replica._on_checkpoint,
    ViewChange: ViewChangeMixin._on_view_change,
    NewView: ViewChangeMixin._on_new_view,
}
RecoveryMixin.register_handlers(Replica._HANDLERS)
