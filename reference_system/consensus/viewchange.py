"""View change (PBFT section 4.4): functions over :class:`~.state.ReplicaState`.

A backup whose view-change timer expires while requests wait votes VIEW-CHANGE for v+1,
carrying its stable checkpoint with its 2f+1 proof and a prepared certificate for every
sequence above it. It moves on to v+2 only if NEW-VIEW does not come although 2f+1 replicas
voted for v+1 (the wait doubles per attempt); with fewer votes it sends its own again, and a
replica that installed v+1 answers such a vote with its NEW-VIEW. A
replica that sees f+1 VIEW-CHANGEs for higher views joins the smallest of them (so a view
change cannot be started by f faulty replicas and cannot be missed by a slow honest one).
The new primary, holding 2f+1, sends NEW-VIEW re-proposing every prepared request and
filling gaps with null requests; backups recompute that set and reject anything else.
"""

from __future__ import annotations

from typing import Any

from reference_system.consensus.batching import propose
from reference_system.consensus.certs import (
    new_view_ok,
    new_view_plan,
    primary_of,
    stable_digest,
    view_change_ok,
)
from reference_system.consensus.checkpoints import make_stable
from reference_system.consensus.crypto import verify_message
from reference_system.consensus.events import (
    Broadcast,
    CancelTimer,
    Send,
    SetTimer,
    ViewChangeStarted,
    ViewInstalled,
)
from reference_system.consensus.messages import NULL_DIGEST, NewView, PrePrepare, ViewChange
from reference_system.consensus.normal import accept_pre_prepare, arm_view_change_timer
from reference_system.consensus.state import VIEW_CHANGE_TIMER, ReplicaState, hint_behind

MAX_BACKOFF_DOUBLINGS = 5


def on_view_change_timer(r: ReplicaState) -> None:
    """No progress while requests waited, or no NEW-VIEW came: move on, or vote again."""
    views = r.views
    views.vc_timer_armed = False
    if views.view_active:
        if r.pending_work():
            _start_view_change(r, views.view + 1)
    elif len(views.view_changes.get(views.view, {})) >= 2 * r.f + 1:
        _start_view_change(r, views.view + 1)  # a quorum wants this view; its primary failed
    else:
        _retransmit_view_change(r)


def _start_view_change(r: ReplicaState, view: int) -> None:
    """Vote to move to ``view``: stop normal-case processing and send VIEW-CHANGE."""
    views, log, cps = r.views, r.log, r.checkpoints
    views.view, views.view_active = view, False
    views.vc_attempts += 1
    log.slots = {k: s for k, s in log.slots.items() if k[0] >= view}
    _requeue_in_progress(r)
    prepared = tuple(log.prepared_certs[s] for s in sorted(log.prepared_certs))
    vc = r.sign(ViewChange(view, cps.stable_seq, cps.stable_proof, prepared, r.id))
    views.view_changes.setdefault(view, {})[r.id] = vc
    r.emit(Broadcast(vc))
    r.emit(ViewChangeStarted(view))
    _arm_new_view_timer(r)
    _try_new_view(r, view)


def _arm_new_view_timer(r: ReplicaState) -> None:
    """Wait for NEW-VIEW, longer at each attempt (PBFT's doubling)."""
    timeout = r.params.view_change_timeout * 2 ** min(r.views.vc_attempts,
                                                      MAX_BACKOFF_DOUBLINGS)
    r.views.vc_timer_armed = True
    r.emit(SetTimer(VIEW_CHANGE_TIMER, timeout))


def _retransmit_view_change(r: ReplicaState) -> None:
    """Fewer than 2f+1 replicas are known to want this view: moving further alone would
    only leave this replica further from the others, so send the vote again and wait."""
    own = _own_vote(r, r.views.view)
    if own is not None:
        r.emit(Broadcast(own))
    _arm_new_view_timer(r)


def _requeue_in_progress(r: ReplicaState) -> None:
    # Requests of abandoned pre-prepares stay pending: the next primary may order them.
    log = r.log
    for key, request in log.in_progress.items():
        log.queue.setdefault(key, request)
    log.in_progress.clear()


def on_view_change(r: ReplicaState, vc: ViewChange) -> None:
    """A VIEW-CHANGE vote: record it, help its sender, join or lead the view change."""
    views = r.views
    if vc.view < views.view or (vc.view == views.view and views.view_active):
        _help_voter(r, vc)
        return
    if vc.replica in views.view_changes.get(vc.view, {}):
        return
    if not view_change_ok(vc, r.keyring, r.n, r.f, r.params.window):
        return
    votes = views.view_changes.setdefault(vc.view, {})
    votes[vc.replica] = vc
    if vc.view == views.view:
        _help_voter(r, vc)  # it may have been cut off when we broadcast ours
        if len(votes) == 2 * r.f + 1:
            _arm_new_view_timer(r)  # PBFT: the wait for NEW-VIEW starts at a quorum
    _join_view_change(r)
    _try_new_view(r, vc.view)


