"""The normal case (PBFT section 4.2): requests, the three phases, execution.

Backups accept the primary's PRE-PREPARE and broadcast PREPARE; prepared = pre-prepare + 2f
matching prepares from distinct backups; then COMMIT; committed-local = prepared + 2f+1
matching commits; execution is strictly in sequence order. Requests are deduplicated by
(client, timestamp) against the reply cache, which is part of the replicated state. A backup
with requests waiting runs the view-change timer; progress restarts it.
"""

from __future__ import annotations

from typing import Any

from reference_system.consensus.batching import propose
from reference_system.consensus.certs import primary_of
from reference_system.consensus.checkpoints import take_checkpoint
from reference_system.consensus.crypto import verify_message
from reference_system.consensus.events import (
    Broadcast,
    CancelTimer,
    Executed,
    Send,
    SendReply,
    SetTimer,
)
from reference_system.consensus.messages import (
    Commit,
    CommittedEntry,
    Prepare,
    PreparedCert,
    PrePrepare,
    Reply,
    Request,
    batch_digest,
)
from reference_system.consensus.state import (
    VIEW_CHANGE_TIMER,
    ReplicaState,
    Slot,
    hint_behind,
    hint_from,
)

# ---- requests ------------------------------------------------------------------------------


def on_request(r: ReplicaState, request: Request) -> None:
    """A client's request (or a backup's relay of one)."""
    if not r.macs.request_ok(request):
        return
    cached = r.machine.replies.get(request.client)
    if cached is not None and request.timestamp <= cached[0]:
        if request.timestamp == cached[0]:  # a retransmission: resend the cached reply
            reply(r, request.client, request.timestamp, cached[1])
        return
    log = r.log
    known = request.key in log.queue or request.key in log.in_progress
    if not known:
        log.queue[request.key] = request
    if r.is_primary:
        propose(r)
        return
    # A backup relays a request new to it to the primary and starts waiting for it. Only a
    # new one: two replicas that disagree on the view (each taking the other for the
    # primary) would otherwise relay one request between them forever. A client's retry is
    # broadcast to every replica, the primary included.
    if r.views.view_active and not known:
        r.emit(Send(r.primary, request))
    arm_view_change_timer(r)


# ---- three phases --------------------------------------------------------------------------


def _certifies(slot: Slot, digest: str) -> bool:
    """Whether a vote for ``digest`` is for the slot's own pre-prepare."""
    return slot.pre_prepare is not None and slot.pre_prepare.digest == digest


def on_pre_prepare(r: ReplicaState, pp: PrePrepare) -> None:
    """The primary's PRE-PREPARE: accept it if it is of this view, in the window, sound."""
    if pp.view != r.views.view or not r.views.view_active or pp.replica == r.id:
        hint_from(r, pp, pp.seq)
        return
    if pp.replica != r.primary or not r.in_window(pp.seq):
        hint_from(r, pp, pp.seq)
        return
    slot = r.slot(pp.view, pp.seq)
    if slot.pre_prepare is not None or pp.digest != batch_digest(pp.batch):
        return
    if not verify_message(pp, r.keyring):
        return
    if not all(r.macs.request_ok(request) for request in pp.batch):
        return
    accept_pre_prepare(r, slot, pp)
    arm_view_change_timer(r)


def accept_pre_prepare(r: ReplicaState, slot: Slot, pp: PrePrepare) -> None:
    """Log a pre-prepare of the current view; backups vote PREPARE for it."""
    slot.pre_prepare = pp
    log = r.log
    if pp.seq > log.last_executed:
        for request in pp.batch:
            log.queue.pop(request.key, None)
            if not r.executed_already(request):
                log.in_progress[request.key] = request
    if pp.replica != r.id:
        prepare = r.sign(Prepare(pp.view, pp.seq, pp.digest, r.id))
        slot.prepares.setdefault(pp.digest, {})[r.id] = prepare
        r.emit(Broadcast(prepare))
    _check_prepared(r, slot)


def on_prepare(r: ReplicaState, prepare: Prepare) -> None:
    """A backup's PREPARE vote."""
    # Votes for the view being installed are kept: NEW-VIEW may arrive after them.
    if prepare.view != r.views.view or not r.in_window(prepare.seq):
        hint_from(r, prepare, prepare.seq)
        return
    if prepare.replica == primary_of(prepare.view, r.n):
        return
    slot = r.slot(prepare.view, prepare.seq)
    if slot.prepared and _certifies(slot, prepare.digest):
        return  # the certificate is complete: a surplus vote is not worth a verify
    votes = slot.prepares.setdefault(prepare.digest, {})
    if prepare.replica in votes or not verify_message(prepare, r.keyring):
        return
    votes[prepare.replica] = prepare
    _check_prepared(r, slot)


