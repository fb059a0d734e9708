"""``prsm-validate byzzfuzz``: many short seeded ByzzFuzz schedules in the PBFT simulator.

Each schedule (:mod:`prsm_validate.generator.byzzfuzz`) is one Byzantine replica's
small-scope mutations in chosen views to chosen receivers plus round-scoped partitions, run
in the sans-IO simulator and judged by agreement, validity, exactly-once, supply and
liveness after the last fault. Every violation is printed with the lines that replay it in
the simulator and on the real node processes, then shrunk (delta debugging over its faults,
in the simulator) and printed again, shrunk, with both replay lines. ``--confirm`` re-runs
the first shrunk schedule on the real node processes (a pytest run of the ByzzFuzz scenario)
and says whether it reproduces there. ``--mutant ID`` does all of this on a planted defect
of ``prsm-validate mutants`` instead of the shipped code (time to detection).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

NAME = "byzzfuzz"
HELP = ("Search ByzzFuzz schedules (one Byzantine replica's small-scope mutations + "
        "round-scoped partitions) in the PBFT simulator; JSON on the last line.")
SCENARIO = "scenarios/byzantine/test_byzzfuzz.py"


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``byzzfuzz``."""
    parser.add_argument("--schedules", type=int, default=2000, help="schedules to run at most")
    parser.add_argument("--seed", type=int, default=0, help="seed of the schedule generator")
    parser.add_argument("--budget-seconds", type=float, default=60.0,
                        help="stop after this long (default 60)")
    parser.add_argument("--stop-at", type=int, default=0,
                        help="stop after this many violations (default: never)")
    parser.add_argument("--replay", metavar="SCHEDULE", help="run one schedule (its text form)")
    parser.add_argument("--mutant", metavar="ID", help="search this planted defect instead")
    parser.add_argument("--shrink-seconds", type=float, default=30.0,
                        help="time to shrink each violating schedule in the simulator "
                        "(default 30; 0: do not shrink)")
    parser.add_argument("--confirm", action="store_true",
                        help=f"re-run the first violating schedule (shrunk) on the real node "
                        f"processes ({SCENARIO}, on the mutant's copy with --mutant) and say "
                        "whether it reproduces")
    # Set by --mutant for the run inside the defect's scratch copy: the project folder.
    parser.add_argument("--in-copy", metavar="PROJECT", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Search (or replay); exit 1 when a violation was found, 2 on bad input."""
    if args.schedules < 1 or not args.budget_seconds > 0 or not args.shrink_seconds >= 0:
        return _usage("--schedules and --budget-seconds must be positive, --shrink-seconds "
                      "not negative")
    if args.confirm and not (_project(args) / SCENARIO).is_file():
        return _usage(f"--confirm runs {SCENARIO}: run it from the project folder")
    if args.mutant and not args.in_copy:
        return _on_mutant(args)
    if args.replay:
        return _replay(args)
    return _search(args)


def _usage(message: str) -> int:
    print(f"prsm-validate byzzfuzz: {message}", file=sys.stderr)
    return 2


def _project(args: argparse.Namespace) -> Path:
    return Path(args.in_copy) if args.in_copy else Path.cwd()


def _replay(args: argparse.Namespace) -> int:
    from prsm_validate.generator import byzzfuzz

    try:
        schedule = byzzfuzz.parse(args.replay)
    except ValueError as exc:
        return _usage(str(exc))
    problems = byzzfuzz.simulate(schedule, **byzzfuzz.SIM_DEFAULTS)
    result: dict[str, Any] = {"schedule": schedule.text(), "problems": problems}
    if args.confirm and problems:
        result["confirm"] = _confirm(args, schedule)
    print(json.dumps(result))
    return 1 if problems else 0


def _search(args: argparse.Namespace) -> int:
    from prsm_validate.generator import byzzfuzz

    def report(found: byzzfuzz.Found) -> None:
        print(f"VIOLATION schedule {found.index}: {'; '.join(found.problems[:3])}\n"
              + _replay_lines(args, found.schedule), flush=True)

    result = byzzfuzz.search(args.seed, args.schedules, args.budget_seconds, args.stop_at,
                             report)
    found = result.found or []
    shrunk = [_shrink(args, f) for f in found] if args.shrink_seconds > 0 else []
    summary: dict[str, Any] = {
        "seed": args.seed, "schedules": result.schedules, "seconds": round(result.seconds, 2),
        "schedules_per_s": round(result.rate, 1), "violations": len(found),
        "first_violation_after": found[0].index + 1 if found else None,
        "shrunk": [s for s, _ in shrunk]}
    if args.confirm and found:
        summary["confirm"] = _confirm(args, shrunk[0][1] if shrunk else found[0].schedule)
    print(json.dumps(summary))
    return 1 if found else 0


def _replay_lines(args: argparse.Namespace, schedule: Any) -> str:
    text, mutant = schedule.text(), f" --mutant {args.mutant}" if args.mutant else ""
    return (f"  replay (simulator): prsm-validate byzzfuzz{mutant} --replay '{text}'\n"
            f"  replay (processes): PRSM_BYZZFUZZ='{text}' pytest {SCENARIO}")


def _shrink(args: argparse.Namespace, found: Any) -> tuple[dict[str, Any], Any]:
    """Shrink one violation in the simulator; print it with both replay lines."""
    from prsm_validate.generator import byzzfuzz

    schedule, result = byzzfuzz.shrink(found.schedule, found.problems, args.shrink_seconds)
    problems = byzzfuzz.simulate(schedule, **byzzfuzz.SIM_DEFAULTS)
    before, after = len(result.original), len(result.minimal)
    print(f"SHRUNK schedule {found.index} ({before} -> {after} faults, {result.tests} "
          f"simulations, {result.elapsed_s:.1f} s{'' if result.complete else ', budget spent'})"
          f": {schedule.text()}\n  violates: {'; '.join(problems[:3])}\n"
          + _replay_lines(args, schedule), flush=True)
    return {"index": found.index, "original": found.schedule.text(),
            "schedule": schedule.text(), "problems": problems[:5], "simulations": result.tests,
            "seconds": round(result.elapsed_s, 2), "complete": result.complete}, schedule


def _confirm(args: argparse.Namespace, schedule: Any) -> dict[str, Any]:
    """Run ``schedule`` on the real node processes: the ByzzFuzz scenario in a fresh pytest,
    on the mutant's copy when this runs inside one."""
    from prsm_validate import mutants

    project, text = _project(args), schedule.text()
    target = f"mutant {args.mutant}" if args.mutant else "the shipped code"
    print(f"CONFIRM on real processes ({target}): PRSM_BYZZFUZZ='{text}' pytest {SCENARIO}",
          flush=True)
    log = project / "reports" / "byzzfuzz" / "confirm.log"
    run = mutants.run_scenarios((SCENARIO,), Path.cwd() if args.in_copy else None, project,
                                failure_log=log, env={"PRSM_BYZZFUZZ": text})
    verdict = ("timed out" if run.timed_out else "not reproduced" if run.passed
               else "reproduced")
    why = "" if run.passed else f": {mutants.first_reason(log.read_text(errors='replace'))}"
    print(f"  {verdict} in {run.seconds:.1f} s{why}" + ("" if run.passed else f"\n  "
                                                      f"output: {log}"), flush=True)
    return {"schedule": text, "target": target, "seconds": round(run.seconds, 1),
            "reproduced": None if run.timed_out else not run.passed, "failed": run.failed}


def _on_mutant(args: argparse.Namespace) -> int:
    """Re-run this command in a scratch copy of ``reference_system`` with the defect."""
    from prsm_validate import mutants

    chosen = [m for m in (*mutants.MUTANTS, *mutants.SIMULATED) if m.id == args.mutant]
    if not chosen:
        return _usage(f"unknown mutant {args.mutant!r}")
    argv = [*sys.argv[1:], "--in-copy", str(Path.cwd())]
    with tempfile.TemporaryDirectory(prefix="prsm-byzzfuzz-") as scratch:
        root = mutants.apply(chosen[0], Path(scratch))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        return subprocess.run([sys.executable, "-m", "prsm_validate.cli", *argv],
                              env=env, cwd=root, check=False).returncode
