"""The ``chaos`` stage: randomised seeded schedules of every family, round after round, with
the load soak running throughout; a failing schedule is shrunk to a minimal one.

Schedule ``<family>#<k>`` of a night with seed S has the seed :func:`schedule_seed` (S,
family, k) and the family's fixed duration, so ``--seed S --only consensus#3`` replays it
whatever the budget; ``--faults 2,5`` replays a subset (what the shrinker found).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from prsm_validate.checker.verdict import Verdict
from prsm_validate.generator.schedule import Schedule, generate
from prsm_validate.generator.shrink import shrink_schedule, sub_schedule
from prsm_validate.history import History
from prsm_validate.nemesis.core import Nemesis
from prsm_validate.nightly.families import FAMILIES, Family, missing
from prsm_validate.nightly.resources import release_free_memory
from prsm_validate.nightly.soak import Soak
from prsm_validate.nightly.stages import StageResult
from prsm_validate.nightly.trial import UNKNOWN_CLASS, Check, Outcome, Trial, judge
from prsm_validate.seeds import derive_seed

if TYPE_CHECKING:
    from prsm_validate.nightly.night import Night

WORST = {"fail": 3, "unknown": 2, "pass": 1, "skipped": 0}
SHRINKABLE = ("safety", "availability")


def schedule_seed(night_seed: int, family: str, index: int) -> int:
    """The seed of schedule ``family#index`` of the night seeded ``night_seed``."""
    return derive_seed(night_seed, family, index)


def make_schedule(family: Family, components: list[str], seed: int) -> Schedule:
    """The family's schedule for ``seed`` over ``components``."""
    config = family.config
    if config.primary is not None:  # a placeholder: isolate-primary resolves it at run time
        config = replace(config, primary=components[0])
    return generate(seed, components, family.duration_s, config)


class ChaosStage:
    """Schedules of every family plus the soak, until the stage's time is up."""

    name = "chaos"
    share = 1.0

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []
        self.skipped: dict[str, str] = {}
        self.sla: list[dict[str, Any]] = []
        self.soak: Soak | None = None

    def run(self, night: Night) -> StageResult:
        """Rounds of one schedule per family (or the one ``--only`` names)."""
        usable, self.skipped = self._families(night)
        self.soak = Soak(night.deployment, night.budget, night.options.rate,
                         night.options.thresholds, night_started_wall=night.started_wall,
                         segment_s=min(120.0, max(15.0, night.budget.chaos_left() / 4)))
        if night.options.rate > 0:
            self.soak.start()
        stopped = True
        try:
            if night.options.only:
                self.outcomes.append(self._replay(night, usable))
            else:
                self._rounds(night, usable, self.outcomes)
            stopped = False
        finally:
            if night.options.rate > 0:  # an interrupted night drops the soak's last segment
                self.sla = self.soak.finish(now=stopped)
            night.soak = self.soak
        return self.partial_result()

    def partial_result(self) -> StageResult:
        """What the stage found so far (also when the night was interrupted in it)."""
        soak = self.soak if self.soak is not None and self.soak.thread.ident else None
        return _result(self.outcomes, self.skipped, self.sla, soak)

    def _families(self, night: Night) -> tuple[list[Family], dict[str, str]]:
        usable, skipped = [], {}
        for name in night.options.families:
            family = FAMILIES[name]
            lacking = missing(family, night.deployment)
            if lacking:
                skipped[name] = (f"target {night.deployment.target!r} lacks capability "
                                 f"{', '.join(lacking)}")
                night.say(f"{name}: skipped, {skipped[name]}")
            else:
                usable.append(family)
        return usable, skipped

    def _rounds(self, night: Night, families: list[Family], outcomes: list[Outcome]) -> None:
        index = 0
        while families and not night.stage_over():
            index += 1
            for family in families:
                if night.stage_left() < family.duration_s * 0.6:
                    return
                outcomes.append(run_named(night, family, index))

    def _replay(self, night: Night, families: list[Family]) -> Outcome:
        name, _, number = (night.options.only or "").partition("#")
        family = next((f for f in families if f.name == name), None)
        if family is None:
            raise ValueError(f"--only {night.options.only}: no usable family {name!r}")
        return run_named(night, family, int(number), night.options.faults)


