"""Linearizability checking: Wing & Gong's search with Lowe's just-in-time linearization.

The history becomes a time-ordered list of call and return entries. The search walks it,
tentatively linearizing any call that is pending before the first unmatched return (lifting
the call and its return out of the list, dancing-links style) and backtracks when it meets a
return whose operation it could not linearize. A configuration (set of linearized operations,
model state) that was explored once is never explored again (Lowe's memoisation; the set is
kept as a 128-bit Zobrist hash, updated in O(1) per step, so memory stays linear in the number
of configurations; a collision, which could only prune a branch, has probability about
configurations^2 / 2^129). Operations
whose outcome is unknown (``info``) return "at infinity": they may take effect at any time after
their invocation, or never. Key-value histories are checked per key (P-compositionality:
a history is linearizable iff each key's sub-history is).

A search that runs past its time or step budget answers "unknown", never a pass.
"""

from __future__ import annotations

import random
import time
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prsm_validate.checker.models import (
    CAS_REGISTER,
    INVALID,
    REGISTER,
    RegisterModel,
    Transition,
    split_key,
)
from prsm_validate.checker.ops import Op, pair_operations
from prsm_validate.checker.verdict import UNKNOWN, Validity, Verdict
from prsm_validate.history import Event

MODELS: dict[str, RegisterModel] = {"register": REGISTER, "cas-register": CAS_REGISTER}
CHECK_EVERY = 1024  # search steps between budget checks; keeps the clock off the hot path
WITNESS_STATES = 5
WITNESS_NEIGHBOURS = 10
WITNESS_PATH = 8
ZOBRIST_SEED = 0x5EED  # fixed so that searches, and their step counts, are reproducible


class OutOfBudget(Exception):
    """The search ran past its deadline or step budget."""


@dataclass
class Budget:
    """A deadline and step allowance shared by every sub-search of one check."""

    seconds: float = 10.0
    max_steps: int | None = None
    deadline: float = field(init=False)
    steps: int = 0

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.seconds

    def spend(self, steps: int) -> None:
        """Account ``steps``; raise OutOfBudget when time or steps are used up."""
        self.steps += steps
        if time.monotonic() > self.deadline or (
                self.max_steps is not None and self.steps > self.max_steps):
            raise OutOfBudget


@dataclass
class SearchResult:
    """The outcome of one sub-history's search; ``stuck_*`` describe the farthest failure."""

    valid: Validity
    ops: list[Op]
    configurations: int = 0
    stuck_entry: int = -1
    stuck_op: int | None = None
    stuck_states: list[Hashable] = field(default_factory=list)
    stuck_path: list[int] = field(default_factory=list)


class _EntryList:
    """Call/return entries in time order as an array-backed doubly linked list."""

    def __init__(self, ops: Sequence[Op]) -> None:
        timed = []
        for number, op in enumerate(ops):
            timed.append((op.invoke_index, 0, number))
            # Unknown outcomes return after everything else, in invocation order.
            end = op.complete_index if op.outcome != "info" else float("inf")
            timed.append((end, 1, number))
        timed.sort()
        size = len(timed)
        self.head = size
        self.op_of = [number for _, _, number in timed]
        self.is_call = [kind == 0 for _, kind, _ in timed]
        self.match = [0] * size
        call_at: dict[int, int] = {}
        for position, (_, kind, number) in enumerate(timed):
            if kind == 0:
                call_at[number] = position
            else:
                self.match[call_at[number]] = position
        self.next = [*range(1, size), -1, 0 if size else -1]
        self.prev = [size, *range(0, size - 1), -1]

    def lift(self, call: int) -> None:
        """Remove a call and its return from the list."""
        for entry in (call, self.match[call]):
            self.next[self.prev[entry]] = self.next[entry]
            if self.next[entry] != -1:
                self.prev[self.next[entry]] = self.prev[entry]

    def unlift(self, call: int) -> None:
        """Put a lifted call and its return back (reverse order of :meth:`lift`)."""
        for entry in (self.match[call], call):
            self.next[self.prev[entry]] = entry
            if self.next[entry] != -1:
                self.prev[self.next[entry]] = entry


