"""The sans-IO PBFT replica (Castro & Liskov, OSDI '99 / TOCS 2002).

``Replica.step(event) -> list[Output]`` is the only entry point: an inbound message, a timer
firing or a (re)start goes in; messages to send, replies, timer requests and execution records
come out. No sockets, no clock, no randomness: a seeded simulation and the asyncio node drive
the same object.

The replica is its state (:mod:`.state`: plain dataclasses, one per concern, built in one
place) and transition functions over it, one module per concern: batching of requests into
PRE-PREPAREs (:mod:`.batching`), the normal case's three phases and execution
(:mod:`.normal`), checkpoints and garbage collection (:mod:`.checkpoints`), view change
(:mod:`.viewchange`), and catch-up, state transfer and restore from the durable log
(:mod:`.recovery`). This module only dispatches events to them and answers introspection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reference_system.consensus import normal, recovery, viewchange
from reference_system.consensus.batching import on_batch_timer
from reference_system.consensus.checkpoints import on_checkpoint
from reference_system.consensus.crypto import Keyring, ReplicaMacs
from reference_system.consensus.events import Event, Executed, Output, Receive, Start, TimerFired
from reference_system.consensus.messages import (
    Checkpoint,
    Commit,
    CommittedEntry,
    Fetch,
    NewView,
    Prepare,
    PrePrepare,
    Request,
    State,
    ViewChange,
)
from reference_system.consensus.state import (
    BATCH_TIMER,
    CATCHUP_TIMER,
    RESYNC_TIMER,
    VIEW_CHANGE_TIMER,
    ReplicaParams,
    ReplicaState,
    Slot,
)
from reference_system.consensus.state_machine import StateMachine

__all__ = ["BATCH_TIMER", "CATCHUP_TIMER", "RESYNC_TIMER", "VIEW_CHANGE_TIMER", "Replica",
           "ReplicaParams", "Slot"]

_Transition = Callable[[ReplicaState, Any], None]

HANDLERS: dict[type, _Transition] = {
    Request: normal.on_request,
    PrePrepare: normal.on_pre_prepare,
    Prepare: normal.on_prepare,
    Commit: normal.on_commit,
    Checkpoint: on_checkpoint,
    ViewChange: viewchange.on_view_change,
    NewView: viewchange.on_new_view,
    Fetch: recovery.on_fetch,
    State: recovery.on_state,
}

TIMERS: dict[str, Callable[[ReplicaState], None]] = {
    VIEW_CHANGE_TIMER: viewchange.on_view_change_timer,
    CATCHUP_TIMER: recovery.on_catchup_timer,
    RESYNC_TIMER: recovery.on_resync_timer,
    BATCH_TIMER: on_batch_timer,
}


class Replica:
    """One PBFT replica's protocol state; drive it with :meth:`step`."""

    def __init__(self, replica_id: int, params: ReplicaParams, keyring: Keyring,
                 macs: ReplicaMacs, machine: StateMachine) -> None:
        self.state = ReplicaState.initial(replica_id, params, keyring, macs, machine)

    # ---- entry point -------------------------------------------------------------------

    def step(self, event: Event) -> list[Output]:
        """Process one event; return what the environment must do."""
        state = self.state
        state.out = []
        if isinstance(event, Receive):
            handler = HANDLERS.get(type(event.message))
            if handler is not None:
                handler(state, event.message)
        elif isinstance(event, TimerFired):
            on_timer = TIMERS.get(event.name)
            if on_timer is not None:
                on_timer(state)
        elif isinstance(event, Start):
            recovery.on_start(state)
        return state.out

    # ---- restore from this node's own durable log --------------------------------------

    def restore_snapshot(self, seq: int, snapshot: bytes, proof: tuple[Checkpoint, ...]) -> None:
        """Replay a state-transfer record from the durable log (verified when it was
        installed, so its certified digest is taken as it stands)."""
        recovery.restore_snapshot(self.state, seq, snapshot, proof)

    def restore_executed(self, entry: CommittedEntry) -> list[Executed]:
        """Replay an executed entry from the durable log (re-executes it, sends nothing);
        returns the executions it redid, with their results."""
        return recovery.restore_executed(self.state, entry)

    def restore_stable(self, seq: int, digest: str, proof: tuple[Checkpoint, ...]) -> None:
        """Replay a stable-checkpoint record from the durable log."""
        recovery.restore_stable(self.state, seq, digest, proof)

    def restore_view(self, view: int) -> None:
        """Replay the last installed view from the durable log."""
        recovery.restore_view(self.state, view)

    # ---- introspection -----------------------------------------------------------------

    @property
    def id(self) -> int:
        """This replica's number, 0 .. n-1."""
        return self.state.id

    @property
    def params(self) -> ReplicaParams:
        """The cluster's protocol parameters."""
        return self.state.params

    @property
    def n(self) -> int:
        """Replicas in the cluster."""
        return self.state.n

    @property
    def f(self) -> int:
        """Faults tolerated (the quorums are 2f and 2f+1)."""
        return self.state.f

    @f.setter
    def f(self, f: int) -> None:
        self.state.f = f

    @property
    def keyring(self) -> Keyring:
        """This replica's signing key and its peers' public keys."""
        return self.state.keyring

    @property
    def machine(self) -> StateMachine:
        """The replicated state machine (replaced when a snapshot is installed)."""
        return self.state.machine

    @property
    def view(self) -> int:
        """The current view (being installed while :attr:`view_active` is false)."""
        return self.state.views.view

    @view.setter
    def view(self, view: int) -> None:
        self.state.views.view = view

    @property
    def view_active(self) -> bool:
        """Whether the current view is installed (normal-case processing runs)."""
        return self.state.views.view_active

    @property
    def installed_view(self) -> int:
        """The last view whose NEW-VIEW this replica installed."""
        return self.state.views.installed_view

    @property
    def last_executed(self) -> int:
        """The highest sequence number executed."""
        return self.state.log.last_executed

    @property
    def stable_seq(self) -> int:
        """The stable checkpoint's sequence number (the low watermark)."""
        return self.state.checkpoints.stable_seq

    @property
    def primary(self) -> int:
        """The primary of the current view."""
        return self.state.primary

    @property
    def is_primary(self) -> bool:
        """Whether this replica leads the current, installed view."""
        return self.state.is_primary

    def status(self) -> dict[str, Any]:
        """Introspection: what ``GET /status`` reports."""
        state, low = self.state, self.state.checkpoints.stable_seq
        return {"id": state.id, "view": state.views.view, "primary": state.primary,
                "view_active": state.views.view_active,
                "last_executed": state.log.last_executed,
                "stable_checkpoint": low,
                "state_digest": state.machine.digest(),
                "stable_digest": state.checkpoints.stable_digest,
                "low_watermark": low,
                "high_watermark": low + state.params.window}
