"""Checkpoints and garbage collection (PBFT section 4.3).

Every ``checkpoint_interval`` executions a replica records its state's mark and broadcasts a
signed CHECKPOINT. 2f+1 matching CHECKPOINTs for a state it holds itself make that checkpoint
stable: the low watermark moves there and the log below it is discarded. Votes for a state it
does not hold (or a sequence it has not reached) are evidence that it is behind.
"""

from __future__ import annotations

from reference_system.consensus.batching import propose
from reference_system.consensus.crypto import verify_message
from reference_system.consensus.events import Broadcast, CheckpointStable
from reference_system.consensus.messages import Checkpoint
from reference_system.consensus.state import ReplicaState, hint_behind


def take_checkpoint(r: ReplicaState, seq: int) -> None:
    """``seq`` was executed at a checkpoint interval: keep the mark, vote CHECKPOINT."""
    mark = r.machine.mark()
    r.checkpoints.snapshots[seq] = mark
    checkpoint = r.sign(Checkpoint(seq, mark.digest, r.id))
    r.emit(Broadcast(checkpoint))
    _record_checkpoint(r, checkpoint)


def on_checkpoint(r: ReplicaState, checkpoint: Checkpoint) -> None:
    """A peer's CHECKPOINT vote."""
    if (checkpoint.seq <= r.checkpoints.stable_seq
            or not verify_message(checkpoint, r.keyring)):
        return
    _record_checkpoint(r, checkpoint)


def _record_checkpoint(r: ReplicaState, cp: Checkpoint) -> None:
    votes = r.checkpoints.votes.setdefault(cp.seq, {}).setdefault(cp.state_digest, {})
    if cp.replica in votes:
        return
    votes[cp.replica] = cp
    if len(votes) >= 2 * r.f + 1:
        _certified_checkpoint(r, cp.seq, cp.state_digest, tuple(votes.values()))
    elif cp.seq > r.log.last_executed:
        hint_behind(r, cp.seq, r.views.view)


def _certified_checkpoint(r: ReplicaState, seq: int, digest: str,
                          proof: tuple[Checkpoint, ...]) -> None:
    if seq <= r.checkpoints.stable_seq:
        return
    own = r.checkpoints.snapshots.get(seq)
    if own is not None and own.digest == digest:
        make_stable(r, seq, digest, proof)
    elif seq > r.log.last_executed:
        hint_behind(r, seq, r.views.view)


def make_stable(r: ReplicaState, seq: int, digest: str, proof: tuple[Checkpoint, ...]) -> None:
    """Checkpoint ``seq`` is stable: move the low watermark and discard the log below it."""
    cps, log = r.checkpoints, r.log
    cps.stable_seq, cps.stable_digest, cps.stable_proof = seq, digest, proof
    log.slots = {k: s for k, s in log.slots.items() if k[1] > seq}
    log.prepared_certs = {s: c for s, c in log.prepared_certs.items() if s > seq}
    log.committed = {s: e for s, e in log.committed.items() if s > seq}
    cps.snapshots = {s: v for s, v in cps.snapshots.items() if s >= seq}
    cps.votes = {s: v for s, v in cps.votes.items() if s > seq}
    r.emit(CheckpointStable(seq, digest, proof))
    propose(r)
