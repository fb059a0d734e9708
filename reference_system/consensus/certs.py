"""Validation of PBFT certificates, and the NEW-VIEW computation (pure functions).

A quorum is 2f+1 distinct replicas. Certificates are checked message by message: signature,
matching fields, distinct senders. The NEW-VIEW's pre-prepare set O is a pure function of the
VIEW-CHANGE set V, so backups recompute it and reject a primary that lies.
"""

from __future__ import annotations

from collections.abc import Iterable

from reference_system.consensus.crypto import Keyring, verify_message
from reference_system.consensus.messages import (
    NULL_DIGEST,
    Checkpoint,
    CommittedEntry,
    NewView,
    PreparedCert,
    ViewChange,
    batch_digest,
)


def primary_of(view: int, n: int) -> int:
    """The primary of ``view``: replica ``view mod n``."""
    return view % n


def distinct_valid(messages: Iterable, keyring: Keyring, allowed: set[int]) -> set[int]:
    """Replicas among ``allowed`` with a validly signed message in ``messages``."""
    return {m.replica for m in messages
            if m.replica in allowed and verify_message(m, keyring)}


def checkpoint_proof_ok(seq: int, digest: str, proof: tuple[Checkpoint, ...],
                        keyring: Keyring, n: int, f: int) -> bool:
    """2f+1 distinct signed CHECKPOINTs for (seq, digest); the genesis needs none."""
    if seq == 0:
        return True
    matching = [c for c in proof if c.seq == seq and c.state_digest == digest]
    return len(distinct_valid(matching, keyring, set(range(n)))) >= 2 * f + 1


def prepared_cert_ok(cert: PreparedCert, keyring: Keyring, n: int, f: int) -> bool:
    """A PRE-PREPARE by its view's primary, its batch digest, 2f matching backup PREPAREs."""
    pp = cert.pre_prepare
    primary = primary_of(pp.view, n)
    if pp.replica != primary or not verify_message(pp, keyring):
        return False
    if pp.digest != batch_digest(pp.batch):
        return False
    matching = [p for p in cert.prepares
                if (p.view, p.seq, p.digest) == (pp.view, pp.seq, pp.digest)]
    backups = set(range(n)) - {primary}
    return len(distinct_valid(matching, keyring, backups)) >= 2 * f


def committed_entry_ok(entry: CommittedEntry, keyring: Keyring, n: int, f: int) -> bool:
    """The batch matches the digest and 2f+1 distinct replicas signed matching COMMITs."""
    pp = entry.pre_prepare
    if pp.digest != batch_digest(pp.batch):
        return False
    matching = [c for c in entry.commits
                if (c.view, c.seq, c.digest) == (pp.view, pp.seq, pp.digest)]
    return len(distinct_valid(matching, keyring, set(range(n)))) >= 2 * f + 1


def view_change_ok(vc: ViewChange, keyring: Keyring, n: int, f: int, window: int) -> bool:
    """A signed VIEW-CHANGE whose checkpoint proof and prepared certificates all check out."""
    if not verify_message(vc, keyring) or vc.stable_seq < 0:
        return False
    digests = {c.state_digest for c in vc.checkpoint_proof if c.seq == vc.stable_seq}
    if vc.stable_seq > 0 and not any(
            checkpoint_proof_ok(vc.stable_seq, d, vc.checkpoint_proof, keyring, n, f)
            for d in digests):
        return False
    seqs = [c.pre_prepare.seq for c in vc.prepared]
    if len(seqs) != len(set(seqs)):
        return False
    return all(vc.stable_seq < c.pre_prepare.seq <= vc.stable_seq + window
               and c.pre_prepare.view < vc.view and prepared_cert_ok(c, keyring, n, f)
               for c in vc.prepared)


def stable_digest(vc: ViewChange) -> str | None:
    """The state digest a VIEW-CHANGE's checkpoint proof certifies (None for genesis)."""
    for c in vc.checkpoint_proof:
        if c.seq == vc.stable_seq:
            return c.state_digest
    return None


def new_view_plan(view_changes: Iterable[ViewChange]) -> tuple[int, dict[int, PreparedCert | None]]:
    """PBFT's O: (min-s, {seq: highest-view prepared certificate or None for a null request}).

    min-s is the latest stable checkpoint in V; every sequence up to the highest prepared one
    is re-proposed, gaps filled with null requests.
    """
    vcs = list(view_changes)
    min_s = max(vc.stable_seq for vc in vcs)
    best: dict[int, PreparedCert] = {}
    for vc in vcs:
        for cert in vc.prepared:
            seq = cert.pre_prepare.seq
            if seq > min_s and (seq not in best
                                or cert.pre_prepare.view > best[seq].pre_prepare.view):
                best[seq] = cert
    max_s = max(best, default=min_s)
    return min_s, {s: best.get(s) for s in range(min_s + 1, max_s + 1)}


def new_view_ok(nv: NewView, keyring: Keyring, n: int, f: int, window: int) -> bool:
    """Backups' check of NEW-VIEW: signer, 2f+1 valid VIEW-CHANGEs, and O recomputed."""
    if nv.replica != primary_of(nv.view, n) or not verify_message(nv, keyring):
        return False
    vcs = [vc for vc in nv.view_changes if vc.view == nv.view]
    if len({vc.replica for vc in vcs}) < 2 * f + 1 or len(vcs) != len(nv.view_changes):
        return False
    if not all(view_change_ok(vc, keyring, n, f, window) for vc in vcs):
        return False
    _, plan = new_view_plan(vcs)
    if sorted(plan) != [pp.seq for pp in nv.pre_prepares]:
        return False
    for pp in nv.pre_prepares:
        cert = plan[pp.seq]
        expected = NULL_DIGEST if cert is None else cert.pre_prepare.digest
        if (pp.view, pp.replica, pp.digest) != (nv.view, nv.replica, expected):
            return False
        if pp.digest != batch_digest(pp.batch) or not verify_message(pp, keyring):
            return False
    return True
