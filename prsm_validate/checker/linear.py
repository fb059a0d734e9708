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

import itertools
import random
import time
from array import array
from collections.abc import Collection, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prsm_validate.checker.models import (
    CAS_REGISTER,
    INVALID,
    REGISTER,
    RegisterModel,
    Transition,
    freeze,
    split_key,
)
from prsm_validate.checker.ops import Op, pair_operations
from prsm_validate.checker.verdict import UNKNOWN, Validity, Verdict
from prsm_validate.errors import PrsmError
from prsm_validate.history import Event

MODELS: dict[str, RegisterModel] = {"register": REGISTER, "cas-register": CAS_REGISTER}
CHECK_EVERY = 1024  # search steps between budget checks; keeps the clock off the hot path
READ_CHECK_EVERY = 4096  # events read between deadline checks
WITNESS_STATES = 5
WITNESS_NEIGHBOURS = 10
WITNESS_PATH = 8
ZOBRIST_SEED = 0x5EED  # fixed so that searches, and their step counts, are reproducible


class OutOfBudget(PrsmError):
    """The search ran past its deadline or step budget."""


@dataclass
class Budget:
    """A deadline and a step allowance shared by every sub-search of one check.

    ``seconds=None`` sets no deadline: a check bounded by ``max_steps`` alone gives the same
    verdict on a busy machine as on an idle one (known-answer tests use that).
    """

    seconds: float | None = 10.0
    max_steps: int | None = None
    deadline: float = field(init=False)
    steps: int = 0

    def __post_init__(self) -> None:
        self.deadline = (float("inf") if self.seconds is None
                         else time.monotonic() + self.seconds)

    def spend(self, steps: int) -> None:
        """Account ``steps``; raise OutOfBudget when time or steps are used up."""
        self.steps += steps
        if time.monotonic() > self.deadline or (
                self.max_steps is not None and self.steps > self.max_steps):
            raise OutOfBudget

    def describe(self) -> str:
        """The limits, for a verdict's reason."""
        limits = [] if self.seconds is None else [f"{self.seconds:g} s"]
        if self.max_steps is not None:
            limits.append(f"{self.max_steps} steps")
        return ", ".join(limits) or "unlimited"


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
    """Call/return entries in time order as an array-backed doubly linked list.

    Machine-word arrays rather than lists: a list holds a separate int object per entry,
    four times the memory of the array on a history of a million events.
    """

    def __init__(self, ops: Sequence[Op]) -> None:
        # Unknown outcomes return after everything else, in invocation order.
        infinity = 1 + max((op.complete_index or 0 for op in ops), default=0)
        infinity = max(infinity, 1 + max((op.invoke_index for op in ops), default=0))
        keys = array("q")
        for op in ops:
            keys.append(2 * op.invoke_index)
            end = op.complete_index if op.outcome != "info" else infinity + op.invoke_index
            keys.append(2 * end + 1)  # a return sorts after a call at the same index
        order = sorted(range(len(keys)), key=keys.__getitem__)
        del keys
        size = len(order)
        self.ops = ops
        self.head = size
        self.op_of = array("q", (entry >> 1 for entry in order))
        self.is_call = bytearray(not entry & 1 for entry in order)
        self.match = array("q", bytes(8 * size))
        call_at = array("q", bytes(8 * len(ops)))
        for position, entry in enumerate(order):
            if entry & 1:
                self.match[call_at[entry >> 1]] = position
            else:
                call_at[entry >> 1] = position
        del order
        self.next = array("q", range(1, size + 2))  # next[head] is the first entry
        self.next[size] = 0 if size else -1
        if size:
            self.next[size - 1] = -1
        self.prev = array("q", range(-1, size))
        self.prev[0] = size
        self.prev[size] = -1

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
           budget: Budget, observers: Sequence[bool] | None = None) -> SearchResult:
    """Decide whether ``ops`` (with their transitions) have a legal linearization.

    A configuration is (operations linearized, state). The search below is one loop (a
    function call per step would double its cost); these rules keep it small without
    changing its answer:

    - a configuration met before is not explored again (Lowe's memoisation);
    - an operation that only observes (``observers[i]``: where legal, it leaves the state as
      it was) and is legal now is linearized now, with no alternative tried: moving it
      earlier in any linearization keeps every later state and every real-time order;
    - operations with unknown outcomes (``info``) may take effect at any time after their
      call, or never: they are tried only after every operation of known outcome, and the
      search succeeds as soon as all of those are linearized;
    - ``info`` operations with the same call (hence transition) are interchangeable once
      invoked, so one is linearized only after every earlier one: the search counts how
      many of each took effect, not which.
    """
    entries = _EntryList(ops)
    nxt, prv, is_call, op_of, match = (entries.next, entries.prev, entries.is_call,
                                       entries.op_of, entries.match)
    head = entries.head
    result = SearchResult(True, list(ops))
    zobrist = random.Random(ZOBRIST_SEED)
    bit = [zobrist.getrandbits(128) for _ in ops]
    observer = list(observers) if observers is not None else [False] * len(ops)
    unknown = bytearray(op.outcome == "info" for op in ops)
    twin = _earlier_twins(ops)
    done = bytearray(len(ops))
    # A configuration is kept as one int: the Zobrist hash of the linearized set xor a
    # random code of the state (a set of ints takes a third of the memory of tuples).
    codes: dict[Hashable, int] = {}
    seen: set[int] = set()
    stack: list[tuple[int, Hashable, int]] = []
    state, linearized, entry, steps = initial, 0, nxt[head], 0
    known_left = len(ops) - sum(unknown)
    unknown_turn = False  # scanning for info calls: every known-outcome call was tried
    while known_left:
        steps += 1
        if steps == CHECK_EVERY:
            budget.spend(steps)
            steps = 0
        if is_call[entry]:
            op = op_of[entry]
            if unknown[op] != unknown_turn:
                entry = nxt[entry]
                continue
            earlier = twin[op]
            if earlier >= 0 and not done[earlier]:
                entry = nxt[entry]
                continue
            after = transitions[op](state)
            if after is INVALID:
                entry = nxt[entry]
                continue
            code = codes.get(after)
            if code is None:
                code = codes[after] = zobrist.getrandbits(128)
            key = linearized ^ bit[op] ^ code
            if key not in seen:
                seen.add(key)
                stack.append((entry, state, linearized))
                done[op] = 1
                known_left -= not unknown_turn
                state, linearized = after, linearized ^ bit[op]
                for lifted in (entry, match[entry]):  # lift the call and its return
                    nxt[prv[lifted]] = nxt[lifted]
                    if nxt[lifted] != -1:
                        prv[nxt[lifted]] = prv[lifted]
                entry, unknown_turn = nxt[head], False
                continue
            if not observer[op]:
                entry = nxt[entry]
                continue
            # A legal observer whose configuration failed: this one fails too.
        elif not unknown_turn:
            entry, unknown_turn = nxt[head], True  # now the info calls before this return
            continue
        else:
            _note_stuck(result, entry, op_of, state, stack)
        resumed = _backtrack(entries, stack, done, observer)
        if resumed is None:
            result.valid = False
            break
        undone, state, linearized, known_undone = resumed
        entry, unknown_turn = nxt[undone], bool(unknown[op_of[undone]])
        known_left += known_undone
    budget.spend(steps)
    result.configurations = len(seen)
    return result


