"""``reports/trend.jsonl``: one line per run with the figures worth following across runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TREND_FILE = "trend.jsonl"


def trend_entry(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures of one run that the trend keeps."""
    counts = summary.get("counts", {})
    ready = [d.get("ready_s") for d in summary.get("deployments", []) if d.get("ready_s")]
    return {"run_id": summary["run_id"], "finished": summary["finished"],
            "target": summary["target"].get("name"), "verdict": summary.get("verdict"),
            "exit_status": summary.get("exit_status"),
            "total": sum(counts.values()) + len(summary.get("not_run", [])),
            "passed": counts.get("passed", 0), "failed": counts.get("failed", 0),
            "errors": counts.get("error", 0), "not_run": len(summary.get("not_run", [])),
            "ready_s": min(ready) if ready else None,
            "duration_s": round(summary["finished"] - summary["started"], 3)}


def append(root: Path, summary: dict[str, Any]) -> None:
    """Add this run's line to the trend file."""
    with (root / TREND_FILE).open("a") as out:
        out.write(json.dumps(trend_entry(summary)) + "\n")


def load(root: Path, until_run: str | None = None) -> list[dict[str, Any]]:
    """Trend lines, oldest first, up to and including ``until_run``."""
    path = root / TREND_FILE
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if until_run is not None:
        ids = [line["run_id"] for line in lines]
        lines = lines[: ids.index(until_run) + 1] if until_run in ids else lines
    return lines
