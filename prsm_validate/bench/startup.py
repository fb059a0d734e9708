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
    parser.add_argument("--targets", default="local",
                        help="comma-separated targets to compare in one run: local,docker")


def _target(name: str) -> object:
    if name == "docker":
        from prsm_validate.targets.docker import DockerTarget
        from prsm_validate.targets.docker_image import ensure_image

        ensure_image()  # cold start is measured with the image present
        return DockerTarget
    from prsm_validate.targets.local import LocalTarget

    return LocalTarget


def _measure(name: str, runs: int) -> list[float]:
    factory = _target(name)
    times = []
    for index in range(runs):
        target = factory()  # type: ignore[operator]
        started = time.monotonic()
        try:
            target.start()
            times.append(time.monotonic() - started)
        finally:
            target.stop()
        print(f"{name} run {index + 1}: ready in {times[-1] * 1000:.0f} ms", flush=True)
    return times


def run(args: argparse.Namespace) -> int:
    """Start and stop each target ``--runs`` times; JSON with medians on the last line."""
    result: dict[str, object] = {"runs": args.runs}
    for name in args.targets.split(","):
        times = _measure(name.strip(), args.runs)
        prefix = "ready_ms" if name == "local" else f"{name}_ready_ms"
        result[f"{prefix}_median"] = round(statistics.median(times) * 1000, 1)
        result[f"{prefix}_all"] = [round(t * 1000, 1) for t in times]
    print(json.dumps(result))
    return 0
