"""A PBFT replica's state: plain dataclasses, one per concern, built in one place.

:class:`ReplicaState` holds the replica's identity, keys and state machine, and one part per
concern: :class:`Log` (the normal case: queued requests, slots, certificates, execution),
:class:`Views` (the current view and the view change), :class:`Checkpoints` (stable
checkpoint, own snapshots, votes) and :class:`Catchup` (noticing it is behind, fetching
state). The transition modules (:mod:`.normal`, :mod:`.checkpoints`, :mod:`.viewchange`,
:mod:`.recovery`) are functions over this state; what they emit collects in
``ReplicaState.out`` until :meth:`~.replica.Replica.step` returns it. This module imports no
transition module, so they import it without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reference_system.consensus.certs import primary_of
from reference_system.consensus.crypto import Keyring, ReplicaMacs, sign_message, verify_message
from reference_system.consensus.events import Output, SetTimer
from reference_system.consensus.messages import (
    Checkpoint,
    Commit,
    CommittedEntry,
    NewView,
    Prepare,
    PreparedCert,
    PrePrepare,
    Request,
    ViewChange,
)
from reference_system.consensus.state_machine import Mark, StateMachine

VIEW_CHANGE_TIMER = "view_change"
CATCHUP_TIMER = "catchup"
RESYNC_TIMER = "resync"
BATCH_TIMER = "batch"


@dataclass(frozen=True)
class ReplicaParams:
    """Protocol parameters shared by all replicas of a cluster (times in seconds)."""

    n: int
    checkpoint_interval: int = 32
    max_batch: int = 256
    max_inflight: int = 4
    batch_delay: float = 0.002  # a batch not full waits this long while another is in flight
    view_change_timeout: float = 1.0
    catchup_timeout: float = 0.3
    resync_interval: float = 1.0
    fetch_limit: int = 128

    @property
    def f(self) -> int:
        """Faults tolerated: (n - 1) // 3."""
        return (self.n - 1) // 3

    @property
    def window(self) -> int:
        """L, the distance between the low and high watermarks (two checkpoint intervals)."""
        return 2 * self.checkpoint_interval


class Slot:
    """Log entry for one (view, seq): the pre-prepare and votes grouped by digest."""

    __slots__ = ("commits", "committed", "pre_prepare", "prepared", "prepares")

    def __init__(self) -> None:
        self.pre_prepare: PrePrepare | None = None
        self.prepares: dict[str, dict[int, Prepare]] = {}
        self.commits: dict[str, dict[int, Commit]] = {}
        self.prepared = False
        self.committed = False


@dataclass(slots=True)
class Log:
    """The normal case: requests waiting and ordered, the slots, certificates, execution."""

    last_executed: int = 0
    next_seq: int = 0
    slots: dict[tuple[int, int], Slot] = field(default_factory=dict)
    prepared_certs: dict[int, PreparedCert] = field(default_factory=dict)
    committed: dict[int, CommittedEntry] = field(default_factory=dict)
    queue: dict[tuple[str, int], Request] = field(default_factory=dict)
    in_progress: dict[tuple[str, int], Request] = field(default_factory=dict)
    batch_timer_armed: bool = False
    batch_due: bool = False  # the batch timer fired: propose what is queued


@dataclass(slots=True)
class Views:
    """The current view, and the VIEW-CHANGE / NEW-VIEW state of moving to another."""

    view: int = 0
    view_active: bool = True
    installed_view: int = 0
    view_changes: dict[int, dict[int, ViewChange]] = field(default_factory=dict)
    helped: set[tuple[int, int, bool]] = field(default_factory=set)  # (replica, view, NEW-VIEW?)
    new_view: NewView | None = None
    vc_attempts: int = 0
    vc_timer_armed: bool = False


@dataclass(slots=True)
class Checkpoints:
    """The stable checkpoint (the low watermark), own snapshots at or above it, the votes."""

    stable_seq: int
    stable_digest: str
    snapshots: dict[int, Mark]
    stable_proof: tuple[Checkpoint, ...] = ()
    votes: dict[int, dict[str, dict[int, Checkpoint]]] = field(default_factory=dict)
    snapshot_cache: tuple[int, bytes] = (-1, b"")


@dataclass(slots=True)
class Catchup:
    """Catch-up: how far behind the evidence says we are, and the fetch and resync timers."""

    seq: int = 0
    view: int = 0
    target: tuple[int, int] = (0, 0)
    armed: bool = False
    fetch_rounds: int = 0
    resync_seen: int = -1


@dataclass(slots=True)
class ReplicaState:
    """Everything one replica knows, and the outputs of the event being processed."""

    id: int
    params: ReplicaParams
    n: int
    f: int
    keyring: Keyring
    macs: ReplicaMacs
    machine: StateMachine
    log: Log
    views: Views
    checkpoints: Checkpoints
    catchup: Catchup
    out: list[Output] = field(default_factory=list)
    replaying: bool = False  # replaying the durable log: replies were sent before the restart

    @classmethod
    def initial(cls, replica_id: int, params: ReplicaParams, keyring: Keyring,
                macs: ReplicaMacs, machine: StateMachine) -> ReplicaState:
        """A replica at genesis: view 0, nothing executed, the genesis checkpoint stable."""
        genesis = machine.mark()
        return cls(replica_id, params, params.n, params.f, keyring, macs, machine, Log(),
                   Views(), Checkpoints(0, genesis.digest, {0: genesis}), Catchup())

    @property
    def primary(self) -> int:
        """The primary of the current view."""
        return primary_of(self.views.view, self.n)

    @property
    def is_primary(self) -> bool:
        """Whether this replica leads the current, installed view."""
        return self.views.view_active and self.primary == self.id

    def emit(self, output: Output) -> None:
        """Add an output of the event being processed."""
        self.out.append(output)

    def sign(self, message: Any) -> Any:
        """``message`` signed with this replica's key."""
        return sign_message(message, self.keyring)

    def in_window(self, seq: int) -> bool:
        """Whether ``seq`` lies between the low and high watermarks."""
        low = self.checkpoints.stable_seq
        return low < seq <= low + self.params.window

    def slot(self, view: int, seq: int) -> Slot:
        """The log entry for (view, seq), created empty when new."""
        slot = self.log.slots.get((view, seq))
        if slot is None:
            slot = self.log.slots[(view, seq)] = Slot()
        return slot

    def executed_already(self, request: Request) -> bool:
        """Whether the reply cache shows ``request`` (or a later one of its client) executed."""
        cached = self.machine.replies.get(request.client)
        return cached is not None and request.timestamp <= cached[0]

    def pending_work(self) -> bool:
        """Whether requests wait to be ordered or executed."""
        return bool(self.log.queue or self.log.in_progress)


def hint_behind(r: ReplicaState, seq: int, view: int) -> None:
    """Signed evidence says the cluster reached ``seq`` / ``view``: arm the catch-up timer."""
    c = r.catchup
    c.seq = max(c.seq, seq)
    c.view = max(c.view, view)
    if not c.armed:
        c.armed = True
        c.target = (c.seq, c.view)
        r.emit(SetTimer(CATCHUP_TIMER, r.params.catchup_timeout))


def hint_from(r: ReplicaState, message: Any, seq: int) -> None:
    """A message we cannot use now; if it is signed and ahead of us, we are behind."""
    ahead = (message.view > r.views.view
             or seq > r.checkpoints.stable_seq + r.params.window)
    if ahead and verify_message(message, r.keyring):
        hint_behind(r, seq, message.view)