def run_named(night: Night, family: Family, index: int,
              faults: tuple[int, ...] | None = None) -> Outcome:
    """Generate, print, run (and shrink, if it fails) schedule ``family#index``."""
    seed = schedule_seed(night.options.seed, family.name, index)
    name = f"{family.name}#{index}"
    schedule = make_schedule(family, family.components(night.deployment), seed)
    if faults is not None:
        schedule = sub_schedule(schedule, faults)
    replay = night.replay_command(name, faults)
    night.say(f"{name} seed={seed} {len(schedule.faults)} faults over "
              f"{schedule.duration:g}s; replay: {replay}")
    for line in schedule.describe():
        night.say(f"    {line}")
    outcome = run_trial(night, family, schedule, name, seed, replay)
    night.say(f"{name}: {outcome.verdict.upper()} - {outcome.reason}")
    if outcome.verdict == "fail" and outcome.failure_class in SHRINKABLE and \
            night.options.shrink and faults is None:
        outcome.shrink = shrink(night, family, schedule, outcome)
    return outcome


def run_trial(night: Night, family: Family, schedule: Schedule, name: str, seed: int,
              replay: str, label: str | None = None) -> Outcome:
    """One trial of ``schedule``; its history goes to ``histories/<label or name>.jsonl``."""
    file = (label or name).replace("#", "-")
    path = night.store.path / "histories" / f"{file}.jsonl"
    history = History(path)
    nemesis = Nemesis(night.deployment, history, seed)
    night.active_nemesis = nemesis
    trial = Trial(night.deployment, schedule, history, nemesis, night.budget, seed,
                  stop=night.stage_over)
    started = night.budget.elapsed
    checks = _checks(family, trial)
    errors = nemesis.heal_all()
    night.active_nemesis = None
    history.close()
    release_free_memory()
    checks += [Check(UNKNOWN_CLASS, _verdict("heal", "unknown", e)) for e in errors]
    verdict, failure_class, reason = judge(checks)
    if trial.faults_applied < len(schedule.faults):
        trial.figures["interrupted_after_faults"] = trial.faults_applied
    return Outcome(name, family.name, seed, schedule.to_json(), schedule.describe(), verdict,
                   failure_class, reason, [c.to_json() for c in checks], trial.figures,
                   replay, round(started, 3), round(night.budget.elapsed, 3),
                   str(path.relative_to(night.store.path)), trial.faults_applied)


def _checks(family: Family, trial: Trial) -> list[Check]:
    try:
        return family.run(trial)
    except pytest.skip.Exception as exc:  # the nemesis found a capability missing
        return [Check(UNKNOWN_CLASS, _verdict("capability", "unknown", str(exc)))]
    except pytest.fail.Exception as exc:  # e.g. no primary agreed when @primary resolved
        return [Check(UNKNOWN_CLASS, _verdict("trial", "unknown", str(exc)))]
    except Exception as exc:  # a harness problem: the trial cannot be judged
        return [Check(UNKNOWN_CLASS, _verdict("harness", "unknown",
                                              f"{type(exc).__name__}: {exc}"))]


def _verdict(checker: str, valid: Any, reason: str) -> Verdict:
    return Verdict(checker, valid, reason)


def shrink(night: Night, family: Family, schedule: Schedule, failed: Outcome
           ) -> dict[str, Any]:
    """Delta debugging over the failing schedule's faults, within the shrink budget: a
    candidate fails when it fails with the same failure class."""
    attempts = 0
    seen: dict[str, bool | None] = {}  # the no-fault check and ddmin may ask the same

    def fails(candidate: Schedule) -> bool | None:
        key = json.dumps(candidate.to_json()["faults"], sort_keys=True)
        if key not in seen:
            seen[key] = run_candidate(candidate)
        return seen[key]

    def run_candidate(candidate: Schedule) -> bool | None:
        nonlocal attempts
        if night.stage_over():
            return None
        attempts += 1
        outcome = run_trial(night, family, candidate, failed.name, failed.seed, "",
                            label=f"{failed.name}-shrink-{attempts}")
        night.say(f"  shrink {failed.name} try {attempts}: {len(candidate.faults)} faults "
                  f"-> {outcome.verdict}")
        if outcome.verdict == "fail":
            return outcome.failure_class == failed.failure_class
        return None if outcome.verdict == "unknown" else False

    started = night.budget.elapsed
    # First the schedule with no fault at all: if that fails too, the system stayed broken
    # after the original run and no subset can tell anything more.
    if fails(sub_schedule(schedule, [])) is True:
        night.say(f"{failed.name}: fails with no fault at all: the system did not recover "
                  "from the original schedule; not shrunk further")
        return _shrunk(night, failed, schedule, sub_schedule(schedule, []), (), attempts,
                       night.budget.elapsed - started, True, [], persists=True)
    budget_s = min(night.options.shrink_budget_s, night.stage_left())
    minimal, result = shrink_schedule(schedule, fails, budget_s)
    return _shrunk(night, failed, schedule, minimal, result.indices, attempts,
                   night.budget.elapsed - started, result.complete, result.trace)


