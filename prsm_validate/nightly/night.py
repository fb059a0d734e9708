"""One night: start (or reach) the target, run the stages within the budget, write the report.

Whatever happens (a finding, a harness error, the hard deadline, Ctrl-C) the night heals the
fault in force, stops what it started, and writes ``summary.json``, ``report.html`` and its
trend line before it returns; old runs beyond ``keep_runs`` are then removed.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prsm_validate.nightly import summary as night_summary
from prsm_validate.nightly.budget import Budget, BudgetExhausted
from prsm_validate.nightly.families import FAMILIES
from prsm_validate.nightly.soak import DEFAULT_THRESHOLDS
from prsm_validate.nightly.stages import Stage, StageResult, registered
from prsm_validate.report.store import RunStore, new_run_id
from prsm_validate.targets.base import LogCollector


@dataclass(frozen=True)
class NightOptions:
    """What ``prsm-validate nightly`` was asked to do."""

    budget_s: float
    seed: int
    target: str = "local"
    targets_file: Path | None = None
    report_root: Path = Path("reports/nightly")
    keep_runs: int = 14
    nodes: int = 4
    families: tuple[str, ...] = tuple(FAMILIES)
    only: str | None = None  # "consensus#3": replay one schedule
    faults: tuple[int, ...] | None = None  # with only: a subset of its faults
    rate: float = 20.0  # soak arrival rate (requests/s); 0 = no soak
    thresholds: tuple[str, ...] = DEFAULT_THRESHOLDS
    shrink: bool = True
    shrink_budget_s: float = 600.0
    drift_percent: float = 50.0
    trend_window: int = 7
    allow_destructive: bool = False
    seed_was_auto: bool = False


@dataclass
class Night:
    """The state of one night, shared with its stages."""

    options: NightOptions
    stages: list[Stage] = field(default_factory=registered)
    out: Any = field(default=sys.stderr, repr=False)

    def __post_init__(self) -> None:
        self.budget = Budget.for_total(self.options.budget_s, since_process_start=True)
        self.started_wall = time.time()
        self.store = RunStore(self.options.report_root, new_run_id()).create()
        self.deployment: Any = None
        self.active_nemesis: Any = None
        self.soak: Any = None
        self.stage_deadline = float("inf")
        self.results: list[StageResult] = []
        self.harness_errors: list[str] = []
        self.interrupted: str | None = None
        self.target_info: dict[str, Any] = {"name": self.options.target}

    # ---- what stages use ---------------------------------------------------------------

    def say(self, line: str) -> None:
        """A progress line (stderr: stdout carries only the summary line)."""
        print(f"nightly: {line}", file=self.out, flush=True)

    def stage_left(self) -> float:
        """Seconds left for the running stage."""
        return max(0.0, min(self.budget.chaos_left(), self.stage_deadline - self.budget.elapsed))

    def stage_over(self) -> bool:
        """True once the running stage must stop."""
        return self.stage_left() <= 0

    def replay_command(self, name: str, faults: Any = None, shrink: bool = True) -> str:
        """The command that runs schedule ``name`` again (only ``faults``, if given)."""
        parts = ["prsm-validate nightly", f"--target {self.options.target}",
                 f"--seed {self.options.seed}", f"--only {name}", "--budget 5m"]
        if faults is not None:
            parts.append(f"--faults {','.join(str(i) for i in faults) or 'none'}")
        if not shrink or faults is not None:
            parts.append("--no-shrink")
        return " ".join(parts)

    # ---- the night ---------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Run everything; returns the summary (also written to the run folder)."""
        from prsm_validate.nightly.resources import RssSampler
        from prsm_validate.nightly.target import make, resolve

        rss = RssSampler(interval_s=5.0 if self.options.budget_s > 300 else 2.0).start()
        disarm = self.budget.arm()
        started = None
        try:
            spec = resolve(self.options.target, self.options.targets_file,
                           self.options.allow_destructive)
            self.target_info = {"name": spec.name, "kind": spec.kind, "profile": spec.profile}
            target = make(spec, self.options.nodes)
            self._start(target)  # a target that fails to start has stopped itself
            started = target
            self._stages()
        except BudgetExhausted as exc:
            self.interrupted = str(exc)
            self.say(f"stopped: {exc}")
        except KeyboardInterrupt:
            self.interrupted = "interrupted (Ctrl-C / SIGTERM)"
            self.say("stopped: interrupted")
        except Exception as exc:
            self.harness_errors.append(f"{type(exc).__name__}: {exc}")
            self.say(f"harness error: {type(exc).__name__}: {exc}")
        finally:
            disarm()
            self._teardown(started)
        return self._finish(rss.finish())

    def _start(self, target: Any) -> None:
        from prsm_validate.targets.processes import StartupError

        try:
            self.deployment = target.start()
        except StartupError as exc:
            raise RuntimeError(f"target {self.options.target!r} did not start: {exc}") from None
        ready = getattr(target, "ready_s", None)
        self.target_info["ready_s"] = None if ready is None else round(ready, 3)
        self.say(f"target {self.options.target!r} ready"
                 + (f" in {ready:.1f}s" if ready is not None else "")
                 + f"; seed {self.options.seed}; budget {self.options.budget_s:g}s; "
                 f"report {self.store.path}")

    def _stages(self) -> None:
        for position, stage in enumerate(self.stages):
            last = position == len(self.stages) - 1
            share = 1.0 if last else stage.share
            self.stage_deadline = self.budget.elapsed + share * self.budget.chaos_left()
            self.say(f"stage {stage.name}: {self.stage_left():.0f}s")
            try:
                self.results.append(stage.run(self))
            except (BudgetExhausted, KeyboardInterrupt):
                self.results.append(self._partial(stage, None))
                raise
            except Exception as exc:
                self.harness_errors.append(f"stage {stage.name}: {type(exc).__name__}: {exc}")
                self.results.append(self._partial(stage, exc))

    def _partial(self, stage: Stage, error: Exception | None) -> StageResult:
        """What a stage found before it was cut short (its ``partial_result``, if any)."""
        result = None
        partial = getattr(stage, "partial_result", None)
        if partial is not None:
            try:
                result = partial()
            except Exception as exc:  # the harness error is already recorded
                self.harness_errors.append(f"stage {stage.name} partial result: {exc}")
        if result is None:
            result = StageResult(stage.name, "unknown", str(error or "interrupted"))
        if error is not None:
            result.failure_classes = sorted({*result.failure_classes, "harness"})
        return result

    def _teardown(self, target: Any) -> None:
        if self.active_nemesis is not None:  # interrupted inside a trial
            self.harness_errors += self.active_nemesis.heal_all()
        if target is None:
            return
        try:
            if isinstance(target, LogCollector) and self.deployment is not None:
                target.save_logs(self.store.logs_path)
        finally:
            try:
                target.stop()
            except Exception as exc:  # the report must still be written
                self.harness_errors.append(f"stopping the target: {type(exc).__name__}: {exc}")

    def _finish(self, resources: dict[str, Any]) -> dict[str, Any]:
        from prsm_validate.nightly import trends

        data = night_summary.build(self, resources)
        history = trends.load(self.store.root)
        data["regressions"] = trends.regressions(history, night_summary.trend_entry(data),
                                                 self.options.trend_window,
                                                 self.options.drift_percent)
        night_summary.settle(data)
        # Older nights beyond keep_runs go (after their trend lines were read for tonight).
        data["retention_removed"] = trends.retain(self.store.root, self.options.keep_runs)
        self.store.write_json("summary.json", data)
        trends.append(self.store.root, night_summary.trend_entry(data))
        self._write_report(data, [*history, night_summary.trend_entry(data)])
        return data

    def _write_report(self, data: dict[str, Any], trend: list[dict[str, Any]]) -> None:
        from prsm_validate.nightly import html

        page = html.render(self.store.path, data, trend)
        (self.store.path / "report.html").write_text(page, encoding="utf-8")


def run_night(options: NightOptions, stages: list[Stage] | None = None,
              out: Any = sys.stderr) -> dict[str, Any]:
    """Run one night (the command's and the tests' entry point)."""
    night = Night(options, stages if stages is not None else registered(), out)
    return night.run()
