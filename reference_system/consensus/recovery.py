"""Catch-up and state transfer, and restore from the durable log: functions over the state.

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
from collections.abc import Callable
from typing import Any

from reference_system.consensus.certs import checkpoint_proof_ok, committed_entry_ok
from reference_system.consensus.checkpoints import make_stable
from reference_system.consensus.crypto import verify_message
from reference_system.consensus.events import (
    Broadcast,
    Executed,
    Output,
    Send,
    SetTimer,
    StateInstalled,
)
from reference_system.consensus.messages import Checkpoint, CommittedEntry, Fetch, State
from reference_system.consensus.normal import execute_ready
from reference_system.consensus.state import RESYNC_TIMER, ReplicaState, hint_behind
from reference_system.consensus.state_machine import StateMachine
from reference_system.consensus.viewchange import on_new_view

# ---- noticing we are behind ----------------------------------------------------------------


def _behind(r: ReplicaState, seq: int, view: int) -> bool:
    return r.log.last_executed < seq or r.views.installed_view < view


def on_catchup_timer(r: ReplicaState) -> None:
    """Still behind the evidence: ask one peer (a different one each round) for state."""
    c = r.catchup
    c.armed = False
    if _behind(r, *c.target):
        peers = [p for p in range(r.n) if p != r.id]
        peer = peers[c.fetch_rounds % len(peers)]
        c.fetch_rounds += 1
        r.emit(Send(peer, _fetch_message(r)))
    # Evidence that arrived while the timer was armed raised catch_seq/catch_view without
    # re-arming it: keep going until past that too, or a quiet cluster leaves us behind.
    if _behind(r, c.seq, c.view):
        hint_behind(r, c.seq, c.view)


def _fetch_message(r: ReplicaState) -> Fetch:
    return r.sign(Fetch(r.log.last_executed + 1, r.views.installed_view, r.id))


def on_start(r: ReplicaState) -> None:
    """(Re)start: ask every peer for what we missed, and start the resync timer."""
    r.emit(Broadcast(_fetch_message(r)))
    _arm_resync(r)


def on_resync_timer(r: ReplicaState) -> None:
    """Anti-entropy: after ``resync_interval`` without executing anything, ask every peer
    again, as on start. A replica that missed the last commits of a quiet cluster (or a
    primary whose COMMITs were lost) has no other evidence that it is behind; peers answer
    only when they are ahead, so an idle cluster in sync exchanges only these requests."""
    if r.log.last_executed == r.catchup.resync_seen:
        r.emit(Broadcast(_fetch_message(r)))
    r.views.helped.clear()  # a voter still stuck may be sent our vote again
    _arm_resync(r)


def _arm_resync(r: ReplicaState) -> None:
    r.catchup.resync_seen = r.log.last_executed
    r.emit(SetTimer(RESYNC_TIMER, r.params.resync_interval))


# ---- serving a fetch -----------------------------------------------------------------------


def on_fetch(r: ReplicaState, fetch: Fetch) -> None:
    """A peer's FETCH-STATE: send what it lacks, if we have anything it lacks."""
    if fetch.replica == r.id or not verify_message(fetch, r.keyring):
        return
    cps, log = r.checkpoints, r.log
    snapshot: bytes | None = None
    proof: tuple[Checkpoint, ...] = ()
    if fetch.from_seq <= cps.stable_seq and cps.stable_seq > 0:
        snapshot, proof = _stable_snapshot(r), cps.stable_proof
    first = max(fetch.from_seq, cps.stable_seq + 1)
    last = min(log.last_executed, first + r.params.fetch_limit - 1)
    entries = tuple(log.committed[s] for s in range(first, last + 1) if s in log.committed)
    new_view = r.views.new_view if fetch.view < r.views.installed_view else None
    if snapshot is None and not entries and new_view is None:
        return
    state = State(cps.stable_seq, snapshot, proof, entries, new_view, r.id)
    r.emit(Send(fetch.replica, state))


def _stable_snapshot(r: ReplicaState) -> bytes:
    """The bytes of our stable checkpoint's state, produced once per checkpoint."""
    cps = r.checkpoints
    if cps.snapshot_cache[0] != cps.stable_seq:
        cps.snapshot_cache = (cps.stable_seq,
                              r.machine.snapshot_at(cps.snapshots[cps.stable_seq]))
    return cps.snapshot_cache[1]


# ---- installing what a peer sent -----------------------------------------------------------


