"""Operations: a history's invoke events paired with their completions.

Checkers reason about operations, not events. Pairing also validates the history's shape:
indices strictly increase, times never go backwards, a process has at most one operation in
flight, and a process whose operation ended in ``info`` is never reused. Operations still in
flight when the history ends are indeterminate, exactly like ``info``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from prsm_validate.errors import UsageProblem
from prsm_validate.history import Event

NEMESIS_PROCESSES = frozenset({"nemesis", ":nemesis"})


class HistoryError(UsageProblem, ValueError):
    """A history that is not well formed; ``index`` is the offending event's index."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True, slots=True)
class Op:
    """One client operation: its invocation and how (or whether) it completed."""

    process: Any
    f: str
    value: Any
    outcome: str  # ok | fail | info (info also for "never completed")
    output: Any
    invoke_index: int
    complete_index: int | None
    invoke_time: int
    complete_time: int | None
    error: Any = None

    def to_json(self) -> dict[str, Any]:
        """Compact JSON form used in witnesses."""
        data = {"process": self.process, "f": self.f, "value": self.value,
                "outcome": self.outcome, "output": self.output,
                "invoke_index": self.invoke_index, "complete_index": self.complete_index}
        if self.error is not None:
            data["error"] = self.error
        return data


def is_client(event: Event) -> bool:
    """True for client events; the nemesis's fault records are not client operations."""
    return str(event.process) not in NEMESIS_PROCESSES


def pair_operations(events: Iterable[Event]) -> list[Op]:
    """Pair invocations with completions, in invocation order; raise HistoryError if malformed."""
    pending: dict[Any, Event] = {}
    crashed: set[Any] = set()
    done: list[Op] = []
    previous: Event | None = None
    for event in events:
        _check_order(previous, event)
        previous = event
        if is_client(event):
            _pair_one(event, pending, crashed, done)
    done.extend(_op(invoke, None) for invoke in pending.values())
    done.sort(key=lambda op: op.invoke_index)
    return done


def _check_order(previous: Event | None, event: Event) -> None:
    if previous is None:
        return
    if event.index <= previous.index:
        raise HistoryError(f"event index {event.index} does not increase "
                           f"(follows {previous.index})", event.index)
    if event.time < previous.time:
        raise HistoryError(f"event {event.index}: time {event.time} goes backwards "
                           f"(previous {previous.time})", event.index)


def _pair_one(event: Event, pending: dict[Any, Event], crashed: set[Any],
              done: list[Op]) -> None:
    process = event.process
    if event.type == "invoke":
        if process in pending:
            raise HistoryError(f"event {event.index}: process {process} invokes while its "
                               f"operation {pending[process].index} is in flight", event.index)
        if process in crashed:
            raise HistoryError(f"event {event.index}: process {process} reused after an info "
                               f"(unknown) outcome", event.index)
        pending[process] = event
        return
    invoke = pending.pop(process, None)
    if invoke is None:
        raise HistoryError(f"event {event.index}: {event.type} of process {process} "
                           f"without an invocation", event.index)
    if invoke.f != event.f:
        raise HistoryError(f"event {event.index}: completes {event.f!r} but process {process} "
                           f"invoked {invoke.f!r}", event.index)
    if event.type == "info":
        crashed.add(process)
    done.append(_op(invoke, event))


def _op(invoke: Event, completion: Event | None) -> Op:
    if completion is None:
        return Op(invoke.process, invoke.f, invoke.value, "info", None, invoke.index, None,
                  invoke.time, None, "never completed")
    return Op(invoke.process, invoke.f, invoke.value, completion.type, completion.value,
              invoke.index, completion.index, invoke.time, completion.time,
              completion.extra.get("error"))


def by_outcome(ops: Sequence[Op], outcome: str) -> list[Op]:
    """The operations that completed with ``outcome``."""
    return [op for op in ops if op.outcome == outcome]