def _backtrack(entries: _EntryList, stack: list[tuple[int, Hashable, int]],
               done: bytearray, observer: Sequence[bool]
               ) -> tuple[int, Hashable, int, int] | None:
    """Undo linearizations up to the latest one with an alternative: (its call entry, the
    state and linearized set before it, how many operations of known outcome were undone);
    None when no linearization is left to undo.

    Undoing an observer goes on to the one before it: it was legal where it was tried, so
    its parent configuration failed too (see :func:`search`). Observers have known outcomes.
    """
    known_undone = 0
    while stack:
        entry, state, linearized = stack.pop()
        entries.unlift(entry)
        op = entries.op_of[entry]
        done[op] = 0
        if not observer[op]:
            return entry, state, linearized, known_undone + (entries.ops[op].outcome != "info")
        known_undone += 1
    return None


def _earlier_twins(ops: Sequence[Op]) -> list[int]:
    """For each operation with an unknown outcome, the previous one (by invocation) with
    the same call, hence the same transition; -1 for the first of each and for the others."""
    last: dict[Hashable, int] = {}
    twins = [-1] * len(ops)
    for number in sorted(range(len(ops)), key=lambda i: ops[i].invoke_index):
        op = ops[number]
        if op.outcome == "info":
            kind = (op.f, freeze(op.value))
            twins[number] = last.get(kind, -1)
            last[kind] = number
    return twins


def _note_stuck(result: SearchResult, entry: int, op_of: list[int], state: Hashable,
                stack: list[tuple[int, Hashable, int]]) -> None:
    # Entries are numbered in time order, so the highest stuck entry is the farthest failure:
    # the history up to that return is already non-linearizable.
    if entry > result.stuck_entry:
        result.stuck_entry, result.stuck_op = entry, op_of[entry]
        result.stuck_states = [state]
        result.stuck_path = [op_of[frame[0]] for frame in stack[-WITNESS_PATH:]]
    elif (entry == result.stuck_entry and len(result.stuck_states) < WITNESS_STATES
          and state not in result.stuck_states):
        result.stuck_states.append(state)


