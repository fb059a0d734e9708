"""``prsm-validate byzzfuzz``: many short seeded ByzzFuzz schedules in the PBFT simulator.

Each schedule (:mod:`prsm_validate.generator.byzzfuzz`) is one Byzantine replica's
small-scope mutations in chosen views to chosen receivers plus round-scoped partitions, run
in the sans-IO simulator and judged by agreement, validity, exactly-once, supply and
liveness after the last fault. Every violation is printed with the lines that replay it in
the simulator and on the real node processes. ``--mutant ID`` searches a planted defect of
``prsm-validate mutants`` instead of the shipped code (time to detection).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

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


def run(args: argparse.Namespace) -> int:
    """Search (or replay); exit 1 when a violation was found, 2 on bad input."""
    from prsm_validate.generator import byzzfuzz

    if args.mutant:
        return _on_mutant(args)
    if args.replay:
        try:
            schedule = byzzfuzz.parse(args.replay)
        except ValueError as exc:
            print(f"prsm-validate byzzfuzz: {exc}", file=sys.stderr)
            return 2
        problems = byzzfuzz.simulate(schedule, **byzzfuzz.SIM_DEFAULTS)
        print(json.dumps({"schedule": schedule.text(), "problems": problems}))
        return 1 if problems else 0
    if args.schedules < 1 or not args.budget_seconds > 0:
        print("prsm-validate byzzfuzz: --schedules and --budget-seconds must be positive",
              file=sys.stderr)
        return 2

    def report(found: byzzfuzz.Found) -> None:
        print(f"VIOLATION schedule {found.index}: {'; '.join(found.problems[:3])}\n"
              f"  replay (simulator): {found.replay()}\n"
              f"  replay (processes): PRSM_BYZZFUZZ='{found.schedule.text()}' "
              f"pytest {SCENARIO}", flush=True)

    result = byzzfuzz.search(args.seed, args.schedules, args.budget_seconds, args.stop_at,
                             report)
    found = result.found or []
    print(json.dumps({"seed": args.seed, "schedules": result.schedules,
                      "seconds": round(result.seconds, 2),
                      "schedules_per_s": round(result.rate, 1), "violations": len(found),
                      "first_violation_after": found[0].index + 1 if found else None}))
    return 1 if found else 0


def _on_mutant(args: argparse.Namespace) -> int:
    """Re-run this command in a scratch copy of ``reference_system`` with the defect."""
    from prsm_validate import mutants

    chosen = [m for m in (*mutants.MUTANTS, *mutants.SIMULATED) if m.id == args.mutant]
    if not chosen:
        print(f"prsm-validate byzzfuzz: unknown mutant {args.mutant!r}", file=sys.stderr)
        return 2
    argv = [a for a in sys.argv[1:] if a != args.mutant and not a.startswith("--mutant")]
    with tempfile.TemporaryDirectory(prefix="prsm-byzzfuzz-") as scratch:
        root = mutants.apply(chosen[0], Path(scratch))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        return subprocess.run([sys.executable, "-m", "prsm_validate.cli", *argv],
                              env=env, cwd=root, check=False).returncode