def _help_voter(r: ReplicaState, vc: ViewChange) -> None:
    """A replica votes for a view we voted for or left: it may have missed that view's
    NEW-VIEW, or our vote (it was cut off when we sent it, or we moved on with a quorum it
    never saw). Send it what we have."""
    nv = r.views.new_view
    answer = nv if nv is not None and nv.view == vc.view else _own_vote(r, vc.view)
    if answer is None or vc.replica == r.id:
        return
    key = (vc.replica, vc.view, isinstance(answer, NewView))
    if key not in r.views.helped and verify_message(vc, r.keyring):
        r.views.helped.add(key)  # once per resync period: two replicas must not echo forever
        r.emit(Send(vc.replica, answer))


def _own_vote(r: ReplicaState, view: int) -> ViewChange | None:
    return r.views.view_changes.get(view, {}).get(r.id)


def _join_view_change(r: ReplicaState) -> None:
    """f+1 replicas want a higher view: at least one is honest, so join the smallest."""
    voters: dict[int, int] = {}
    for view, votes in r.views.view_changes.items():
        if view > r.views.view:
            for replica in votes:
                voters[replica] = min(view, voters.get(replica, view))
    if len(voters) >= r.f + 1:
        _start_view_change(r, min(voters.values()))


def _try_new_view(r: ReplicaState, view: int) -> None:
    views = r.views
    if primary_of(view, r.n) != r.id or views.view != view or views.view_active:
        return
    votes = views.view_changes.get(view, {})
    if len(votes) < 2 * r.f + 1:
        return
    chosen = tuple(votes[k] for k in sorted(votes)[: 2 * r.f + 1])
    _, plan = new_view_plan(chosen)
    pre_prepares = tuple(r.sign(PrePrepare(
        view, seq, NULL_DIGEST if cert is None else cert.pre_prepare.digest, r.id,
        () if cert is None else cert.pre_prepare.batch)) for seq, cert in sorted(plan.items()))
    nv = r.sign(NewView(view, chosen, pre_prepares, r.id))
    r.emit(Broadcast(nv))
    _install_new_view(r, nv)


def on_new_view(r: ReplicaState, nv: NewView) -> None:
    """A NEW-VIEW: install it if it is for a view we have not installed and it checks out."""
    views = r.views
    if nv.view < views.view or (nv.view == views.view and views.view_active):
        return
    if new_view_ok(nv, r.keyring, r.n, r.f, r.params.window):
        _install_new_view(r, nv)


def _install_new_view(r: ReplicaState, nv: NewView) -> None:
    """Enter ``nv.view``: adopt its checkpoint, log its pre-prepares, resume."""
    views, log = r.views, r.log
    views.view, views.view_active, views.installed_view = nv.view, True, nv.view
    views.vc_attempts = 0
    views.new_view = nv
    log.slots = {k: s for k, s in log.slots.items() if k[0] >= nv.view}
    views.view_changes = {v: m for v, m in views.view_changes.items() if v > nv.view}
    _requeue_in_progress(r)
    _adopt_new_view_checkpoint(r, nv)
    for pp in nv.pre_prepares:
        if pp.seq > r.checkpoints.stable_seq:
            accept_pre_prepare(r, r.slot(nv.view, pp.seq), pp)
    # PBFT: the new primary numbers on from max-s; numbers it handed out in earlier views
    # that no quorum prepared are reused (they cannot have committed).
    log.next_seq = max([log.last_executed,
                        *(pp.seq for pp in nv.pre_prepares),
                        max(vc.stable_seq for vc in nv.view_changes)])
    r.emit(ViewInstalled(nv.view))
    views.vc_timer_armed = False
    r.emit(CancelTimer(VIEW_CHANGE_TIMER))
    if r.pending_work():
        arm_view_change_timer(r)
    propose(r)


def _adopt_new_view_checkpoint(r: ReplicaState, nv: NewView) -> None:
    best: Any = max(nv.view_changes, key=lambda vc: vc.stable_seq)
    if best.stable_seq <= r.checkpoints.stable_seq:
        return
    digest = stable_digest(best)
    own = r.checkpoints.snapshots.get(best.stable_seq)
    if own is not None and own.digest == digest:
        make_stable(r, best.stable_seq, digest, best.checkpoint_proof)
    else:  # we lack that state: fetch it
        hint_behind(r, best.stable_seq, nv.view)