def search(ops: Sequence[Op], transitions: Sequence[Transition], initial: Hashable,
           budget: Budget) -> SearchResult:
    """Decide whether ``ops`` (with their transitions) have a legal linearization."""
    entries = _EntryList(ops)
    nxt, is_call, op_of = entries.next, entries.is_call, entries.op_of
    head = entries.head
    result = SearchResult(True, list(ops))
    zobrist = random.Random(ZOBRIST_SEED)
    bit = [zobrist.getrandbits(128) for _ in ops]
    seen: set[tuple[int, Hashable]] = set()
    stack: list[tuple[int, Hashable, int]] = []
    state, linearized, entry, steps = initial, 0, nxt[head], 0
    while nxt[head] != -1:
        steps += 1
        if steps == CHECK_EVERY:
            budget.spend(steps)
            steps = 0
        if is_call[entry]:
            after = transitions[op_of[entry]](state)
            if after is not INVALID:
                key = (linearized ^ bit[op_of[entry]], after)
                if key not in seen:
                    seen.add(key)
                    stack.append((entry, state, linearized))
                    state, linearized = after, key[0]
                    entries.lift(entry)
                    entry = nxt[head]
                    continue
            entry = nxt[entry]
            continue
        _note_stuck(result, entry, op_of, state, stack)
        if not stack:
            result.valid = False
            break
        entry, state, linearized = stack.pop()
        entries.unlift(entry)
        entry = nxt[entry]
    budget.spend(steps)
    result.configurations = len(seen)
    return result


def _note_stuck(result: SearchResult, entry: int, op_of: list[int], state: Hashable,
                stack: list[tuple[int, Hashable, int]]) -> None:
    # Entries are numbered in time order, so the highest stuck entry is the farthest failure:
    # the history up to that return is already non-linearizable.
    if entry > result.stuck_entry:
        result.stuck_entry, result.stuck_op = entry, op_of[entry]
        result.stuck_states = [state]
        result.stuck_path = [op_of[e] for e, _, _ in stack[-WITNESS_PATH:]]
    elif (entry == result.stuck_entry and len(result.stuck_states) < WITNESS_STATES
          and state not in result.stuck_states):
        result.stuck_states.append(state)


def operations(history: Iterable[Event] | Iterable[Op]) -> list[Op]:
    """Operations of a history given as events (paired here) or as operations already."""
    items = list(history)
    if items and isinstance(items[0], Op):
        return items  # type: ignore[return-value]
    return pair_operations(items)  # type: ignore[arg-type]


def _compile(ops: Sequence[Op], model: RegisterModel) -> tuple[list[Op], list[Transition]]:
    kept, transitions = [], []
    for op in ops:
        transition = model.transition(op)
        if transition is not None:
            kept.append(op)
            transitions.append(transition)
    return kept, transitions


def _partitions(ops: Sequence[Op], model: str) -> dict[Hashable, list[Op]]:
    if model != "kv":
        return {None: list(ops)}
    keyed: dict[Hashable, list[Op]] = {}
    for op in ops:
        key, inner = split_key(op)
        keyed.setdefault(key, []).append(inner)
    return keyed


