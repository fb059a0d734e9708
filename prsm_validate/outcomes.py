"""Outcomes people can read: skips instead of crashes, a class and one line per failure.

- An operation the target's profile lacks (:class:`OperationUnsupported`) skips the test with
  the reason, in setup and in the test body (DESIGN.md 5).
- Every failed test phase gets the user property ``failure = {"class", "cause"}``
  (:func:`prsm_validate.errors.classify`), which the run summary and the report read.
- A :class:`~prsm_validate.errors.PrsmFailure` (timeouts, unexpected statuses, contract
  findings, workloads that did not run) is shown as its one line; the traceback, with library
  internals, only with ``-vv``.
- The terminal summary counts failures per class and gives each one's cause.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from prsm_validate.client.profiles import OperationUnsupported
from prsm_validate.errors import FAILURE_CLASSES, SLA, PrsmFailure, classify, one_line

FAILURE = "failure"


def _skip_unsupported(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    except OperationUnsupported as exc:
        target = item.config.stash.get(_SPEC_KEY, None)
        prefix = f"target {target!r}: " if target else ""
        pytest.skip(f"{prefix}{exc}")


_SPEC_KEY = pytest.StashKey[str]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """A fixture calling an operation the profile lacks skips the test."""
    return (yield from _skip_unsupported(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test calling an operation the profile lacks skips."""
    return (yield from _skip_unsupported(item))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[Any]:
    """Classify a failure; show a harness finding as its one line unless ``-vv``."""
    report: pytest.TestReport = yield
    if not report.failed:
        return report
    markers = {m.name for m in item.iter_markers()}
    if ("sla_breach", True) in report.user_properties:
        failure_class, cause = SLA, one_line(str(report.longrepr).splitlines()[0])
    elif call.excinfo is not None:
        failure_class, cause = classify(call.excinfo.value, markers)
        if isinstance(call.excinfo.value, PrsmFailure) and item.config.getoption(
                "verbose") < 2:
            path, line, _ = item.location
            report.longrepr = f"{path}:{(line or 0) + 1}: [{failure_class}] {cause}"
    else:
        failure_class, cause = classify(AssertionError(str(report.longrepr)), markers)
    report.user_properties.append((FAILURE, {"class": failure_class, "cause": cause,
                                             "when": report.when}))
    return report


class FailureSummary:
    """Counts failures per class (also from xdist workers) for the terminal summary."""

    def __init__(self) -> None:
        self.failures: list[tuple[str, str, str]] = []  # (nodeid, class, cause)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Remember each classified failure."""
        for name, value in report.user_properties:
            if name == FAILURE and report.failed:
                self.failures.append((report.nodeid, value["class"], value["cause"]))

    def counts(self) -> dict[str, int]:
        """Failures per class, in the classes' order."""
        found = {c: sum(1 for _, k, _ in self.failures if k == c) for c in FAILURE_CLASSES}
        return {c: n for c, n in found.items() if n}

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """``prsm failures: 1 contract, 2 availability`` and one line per failure."""
        if not self.failures:
            return
        counts = ", ".join(f"{n} {c}" for c, n in self.counts().items())
        terminalreporter.write_sep("-", "prsm failures by class")
        terminalreporter.write_line(f"prsm failures: {counts}")
        for nodeid, failure_class, cause in self.failures:
            terminalreporter.write_line(f"[{failure_class}] {nodeid}: {cause}")


def pytest_configure(config: pytest.Config) -> None:
    """Register the failure summary; remember the target's name for skip reasons."""
    config.pluginmanager.register(FailureSummary(), "prsm-failure-summary")
    from prsm_validate.session import SETTINGS_KEY

    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is not None:
        config.stash[_SPEC_KEY] = settings.spec.name
