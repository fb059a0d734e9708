"""Catch-up and state transfer, and restore from the durable log (mixed into the replica).

A replica notices it is behind from signed evidence: commits far beyond its execution,
checkpoints above it, messages of a higher view, a NEW-VIEW whose checkpoint it lacks. It then
arms the ``catchup`` timer; if it has still not passed that point when the timer fires, it
sends FETCH-STATE to one peer (a different one each round, so a silent or faulty peer only
delays it). The peer answers STATE: its stable checkpoint snapshot with the 2f+1 CHECKPOINT
proof when the requester is below it, the committed entries after that with their 2f+1
COMMIT certificates, and its latest NEW-VIEW when the requester is in an older view. Every
part is verified by the receiver, so the sender need not be trusted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reference_system.consensus.certs import checkpoint_proof_ok, committed_entry_ok
from reference_system.consensus.crypto import verify_message
from reference_system.consensus.events import Broadcast, Send, SetTimer, StateInstalled
from reference_system.consensus.messages import (
    Checkpoint,
    CommittedEntry,
    Fetch,
    State,
    sha256_hex,
)

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
        if not self._behind(*self.catch_target):
            return
        peers = [r for r in range(self.n) if r != self.id]
        peer = peers[self.fetch_rounds % len(peers)]
        self.fetch_rounds += 1
        self._emit(Send(peer, self._fetch_message()))
        if self._behind(self.catch_seq, self.catch_view):
            self._hint_behind(self.catch_seq, self.catch_view)

    def _fetch_message(self) -> Fetch:
        return self._sign(Fetch(self.last_executed + 1, self.installed_view, self.id))

    def _on_start(self) -> None:
        self._emit(Broadcast(self._fetch_message()))

    # ---- serving a fetch ---------------------------------------------------------------

    def _on_fetch(self, fetch: Fetch) -> None:
        if fetch.replica == self.id or not verify_message(fetch, self.keyring):
            return
        snapshot: bytes | None = None
        proof: tuple[Checkpoint, ...] = ()
        if fetch.from_seq <= self.stable_seq and self.stable_seq > 0:
            snapshot, proof = self.snapshots[self.stable_seq][0], self.stable_proof
        first = max(fetch.from_seq, self.stable_seq + 1)
        last = min(self.last_executed, first + self.params.fetch_limit - 1)
        entries = tuple(self.committed[s] for s in range(first, last + 1) if s in self.committed)
        new_view = self.new_view if fetch.view < self.installed_view else None
        if snapshot is None and not entries and new_view is None:
            return
        state = State(self.stable_seq, snapshot, proof, entries, new_view, self.id)
        self._emit(Send(fetch.replica, state))

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
        digest = sha256_hex(snapshot)
        if not checkpoint_proof_ok(seq, digest, proof, self.keyring, self.n, self.f):
            return
        self._adopt_snapshot(seq, snapshot, digest, proof)
        self._emit(StateInstalled(seq, snapshot, proof))

    def _adopt_snapshot(self, seq: int, snapshot: bytes, digest: str,
                        proof: tuple[Checkpoint, ...]) -> None:
        self.machine.restore(snapshot)
        self.last_executed = seq
        self.next_seq = max(self.next_seq, seq)
        self.snapshots = {seq: (snapshot, digest)}
        self.queue = {k: r for k, r in self.queue.items() if not self._executed_already(r)}
        self.in_progress = {k: r for k, r in self.in_progress.items()
                            if not self._executed_already(r)}
        self._make_stable(seq, digest, proof)

    # ---- restore from this node's own durable log --------------------------------------

    def restore_snapshot(self, seq: int, snapshot: bytes, proof: tuple[Checkpoint, ...]) -> None:
        """Replay a state-transfer record from the durable log."""
        self._quietly(self._adopt_snapshot, seq, snapshot, sha256_hex(snapshot), proof)

    def restore_executed(self, entry: CommittedEntry) -> None:
        """Replay an executed entry from the durable log (re-executes it, sends nothing)."""
        if entry.pre_prepare.seq == self.last_executed + 1:
            self.committed[entry.pre_prepare.seq] = entry
            self._quietly(self._execute_ready)

    def restore_stable(self, seq: int, digest: str, proof: tuple[Checkpoint, ...]) -> None:
        """Replay a stable-checkpoint record from the durable log."""
        own = self.snapshots.get(seq)
        if seq > self.stable_seq and own is not None and own[1] == digest:
            self._quietly(self._make_stable, seq, digest, proof)

    def restore_view(self, view: int) -> None:
        """Replay the last installed view from the durable log."""
        if view > self.view:
            self.view, self.installed_view, self.view_active = view, view, True

    def _quietly(self, action: Any, *args: Any) -> None:
        # Replay re-derives state; its messages were sent (or lost) before the restart.
        self._out = []
        action(*args)
        self._out = []
        self.vc_timer_armed = False
