"""Catch-up and state transfer, and restore from the durable log (mixed into the replica).

A replica notices it is behind from signed evidence: commits far beyond its execution,
checkpoints above it, messages of a higher view, a NEW-VIEW whose checkpoint it lacks. It then
arms the ``catchup`` timer; if it has still not passed that point when the timer fires, it
sends FETCH-STATE to one peer (a different one each round, so a silent or faulty peer only
delays it). The peer answers STATE: its stable checkpoint snapshot with the 2f+1 CHECKPOINT
proof when the requester is below it, the committed entries after that with their 2f+1
COMMIT certificates, and its latest NEW-VIEW when the requester is in an older view. Every
part is verified by the receiver, so the sender need not be trusted. A replica that has
executed nothing for ``resync_interval`` asks every peer again (the ``resync`` timer), because
one that missed the last commits of a quiet cluster has no evidence at all that it is behind.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from reference_system.consensus.certs import checkpoint_proof_ok, committed_entry_ok
from reference_system.consensus.crypto import verify_message
from reference_system.consensus.events import Broadcast, Executed, Send, SetTimer, StateInstalled
from reference_system.consensus.messages import (
    Checkpoint,
    CommittedEntry,
    Fetch,
    State,
)
from reference_system.consensus.state_machine import StateMachine

if TYPE_CHECKING:
    from reference_system.consensus.replica import Replica

    _Base = Replica
else:
    _Base = object


class RecoveryMixin(_Base):
    """FETCH-STATE / STATE handling and durable-log restore."""

    def _init_recovery(self) -> None:
        self.catch_seq = 0
        self.catch_view = 0
        self.catch_target: tuple[int, int] = (0, 0)
        self.catchup_armed = False
        self.fetch_rounds = 0
        self.resync_seen = -1
        self.snapshot_cache: tuple[int, bytes] = (-1, b"")

    @staticmethod
    def register_handlers(handlers: dict[type, Any]) -> None:
        """Add this mixin's message handlers to the replica's dispatch table."""
        handlers[Fetch] = RecoveryMixin._on_fetch
        handlers[State] = RecoveryMixin._on_state

    # ---- noticing we are behind --------------------------------------------------------

    def _hint_from(self, message: Any, seq: int) -> None:
        """A message we cannot use now; if it is signed and ahead of us, we are behind."""
        ahead = message.view > self.view or seq > self.stable_seq + self.params.window
        if ahead and verify_message(message, self.keyring):
            self._hint_behind(seq, message.view)

    def _hint_behind(self, seq: int, view: int) -> None:
        self.catch_seq = max(self.catch_seq, seq)
        self.catch_view = max(self.catch_view, view)
        if not self.catchup_armed:
            self.catchup_armed = True
            self.catch_target = (self.catch_seq, self.catch_view)
            self._emit(SetTimer("catchup", self.params.catchup_timeout))

    def _behind(self, seq: int, view: int) -> bool:
        return self.last_executed < seq or self.installed_view < view

    def _on_catchup_timer(self) -> None:
        self.catchup_armed = False
        if self._behind(*self.catch_target):
            peers = [r for r in range(self.n) if r != self.id]
            peer = peers[self.fetch_rounds % len(peers)]
            self.fetch_rounds += 1
            self._emit(Send(peer, self._fetch_message()))
        # Evidence that arrived while the timer was armed raised catch_seq/catch_view without
        # re-arming it: keep going until past that too, or a quiet cluster leaves us behind.
        if self._behind(self.catch_seq, self.catch_view):
            self._hint_behind(self.catch_seq, self.catch_view)

    def _fetch_message(self) -> Fetch:
        return self._sign(Fetch(self.last_executed + 1, self.installed_view, self.id))

    def _on_start(self) -> None:
        self._emit(Broadcast(self._fetch_message()))
        self._arm_resync()

    def _on_resync_timer(self) -> None:
        """Anti-entropy: after ``resync_interval`` without executing anything, ask every peer
        again, as on start. A replica that missed the last commits of a quiet cluster (or a
        primary whose COMMITs were lost) has no other evidence that it is behind; peers answer
        only when they are ahead, so an idle cluster in sync exchanges only these requests."""
        if self.last_executed == self.resync_seen:
            self._emit(Broadcast(self._fetch_message()))
        self.helped.clear()  # a voter still stuck may be sent our vote again
        self._arm_resync()

    def _arm_resync(self) -> None:
        self.resync_seen = self.last_executed
        self._emit(SetTimer("resync", self.params.resync_interval))

    # ---- serving a fetch ---------------------------------------------------------------

    def _on_fetch(self, fetch: Fetch) -> None:
        if fetch.replica == self.id or not verify_message(fetch, self.keyring):
            return
        snapshot: bytes | None = None
        proof: tuple[Checkpoint, ...] = ()
        if fetch.from_seq <= self.stable_seq and self.stable_seq > 0:
            snapshot, proof = self._stable_snapshot(), self.stable_proof
        first = max(fetch.from_seq, self.stable_seq + 1)
        last = min(self.last_executed, first + self.params.fetch_limit - 1)
        entries = tuple(self.committed[s] for s in range(first, last + 1) if s in self.committed)
        new_view = self.new_view if fetch.view < self.installed_view else None
        if snapshot is None and not entries and new_view is None:
            return
        state = State(self.stable_seq, snapshot, proof, entries, new_view, self.id)
        self._emit(Send(fetch.replica, state))

    def _stable_snapshot(self) -> bytes:
        """The bytes of our stable checkpoint's state, produced once per checkpoint."""
        if self.snapshot_cache[0] != self.stable_seq:
            self.snapshot_cache = (self.stable_seq,
                                   self.machine.snapshot_at(self.snapshots[self.stable_seq]))
        return self.snapshot_cache[1]

    # ---- installing what a peer sent ---------------------------------------------------

    def _on_state(self, state: State) -> None:
        nv = state.new_view
        if nv is not None and (nv.view > self.view or (nv.view == self.view
                                                       and not self.view_active)):
            self._on_new_view(nv)
        if state.snapshot is not None and state.seq > self.last_executed:
            self._install_snapshot(state.seq, state.snapshot, state.checkpoint_proof)
        for entry in sorted(state.entries, key=lambda e: e.pre_prepare.seq):
            seq = entry.pre_prepare.seq
            if seq <= self.last_executed or seq in self.committed:
                continue
            if committed_entry_ok(entry, self.keyring, self.n, self.f):
                self.committed[seq] = entry
        self._execute_ready()

    def _install_snapshot(self, seq: int, snapshot: bytes,
                          proof: tuple[Checkpoint, ...]) -> None:
        digest = _certified_digest(seq, proof)
        if not checkpoint_proof_ok(seq, digest, proof, self.keyring, self.n, self.f):
            return
        machine = self._restored(snapshot)
        if machine is None or machine.digest() != digest:
            return  # the sender's bytes are not the certified state
        self._adopt_snapshot(seq, machine, snapshot, digest, proof)
        self._emit(StateInstalled(seq, snapshot, proof))

    def _restored(self, snapshot: bytes) -> StateMachine | None:
        """A fresh state machine holding ``snapshot`` (None when the bytes are not one)."""
        machine = StateMachine(self.machine.genesis, self.machine.workers)
        try:
            machine.restore(snapshot)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return machine

    def _adopt_snapshot(self, seq: int, machine: StateMachine, snapshot: bytes, digest: str,
                        proof: tuple[Checkpoint, ...]) -> None:
        self.machine = machine
        self.last_executed = seq
        self.next_seq = max(self.next_seq, seq)
        self.snapshots = {seq: self.machine.mark()}
        self.snapshot_cache = (seq, snapshot)
        self.queue = {k: r for k, r in self.queue.items() if not self._executed_already(r)}
        self.in_progress = {k: r for k, r in self.in_progress.items()
                            if not self._executed_already(r)}
        self._make_stable(seq, digest, proof)

    # ---- restore from this node's own durable log --------------------------------------

    def restore_snapshot(self, seq: int, snapshot: bytes, proof: tuple[Checkpoint, ...]) -> None:
        """Replay a state-transfer record from the durable log (verified when it was
        installed, so its certified digest is taken as it stands)."""
        machine = self._restored(snapshot)
        if machine is not None:
            self._quietly(self._adopt_snapshot, seq, machine, snapshot,
                          _certified_digest(seq, proof), proof)

    def restore_executed(self, entry: CommittedEntry) -> list[Executed]:
        """Replay an executed entry from the durable log (re-executes it, sends nothing);
        returns the executions it redid, with their results."""
        if entry.pre_prepare.seq != self.last_executed + 1:
            return []
        self.committed[entry.pre_prepare.seq] = entry
        return [out for out in self._quietly(self._execute_ready) if isinstance(out, Executed)]

    def restore_stable(self, seq: int, digest: str, proof: tuple[Checkpoint, ...]) -> None:
        """Replay a stable-checkpoint record from the durable log."""
        own = self.snapshots.get(seq)
        if seq > self.stable_seq and own is not None and own.digest == digest:
            self._quietly(self._make_stable, seq, digest, proof)

    def restore_view(self, view: int) -> None:
        """Replay the last installed view from the durable log."""
        if view > self.view:
            self.view, self.installed_view, self.view_active = view, view, True

    def _quietly(self, action: Any, *args: Any) -> list[Any]:
        # Replay re-derives state; its messages were sent (or lost) before the restart.
        self._out, self.replaying = [], True
        try:
            action(*args)
        finally:
            self.replaying = False
        outputs, self._out = self._out, []
        self.vc_timer_armed = False
        return outputs


def _certified_digest(seq: int, proof: tuple[Checkpoint, ...]) -> str:
    """The state digest most of the proof's CHECKPOINTs for ``seq`` name ("" if none)."""
    claimed = Counter(c.state_digest for c in proof if c.seq == seq).most_common(1)
    return claimed[0][0] if claimed else ""
