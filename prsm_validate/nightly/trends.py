"""Across nights: the trend file, named regressions, and retention of the last N runs.

``<report dir>/trend.jsonl`` holds one line per night: its verdict, the outcome of each
scenario (schedule family, the soak, each extra stage) and the figures worth following.
A **regression** is named when a scenario passed in the previous night and does not now, or
when a figure is more than ``drift_percent`` worse than the median of the last ``window``
nights (figures have a direction: latencies, recovery times and memory are better low,
throughput better high; a drift the good way is listed as an improvement, not a regression).
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
from pathlib import Path
from typing import Any

TREND_FILE = "trend.jsonl"
RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{4}$")
LOWER_IS_BETTER = re.compile(r"(_ms|_s|_mb|_rate|mb_per_hour)$")
HIGHER_IS_BETTER = re.compile(r"(rps|acknowledged|_ratio)$")
MIN_HISTORY = 3  # earlier nights needed before a drift is judged


def load(root: Path) -> list[dict[str, Any]]:
    """Every trend line, oldest first (lines that do not parse are skipped)."""
    path = root / TREND_FILE
    if not path.exists():
        return []
    lines = []
    for text in path.read_text().splitlines():
        try:
            lines.append(json.loads(text))
        except ValueError:
            continue
    return lines


def append(root: Path, entry: dict[str, Any]) -> None:
    """Add tonight's line."""
    with (root / TREND_FILE).open("a") as out:
        out.write(json.dumps(entry, sort_keys=True) + "\n")


def regressions(history: list[dict[str, Any]], tonight: dict[str, Any], window: int,
                drift_percent: float) -> dict[str, list[dict[str, Any]]]:
    """Named regressions and improvements of ``tonight`` against earlier ``history``."""
    found: dict[str, list[dict[str, Any]]] = {"regressions": [], "improvements": [],
                                              "not_judged": []}
    if history:
        previous = history[-1]
        for scenario, outcome in sorted(tonight.get("outcomes", {}).items()):
            before = previous.get("outcomes", {}).get(scenario)
            if before == "pass" and outcome != "pass":
                found["regressions"].append({
                    "kind": "scenario", "name": scenario, "was": before, "now": outcome,
                    "text": f"{scenario} passed in {previous['run_id']} and is {outcome} now"})
    recent = history[-window:]
    for name, value in sorted(tonight.get("figures", {}).items()):
        _judge_figure(name, value, recent, drift_percent, found)
    return found


def _judge_figure(name: str, value: Any, recent: list[dict[str, Any]], drift_percent: float,
                  found: dict[str, list[dict[str, Any]]]) -> None:
    direction = _direction(name)
    if direction is None or not isinstance(value, int | float):
        return
    earlier = [e["figures"][name] for e in recent
               if isinstance(e.get("figures", {}).get(name), int | float)]
    if len(earlier) < MIN_HISTORY:
        found["not_judged"].append({"name": name, "reason": f"{len(earlier)} earlier nights "
                                    f"(needs {MIN_HISTORY})"})
        return
    median = statistics.median(earlier)
    if median == 0:
        return
    drift = (value - median) / abs(median) * 100
    if abs(drift) <= drift_percent:
        return
    worse = drift > 0 if direction == "lower" else drift < 0
    entry = {"kind": "figure", "name": name, "value": value, "median": median,
             "drift_percent": round(drift, 1), "nights": len(earlier),
             "text": f"{name} {value:g} is {drift:+.0f}% from the median {median:g} of the "
                     f"last {len(earlier)} nights (limit {drift_percent:g}%)"}
    found["regressions" if worse else "improvements"].append(entry)


def _direction(name: str) -> str | None:
    if HIGHER_IS_BETTER.search(name):
        return "higher"
    if LOWER_IS_BETTER.search(name):
        return "lower"
    return None


def retain(root: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` run folders (and their trend lines); returns the
    ids removed. Only folders named like run ids are touched."""
    runs = sorted(p.name for p in root.iterdir() if p.is_dir() and RUN_ID.match(p.name))
    doomed = runs[:-keep] if keep > 0 else runs
    for run_id in doomed:
        shutil.rmtree(root / run_id, ignore_errors=True)
    if doomed:
        kept = [line for line in load(root) if line.get("run_id") not in set(doomed)]
        tmp = root / (TREND_FILE + ".tmp")
        tmp.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in kept))
        tmp.replace(root / TREND_FILE)
    return doomed
