"""Outcomes people can read: skips instead of crashes, one line per harness finding.

- An operation the target's profile lacks (:class:`OperationUnsupported`) skips the test with
  the reason, in setup and in the test body (DESIGN.md 5).
- A :class:`~prsm_validate.errors.PrsmFailure` (timeouts, unexpected statuses, contract
  findings, workloads that did not run) is shown as ``path:line: [class] cause``; the
  traceback, with library internals, only with ``-vv``. (Classes are counted by the session:
  :mod:`prsm_validate.report.failures`.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from prsm_validate.errors import OperationUnsupported, PrsmFailure

_SPEC_KEY = pytest.StashKey[str]()


def _skip_unsupported(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    except OperationUnsupported as exc:
        target = item.config.stash.get(_SPEC_KEY, None)
        prefix = f"target {target!r}: " if target else ""
        pytest.skip(f"{prefix}{exc}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """A fixture calling an operation the profile lacks skips the test."""
    return (yield from _skip_unsupported(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test calling an operation the profile lacks skips."""
    return (yield from _skip_unsupported(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[Any]:
    """Show a harness finding as its one line unless ``-vv``."""
    report: pytest.TestReport = yield
    exc = call.excinfo.value if call.excinfo is not None else None
    if report.failed and isinstance(exc, PrsmFailure) and item.config.getoption(
            "verbose") < 2:
        path, line, _ = item.location
        report.longrepr = f"{path}:{(line or 0) + 1}: [{exc.failure_class}] {exc.one_line()}"
    return report


def pytest_configure(config: pytest.Config) -> None:
    """Remember the target's name for skip reasons."""
    from prsm_validate.session import SETTINGS_KEY

    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is not None:
        config.stash[_SPEC_KEY] = settings.spec.name