def check_linearizable(history: Iterable[Event] | Iterable[Op], model: str = "cas-register",
                       budget_seconds: float = 10.0, max_steps: int | None = None,
                       fs: Collection[str] | None = None) -> Verdict:
    """Check a register, cas-register or kv (per-key cas-register) history for linearizability.

    ``fs`` limits the check to operations with those names (others, such as ``login`` in a
    client's history, are ignored); by default every client operation must fit the model.

    Returns a :class:`Verdict` named ``linearizable:<model>``; invalid verdicts carry the
    operation that could not be linearized, the states the object could be in just before it,
    the operations concurrent with it and the tail of the longest linearization found.
    """
    if model not in (*MODELS, "kv"):
        raise ValueError(f"unknown model {model!r}; choose register, cas-register or kv")
    started = time.monotonic()
    budget = Budget(budget_seconds, max_steps)
    ops = [op for op in operations(history) if fs is None or op.f in fs]
    register = MODELS.get(model, CAS_REGISTER)
    figures = {"ops": len(ops), "checked_ops": 0, "keys": 0, "configurations": 0}
    if not any(op.outcome == "ok" for op in ops):  # nothing completed: nothing was shown
        return _finish(Verdict(f"linearizable:{model}", UNKNOWN,
                               f"no completed operation among {len(ops)}: the workload did "
                               "not run"), figures, budget, started)
    undecided: list[Hashable] = []
    for key, part in _partitions(ops, model).items():
        figures["keys"] += 1
        kept, transitions = _compile(part, register)
        figures["checked_ops"] += len(kept)
        if undecided:  # the shared budget is spent: later keys stay undecided too
            undecided.append(key)
            continue
        try:
            result = search(kept, transitions, register.initial, budget)
        except OutOfBudget:
            undecided.append(key)
            continue
        figures["configurations"] += result.configurations
        if result.valid is False:
            return _finish(Verdict(f"linearizable:{model}", False, _reason(result, key, model),
                                   _witness(result, key, model)), figures, budget, started)
    if undecided:
        return _finish(_unknown(model, undecided, budget), figures, budget, started)
    return _finish(Verdict(f"linearizable:{model}", True,
                           f"{figures['ops']} operations linearizable"), figures, budget, started)


def _finish(verdict: Verdict, figures: dict[str, Any], budget: Budget,
            started: float) -> Verdict:
    seconds = time.monotonic() - started
    figures.update(steps=budget.steps, seconds=round(seconds, 6),
                   ops_per_second=round(figures["ops"] / seconds) if seconds > 0 else None)
    verdict.figures = figures
    return verdict


def _unknown(model: str, undecided: list[Hashable], budget: Budget) -> Verdict:
    what = "the history" if model != "kv" else f"{len(undecided)} key(s)"
    return Verdict(f"linearizable:{model}", UNKNOWN,
                   f"search budget ({budget.seconds:g} s"
                   + (f", {budget.max_steps} steps" if budget.max_steps else "")
                   + f") exhausted before deciding {what}",
                   {"undecided_keys": undecided[:20] if model == "kv" else None,
                    "budget_seconds": budget.seconds, "max_steps": budget.max_steps})


def _stuck(result: SearchResult) -> Op:
    assert result.stuck_op is not None
    return result.ops[result.stuck_op]


def _reason(result: SearchResult, key: Hashable, model: str) -> str:
    op = _stuck(result)
    where = f" on key {key!r}" if model == "kv" else ""
    called = f"{op.f} {op.value!r}" if op.value is not None else op.f
    seen = f" -> {op.output!r}" if op.outcome == "ok" else f" ({op.outcome})"
    states = ", ".join(repr(s) for s in sorted(result.stuck_states, key=repr))
    return (f"{called}{seen} by process {op.process} (events {op.invoke_index}-"
            f"{op.complete_index}){where} cannot be linearized: the value could only be "
            f"{states} then")


def _witness(result: SearchResult, key: Hashable, model: str) -> dict[str, Any]:
    op = _stuck(result)
    concurrent = _concurrent(result.ops, op)
    witness = {
        "op": op.to_json(),
        "states": result.stuck_states,
        "concurrent": [o.to_json() for o in concurrent[:WITNESS_NEIGHBOURS]],
        "concurrent_total": len(concurrent),
        "linearized_before": [result.ops[i].to_json() for i in result.stuck_path],
        "prefix_ops": sum(1 for other in result.ops if other.invoke_index < _end(op)),
    }
    if model == "kv":
        witness["key"] = key
    return witness


def _end(op: Op) -> float:
    # An operation with unknown outcome may take effect at any time after its invocation.
    return float("inf") if op.outcome == "info" else float(op.complete_index or 0)


def _concurrent(ops: Sequence[Op], op: Op) -> list[Op]:
    """Operations that could have taken effect while ``op`` was in flight, nearest first."""
    overlapping = [other for other in ops if other is not op
                   and other.invoke_index < _end(op) and _end(other) > op.invoke_index]
    return sorted(overlapping, key=lambda other: abs(other.invoke_index - op.invoke_index))
