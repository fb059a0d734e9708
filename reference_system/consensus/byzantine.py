"""Byzantine behaviours: wrappers over the honest core's outputs, opt-in per node.

The honest :class:`~.replica.Replica` has no fault branches. :class:`ByzantineReplica` runs it
and rewrites what it sends, towards chosen receivers (all peers when none are named):

- ``equivocate``: as primary, send a conflicting, validly signed PRE-PREPARE (other batch,
  same view and sequence) to the targets;
- ``double-vote``: send PREPARE/COMMIT for a different digest to the targets;
- ``corrupt-sig``: flip bits in the signature of every signed message to the targets;
- ``mutate`` (or ``mutate-view``, ``mutate-seq``, ``mutate-digest``): small-scope mutation
  of view +-1, sequence +-1 or digest swap, re-signed so only the content is wrong;
- ``silence``: send nothing to the targets;
- ``replay``: also send the targets a message this replica sent earlier.

Specs parse from ``MODE[:peer,peer]`` (``--byzantine`` of ``prsm-ref node``). Twins need no
code here: two processes started with the same id and key file, different listen addresses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from reference_system.consensus.crypto import sign_message
from reference_system.consensus.events import Broadcast, Event, Output, Send
from reference_system.consensus.messages import SIGNED, Commit, Prepare, PrePrepare, batch_digest
from reference_system.consensus.replica import Replica

MODES = ("equivocate", "double-vote", "corrupt-sig", "mutate", "mutate-view", "mutate-seq",
         "mutate-digest", "silence", "replay")
MUTATIONS = ("view+1", "view-1", "seq+1", "seq-1", "digest")


@dataclass(frozen=True)
class ByzantineSpec:
    """One behaviour and the receivers it targets (None = every peer)."""

    mode: str
    targets: frozenset[int] | None = None

    def applies_to(self, receiver: int) -> bool:
        """Whether messages to ``receiver`` are affected."""
        return self.targets is None or receiver in self.targets


def parse_spec(text: str) -> ByzantineSpec:
    """Parse ``MODE[:peer,peer]``; raises ValueError naming the allowed modes."""
    mode, _, peers = text.partition(":")
    if mode not in MODES:
        raise ValueError(f"unknown byzantine mode {mode!r}; choose from {', '.join(MODES)}")
    targets = frozenset(int(p) for p in peers.split(",") if p.strip()) if peers else None
    return ByzantineSpec(mode, targets)


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

    def __getattr__(self, name: str) -> Any:
        # Introspection (status, view, last_executed...) reads the wrapped replica.
        return getattr(self.honest, name)

    def step(self, event: Event) -> list[Output]:
        """Step the honest core, then misbehave on what it sends."""
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
            result.extend(self._misbehave(send))
            self.sent.append(send.message)
        return result

    def _misbehave(self, send: Send) -> list[Output]:
        messages = [send.message]
        for spec in self.specs:
            if spec.applies_to(send.to):
                messages = [m for old in messages for m in self._apply(spec.mode, old)]
        return [Send(send.to, m) for m in messages]

    def _apply(self, mode: str, message: Any) -> list[Any]:
        if mode == "silence":
            return []
        if mode == "replay":
            return [message, self.rng.choice(self.sent)] if self.sent else [message]
        if not isinstance(message, SIGNED):
            return [message]
        if mode == "corrupt-sig":
            return [dataclasses.replace(message, sig=bytes(b ^ 0x5A for b in message.sig))]
        if mode == "equivocate":
            return [self._equivocate(message)]
        if mode == "double-vote":
            return [self._double_vote(message)]
        return [self._mutate(mode, message)]

    def _resign(self, message: Any, **changes: Any) -> Any:
        return sign_message(dataclasses.replace(message, **changes), self.honest.keyring)

    def _equivocate(self, message: Any) -> Any:
        if not isinstance(message, PrePrepare) or not message.batch:
            return message
        batch = message.batch[::-1] if len(message.batch) > 1 else ()
        return self._resign(message, batch=batch, digest=batch_digest(batch))

    def _double_vote(self, message: Any) -> Any:
        if not isinstance(message, Prepare | Commit):
            return message
        return self._resign(message, digest=_other_digest(message.digest))

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
