"""Inputs to and outputs of the sans-IO replica core (``Replica.step``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reference_system.consensus.messages import (
    Checkpoint,
    CommittedEntry,
    Message,
    Reply,
    Request,
)


@dataclass(frozen=True, slots=True)
class Receive:
    """A message arrived (from a client or a replica; its content names the sender)."""

    message: Message


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer set earlier with :class:`SetTimer` expired."""

    name: str


@dataclass(frozen=True, slots=True)
class Start:
    """The replica (re)started: ask peers for anything it missed."""


Event = Receive | TimerFired | Start


@dataclass(frozen=True, slots=True, eq=False)
class Send:
    """Send a message to one replica."""

    to: int
    message: Message


@dataclass(frozen=True, slots=True, eq=False)
class Broadcast:
    """Send a message to every other replica."""

    message: Message


@dataclass(frozen=True, slots=True, eq=False)
class SendReply:
    """Send a REPLY to a client."""

    reply: Reply


@dataclass(frozen=True, slots=True)
class SetTimer:
    """(Re)arm timer ``name`` to fire after ``duration`` seconds, replacing any earlier one."""

    name: str
    duration: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Disarm timer ``name`` if armed."""

    name: str


@dataclass(frozen=True, slots=True, eq=False)
class Executed:
    """A committed batch executed: the durable log and introspection record this."""

    entry: CommittedEntry
    results: tuple[Any, ...]

    @property
    def seq(self) -> int:
        """The sequence number executed."""
        return self.entry.pre_prepare.seq

    @property
    def view(self) -> int:
        """The view it committed in."""
        return self.entry.pre_prepare.view

    @property
    def digest(self) -> str:
        """The batch digest."""
        return self.entry.pre_prepare.digest

    @property
    def batch(self) -> tuple[Request, ...]:
        """The requests, in execution order."""
        return self.entry.pre_prepare.batch


@dataclass(frozen=True, slots=True, eq=False)
class CheckpointStable:
    """Checkpoint ``seq`` became stable with a 2f+1 proof; the log below it was collected."""

    seq: int
    state_digest: str
    proof: tuple[Checkpoint, ...]


@dataclass(frozen=True, slots=True, eq=False)
class StateInstalled:
    """State transfer installed the snapshot of a stable checkpoint."""

    seq: int
    snapshot: bytes
    proof: tuple[Checkpoint, ...]


@dataclass(frozen=True, slots=True)
class ViewInstalled:
    """The replica entered view ``view`` (after NEW-VIEW)."""

    view: int


@dataclass(frozen=True, slots=True)
class ViewChangeStarted:
    """The replica voted to move to view ``view``."""

    view: int


Output = (Send | Broadcast | SendReply | SetTimer | CancelTimer | Executed | CheckpointStable
          | StateInstalled | ViewInstalled | ViewChangeStarted)
