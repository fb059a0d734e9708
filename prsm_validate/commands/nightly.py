"""``prsm-validate nightly``: randomised chaos schedules, a load soak and the invariant
checkers within a time budget; shrinks failing schedules, names regressions across nights.

Progress goes to stderr; stdout gets exactly one summary line. The exit status tells the
failure class (see :mod:`prsm_validate.nightly.summary`).
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
from pathlib import Path

NAME = "nightly"
HELP = ("Nightly chaos run: seeded random fault schedules (consensus, partition, pipeline, "
        "edge), a load soak judged by SLA thresholds, the checkers, shrinking, trends; one "
        "summary line on stdout, exit status per failure class.")


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``nightly``."""
    from prsm_validate.nightly.families import FAMILIES

    parser.add_argument("--budget", default="30m",
                        help="time budget, e.g. 30m, 90s, 2h (default 30m); the run stops "
                        "by itself within it and writes its report")
    parser.add_argument("--seed", default="auto",
                        help="night seed (an integer), or auto for a fresh one (printed)")
    parser.add_argument("--target", default="local",
                        help="local (default), docker, or a name from the targets file")
    parser.add_argument("--targets-file", type=Path, default=None,
                        help="targets file (default prsm-targets.yaml here, else "
                        "fixtures/targets.yaml)")
    parser.add_argument("--report", type=Path, default=Path("reports/nightly"),
                        help="report folder: one sub-folder per night, latest, trend.jsonl "
                        "(default reports/nightly)")
    parser.add_argument("--keep-runs", type=int, default=14,
                        help="keep only the newest N nights' folders (default 14)")
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help=f"schedule families (default {','.join(FAMILIES)})")
    parser.add_argument("--only", default=None, metavar="FAMILY#K",
                        help="replay one schedule of the night seeded --seed, e.g. consensus#3")
    parser.add_argument("--faults", default=None, metavar="I,J",
                        help="with --only: run only these faults of it (a shrunk schedule)")
    parser.add_argument("--rate", type=float, default=20.0,
                        help="soak arrival rate in requests/s (default 20; 0 = no soak)")
    parser.add_argument("--sla", action="append", default=None, metavar="LINE",
                        help="soak threshold, k6 form, repeatable (default: error rate < 1%%, "
                        "me p95 < 250 ms, memory get p99 < 500 ms, under chaos)")
    parser.add_argument("--no-shrink", action="store_true", help="do not shrink failures")
    parser.add_argument("--shrink-budget", default="10m",
                        help="at most this long per failing schedule (default 10m)")
    parser.add_argument("--drift-percent", type=float, default=50.0,
                        help="a figure worse than the median of the last nights by more "
                        "than this is a regression (default 50)")
    parser.add_argument("--trend-window", type=int, default=7,
                        help="nights whose median a figure is compared with (default 7)")
    parser.add_argument("--nodes", type=int, default=4, help="PBFT cluster size (default 4)")
    parser.add_argument("--allow-destructive", action="store_true",
                        help="permit faults on a protected target (it must also say "
                        "allow_chaos: true)")


def _terminated(_signum: int, _frame: object) -> None:
    """SIGTERM (a CI job cancelled) unwinds like Ctrl-C: healed, stopped, reported."""
    raise KeyboardInterrupt


def _usage(message: str) -> int:
    print(f"prsm-validate nightly: {message}", file=sys.stderr)
    return 2


def _options(args: argparse.Namespace):  # -> NightOptions | str (the usage error)
    from prsm_validate.nightly.budget import parse_duration
    from prsm_validate.nightly.families import FAMILIES
    from prsm_validate.nightly.night import NightOptions
    from prsm_validate.nightly.soak import DEFAULT_THRESHOLDS

    try:
        budget_s = parse_duration(args.budget)
        shrink_s = parse_duration(args.shrink_budget)
    except ValueError as exc:
        return str(exc)
    if budget_s < 60:
        return f"--budget {args.budget}: at least 60s (the target starts, a schedule runs)"
    if args.seed != "auto" and not args.seed.lstrip("-").isdigit():
        return f"--seed {args.seed}: give an integer or auto"
    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown or not families:
        return f"--families {args.families}: unknown {unknown}; known: {', '.join(FAMILIES)}"
    if args.only and (args.only.partition("#")[0] not in FAMILIES
                      or not args.only.partition("#")[2].isdigit()):
        return f"--only {args.only}: give FAMILY#K, e.g. consensus#3"
    faults = _faults(args)
    if isinstance(faults, str):
        return faults
    thresholds = tuple(args.sla) if args.sla else DEFAULT_THRESHOLDS
    problem = _threshold_problem(thresholds)
    if problem:
        return problem
    if args.keep_runs < 1 or args.nodes < 4 or args.rate < 0:
        return "--keep-runs must be >= 1, --nodes >= 4 and --rate >= 0"
    seed = random.randrange(2**31) if args.seed == "auto" else int(args.seed)
    return NightOptions(
        budget_s=budget_s, seed=seed, target=args.target, targets_file=args.targets_file,
        report_root=args.report, keep_runs=args.keep_runs, nodes=args.nodes,
        families=families, only=args.only, faults=faults, rate=args.rate,
        thresholds=thresholds, shrink=not args.no_shrink, shrink_budget_s=shrink_s,
        drift_percent=args.drift_percent, trend_window=args.trend_window,
        allow_destructive=args.allow_destructive, seed_was_auto=args.seed == "auto")


def _faults(args: argparse.Namespace) -> tuple[int, ...] | str | None:
    """``--faults`` as indices (None: all faults), or the usage error."""
    if args.faults is None:
        return None
    if not args.only:
        return "--faults needs --only FAMILY#K"
    text = args.faults.strip()
    if text == "none":
        return ()
    if not all(p.strip().isdigit() for p in text.split(",")):
        return f"--faults {args.faults}: give fault indices such as 2,5 (or none)"
    return tuple(int(p) for p in text.split(","))


def _threshold_problem(lines: tuple[str, ...]) -> str | None:
    from prsm_validate.sla.thresholds import ThresholdSyntaxError, parse_line

    try:
        for line in lines:
            parse_line(line)
    except ThresholdSyntaxError as exc:
        return f"--sla: {str(exc).splitlines()[0]}"
    return None


def run(args: argparse.Namespace) -> int:
    """Run the night; print its summary line; exit with its failure class's status."""
    options = _options(args)
    if isinstance(options, str):
        return _usage(options)
    from prsm_validate.nightly.night import run_night
    from prsm_validate.nightly.target import TargetRefused, resolve

    try:
        resolve(options.target, options.targets_file, options.allow_destructive)
    except TargetRefused as exc:
        return _usage(str(exc).splitlines()[0])
    signal.signal(signal.SIGTERM, _terminated)
    options.report_root.mkdir(parents=True, exist_ok=True)
    data = run_night(options)
    print(f"{data['summary_line']} — report {options.report_root / data['run_id']}"
          "/report.html", flush=True)
    return int(data["exit_status"])
