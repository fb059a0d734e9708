"""Run sampled mutants against their scenarios within a time budget.

The machinery is :mod:`prsm_validate.mutants`' (the planted defects): a scratch copy of
``reference_system`` with one file replaced, first on ``PYTHONPATH`` of a fresh pytest, and
:func:`prsm_validate.mutants.run_scenarios` to run it. Added here: a baseline that times each
scenario (and must pass), ``-x`` per mutant (the first failing scenario kills it), a
per-mutant timeout derived from the baseline, and the budget.

Outcomes: ``killed`` (a scenario failed), ``survived`` (all passed), ``timeout`` (the run
outlived its timeout; never a kill), ``incompetent`` (the mutated module does not compile, or
Cosmic Ray changed nothing: never run), ``equivalent`` and ``unreachable`` (listed in the
equivalents file: not run),
``not-run`` (the budget ran out first).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prsm_validate import mutants as planted
from prsm_validate.mutation import equivalents as equivalents_file
from prsm_validate.mutation.catalogue import Module
from prsm_validate.mutation.generate import Mutant

TIMEOUT_FACTOR = 3.0
TIMEOUT_SLACK_S = 90.0


@dataclass
class Row:
    """One sampled mutant and what happened to it."""

    mutant: Mutant
    module: Module
    outcome: str = "not-run"
    caught_by: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The mutant's entry in ``mutation-score.json``."""
        c = self.mutant.candidate
        return {"id": c.id, "module": c.module, "subsystem": self.module.subsystem,
                "operator": c.operator, "occurrence": c.occurrence, "line": self.mutant.line,
                "original": self.mutant.original_line, "mutated": self.mutant.mutated_line,
                "diff": self.mutant.diff, "outcome": self.outcome, "caught_by": self.caught_by,
                "seconds": round(self.seconds, 1), "reason": self.reason}


@dataclass(frozen=True)
class Baseline:
    """The unmodified system's run of every selected scenario."""

    passed: bool
    seconds: float
    durations: dict[str, float]  # test node id -> seconds
    failed: list[str]
    log: Path

    def expected_s(self, module: Module) -> float:
        """What ``module``'s scenarios took on the unmodified system, with pytest's and the
        target's start-up (the baseline's time outside tests)."""
        overhead = max(self.seconds - sum(self.durations.values()), 5.0)
        return overhead + sum(s for test, s in self.durations.items()
                              if any(_selects(entry, test) for entry in module.scenarios))

    def timeout_s(self, module: Module) -> float:
        """The per-mutant timeout of ``module``'s mutants."""
        return TIMEOUT_FACTOR * self.expected_s(module) + TIMEOUT_SLACK_S


def _selects(entry: str, nodeid: str) -> bool:
    """Whether selection ``entry`` (a file or a node id) covers test ``nodeid``."""
    return nodeid == entry or nodeid.startswith((entry + "::", entry + "["))


def scenario_union(modules: list[Module]) -> tuple[str, ...]:
    """Every scenario selected by ``modules``, once, without entries another one covers."""
    entries = sorted({s for m in modules for s in m.scenarios})
    return tuple(e for e in entries if not any(o != e and _selects(o, e) for o in entries))


def run_baseline(modules: list[Module], cwd: Path, seed: int, log: Path) -> Baseline:
    """Run the unmodified system over every selected scenario, timing each test."""
    with tempfile.TemporaryDirectory(prefix="prsm-mutation-baseline-") as reports:
        run = planted.run_scenarios(
            scenario_union(modules), None, cwd, timeout_s=3600, failure_log=log,
            args=_pytest_args(seed), reports=Path(reports))
        durations = _durations(Path(reports) / "latest" / "summary.json")
    return Baseline(run.passed, run.seconds, durations, run.failed, log)


def _durations(summary: Path) -> dict[str, float]:
    """Seconds per test (setup, call and teardown added) from a run's ``summary.json``."""
    if not summary.exists():
        return {}
    seconds: dict[str, float] = {}
    for test in json.loads(summary.read_text())["tests"]:
        seconds[test["nodeid"]] = seconds.get(test["nodeid"], 0.0) + test["duration_s"]
    return seconds


def _pytest_args(seed: int) -> tuple[str, ...]:
    return (f"--prsm-seed={seed}",)


def classify_statically(rows: list[Row], listed: list[equivalents_file.Equivalent]) -> None:
    """Mark the rows decided without running: incompetent and listed equivalent mutants."""
    for row in rows:
        if not row.mutant.compiles:
            row.outcome = "incompetent"
            row.reason = ("Cosmic Ray changed nothing" if row.mutant.source is None
                          else "the mutated module does not compile")
        elif (entry := equivalents_file.find(listed, row.mutant)) is not None:
            row.outcome, row.reason = entry.kind, entry.reason


def run_one(row: Row, baseline: Baseline, cwd: Path, seed: int) -> Row:
    """Run ``row``'s mutant in a scratch copy; ``-x``: the first failing scenario kills it."""
    started = time.monotonic()
    prefix = f"prsm-mutation-{row.mutant.candidate.occurrence}-"
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        root = planted.write_copy(Path(scratch),
                                  {row.module.path: row.mutant.source or ""})
        run = planted.run_scenarios(
            row.module.scenarios, root, cwd, timeout_s=baseline.timeout_s(row.module),
            args=("-x", *_pytest_args(seed)))
        if run.timed_out:
            row.outcome = "timeout"
            row.reason = f"no verdict within {baseline.timeout_s(row.module):.0f} s"
        else:
            row.outcome = "survived" if run.passed else "killed"
            row.caught_by = run.failed
    row.seconds = time.monotonic() - started
    return row


def run_budgeted(rows: list[Row], baseline: Baseline, cwd: Path, seed: int, deadline: float,
                 jobs: int = 1, on_done: Callable[[Row], None] = lambda row: None) -> None:
    """Run the rows still to run, ``jobs`` at a time, starting none that cannot finish
    (by its baseline time) before ``deadline`` (monotonic)."""
    todo = iter([r for r in rows if r.outcome == "not-run"])
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running: set[Future[Row]] = set()
        for row in _affordable(todo, baseline, deadline):
            running.add(pool.submit(run_one, row, baseline, cwd, seed))
            if len(running) >= jobs:
                done, running = _wait_some(running)
                with lock:
                    for future in done:
                        on_done(future.result())
        for future in running:
            on_done(future.result())


def _wait_some(running: set[Future[Row]]) -> tuple[set[Future[Row]], set[Future[Row]]]:
    done, pending = wait(running, return_when=FIRST_COMPLETED)
    return set(done), set(pending)


def _affordable(rows: Iterator[Row], baseline: Baseline, deadline: float) -> Iterator[Row]:
    for row in rows:
        if time.monotonic() + baseline.expected_s(row.module) <= deadline:
            yield row
        else:
            row.reason = "the budget ran out first"


def interleave(per_module: list[list[Row]]) -> list[Row]:
    """Round-robin over modules, so a budget cut still leaves every module some mutants."""
    order: list[Row] = []
    for index in range(max((len(rows) for rows in per_module), default=0)):
        order.extend(rows[index] for rows in per_module if index < len(rows))
    return order
