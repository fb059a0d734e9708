"""The run's verdict: one decision, from what happened, shared by the report, trend and exit.

A run passes only when pytest's exit status is 0, nothing failed or errored, every collected
test ran, and something passed (or a gate passed). An internal error, an interruption or a
usage error is ``ERROR``; anything else that is not a pass is ``FAIL``. The exit status is made
to agree: a run whose verdict is not ``PASS`` never exits 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS, FAIL, ERROR = "PASS", "FAIL", "ERROR"
ERROR_EXITS = {2: "interrupted", 3: "internal error", 4: "usage error"}
NO_TESTS = 5  # pytest's "no tests collected / ran"


@dataclass(frozen=True)
class RunVerdict:
    """``PASS``/``FAIL``/``ERROR``, why, and the exit status that agrees with it."""

    verdict: str
    reasons: list[str] = field(default_factory=list)
    exit_status: int = 0

    def to_json(self) -> dict[str, Any]:
        """For summary.json."""
        return {"verdict": self.verdict, "reasons": self.reasons}


def decide(exit_status: int, counts: dict[str, int], not_run: list[str],
           internal_errors: list[str], gate_passed: bool | None = None) -> RunVerdict:
    """The verdict of a run from its exit status, outcome counts, the collected tests that
    never ran, internal errors, and whether the gates it ran passed (None: no gate)."""
    reasons = [f"internal error: {text}" for text in internal_errors]
    if exit_status in ERROR_EXITS:
        reasons.append(f"pytest exit status {exit_status} ({ERROR_EXITS[exit_status]})")
    failures = [f"{counts[k]} {k}" for k in ("failed", "error") if counts.get(k)]
    if not_run:
        shown = ", ".join(not_run[:3]) + (", ..." if len(not_run) > 3 else "")
        missing = f"{len(not_run)} collected test(s) did not run: {shown}"
        if not failures:  # no failure stopped the run (-x, abortOnFail): something broke
            reasons.append(missing)
        else:
            failures.append(missing)
    if reasons:
        return RunVerdict(ERROR, reasons + failures, exit_status or 1)
    reasons += failures
    if gate_passed is False:
        reasons.append("a gate failed")
    if exit_status not in (0, NO_TESTS) and not reasons:
        reasons.append(f"pytest exit status {exit_status}")
    if reasons:
        return RunVerdict(FAIL, reasons, exit_status or 1)
    if not counts.get("passed") and not gate_passed:
        skipped = counts.get("skipped", 0)
        why = f"no scenario passed ({skipped} skipped)" if skipped else "no scenario ran"
        return RunVerdict(FAIL, [why], exit_status or NO_TESTS)
    return RunVerdict(PASS, [], 0)
