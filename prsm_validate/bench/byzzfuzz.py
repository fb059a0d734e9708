"""``prsm-validate bench byzzfuzz``: ByzzFuzz schedules per second in the PBFT simulator.

Runs :func:`prsm_validate.generator.byzzfuzz.search` on the shipped code for ``--seconds``
(one process, one core) and prints the rate, with the projection to an hour; JSON on the last
line. The machine may be shared: the figure is for comparing runs, not a threshold.
"""

from __future__ import annotations

import argparse
import json

NAME = "byzzfuzz"
HELP = "ByzzFuzz schedules per second in the PBFT simulator; JSON on the last line."


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the benchmark."""
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to search")
    parser.add_argument("--seed", type=int, default=1)


def run(args: argparse.Namespace) -> int:
    """Search for ``--seconds``; print schedules/s."""
    from prsm_validate.generator import byzzfuzz

    seconds = min(max(args.seconds, 0.5), 600.0)
    result = byzzfuzz.search(args.seed, 10_000_000, seconds)
    figures = {"schedules": result.schedules, "seconds": round(result.seconds, 2),
               "schedules_per_s": round(result.rate, 1),
               "schedules_per_hour": int(result.rate * 3600),
               "violations": len(result.found or [])}
    print(f"{figures['schedules']} schedules in {figures['seconds']}s: "
          f"{figures['schedules_per_s']}/s ({figures['schedules_per_hour']}/h on one core)")
    print(json.dumps(figures))
    return 0
