"""A system left running with ``--prsm-keep``: where it is, and how it is stopped.

The session writes ``kept-<worker>.json`` into the run folder (process groups, data folder,
endpoints; no secrets; one per xdist worker); ``prsm-validate down [RUN]`` reads them, stops
every group (SIGCONT, SIGTERM, then SIGKILL, as the reaper does), removes the data folders and
renames each file ``*.stopped``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from prsm_validate.errors import UsageProblem
from prsm_validate.targets.reaper import stop_groups

PATTERN = "kept-*.json"


class NothingKept(UsageProblem):
    """The run folder holds no running system."""


def write(run_dir: Path, worker: str, groups: list[int], root: Path | None,
          endpoints: dict[str, Any]) -> Path:
    """Record the system ``worker`` keeps in ``run_dir``; returns the file."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"kept-{worker}.json"
    path.write_text(json.dumps({"groups": sorted(groups), "root": str(root) if root else None,
                                "endpoints": endpoints}, indent=2) + "\n")
    return path


def stop(run_dir: Path) -> list[dict[str, Any]]:
    """Stop every system kept by the run in ``run_dir``; returns what was recorded."""
    files = sorted(run_dir.glob(PATTERN))
    if not files:
        done = " (already stopped)" if list(run_dir.glob(PATTERN + ".stopped")) else ""
        raise NothingKept(f"{run_dir}: no system kept there{done}; a run keeps its system "
                          "only with --prsm-keep")
    stopped = []
    for path in files:
        kept = json.loads(path.read_text())
        stop_groups([int(g) for g in kept.get("groups", [])])
        if kept.get("root"):
            shutil.rmtree(kept["root"], ignore_errors=True)
        path.rename(path.with_name(path.name + ".stopped"))
        stopped.append(kept)
    return stopped
