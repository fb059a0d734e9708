"""The run store: ``reports/<run-id>/`` per run, and ``reports/latest`` pointing at the newest.

Layout of a run folder: ``summary.json``, ``junit.xml``, ``histories/<test>.jsonl``,
``logs/<component>.log``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

LATEST = "latest"


def new_run_id(now: float | None = None) -> str:
    """A sortable, unique run id: ``YYYYmmdd-HHMMSS-xxxx``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{secrets.token_hex(2)}"


def safe_name(nodeid: str) -> str:
    """A file-name-safe form of a test node id."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:180]


class RunStore:
    """One run's folder."""

    def __init__(self, root: Path, run_id: str) -> None:
        self.root = root
        self.run_id = run_id
        self.path = root / run_id

    def create(self) -> RunStore:
        """Create the folder and point ``latest`` at it."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._link_latest()
        return self

    def history_path(self, nodeid: str) -> Path:
        """Where the history of test ``nodeid`` goes."""
        return self.path / "histories" / f"{safe_name(nodeid)}.jsonl"

    @property
    def junit_path(self) -> Path:
        """The JUnit XML report."""
        return self.path / "junit.xml"

    @property
    def logs_path(self) -> Path:
        """The folder for component logs."""
        return self.path / "logs"

    def write_json(self, name: str, data: Any) -> Path:
        """Write ``data`` as pretty JSON to ``name`` in the run folder (atomically)."""
        path = self.path / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, path)
        return path

    def _link_latest(self) -> None:
        link = self.root / LATEST
        tmp = self.root / f".{LATEST}.{os.getpid()}"
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(self.run_id)
        os.replace(tmp, link)
