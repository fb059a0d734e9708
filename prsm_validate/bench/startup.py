"""``prsm-validate bench startup``: local target cold start to ready, median of N runs.

Cold = fresh temp dirs, fresh processes (the PostgreSQL template from initdb is cached per
machine, as it is for every run after the first). Prints per-run times, each component's
median spawn and ready times and the critical path (the chain of dependencies that ended
last: the next regression shows where it comes from), then JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from prsm_validate.targets.base import StartupTimeline

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


def _measure(name: str, runs: int) -> tuple[list[float], list[dict[str, Any]]]:
    factory = _target(name)
    times, timelines = [], []
    for index in range(runs):
        target = factory()  # type: ignore[operator]
        started = time.monotonic()
        try:
            target.start()
            times.append(time.monotonic() - started)
            timed = isinstance(target, StartupTimeline)
            timelines.append(target.timeline() if timed else {})
            cpu = _cpu_seconds(target.pids()) if timed else {}
        finally:
            target.stop()
        timelines[-1] = {"__cpu__": cpu, **timelines[-1]}
        print(f"{name} run {index + 1}: ready in {times[-1] * 1000:.0f} ms, "
              f"{sum(cpu.values()):.2f} CPU-s in its processes", flush=True)
    return times, timelines


def _cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system, children included) each component spent so far: what a
    start costs whatever else the machine runs (its wall time moves with the load)."""
    import psutil

    spent = {}
    for name, pid in pids.items():
        try:
            proc = psutil.Process(pid)
            spent[name] = sum(sum(p.cpu_times()[:2]) for p in [proc, *proc.children(True)])
        except psutil.Error:
            continue
    return spent


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else 0.0


def _components(timelines: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Median spawn and ready time (ms from the start) and CPU seconds of every component."""
    names = sorted({n for t in timelines for n in t if n != "__cpu__"},
                   key=lambda n: statistics.median(t[n][1] or 0 for t in timelines if n in t))
    return {n: {"spawned_ms": round(_median([t[n][0] for t in timelines if n in t]) * 1000, 1),
                "ready_ms": round(_median([t[n][1] or 0 for t in timelines if n in t]) * 1000,
                                  1),
                "cpu_s": _median([t["__cpu__"][n] for t in timelines if n in t["__cpu__"]])}
            for n in names}


def _report(components: dict[str, dict[str, float]], path: list[str]) -> None:
    print("component       spawned    ready    CPU-s   (ms from start, medians)")
    for name, row in components.items():
        mark = " *" if name in path else ""
        print(f"  {name:12} {row['spawned_ms']:8.0f} {row['ready_ms']:8.0f} "
              f"{row['cpu_s']:8.2f}{mark}")
    print("critical path (*): " + " -> ".join(
        f"{n} {components[n]['ready_ms']:.0f}" for n in path), flush=True)


def run(args: argparse.Namespace) -> int:
    """Start and stop each target ``--runs`` times; JSON with medians on the last line."""
    from prsm_validate.targets.local_launch import critical_path

    result: dict[str, object] = {"runs": args.runs}
    for name in args.targets.split(","):
        times, timelines = _measure(name.strip(), args.runs)
        prefix = "ready_ms" if name == "local" else f"{name}_ready_ms"
        result[f"{prefix}_median"] = round(statistics.median(times) * 1000, 1)
        result[f"{prefix}_all"] = [round(t * 1000, 1) for t in times]
        if any(timelines):
            components = _components(timelines)
            median_run = timelines[sorted(range(len(times)), key=times.__getitem__)
                                   [len(times) // 2]]
            path = critical_path({k: v for k, v in median_run.items() if k != "__cpu__"})
            result[f"{name}_cpu_s_median"] = _median([sum(t["__cpu__"].values())
                                                        for t in timelines])
            _report(components, path)
            result[f"{name}_components"] = components
            result[f"{name}_critical_path"] = path
    print(json.dumps(result))
    return 0