def operations(history: Iterable[Event] | Iterable[Op],
               budget: Budget | None = None) -> list[Op]:
    """Operations of a history given as events (paired here) or as operations already.

    Events may come from a generator reading a file: they are paired as they arrive, and the
    ``budget``'s deadline is checked while reading, so a huge file cannot outlast it.
    """
    items = iter(history)
    first = next(items, None)
    if first is None:
        return []
    if isinstance(first, Op):
        return [first, *items]  # type: ignore[list-item]
    events = itertools.chain([first], items)
    if budget is not None:
        events = _watched(events, budget)  # type: ignore[assignment]
    return pair_operations(events)  # type: ignore[arg-type]


def _watched(events: Iterator[Event], budget: Budget) -> Iterator[Event]:
    for count, event in enumerate(events, 1):
        if not count % READ_CHECK_EVERY:
            budget.spend(0)
        yield event


def _compile(ops: Sequence[Op], model: RegisterModel
             ) -> tuple[list[Op], list[Transition], list[bool]]:
    kept, transitions, observers = [], [], []
    shared: dict[Hashable, Transition | None] = {}  # one closure per distinct call and result
    for op in ops:
        key = (op.f, op.outcome, freeze(op.value), freeze(op.output))
        transition = shared[key] if key in shared else shared.setdefault(
            key, model.transition(op))
        if transition is not None:
            kept.append(op)
            transitions.append(transition)
            observers.append(model.observes_only(op))
    return kept, transitions, observers


def _partitions(ops: Sequence[Op], model: str) -> dict[Hashable, list[Op]]:
    if model != "kv":
        return {None: list(ops)}
    keyed: dict[Hashable, list[Op]] = {}
    for op in ops:
        key, inner = split_key(op)
        keyed.setdefault(key, []).append(inner)
    return keyed


def check_linearizable(history: Iterable[Event] | Iterable[Op], model: str = "cas-register",
                       budget_seconds: float | None = 10.0, max_steps: int | None = None,
                       fs: Collection[str] | None = None,
                       budget: Budget | None = None) -> Verdict:
    """Check a register, cas-register or kv (per-key cas-register) history for linearizability.

    ``fs`` limits the check to operations with those names (others, such as ``login`` in a
    client's history, are ignored); by default every client operation must fit the model.
    The search stops at ``budget_seconds`` (None: no deadline) or ``max_steps`` steps, or at
    a ``budget`` shared with the caller (whose clock may have started earlier, e.g. before
    reading the file), and then answers unknown.

    Returns a :class:`Verdict` named ``linearizable:<model>``; invalid verdicts carry the
    operation that could not be linearized, the states the object could be in just before it,
    the operations concurrent with it and the tail of the longest linearization found.
    """
    if model not in (*MODELS, "kv"):
        raise ValueError(f"unknown model {model!r}; choose register, cas-register or kv")
    started = time.monotonic()
    budget = budget or Budget(budget_seconds, max_steps)
    figures = {"ops": 0, "checked_ops": 0, "keys": 0, "configurations": 0}
    try:
        ops = [op for op in operations(history, budget) if fs is None or op.f in fs]
    except OutOfBudget:
        return _finish(_unknown(model, [], budget, reading=True),
                       figures, budget, started)
    figures["ops"] = len(ops)
    register = MODELS.get(model, CAS_REGISTER)
    if not any(op.outcome == "ok" for op in ops):  # nothing completed: nothing was shown
        return _finish(Verdict(f"linearizable:{model}", UNKNOWN,
                               f"no completed operation among {len(ops)}: the workload did "
                               "not run"), figures, budget, started)
    undecided: list[Hashable] = []
    for key, part in _partitions(ops, model).items():
        figures["keys"] += 1
        kept, transitions, observers = _compile(part, register)
        figures["checked_ops"] += len(kept)
        if undecided:  # the shared budget is spent: later keys stay undecided too
            undecided.append(key)
            continue
        try:
            result = search(kept, transitions, register.initial, budget, observers)
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


def _unknown(model: str, undecided: list[Hashable], budget: Budget,
             reading: bool = False) -> Verdict:
    what = "the history" if model != "kv" else f"{len(undecided)} key(s)"
    when = "while reading the history" if reading else f"before deciding {what}"
    return Verdict(f"linearizable:{model}", UNKNOWN,
                   f"search budget ({budget.describe()}) exhausted {when}",
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
