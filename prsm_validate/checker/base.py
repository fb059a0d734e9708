"""The checker role as a small protocol (Jepsen's ``Checker``), with plain implementations.

History checkers take a history and return a :class:`Verdict`; :class:`Compose` runs several
on the same history and merges them by priority. Checkers whose input is node state (ledger,
agreement, recovery) are plain functions in their own modules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from prsm_validate.checker.linear import check_linearizable
from prsm_validate.checker.sets import check_set, check_total_queue
from prsm_validate.checker.verdict import Verdict, compose
from prsm_validate.history import Event


class HistoryChecker(Protocol):
    """Decides a property of a history."""

    def check(self, history: Iterable[Event]) -> Verdict:
        """The verdict on ``history``."""
        ...


@dataclass(frozen=True)
class Linearizable:
    """Linearizability against ``model`` (register, cas-register or kv)."""

    model: str = "cas-register"
    budget_seconds: float = 10.0
    fs: frozenset[str] | None = None

    def check(self, history: Iterable[Event]) -> Verdict:
        """See :func:`check_linearizable`."""
        return check_linearizable(history, self.model, self.budget_seconds, fs=self.fs)


@dataclass(frozen=True)
class SetFull:
    """Every acknowledged add present exactly once in the final read (:func:`check_set`)."""

    read_f: str = "read"

    def check(self, history: Iterable[Event]) -> Verdict:
        """See :func:`check_set`."""
        return check_set(history, read_f=self.read_f)


@dataclass(frozen=True)
class TotalQueue:
    """Every acknowledged enqueue dequeued or drained exactly once."""

    def check(self, history: Iterable[Event]) -> Verdict:
        """See :func:`check_total_queue`."""
        return check_total_queue(history)


@dataclass(frozen=True)
class Compose:
    """Several checkers on one history, merged false > unknown > true."""

    checkers: tuple[HistoryChecker, ...]
    name: str = "compose"

    def check(self, history: Iterable[Event]) -> Verdict:
        """Every checker's verdict, composed."""
        events = list(history)
        return compose((checker.check(events) for checker in self.checkers), self.name)
