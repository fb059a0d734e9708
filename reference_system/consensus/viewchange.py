"""View change (PBFT section 4.4), mixed into :class:`~.replica.Replica`.

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

from typing import TYPE_CHECKING, Any

from reference_system.consensus.certs import (
    new_view_ok,
    new_view_plan,
    primary_of,
    stable_digest,
    view_change_ok,
)
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

if TYPE_CHECKING:
    from reference_system.consensus.replica import Replica

    _Base = Replica
else:
    _Base = object

MAX_BACKOFF_DOUBLINGS = 5


class ViewChangeMixin(_Base):
    """VIEW-CHANGE / NEW-VIEW handling."""

    def _on_view_change_timer(self) -> None:
        self.vc_timer_armed = False
        if self.view_active:
            if self._pending_work():
                self._start_view_change(self.view + 1)
        elif len(self.view_changes.get(self.view, {})) >= 2 * self.f + 1:
            self._start_view_change(self.view + 1)  # a quorum wants this view; its primary failed
        else:
            self._retransmit_view_change()

    def _start_view_change(self, view: int) -> None:
        """Vote to move to ``view``: stop normal-case processing and send VIEW-CHANGE."""
        self.view, self.view_active = view, False
        self.vc_attempts += 1
        self.slots = {k: s for k, s in self.slots.items() if k[0] >= view}
        self._requeue_in_progress()
        prepared = tuple(self.prepared_certs[s] for s in sorted(self.prepared_certs))
        vc = self._sign(ViewChange(view, self.stable_seq, self.stable_proof, prepared, self.id))
        self.view_changes.setdefault(view, {})[self.id] = vc
        self._emit(Broadcast(vc))
        self._emit(ViewChangeStarted(view))
        self._arm_new_view_timer()
        self._try_new_view(view)

    def _arm_new_view_timer(self) -> None:
        """Wait for NEW-VIEW, longer at each attempt (PBFT's doubling)."""
        timeout = self.params.view_change_timeout * 2 ** min(self.vc_attempts,
                                                            MAX_BACKOFF_DOUBLINGS)
        self.vc_timer_armed = True
        self._emit(SetTimer("view_change", timeout))

    def _retransmit_view_change(self) -> None:
        """Fewer than 2f+1 replicas are known to want this view: moving further alone would
        only leave this replica further from the others, so send the vote again and wait."""
        own = self._own_vote(self.view)
        if own is not None:
            self._emit(Broadcast(own))
        self._arm_new_view_timer()

    def _requeue_in_progress(self) -> None:
        # Requests of abandoned pre-prepares stay pending: the next primary may order them.
        for key, request in self.in_progress.items():
            self.queue.setdefault(key, request)
        self.in_progress.clear()

    def _on_view_change(self, vc: ViewChange) -> None:
        if vc.view < self.view or (vc.view == self.view and self.view_active):
            self._help_voter(vc)
            return
        if vc.replica in self.view_changes.get(vc.view, {}):
            return
        if not view_change_ok(vc, self.keyring, self.n, self.f, self.params.window):
            return
        votes = self.view_changes.setdefault(vc.view, {})
        votes[vc.replica] = vc
        if vc.view == self.view:
            self._help_voter(vc)  # it may have been cut off when we broadcast ours
            if len(votes) == 2 * self.f + 1:
                self._arm_new_view_timer()  # PBFT: the wait for NEW-VIEW starts at a quorum
        self._join_view_change()
        self._try_new_view(vc.view)

    def _help_voter(self, vc: ViewChange) -> None:
        """A replica votes for a view we voted for or left: it may have missed that view's
        NEW-VIEW, or our vote (it was cut off when we sent it, or we moved on with a quorum it
        never saw). Send it what we have."""
        nv = self.new_view
        answer = nv if nv is not None and nv.view == vc.view else self._own_vote(vc.view)
        if answer is None or vc.replica == self.id:
            return
        key = (vc.replica, vc.view, isinstance(answer, NewView))
        if key not in self.helped and verify_message(vc, self.keyring):
            self.helped.add(key)  # once per resync period: two replicas must not echo forever
            self._emit(Send(vc.replica, answer))

    def _own_vote(self, view: int) -> ViewChange | None:
        return self.view_changes.get(view, {}).get(self.id)

    def _join_view_change(self) -> None:
        """f+1 replicas want a higher view: at least one is honest, so join the smallest."""
        voters: dict[int, int] = {}
        for view, votes in self.view_changes.items():
            if view > self.view:
                for replica in votes:
                    voters[replica] = min(view, voters.get(replica, view))
        if len(voters) >= self.f + 1:
            self._start_view_change(min(voters.values()))

    def _try_new_view(self, view: int) -> None:
        if primary_of(view, self.n) != self.id or self.view != view or self.view_active:
            return
        votes = self.view_changes.get(view, {})
        if len(votes) < 2 * self.f + 1:
            return
        chosen = tuple(votes[r] for r in sorted(votes)[: 2 * self.f + 1])
        _, plan = new_view_plan(chosen)
        pre_prepares = tuple(self._sign(PrePrepare(
            view, seq, NULL_DIGEST if cert is None else cert.pre_prepare.digest, self.id,
            () if cert is None else cert.pre_prepare.batch)) for seq, cert in sorted(plan.items()))
        nv = self._sign(NewView(view, chosen, pre_prepares, self.id))
        self._emit(Broadcast(nv))
        self._install_new_view(nv)

    def _on_new_view(self, nv: NewView) -> None:
        if nv.view < self.view or (nv.view == self.view and self.view_active):
            return
        if new_view_ok(nv, self.keyring, self.n, self.f, self.params.window):
            self._install_new_view(nv)

    def _install_new_view(self, nv: NewView) -> None:
        """Enter ``nv.view``: adopt its checkpoint, log its pre-prepares, resume."""
        self.view, self.view_active, self.installed_view = nv.view, True, nv.view
        self.vc_attempts = 0
        self.new_view = nv
        self.slots = {k: s for k, s in self.slots.items() if k[0] >= nv.view}
        self.view_changes = {v: m for v, m in self.view_changes.items() if v > nv.view}
        self._requeue_in_progress()
        self._adopt_new_view_checkpoint(nv)
        for pp in nv.pre_prepares:
            if pp.seq > self.stable_seq:
                self._accept_pre_prepare(self._slot(nv.view, pp.seq), pp)
        # PBFT: the new primary numbers on from max-s; numbers it handed out in earlier views
        # that no quorum prepared are reused (they cannot have committed).
        self.next_seq = max([self.last_executed,
                             *(pp.seq for pp in nv.pre_prepares),
                             max(vc.stable_seq for vc in nv.view_changes)])
        self._emit(ViewInstalled(nv.view))
        self.vc_timer_armed = False
        self._emit(CancelTimer("view_change"))
        if self._pending_work():
            self._arm_view_change_timer()
        self._propose()

    def _adopt_new_view_checkpoint(self, nv: NewView) -> None:
        best: Any = max(nv.view_changes, key=lambda vc: vc.stable_seq)
        if best.stable_seq <= self.stable_seq:
            return
        digest = stable_digest(best)
        own = self.snapshots.get(best.stable_seq)
        if own is not None and own.digest == digest:
            self._make_stable(best.stable_seq, digest, best.checkpoint_proof)
        else:  # we lack that state: fetch it
            self._hint_behind(best.stable_seq, nv.view)
