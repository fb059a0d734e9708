"""One trial: a fault schedule carried out on a live deployment while a workload runs, then
judged by the invariant checkers; and what a trial's outcome looks like in the report.

A trial's checks are :class:`Check` objects: a checker's verdict with the failure class it
stands for (``safety``: an invariant broke; ``availability``: the system did not recover or
serve within its bound). The outcome is ``fail`` when any check is false, ``unknown`` when
none is false but one could not decide (unknown never passes), else ``pass``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prsm_validate.checker.verdict import UNKNOWN, Verdict
from prsm_validate.generator.schedule import Schedule
from prsm_validate.history import History
from prsm_validate.nemesis.core import Nemesis
from prsm_validate.nightly.budget import Budget
from prsm_validate.targets.base import Deployment

SAFETY, AVAILABILITY, UNKNOWN_CLASS = "safety", "availability", "unknown"


@dataclass(frozen=True)
class Check:
    """A verdict and the failure class it stands for."""

    failure_class: str
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        """For the report."""
        data = self.verdict.to_json()
        return {"class": self.failure_class, "checker": data["checker"],
                "valid": data["valid"], "reason": data.get("reason", ""),
                "witness": data.get("witness")}


@dataclass
class Trial:
    """What a family's workload needs to run one schedule."""

    deployment: Deployment
    schedule: Schedule
    history: History
    nemesis: Nemesis
    budget: Budget
    seed: int
    stop: Callable[[], bool] = lambda: False  # True once the stage's time is up
    figures: dict[str, Any] = field(default_factory=dict)
    faults_applied: int = 0

    def run_faults(self) -> None:
        """Carry out the schedule now (healing everything by its end); a schedule still
        going when the stage's time is up stops there, healed."""
        from prsm_validate.nemesis.scheduler import run_schedule

        self.faults_applied = run_schedule(self.nemesis, self.schedule,
                                           should_stop=self.stop)


@dataclass
class Outcome:
    """A trial's verdict for the report and the summary."""

    name: str
    family: str
    seed: int
    schedule: dict[str, Any]
    lines: list[str]
    verdict: str  # pass | fail | unknown | skipped
    failure_class: str | None
    reason: str
    checks: list[dict[str, Any]]
    figures: dict[str, Any]
    replay: str
    started_s: float
    ended_s: float
    history: str | None = None
    faults_applied: int = 0
    shrink: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return dict(self.__dict__)


def judge(checks: list[Check]) -> tuple[str, str | None, str]:
    """``(verdict, failure class, one-line reason)`` of a trial's checks."""
    for failure_class in (SAFETY, AVAILABILITY):
        bad = [c for c in checks if c.failure_class == failure_class and
               c.verdict.valid is False]
        if bad:
            return "fail", failure_class, f"{bad[0].verdict.checker}: {bad[0].verdict.reason}"
    undecided = [c for c in checks if c.verdict.valid == UNKNOWN]
    if undecided or not checks:
        reason = (f"{undecided[0].verdict.checker}: {undecided[0].verdict.reason}"
                  if undecided else "no check ran")
        return "unknown", UNKNOWN_CLASS, reason
    return "pass", None, "every check held"


def wait_for(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.05
             ) -> float | None:
    """Poll until ``condition()``; the seconds it took, or None if it never held in time."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            return None
        time.sleep(interval_s)
    return time.monotonic() - started
