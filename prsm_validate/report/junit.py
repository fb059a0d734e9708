"""``junit.xml`` in the run folder, written by pytest's own junitxml plugin.

pytest counts and describes every test it ran; the harness points ``--junitxml`` at a scratch
file when the user gave none (whether the run writes a report is known only at its end), adds
the run's seed and target as suite properties, then moves the file into the run folder, or
removes it when the run wrote no report. A user-chosen file stays where asked and is copied
into the run folder so the run's evidence stays in one place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from _pytest.junitxml import xml_key  # pytest's LogXML instance of this session

USER_PATH = pytest.StashKey[Path | None]()
SCRATCH = pytest.StashKey[Path]()


def enable(config: pytest.Config) -> None:
    """Before pytest's junitxml plugin configures: write to a scratch file by default."""
    given = config.option.xmlpath
    config.stash[USER_PATH] = Path(given).resolve() if given else None
    if not given:
        fd, name = tempfile.mkstemp(prefix=f"prsm-junit-{os.getpid()}-", suffix=".xml")
        os.close(fd)
        config.stash[SCRATCH] = Path(name)
        config.option.xmlpath = name


def keep_test_properties(config: pytest.Config) -> None:
    """The scenarios record their figures with ``record_property``; pytest's default family
    (xunit2) drops them from the file and warns on every such test, so the harness writes
    xunit1, where each testcase carries its properties (``legacy`` is xunit1 already)."""
    log = config.stash.get(xml_key, None)
    if log is not None and log.family == "xunit2":
        log.family = "xunit1"


def add_properties(config: pytest.Config, properties: dict[str, str]) -> None:
    """Suite-level properties (seed, target) on the JUnit report."""
    log = config.stash.get(xml_key, None)
    if log is not None:
        for name, value in properties.items():
            log.add_global_property(name, value)


def finish(config: pytest.Config, run_junit: Path | None) -> None:
    """After pytest wrote the file: move it into the run folder (``run_junit``), or drop it
    when there is no run to report (None)."""
    scratch = config.stash.get(SCRATCH, None)
    log = config.stash.get(xml_key, None)
    if scratch is not None:
        if run_junit is not None and scratch.exists():
            shutil.move(str(scratch), run_junit)
            if log is not None:
                log.logfile = str(run_junit)  # "generated xml file: ..." names the final place
        else:
            scratch.unlink(missing_ok=True)
            if log is not None:  # no "generated xml file" line naming a removed file
                config.pluginmanager.unregister(log)
                del config.stash[xml_key]  # junitxml's unconfigure would unregister it again
        return
    user = config.stash.get(USER_PATH, None)
    if run_junit is not None and user is not None and user.exists():
        shutil.copyfile(user, run_junit)
