"""Set and total-queue checkers: nothing acknowledged is lost, duplicated or invented.

Set (Jepsen ``set``): clients ``add`` elements; a final ``read`` returns everything present.
Every acknowledged add must be present exactly once, nothing may be present that was never
attempted, and an add that definitely failed must not be present. Adds with unknown outcome
(``info``) may or may not be present (present ones are reported as ``recovered``).

Total queue (Jepsen ``total-queue``): ``enqueue`` elements; ``dequeue`` takes one and ``drain``
takes the rest; every element taken counts as observed. The same rules apply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from prsm_validate.checker.linear import operations
from prsm_validate.checker.models import freeze
from prsm_validate.checker.ops import HistoryError, Op
from prsm_validate.checker.verdict import UNKNOWN, Verdict
from prsm_validate.history import Event

ADDS = frozenset({"add", "enqueue", "submit"})
WITNESS_LIMIT = 50


@dataclass
class Tally:
    """Elements by what the clients were told and what was observed."""

    attempted: set[Hashable]
    acknowledged: set[Hashable]
    failed: set[Hashable]
    observed: Counter[Hashable]

    def problems(self) -> dict[str, list[Any]]:
        """Lost, duplicated, unexpected and failed-but-present elements (empty lists if none)."""
        present = set(self.observed)
        return {
            "lost": _sorted(self.acknowledged - present),
            "duplicated": _sorted(e for e, n in self.observed.items() if n > 1),
            "unexpected": _sorted(present - self.attempted),
            "failed_but_present": _sorted(self.failed & present),
        }

    def figures(self) -> dict[str, int]:
        """Counts for reports."""
        present = set(self.observed)
        unknown = self.attempted - self.acknowledged - self.failed
        return {"attempted": len(self.attempted), "acknowledged": len(self.acknowledged),
                "observed": len(present), "recovered": len(unknown & present),
                "unknown_outcome": len(unknown)}


def _sorted(items: Iterable[Hashable]) -> list[Any]:
    return sorted(items, key=repr)


def _tally_adds(ops: list[Op], adds: frozenset[str],
                element: Callable[[Any], Hashable]) -> Tally:
    tally = Tally(set(), set(), set(), Counter())
    for op in ops:
        if op.f in adds:
            item = element(op.value)
            tally.attempted.add(item)
            {"ok": tally.acknowledged, "fail": tally.failed}.get(op.outcome, set()).add(item)
    return tally


def check_set(history: Iterable[Event] | Iterable[Op], *, read_f: str = "read",
              adds: frozenset[str] = ADDS,
              element: Callable[[Any], Hashable] = freeze) -> Verdict:
    """Jepsen's set checker against the last successful ``read`` of the whole set."""
    ops = operations(history)
    tally = _tally_adds(ops, adds, element)
    reads = [op for op in ops if op.f == read_f and op.outcome == "ok"]
    if not reads:
        return Verdict("set", UNKNOWN, f"no successful final {read_f!r}: nothing to compare",
                       figures=tally.figures())
    final = reads[-1]
    if not isinstance(final.output, list | tuple | None):
        raise HistoryError(f"event {final.complete_index}: a set {read_f!r} must return a list, "
                           f"got {final.output!r}", final.complete_index)
    tally.observed.update(element(item) for item in final.output or [])
    return _verdict("set", tally)


def check_total_queue(history: Iterable[Event] | Iterable[Op], *,
                      adds: frozenset[str] = ADDS, takes: frozenset[str] = frozenset(
                          {"dequeue", "drain"}),
                      element: Callable[[Any], Hashable] = freeze) -> Verdict:
    """Jepsen's total-queue checker: every element taken by ok dequeues and drains."""
    ops = operations(history)
    tally = _tally_adds(ops, adds, element)
    taken = [op for op in ops if op.f in takes and op.outcome == "ok"]
    if not any(op.f == "drain" for op in taken) and "drain" in takes:
        return Verdict("total-queue", UNKNOWN, "no successful drain: the queue's remainder "
                       "is unknown", figures=tally.figures())
    for op in taken:
        items = op.output if op.f == "drain" else [op.output]
        tally.observed.update(element(item) for item in items or [] if item is not None)
    return _verdict("total-queue", tally)


def _verdict(name: str, tally: Tally) -> Verdict:
    problems = tally.problems()
    figures = {**tally.figures(), **{k: len(v) for k, v in problems.items()}}
    found = {k: v[:WITNESS_LIMIT] for k, v in problems.items() if v}
    if not found:
        return Verdict(name, True, f"all {figures['acknowledged']} acknowledged elements "
                       f"present exactly once", figures=figures)
    reason = ", ".join(f"{len(problems[k])} {k.replace('_', ' ')}" for k in found)
    return Verdict(name, False, reason, witness=found, figures=figures)