def _check_prepared(r: ReplicaState, slot: Slot) -> None:
    pp = slot.pre_prepare
    if slot.prepared or pp is None or not r.views.view_active or pp.view != r.views.view:
        return
    votes = slot.prepares.get(pp.digest, {})
    if len(votes) < 2 * r.f:
        return
    slot.prepared = True
    r.log.prepared_certs[pp.seq] = PreparedCert(pp, tuple(votes.values())[: 2 * r.f])
    commit = r.sign(Commit(pp.view, pp.seq, pp.digest, r.id))
    slot.commits.setdefault(pp.digest, {})[r.id] = commit
    r.emit(Broadcast(commit))
    _check_committed(r, slot)


def on_commit(r: ReplicaState, commit: Commit) -> None:
    """A COMMIT vote."""
    if commit.view != r.views.view or not r.in_window(commit.seq):
        hint_from(r, commit, commit.seq)
        return
    slot = r.slot(commit.view, commit.seq)
    if slot.committed and _certifies(slot, commit.digest):
        return  # as for PREPARE: nothing left to certify
    votes = slot.commits.setdefault(commit.digest, {})
    if commit.replica in votes or not verify_message(commit, r.keyring):
        return
    votes[commit.replica] = commit
    if commit.seq > r.log.last_executed + r.params.max_inflight:
        hint_behind(r, commit.seq, commit.view)
    _check_committed(r, slot)


def _check_committed(r: ReplicaState, slot: Slot) -> None:
    if not slot.prepared or slot.committed or slot.pre_prepare is None:
        return
    pp = slot.pre_prepare
    votes = slot.commits.get(pp.digest, {})
    if len(votes) < 2 * r.f + 1:
        return
    slot.committed = True
    if pp.seq > r.log.last_executed:
        r.log.committed[pp.seq] = CommittedEntry(pp, tuple(votes.values())[: 2 * r.f + 1])
        execute_ready(r)


# ---- execution -----------------------------------------------------------------------------


def execute_ready(r: ReplicaState) -> None:
    """Execute committed entries in sequence order, as far as there is no gap."""
    log = r.log
    progressed = False
    while (entry := log.committed.get(log.last_executed + 1)) is not None:
        _execute(r, entry)
        progressed = True
    if progressed:
        _update_view_change_timer(r)
        propose(r)


def _execute(r: ReplicaState, entry: CommittedEntry) -> None:
    pp, log = entry.pre_prepare, r.log
    results: list[Any] = []
    for request in pp.batch:
        log.queue.pop(request.key, None)
        log.in_progress.pop(request.key, None)
        if r.executed_already(request):  # ordered twice (e.g. across views): once only
            results.append(None)
            continue
        result = r.machine.apply(request.operation, pp.seq)
        r.machine.replies[request.client] = (request.timestamp, result)
        results.append(result)
        reply(r, request.client, request.timestamp, result)
    log.last_executed = pp.seq
    log.next_seq = max(log.next_seq, pp.seq)
    r.emit(Executed(entry, tuple(results)))
    if pp.seq % r.params.checkpoint_interval == 0:
        take_checkpoint(r, pp.seq)


def reply(r: ReplicaState, client: str, timestamp: int, result: Any) -> None:
    """Send a client its (MACed) reply, unless replaying the durable log."""
    if r.replaying:
        return  # a replayed execution's reply was sent (or lost) before the restart
    answer = Reply(r.views.view, timestamp, client, r.id, result)
    r.emit(SendReply(r.macs.mac_reply(answer)))


# ---- view-change timer (PBFT liveness) -----------------------------------------------------


def arm_view_change_timer(r: ReplicaState) -> None:
    """Start waiting for progress (if not already waiting) while the view is installed."""
    views = r.views
    if not views.vc_timer_armed and views.view_active:
        views.vc_timer_armed = True
        r.emit(SetTimer(VIEW_CHANGE_TIMER, r.params.view_change_timeout))


def _update_view_change_timer(r: ReplicaState) -> None:
    """After progress: restart the timer while requests wait, stop it when none do."""
    views = r.views
    if not views.view_active:
        return
    if r.pending_work():
        views.vc_timer_armed = True
        r.emit(SetTimer(VIEW_CHANGE_TIMER, r.params.view_change_timeout))
    elif views.vc_timer_armed:
        views.vc_timer_armed = False
        r.emit(CancelTimer(VIEW_CHANGE_TIMER))
