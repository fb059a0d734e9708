"""``prsm-validate mutants``: planted defects must each make a scenario fail (harness self-test)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

NAME = "mutants"
HELP = ("Run each planted defect against its scenarios and the unmodified system as baseline; "
        "prints the detection table, JSON on the last line.")


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``mutants``."""
    parser.add_argument("--only", action="append", default=[], metavar="ID",
                        help="run only this mutant (repeatable, or ID,ID,...)")
    parser.add_argument("--baseline-runs", type=int, default=1,
                        help="runs of the unmodified system over all mutants' scenarios")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                        help="stop a scenario run after this long and report it as timed out "
                        "(default 600)")


def run(args: argparse.Namespace) -> int:
    """Baseline first (it must pass), then every mutant; exit 1 if any is undetected."""
    # SIGTERM unwinds like Ctrl-C: the scratch copies and report folders are removed.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    from prsm_validate import mutants

    only = {i.strip() for option in args.only for i in option.split(",") if i.strip()}
    unknown = sorted(only - {m.id for m in mutants.MUTANTS})
    if unknown:
        print(f"prsm-validate mutants: unknown mutant {', '.join(unknown)}; "
              "--list names them", file=sys.stderr)
        return 2
    chosen = [m for m in mutants.MUTANTS if not only or m.id in only]
    if args.list or not chosen:
        for m in mutants.MUTANTS:
            print(f"{m.id:30} {m.description}")
        return 0 if chosen else 2
    if not args.timeout > 0:  # also NaN
        print(f"prsm-validate mutants: --timeout must be a positive number, got "
              f"{args.timeout}", file=sys.stderr)
        return 2
    cwd = Path.cwd()
    scenarios = tuple(sorted({s for m in chosen for s in m.scenarios}))
    false_alarms = timeouts = 0
    for index in range(args.baseline_runs):
        log = cwd / "reports" / "mutants" / f"baseline-{index + 1}.log"
        run = mutants.run_scenarios(scenarios, None, cwd, args.timeout, failure_log=log)
        false_alarms += 0 if run.passed else 1
        timeouts += run.timed_out
        state = ("pass" if run.passed else "TIMED OUT (false alarm)" if run.timed_out
                 else "FAIL (false alarm)")
        print(f"baseline {index + 1}: {state} in {run.seconds:.0f}s {' '.join(run.failed)}",
              flush=True)
        if not run.passed:
            reason = mutants.first_reason(log.read_text(errors="replace"))
            print(f"  why: {reason}\n  output: {log}", flush=True)
    rows = []
    for mutant in chosen:
        rows.append(mutants.detect(mutant, cwd, args.timeout))
        state = ("timed out" if rows[-1]["timed_out"] else
                 "detected" if rows[-1]["detected"] else "NOT DETECTED")
        caught = ", ".join(rows[-1]["caught_by"][:2])  # type: ignore[index]
        print(f"{mutant.id:30} {state:13} {rows[-1]['seconds']:>6}s  {mutant.description}"
              + (f"  [caught by {caught}]" if caught else ""), flush=True)
    result = mutants.summary(rows, false_alarms, args.baseline_runs, timeouts)
    print(json.dumps(result))
    return 0 if result["detected"] == result["total"] and not false_alarms else 1
