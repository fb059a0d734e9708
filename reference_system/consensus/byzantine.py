"""Byzantine behaviours: wrappers over the honest core's outputs, opt-in per node.

The honest :class:`~.replica.Replica` has no fault branches. :class:`ByzantineReplica` runs it
and rewrites what it sends, towards chosen receivers (all peers when none are named):

- ``equivocate``: as primary, send a conflicting, validly signed PRE-PREPARE (other batch,
  same view and sequence) to the targets;
- ``double-vote``: send PREPARE/COMMIT to the targets for the conflicting batch an
  equivocating primary proposes at that slot (the batch reversed), so a colluding group of
  f+1 can build conflicting quorums (the negative control); a digest never seen in a
  PRE-PREPARE gets a made-up one;
- ``corrupt-sig``: flip bits in the signature of every signed message to the targets;
- ``mutate`` (or ``mutate-view``, ``mutate-seq``, ``mutate-digest``): small-scope mutation
  of view +-1, sequence +-1 or digest swap, re-signed so only the content is wrong;
- ``silence``: send nothing to the targets;
- ``replay``: also send the targets a message this replica sent earlier;
- ``forge``: with every PRE-PREPARE, PREPARE or COMMIT to the targets, also send PREPAREs and
  COMMITs for that batch (the conflicting one, for a vote) in the names of the other replicas,
  signed with its own key: only signature checks stop it from faking a quorum;
- ``drop-cert``: VIEW-CHANGEs to the targets omit their highest prepared certificate
  (ByzzFuzz's "a prepared certificate dropped"; re-signed);
- ``mutate-checkpoint``: CHECKPOINTs to the targets name another state digest (re-signed);
- ``mutate-state``: STATE replies (catch-up) to the targets carry the conflicting batch in
  place of each committed entry's batch, the COMMIT certificate unchanged;
- ``mutate-snapshot``: STATE replies to the targets carry a snapshot with one balance one
  unit higher, the CHECKPOINT proof unchanged;
- ``mutate-batch``: STATE replies to the targets carry each committed entry with its last
  request left out of the batch, the digest and COMMIT certificate unchanged (so the batch
  is no longer the one its certified digest names);
- ``forge-cert``: STATE replies to the targets carry, for each committed entry, the
  conflicting batch (its digest recomputed, the PRE-PREPARE re-signed when this replica
  proposed it) certified by this replica's own COMMIT repeated 2f+1 times;
- ``forge-proof``: STATE replies to the targets carry the snapshot of ``mutate-snapshot``
  with a CHECKPOINT proof for its digest made of this replica's own CHECKPOINT repeated
  2f+1 times.

Specs parse from ``MODE[:peer,peer][@ROUNDS]`` (``--byzantine`` of ``prsm-ref node``).
``ROUNDS`` scopes the behaviour to protocol rounds, ByzzFuzz style: ``@2`` or ``@1-3`` are
views, ``@s4-6`` sequence numbers; a message is in a round by its own view (sequence) field,
or by the replica's current view (last executed sequence) when it has none. Twins need no
code here: two processes started with the same id and key file, different listen addresses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from reference_system.consensus.crypto import sign_message
from reference_system.consensus.events import Broadcast, Event, Output, Send
from reference_system.consensus.messages import (
    SIGNED,
    Checkpoint,
    Commit,
    CommittedEntry,
    Prepare,
    PrePrepare,
    State,
    ViewChange,
    batch_digest,
    canonical,
)
from reference_system.consensus.recovery import restored
from reference_system.consensus.replica import Replica

MODES = ("equivocate", "double-vote", "corrupt-sig", "mutate", "mutate-view", "mutate-seq",
         "mutate-digest", "silence", "replay", "forge", "drop-cert", "mutate-checkpoint",
         "mutate-state", "mutate-snapshot", "mutate-batch", "forge-cert", "forge-proof")
MUTATIONS = ("view+1", "view-1", "seq+1", "seq-1", "digest")


@dataclass(frozen=True)
class ByzantineSpec:
    """One behaviour, the receivers it targets (None = every peer) and the rounds it is
    active in (None = always): ``(axis, first, last)``, axis ``"view"`` or ``"seq"``."""

    mode: str
    targets: frozenset[int] | None = None
    rounds: tuple[str, int, int] | None = None

    def applies_to(self, receiver: int) -> bool:
        """Whether messages to ``receiver`` are affected."""
        return self.targets is None or receiver in self.targets

    def in_rounds(self, message: Any, view: int, seq: int) -> bool:
        """Whether ``message`` (sent at the replica's ``view`` / ``seq``) is in scope."""
        if self.rounds is None:
            return True
        axis, first, last = self.rounds
        value = getattr(message, axis, view if axis == "view" else seq)
        return isinstance(value, int) and first <= value <= last


def parse_rounds(text: str) -> tuple[str, int, int]:
    """``2``, ``1-3`` (views) or ``s4-6`` (sequence numbers) as ``(axis, first, last)``."""
    axis = "seq" if text.startswith("s") else "view"
    first, _, last = text.removeprefix("s").removeprefix("v").partition("-")
    try:
        low, high = int(first), int(last or first)
    except ValueError:
        raise ValueError(f"bad rounds {text!r}: expected N, N-M, vN-M or sN-M") from None
    if low < 0 or high < low:
        raise ValueError(f"bad rounds {text!r}: need 0 <= first <= last")
    return axis, low, high


def parse_spec(text: str) -> ByzantineSpec:
    """Parse ``MODE[:peer,peer][@ROUNDS]``; raises ValueError naming the allowed modes."""
    text, _, rounds = text.partition("@")
    mode, _, peers = text.partition(":")
    if mode not in MODES:
        raise ValueError(f"unknown byzantine mode {mode!r}; choose from {', '.join(MODES)}")
    try:
        targets = frozenset(int(p) for p in peers.split(",") if p.strip()) if peers else None
    except ValueError:
        raise ValueError(f"bad byzantine targets {peers!r}: expected replica ids") from None
    return ByzantineSpec(mode, targets, parse_rounds(rounds) if rounds else None)


# Behaviour -> the ByzantineReplica method that rewrites one message.
_STATE_LIES = {"mutate-state": "_mutate_state", "mutate-snapshot": "_mutate_snapshot",
               "mutate-batch": "_mutate_batch", "forge-cert": "_forge_cert",
               "forge-proof": "_forge_proof"}
_SIGNED_LIES = {"equivocate": "_equivocate", "double-vote": "_double_vote",
                "drop-cert": "_drop_cert", "mutate-checkpoint": "_mutate_checkpoint"}


def _other_digest(digest: str) -> str:
    return hashlib.sha256(("byzantine:" + digest).encode()).hexdigest()


class ByzantineReplica:
    """An honest replica whose outgoing messages are rewritten by the given behaviours."""

    def __init__(self, honest: Replica, specs: list[ByzantineSpec], seed: int = 0) -> None:
        self.honest = honest
        self.specs = specs
        self.rng = random.Random(seed)
        self.sent: deque[Any] = deque(maxlen=64)
        self.mutations = 0
        self.conflicting: dict[str, str] = {}  # digest -> the equivocated batch's digest

    def __getattr__(self, name: str) -> Any:
        # Introspection (status, view, last_executed...) reads the wrapped replica.
        return getattr(self.honest, name)

    def step(self, event: Event) -> list[Output]:
        """Step the honest core, then misbehave on what it sends."""
        message = getattr(event, "message", None)
        if isinstance(message, PrePrepare):
            self._note_conflict(message)
        out: list[Output] = []
        for output in self.honest.step(event):
            out.extend(self._rewrite(output))
        return out

    def _rewrite(self, output: Output) -> list[Output]:
        if isinstance(output, Broadcast):
            sends = [Send(r, output.message) for r in range(self.honest.n) if r != self.honest.id]
        elif isinstance(output, Send):
            sends = [output]
        else:
            return [output]
        result: list[Output] = []
        for send in sends:
            if isinstance(send.message, PrePrepare):
                self._note_conflict(send.message)
            result.extend(self._misbehave(send))
            self.sent.append(send.message)
        return result

    def _misbehave(self, send: Send) -> list[Output]:
        messages = [send.message]
        view, seq = self.honest.view, self.honest.last_executed
        active = [s for s in self.specs
                  if s.applies_to(send.to) and s.in_rounds(send.message, view, seq)]
        for spec in active:
            messages = [m for old in messages for m in self._apply(spec.mode, old)]
        for spec in active:
            if spec.mode == "forge":
                messages += [f for m in messages for f in self._forge(m, send.to)]
        return [Send(send.to, m) for m in messages]

    def _forge(self, message: Any, receiver: int) -> list[Any]:
        """Votes for ``message``'s batch in other replicas' names (signed with our key)."""
        if isinstance(message, PrePrepare):
            digest = message.digest
        elif isinstance(message, Prepare | Commit):
            digest = self.conflicting.get(message.digest) or _other_digest(message.digest)
        else:
            return []
        others = [r for r in range(self.honest.n) if r not in (receiver, self.honest.id)]
        view, seq = message.view, message.seq
        return ([self._resign(Prepare(view, seq, digest, r)) for r in others]
                + [self._resign(Commit(view, seq, digest, r)) for r in others])

    def _apply(self, mode: str, message: Any) -> list[Any]:
        if mode == "silence":
            return []
        if mode == "forge":
            return [message]  # the forged votes are added after every rewrite
        if mode == "replay":
            return [message, self.rng.choice(self.sent)] if self.sent else [message]
        if mode in _STATE_LIES:  # STATE replies are not signed: each part carries its proof
            return [getattr(self, _STATE_LIES[mode])(message)]
        if not isinstance(message, SIGNED):
            return [message]
        if mode == "corrupt-sig":
            return [dataclasses.replace(message, sig=bytes(b ^ 0x5A for b in message.sig))]
        if mode in _SIGNED_LIES:
            return [getattr(self, _SIGNED_LIES[mode])(message)]
        return [self._mutate(mode, message)]

    def _drop_cert(self, message: Any) -> Any:
        if not isinstance(message, ViewChange) or not message.prepared:
            return message
        return self._resign(message, prepared=message.prepared[:-1])

    def _mutate_snapshot(self, message: Any) -> Any:
        if not isinstance(message, State) or message.snapshot is None:
            return message
        data = json.loads(message.snapshot)
        if not data.get("balances"):
            return message
        data["balances"][sorted(data["balances"])[0]] += 1
        return dataclasses.replace(message, snapshot=canonical(data))

    def _forge_proof(self, message: Any) -> Any:
        forged = self._mutate_snapshot(message)
        if forged is message:
            return message
        machine = restored(self.honest.state, forged.snapshot)
        if machine is None:
            return message
        vote = self._resign(Checkpoint(forged.seq, machine.digest(), self.honest.id))
        return dataclasses.replace(forged, checkpoint_proof=(vote,) * (2 * self.honest.f + 1))

    def _mutate_state(self, message: Any) -> Any:
        if not isinstance(message, State) or not message.entries:
            return message
        entries = []
        for entry in message.entries:
            batch = self._conflicting_batch(entry.pre_prepare.batch)
            pp = dataclasses.replace(entry.pre_prepare, batch=batch, digest=batch_digest(batch))
            entries.append(dataclasses.replace(entry, pre_prepare=pp))
        return dataclasses.replace(message, entries=tuple(entries))

    @staticmethod
    def _mutate_batch(message: Any) -> Any:
        if not isinstance(message, State) or not message.entries:
            return message
        entries = tuple(dataclasses.replace(e, pre_prepare=dataclasses.replace(
            e.pre_prepare, batch=e.pre_prepare.batch[:-1])) for e in message.entries)
        return dataclasses.replace(message, entries=entries)

    def _forge_cert(self, message: Any) -> Any:
        lie = self._mutate_state(message)
        if lie is message:
            return message
        entries = tuple(self._self_certified(e.pre_prepare) for e in lie.entries)
        return dataclasses.replace(lie, entries=entries)

    def _self_certified(self, pp: PrePrepare) -> CommittedEntry:
        """``pp`` with this replica's COMMIT repeated to a quorum (re-signed if ours)."""
        if pp.replica == self.honest.id:
            pp = self._resign(pp)
        commit = self._resign(Commit(pp.view, pp.seq, pp.digest, self.honest.id))
        return CommittedEntry(pp, (commit,) * (2 * self.honest.f + 1))

    def _mutate_checkpoint(self, message: Any) -> Any:
        if not isinstance(message, Checkpoint):
            return message
        return self._resign(message, state_digest=_other_digest(message.state_digest))

    def _resign(self, message: Any, **changes: Any) -> Any:
        return sign_message(dataclasses.replace(message, **changes), self.honest.keyring)

    @staticmethod
    def _conflicting_batch(batch: tuple[Any, ...]) -> tuple[Any, ...]:
        return batch[::-1] if len(batch) > 1 else ()

    def _note_conflict(self, message: PrePrepare) -> None:
        if message.batch:
            self.conflicting[message.digest] = batch_digest(
                self._conflicting_batch(message.batch))
            if len(self.conflicting) > 4096:  # bounded: old slots are long decided
                self.conflicting.pop(next(iter(self.conflicting)))

    def _equivocate(self, message: Any) -> Any:
        if not isinstance(message, PrePrepare) or not message.batch:
            return message
        batch = self._conflicting_batch(message.batch)
        return self._resign(message, batch=batch, digest=batch_digest(batch))

    def _double_vote(self, message: Any) -> Any:
        if not isinstance(message, Prepare | Commit):
            return message
        digest = self.conflicting.get(message.digest) or _other_digest(message.digest)
        return self._resign(message, digest=digest)

    def _mutate(self, mode: str, message: Any) -> Any:
        choices = {"mutate": MUTATIONS, "mutate-view": ("view+1", "view-1"),
                   "mutate-seq": ("seq+1", "seq-1"), "mutate-digest": ("digest",)}[mode]
        mutation = choices[self.mutations % len(choices)]
        self.mutations += 1
        if mutation == "digest":
            if not hasattr(message, "digest"):
                return message
            return self._resign(message, digest=_other_digest(message.digest))
        name, step = mutation[:-2], (1 if mutation.endswith("+1") else -1)
        if not hasattr(message, name):
            return message
        return self._resign(message, **{name: max(0, getattr(message, name) + step)})
