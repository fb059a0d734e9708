"""``prsm-validate mutation-score``: what the scenarios detect, measured with Cosmic Ray's
mutants of ``reference_system`` (see :mod:`prsm_validate.mutation`)."""

from __future__ import annotations

import argparse
import datetime
import json
import re
import secrets
import signal
import sys
from pathlib import Path

NAME = "mutation-score"
HELP = ("Sample mutants of the reference system per module (Cosmic Ray's operators), run each "
        "against the scenarios reaching its module within a budget; score per module and "
        "subsystem, JSON on the last line.")
_UNITS = {"s": 1, "m": 60, "h": 3600}


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``mutation-score``."""
    parser.add_argument("--modules", nargs="+", default=[], metavar="NAME",
                        help="module paths in reference_system (memory.py, api/auth.py) or "
                             "subsystem keys (ledger consensus memory auth tasks pipeline edge "
                             "api); default: every module")
    parser.add_argument("--rotate", metavar="DAY", help="the modules of day DAY (0-6, or "
                        "'today') of a 7-day rotation that covers every module each week")
    parser.add_argument("--budget", type=_duration, default=_duration("60m"),
                        help="wall-time budget of the whole run, baseline included: no mutant "
                             "starts that its baseline time says cannot end within it "
                             "(e.g. 90s, 60m, 2h; default 60m)")
    parser.add_argument("--sample", type=int, default=5, help="mutants per module (default 5)")
    parser.add_argument("--seed", type=int, help="sampling and scenario seed (default: random, "
                        "printed)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--equivalents", type=Path, help="equivalents file (default "
                        "fixtures/mutation-equivalents.yaml)")
    parser.add_argument("--report", type=Path, default=Path("reports"), help="report root")
    parser.add_argument("--mutant", action="append", default=[], metavar="ID",
                        help="run exactly this mutant (module:Operator:occurrence as --list "
                             "prints it; repeatable) instead of a sample")
    parser.add_argument("--list", action="store_true",
                        help="print the sampled mutants with their diffs and exit")


def _duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: give a duration like 90s, 60m or 2h")
    return float(match[1]) * _UNITS[match[2] or "m"]


def run(args: argparse.Namespace) -> int:
    """0 when every measured subsystem meets its goal, 1 when one does not or the baseline
    failed, 2 for a usage error."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    try:
        from prsm_validate.mutation import equivalents, report, score
    except ModuleNotFoundError as exc:
        if exc.name != "cosmic_ray":
            raise
        print("mutation-score: Cosmic Ray is not installed; install the extra: "
              "pip install -e '.[mutation]'", file=sys.stderr)
        return 2

    try:
        if args.mutant:
            args.modules = sorted({score.module_of(m) for m in args.mutant})
        modules = _modules(args)
        settings = score.Settings(
            modules, args.sample, args.seed if args.seed is not None else secrets.randbelow(10**6),
            args.budget, max(args.jobs, 1), args.equivalents or equivalents.DEFAULT_FILE,
            args.report, Path.cwd(), tuple(args.mutant))
        if args.sample < 1:
            raise ValueError("--sample must be at least 1")
        if args.list:
            return _list(score.sample_rows(settings))
        result = score.run(settings)
    except (KeyError, ValueError) as exc:
        print(f"mutation-score: {exc}", file=sys.stderr)
        return 2
    print(report.table(result))
    return _conclude(result, args.report)


def _modules(args: argparse.Namespace) -> list:
    from prsm_validate.mutation import catalogue as cat

    if args.rotate is not None:
        day = (datetime.date.today().weekday() if args.rotate == "today"
               else int(args.rotate) if args.rotate.isdigit() else -1)
        if not 0 <= day <= 6:
            raise ValueError(f"--rotate {args.rotate!r}: give a day 0-6 or 'today'")
        return cat.rotation(day)
    try:
        return cat.select(args.modules)
    except KeyError as exc:
        known = ", ".join([*cat.SUBSYSTEMS, *(m.path for m in cat.MODULES)])
        raise ValueError(f"--modules: unknown module or subsystem {exc.args[0]!r}; "
                         f"known: {known}") from None


def _list(rows: list) -> int:
    for row in rows:
        print(f"{row.outcome:12} {row.mutant.candidate.id}  line {row.mutant.line}\n"
              f"{row.mutant.diff}\n")
    return 0


def _conclude(result: dict, root: Path) -> int:
    line = {"run_id": result["run_id"], "seed": result["seed"], "sample": result["sample"],
            "wall_s": result["wall_s"], "score": result["total"]["score"],
            "subsystems": {k: v["score"] for k, v in result["subsystems"].items()},
            "baseline_passed": result["baseline_passed"]}
    if not result["baseline_passed"]:
        print(f"baseline FAILED ({', '.join(result['baseline_failed'][:3])}): no mutant was "
              f"run; output in {root / result['run_id'] / 'baseline.log'}")
    print(f"prsm mutation report: {root / result['run_id'] / 'mutation-score.html'}")
    print(json.dumps(line))
    met = all(v["meets_goal"] for v in result["subsystems"].values())
    return 0 if result["baseline_passed"] and met else 1