def on_state(r: ReplicaState, state: State) -> None:
    """A peer's STATE: install its NEW-VIEW, snapshot and entries as far as they verify."""
    nv = state.new_view
    if nv is not None and (nv.view > r.views.view or (nv.view == r.views.view
                                                      and not r.views.view_active)):
        on_new_view(r, nv)
    if state.snapshot is not None and state.seq > r.log.last_executed:
        _install_snapshot(r, state.seq, state.snapshot, state.checkpoint_proof)
    log = r.log
    for entry in sorted(state.entries, key=lambda e: e.pre_prepare.seq):
        seq = entry.pre_prepare.seq
        if seq <= log.last_executed or seq in log.committed:
            continue
        if committed_entry_ok(entry, r.keyring, r.n, r.f):
            log.committed[seq] = entry
    execute_ready(r)


def _install_snapshot(r: ReplicaState, seq: int, snapshot: bytes,
                      proof: tuple[Checkpoint, ...]) -> None:
    digest = _certified_digest(seq, proof)
    if not checkpoint_proof_ok(seq, digest, proof, r.keyring, r.n, r.f):
        return
    machine = restored(r, snapshot)
    if machine is None or machine.digest() != digest:
        return  # the sender's bytes are not the certified state
    _adopt_snapshot(r, seq, machine, snapshot, digest, proof)
    r.emit(StateInstalled(seq, snapshot, proof))


def restored(r: ReplicaState, snapshot: bytes) -> StateMachine | None:
    """A fresh state machine holding ``snapshot`` (None when the bytes are not one)."""
    machine = StateMachine(r.machine.genesis, r.machine.workers)
    try:
        machine.restore(snapshot)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return machine


def _adopt_snapshot(r: ReplicaState, seq: int, machine: StateMachine, snapshot: bytes,
                    digest: str, proof: tuple[Checkpoint, ...]) -> None:
    log = r.log
    r.machine = machine
    log.last_executed = seq
    log.next_seq = max(log.next_seq, seq)
    r.checkpoints.snapshots = {seq: r.machine.mark()}
    r.checkpoints.snapshot_cache = (seq, snapshot)
    log.queue = {k: q for k, q in log.queue.items() if not r.executed_already(q)}
    log.in_progress = {k: q for k, q in log.in_progress.items() if not r.executed_already(q)}
    make_stable(r, seq, digest, proof)


# ---- restore from this node's own durable log ----------------------------------------------


def restore_snapshot(r: ReplicaState, seq: int, snapshot: bytes,
                     proof: tuple[Checkpoint, ...]) -> None:
    """Replay a state-transfer record from the durable log (verified when it was
    installed, so its certified digest is taken as it stands)."""
    machine = restored(r, snapshot)
    if machine is not None:
        _quietly(r, lambda: _adopt_snapshot(r, seq, machine, snapshot,
                                            _certified_digest(seq, proof), proof))


def restore_executed(r: ReplicaState, entry: CommittedEntry) -> list[Executed]:
    """Replay an executed entry from the durable log (re-executes it, sends nothing);
    returns the executions it redid, with their results."""
    if entry.pre_prepare.seq != r.log.last_executed + 1:
        return []
    r.log.committed[entry.pre_prepare.seq] = entry
    return [out for out in _quietly(r, lambda: execute_ready(r)) if isinstance(out, Executed)]


def restore_stable(r: ReplicaState, seq: int, digest: str,
                   proof: tuple[Checkpoint, ...]) -> None:
    """Replay a stable-checkpoint record from the durable log."""
    own = r.checkpoints.snapshots.get(seq)
    if seq > r.checkpoints.stable_seq and own is not None and own.digest == digest:
        _quietly(r, lambda: make_stable(r, seq, digest, proof))


def restore_view(r: ReplicaState, view: int) -> None:
    """Replay the last installed view from the durable log."""
    views = r.views
    if view > views.view:
        views.view, views.installed_view, views.view_active = view, view, True


def _quietly(r: ReplicaState, action: Callable[[], Any]) -> list[Output]:
    # Replay re-derives state; its messages were sent (or lost) before the restart.
    r.out, r.replaying = [], True
    try:
        action()
    finally:
        r.replaying = False
    outputs, r.out = r.out, []
    r.views.vc_timer_armed = False
    return outputs


def _certified_digest(seq: int, proof: tuple[Checkpoint, ...]) -> str:
    """The state digest most of the proof's CHECKPOINTs for ``seq`` name ("" if none)."""
    claimed = Counter(c.state_digest for c in proof if c.seq == seq).most_common(1)
    return claimed[0][0] if claimed else ""
