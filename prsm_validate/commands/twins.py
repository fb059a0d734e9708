"""``prsm-validate twins``: Twins schedules in the PBFT simulator, enumerated or sampled.

A schedule (:mod:`prsm_validate.generator.twins`) twins one replica's identity (two
processes, one key) and splits the processes into at most three groups per view. The space
of ``--rounds`` rounds is run in full when ``--schedules`` covers it, else as a sample drawn
with ``--seed``; every run is judged by agreement, validity, exactly-once, supply and
liveness once the twins stopped. Each violation is printed with its replay line.
``--mutant ID`` searches a planted defect of ``prsm-validate mutants`` (time to detection).
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "twins"
HELP = ("Search Twins schedules (a twinned replica identity + a partition per view) in the "
        "PBFT simulator; JSON on the last line.")


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``twins``."""
    parser.add_argument("--rounds", type=int, default=2, help="views with a partition (2)")
    parser.add_argument("--n", type=int, default=4, help="replicas (4)")
    parser.add_argument("--schedules", type=int, default=5000,
                        help="schedules at most; the whole space when it is smaller")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample and orders")
    parser.add_argument("--budget-seconds", type=float, default=60.0,
                        help="stop after this long (default 60)")
    parser.add_argument("--stop-at", type=int, default=0,
                        help="stop after this many violations (default: never)")
    parser.add_argument("--replay", metavar="SCHEDULE", help="run one schedule (its text form)")
    parser.add_argument("--mutant", metavar="ID", help="search this planted defect instead")


def run(args: argparse.Namespace) -> int:
    """Search (or replay); exit 1 when a violation was found, 2 on bad input."""
    from prsm_validate.generator import twins

    if args.mutant:
        return _on_mutant(args)
    if args.replay:
        try:
            schedule = twins.parse(args.replay, n=args.n)
        except ValueError as exc:
            return _bad(str(exc))
        problems = twins.simulate(schedule, **twins.SIM_DEFAULTS)
        print(json.dumps({"schedule": schedule.text(), "problems": problems}))
        return 1 if problems else 0
    if args.schedules < 1 or not args.budget_seconds > 0:
        return _bad("--schedules and --budget-seconds must be positive")
    try:
        space = twins.TwinsSpace(args.n, args.rounds)
    except ValueError as exc:
        return _bad(f"{exc} (got --n {args.n}, --rounds {args.rounds})")

    def report(found: twins.Found) -> None:
        print(f"VIOLATION schedule #{found.index}: {'; '.join(found.problems[:3])}\n"
              f"  replay (simulator): prsm-validate twins --n {space.n} "
              f"--replay '{found.schedule.text()}'", flush=True)

    result = twins.search(space, args.seed, args.schedules, args.budget_seconds,
                          args.stop_at, report)
    print(json.dumps({"seed": args.seed, "space": result.space, "schedules": result.schedules,
                      "exhaustive": result.schedules == result.space,
                      "seconds": round(result.seconds, 2),
                      "schedules_per_s": round(result.rate, 1),
                      "violations": len(result.found),
                      "first_violation_after": result.found[0].ran if result.found else None}))
    return 1 if result.found else 0


def _bad(message: str) -> int:
    print(f"prsm-validate twins: {message}", file=sys.stderr)
    return 2


def _on_mutant(args: argparse.Namespace) -> int:
    """Re-run this command on a scratch copy of ``reference_system`` with the defect."""
    from prsm_validate import mutants

    mutant = mutants.find(args.mutant)
    if mutant is None:
        return _bad(f"unknown mutant {args.mutant!r} (see prsm-validate mutants --list)")
    argv = [a for a in sys.argv[1:] if a != args.mutant and not a.startswith("--mutant")]
    return mutants.rerun_on_copy(mutant, argv)
