"""Lines the harness promises on the terminal, visible under pytest's default capture.

A line written while a fixture runs (the target is ready, a kept system's stop command) would
land in pytest's capture and show only with ``-s``; these are written with capture suspended.
"""

from __future__ import annotations

import contextlib

import pytest


def announce(config: pytest.Config, line: str) -> None:
    """Write ``line`` to the terminal now, whatever pytest is capturing."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    capture = config.pluginmanager.get_plugin("capturemanager")
    suspended = (capture.global_and_fixture_disabled() if capture is not None
                 else contextlib.nullcontext())
    with suspended:
        if reporter._tw.width_of_current_line:  # e.g. after a test's progress dot
            reporter.write("\n")
        reporter.write_line(line)
