"""``junit.xml`` in the run folder, written by pytest's own junitxml plugin.

pytest counts and describes every test it ran; the harness only points ``--junitxml`` at the
run folder when the user gave none, adds the run's seed and target as suite properties, and
copies a user-chosen file into the run folder so the run's evidence stays in one place.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _pytest.junitxml import xml_key  # pytest's LogXML instance of this session

USER_PATH = pytest.StashKey[Path | None]()


def enable(config: pytest.Config, run_junit: Path) -> None:
    """Before pytest's junitxml plugin configures: write into the run folder by default."""
    given = config.option.xmlpath
    config.stash[USER_PATH] = Path(given).resolve() if given else None
    if not given:
        config.option.xmlpath = str(run_junit)


def add_properties(config: pytest.Config, properties: dict[str, str]) -> None:
    """Suite-level properties (seed, target) on the JUnit report."""
    log = config.stash.get(xml_key, None)
    if log is not None:
        for name, value in properties.items():
            log.add_global_property(name, value)


def finish(config: pytest.Config, run_junit: Path) -> None:
    """Copy a junit.xml the user placed elsewhere into the run folder (written by now)."""
    user = config.stash.get(USER_PATH, None)
    if user is not None and user.exists() and user != run_junit.resolve():
        shutil.copyfile(user, run_junit)
