"""``prsm-validate bench startup``: local target cold start to ready, median of N runs.

Cold = fresh temp dirs, fresh processes (the PostgreSQL template from initdb is cached per
machine, as it is for every run after the first). Prints per-run times, then JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

NAME = "startup"
HELP = "Local target cold start to ready (median of --runs); JSON on the last line."


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the startup benchmark."""
    parser.add_argument("--runs", type=int, default=5, help="number of cold starts (default 5)")


def run(args: argparse.Namespace) -> int:
    """Start and stop the local target ``--runs`` times."""
    from prsm_validate.targets.local import LocalTarget

    times = []
    for index in range(args.runs):
        target = LocalTarget()
        started = time.monotonic()
        try:
            target.start()
            times.append(time.monotonic() - started)
        finally:
            target.stop()
        print(f"run {index + 1}: ready in {times[-1] * 1000:.0f} ms", flush=True)
    result = {"runs": len(times), "ready_ms_median": round(statistics.median(times) * 1000, 1),
              "ready_ms_min": round(min(times) * 1000, 1),
              "ready_ms_max": round(max(times) * 1000, 1),
              "ready_ms_all": [round(t * 1000, 1) for t in times]}
    print(json.dumps(result))
    return 0
