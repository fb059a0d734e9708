"""Allure scratch folders left by a SIGKILLed session are removed by the next session."""

from __future__ import annotations

import os
import subprocess
import sys

from prsm_validate.report.allure import PREFIX, remove_orphans


def test_only_the_folders_of_dead_sessions_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folders = {name: tmp_path / name for name in (
        f"{PREFIX}{dead.pid}-abc", f"{PREFIX}{os.getpid()}-def", f"{PREFIX}xyz", "other-1-2")}
    for folder in folders.values():
        folder.mkdir()
    (folders[f"{PREFIX}{dead.pid}-abc"] / "result.json").write_text("{}")
    assert remove_orphans(tmp_path) == [folders[f"{PREFIX}{dead.pid}-abc"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{PREFIX}{os.getpid()}-def", f"{PREFIX}xyz", "other-1-2"])
