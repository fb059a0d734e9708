"""Allure results through allure-pytest, in ``<run>/allure-results`` with the same evidence.

allure-pytest writes results while tests run, before we know whether the run used the system
under test; so results go to a scratch folder that moves into the run folder at the end, or is
removed when the run wrote no report. A ``--alluredir`` given by the user is left alone. A
session killed by SIGKILL cannot remove its scratch folder; the folder's name carries the
session's PID, and the next session removes the folders of sessions no longer alive.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

SCRATCH_KEY = pytest.StashKey[Path]()
PREFIX = "prsm-allure-"


def _already_recording() -> bool:
    """True when a session in this process already writes Allure results (a nested pytester
    run shares allure-commons' global plugin manager with it, so it must not add its own)."""
    try:
        from allure_commons import plugin_manager
        from allure_commons.logger import AllureFileLogger
    except ImportError:
        return False
    return any(isinstance(p, AllureFileLogger) for p in plugin_manager.get_plugins())


def enable(config: pytest.Config) -> None:
    """Point allure-pytest at a scratch folder unless the user chose one."""
    if not config.pluginmanager.hasplugin("allure_pytest"):
        return
    if getattr(config.option, "allure_report_dir", None) or _already_recording():
        return
    remove_orphans()
    scratch = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
    config.option.allure_report_dir = str(scratch)
    config.stash[SCRATCH_KEY] = scratch


def remove_orphans(folder: Path | None = None) -> list[Path]:
    """Remove the scratch folders of sessions that died without removing them; returns them."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(f"{PREFIX}*-*"):
        pid = path.name[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def finish(config: pytest.Config, run_dir: Path | None) -> None:
    """Move the scratch results into ``run_dir`` (or drop them when there is no run)."""
    scratch = config.stash.get(SCRATCH_KEY, None)
    if scratch is None or not scratch.exists():
        return
    if run_dir is not None:
        target = run_dir / "allure-results"
        target.mkdir(parents=True, exist_ok=True)
        for item in scratch.iterdir():
            shutil.move(str(item), target / item.name)
    shutil.rmtree(scratch, ignore_errors=True)


HISTORIES_KEY = pytest.StashKey[list[Path]]()
JSON_LINES = ("text/plain", "jsonl")  # Allure shows text/plain inline; the file says .jsonl


def remember_history(item: pytest.Item, path: Path) -> None:
    """Attach ``path`` to ``item``'s Allure result once its teardown is over."""
    item.stash.setdefault(HISTORIES_KEY, []).append(path)


def attach_histories(config: pytest.Config, item: pytest.Item) -> None:
    """Attach the item's histories to its own test result (called after its teardown, when
    every fixture step has ended, so the test result is Allure's current item)."""
    if SCRATCH_KEY not in config.stash:
        return
    try:
        import allure
    except ImportError:
        return
    mime, extension = JSON_LINES
    for path in item.stash.get(HISTORIES_KEY, []):
        if path.exists() and path.stat().st_size:
            allure.attach.file(str(path), name="history (JSON Lines)", attachment_type=mime,
                               extension=extension)