def _shrunk(night: Night, failed: Outcome, schedule: Schedule, minimal: Schedule,
            indices: tuple[int, ...], tests: int, elapsed_s: float, complete: bool,
            trace: list[dict[str, Any]], persists: bool = False) -> dict[str, Any]:
    """The report's account of a shrink, announced on stderr."""
    replay = night.replay_command(failed.name, indices, shrink=False)
    night.say(f"{failed.name}: shrunk {len(schedule.faults)} -> {len(minimal.faults)} faults "
              f"in {tests} tries ({elapsed_s:.0f}s{'' if complete else ', budget ran out'})"
              f"; replay: {replay}")
    return {"original": schedule.describe(), "minimal": minimal.describe(),
            "indices": list(indices), "tests": tests, "elapsed_s": round(elapsed_s, 1),
            "complete": complete, "persists_without_faults": persists, "replay": replay,
            "minimal_schedule": minimal.to_json(), "trace": trace}


def _result(outcomes: list[Outcome], skipped: dict[str, str], sla: list[dict[str, Any]],
            soak: Soak | None) -> StageResult:
    scenarios: dict[str, str] = {name: "skipped" for name in skipped}
    for outcome in outcomes:
        kept = scenarios.get(outcome.family, "skipped")
        if WORST[outcome.verdict] > WORST[kept]:
            scenarios[outcome.family] = outcome.verdict
    classes = sorted({o.failure_class for o in outcomes if o.failure_class})
    if soak is not None:
        soak_verdict = _soak_verdict(sla)
        scenarios["soak"] = soak_verdict
        if soak_verdict == "fail":
            classes.append("sla")
        elif soak_verdict == "unknown":
            classes.append(UNKNOWN_CLASS)
    if not outcomes:
        classes.append(UNKNOWN_CLASS)
    verdict = max(scenarios.values(), key=WORST.__getitem__, default="unknown")
    if not outcomes:
        verdict = "unknown"
    reason = next((f"{o.name}: {o.reason}" for o in outcomes if o.verdict == verdict),
                  "no schedule ran" if not outcomes else "")
    return StageResult("chaos", verdict, reason, sorted(set(classes)), scenarios,
                       _figures(outcomes, soak),
                       {"outcomes": [o.to_json() for o in outcomes], "skipped": skipped,
                        "sla": sla, "soak_points": [p.__dict__ for p in soak.points]
                        if soak is not None else []})


def _soak_verdict(sla: list[dict[str, Any]]) -> str:
    verdicts = [r["verdict"] for r in sla]
    if "fail" in verdicts:
        return "fail"
    return "pass" if verdicts and all(v == "pass" for v in verdicts) else "unknown"


def _figures(outcomes: list[Outcome], soak: Soak | None) -> dict[str, float]:
    figures: dict[str, float] = {"schedules": len(outcomes),
                                 "faults_applied": sum(o.faults_applied for o in outcomes)}
    for family in {o.family for o in outcomes}:
        resumed = [o.figures.get("resumed_after_s") for o in outcomes if o.family == family]
        values = [v for v in resumed if isinstance(v, int | float)]
        if values:
            figures[f"{family}_max_resume_s"] = max(values)
    if soak is not None:
        try:
            figures.update({f"soak_{k}": v for k, v in soak.figures().items()
                            if isinstance(v, int | float) and k not in ("segments", "rate")})
        except Exception as exc:  # the schedules' outcomes must not be lost with the figures
            soak.errors.append(f"soak figures: {type(exc).__name__}: {exc}")
    return figures
