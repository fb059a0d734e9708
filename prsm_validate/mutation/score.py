"""One mutation-score run: sample, baseline, run within the budget, write the report."""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prsm_validate import mutants as planted
from prsm_validate.mutation import equivalents, generate, report, runner
from prsm_validate.mutation.catalogue import Module
from prsm_validate.report.store import RunStore, new_run_id


@dataclass(frozen=True)
class Settings:
    """What a run samples and how long it may take."""

    modules: list[Module]
    sample: int
    seed: int
    budget_s: float
    jobs: int = 1
    equivalents_file: Path = equivalents.DEFAULT_FILE
    report_root: Path = Path("reports")
    cwd: Path = Path(".")
    mutant_ids: tuple[str, ...] = ()  # run exactly these (``module:Operator:occurrence``)


def sample_rows(settings: Settings) -> list[runner.Row]:
    """The seeded sample of every module, interleaved module by module, with the mutants
    decided without running (incompetent, listed equivalent) already marked."""
    cache = settings.report_root / "mutation" / "sites"
    per_module = []
    for module in settings.modules:
        source = (planted.SOURCE / module.path).read_text()
        found = generate.cached_candidates(module.path, source, cache)
        chosen = (_named(found, settings.mutant_ids) if settings.mutant_ids
                  else generate.sample(found, settings.sample, settings.seed))
        per_module.append([runner.Row(generate.make(c, source), module) for c in chosen])
    rows = runner.interleave(per_module)
    missing = sorted(set(settings.mutant_ids) - {r.mutant.candidate.id for r in rows})
    if missing:
        raise ValueError(f"--mutant {missing[0]!r}: Cosmic Ray makes no such mutant of the "
                         "current source (see --list)")
    runner.classify_statically(rows, equivalents.load(settings.equivalents_file))
    return rows


def _named(found: list[generate.Candidate], ids: tuple[str, ...]) -> list[generate.Candidate]:
    return [c for c in found if c.id in ids]


def module_of(mutant_id: str) -> str:
    """The module path of a mutant id (``consensus/replica.py:AddNot:3`` ->
    ``consensus/replica.py``); ``ValueError`` if it is not of that form."""
    module, _, rest = mutant_id.partition(":")
    operator, _, occurrence = rest.partition(":")
    if not (module.endswith(".py") and operator and occurrence.isdigit()):
        raise ValueError(f"--mutant {mutant_id!r}: give module:Operator:occurrence, as "
                         "--list prints it")
    return module


def run(settings: Settings, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Baseline (it must pass, else the result says so and nothing else runs), then the
    sample within the budget; returns the ``mutation-score.json`` content and writes it."""
    started, clock = time.time(), time.monotonic()
    store = RunStore(settings.report_root, new_run_id()).create()
    rows = sample_rows(settings)
    say(f"mutation-score: {len(rows)} mutants sampled from {len(settings.modules)} modules "
        f"(sample {settings.sample}, seed {settings.seed}); baseline first")
    baseline = runner.run_baseline(settings.modules, settings.cwd, settings.seed,
                                   store.path / "baseline.log")
    say(f"baseline: {'pass' if baseline.passed else 'FAIL'} in {baseline.seconds:.0f}s")
    if baseline.passed:
        deadline = clock + settings.budget_s
        runner.run_budgeted(rows, baseline, settings.cwd, settings.seed, deadline,
                            settings.jobs, on_done=lambda row: say(_progress(row)))
    meta = {"run_id": store.run_id, "started": started, "finished": time.time(),
            "seed": settings.seed, "sample": settings.sample, "budget_s": settings.budget_s,
            "wall_s": round(time.monotonic() - clock, 1), "baseline_s": round(baseline.seconds, 1),
            "baseline_passed": baseline.passed, "baseline_failed": baseline.failed,
            "tool_version": importlib.metadata.version("cosmic-ray"),
            "jobs": settings.jobs}
    result = report.summarise([r.as_dict() for r in rows], meta)
    write(store, result)
    return result


def write(store: RunStore, result: dict[str, Any]) -> None:
    """``mutation-score.json`` and ``.html`` in the run folder; a line in the trend file."""
    store.write_json("mutation-score.json", result)
    if result["baseline_passed"]:
        report.append_trend(store.root, result)
    page = report.render(result, report.load_trend(store.root))
    (store.path / "mutation-score.html").write_text(page)


def _progress(row: runner.Row) -> str:
    caught = f"  [{row.caught_by[0]}]" if row.caught_by else ""
    return (f"{row.outcome:9} {row.seconds:6.0f}s  {row.mutant.candidate.id}  "
            f"{row.mutant.mutated_line[:70]}{caught}")
