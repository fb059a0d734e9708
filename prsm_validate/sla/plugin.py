"""SLA thresholds in pytest: the ``sla`` marker, the ``prsm_thresholds`` ini key, the
``prsm_metrics`` fixture, and exit status 6 when the only failures are SLA breaches.

``@pytest.mark.sla("http_req_duration{name:health}", "p(99)<10ms")`` is evaluated against the
test's metric store after the test body; a breach (or no data: unknown never passes) fails the
test with the metric, the measured value, the threshold and the window. Ini thresholds apply to
every test that recorded the metric. Syntax: :mod:`prsm_validate.sla.thresholds`.

Latency thresholds are calibrated (:mod:`prsm_validate.sla.floor`): when this machine's own
floor breaks a threshold, the test is skipped with that reason instead of judged, since the
verdict would be about the machine; otherwise the floor is shown beside the measured value.
The floor is paired with the test's requests (one no-op request after each, same thread), so
it is measured through the same seconds as the workload it judges.

Exit status: when every failure of the session is an SLA breach (or an SLA without data), pytest
exits with ``6`` (:data:`SLA_ONLY_EXIT`) instead of ``1``, so CI can tell "the system is too
slow" from "the system is wrong". Any other failure or error keeps pytest's own status.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from prsm_validate.load.fixture import prsm_load_url  # noqa: F401  (a fixture, found by name)
from prsm_validate.sla.thresholds import (
    Threshold,
    ThresholdSyntaxError,
    parse_line,
    parse_threshold,
)

if TYPE_CHECKING:  # the store and evaluation (HDR histograms) load when a test records
    from prsm_validate.sla.evaluate import Result
    from prsm_validate.sla.store import MetricStore

SLA_ONLY_EXIT = 6
STORE_KEY = pytest.StashKey["MetricStore"]()
FLOOR_KEY = pytest.StashKey[Any]()  # the session's FloorServer, started on first use
INI_KEY = pytest.StashKey[list[Threshold]]()
BREACH = "sla_breach"


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``prsm_thresholds`` ini key."""
    parser.addini("prsm_thresholds", "SLA thresholds applied to every test recording the "
                  "metric, one per line: metric{tag:value}: p(99)<10ms, rate<0.01", "linelist")


def pytest_configure(config: pytest.Config) -> None:
    """Parse ini thresholds now: a syntax error is a usage error naming the line."""
    try:
        config.stash[INI_KEY] = [parse_line(line) for line in config.getini("prsm_thresholds")]
    except ThresholdSyntaxError as exc:
        raise pytest.UsageError(f"ini prsm_thresholds: {exc}") from None
    config.pluginmanager.register(SlaOutcomes(), "prsm-sla-outcomes")


def marker_thresholds(item: pytest.Item) -> list[Threshold]:
    """The thresholds of the item's ``sla`` markers."""
    found = []
    for marker in item.iter_markers("sla"):
        if len(marker.args) < 2:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.sla(metric, condition, ...) "
                                    "needs a metric and at least one condition")
        try:
            found.append(parse_threshold(str(marker.args[0]), [str(a) for a in marker.args[1:]]))
        except ThresholdSyntaxError as exc:
            raise pytest.UsageError(f"{item.nodeid}: {exc}") from None
    return found


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Validate every sla marker before anything runs."""
    for item in items:
        marker_thresholds(item)


@pytest.fixture
def prsm_metrics(request: pytest.FixtureRequest) -> Iterator[MetricStore]:
    """This test's metric store; the ``sla`` marker is evaluated against it."""
    from prsm_validate.sla.store import MetricStore

    store = MetricStore()
    request.node.stash[STORE_KEY] = store
    sampler = _paired_floor(request.node, store)
    try:
        yield store
    finally:
        if sampler is not None:
            sampler.close()


def _paired_floor(item: pytest.Item, store: MetricStore) -> Any:
    """Pair the store with the floor when a latency threshold of this test will be calibrated
    (:mod:`prsm_validate.sla.floor`); returns the sampler to close, or None."""
    from prsm_validate.sla import floor

    thresholds = marker_thresholds(item) + item.config.stash[INI_KEY]
    names = {t.selector.name for t in thresholds
             if any(floor.applies(t, c) for c in t.conditions)}
    if not names:
        return None
    sampler = _floor_server(item.config).sampler()
    store.pair_with(sampler, names)
    return sampler


def _results(item: pytest.Item) -> list[Result]:
    store = item.stash.get(STORE_KEY, None)
    ini = [t for t in item.config.stash[INI_KEY]
           if store is not None and store.matching(t.selector.name, t.selector.tags)]
    thresholds = marker_thresholds(item) + ini
    if not thresholds:
        return []
    from prsm_validate.sla import floor
    from prsm_validate.sla.evaluate import evaluate
    from prsm_validate.sla.store import MetricStore

    store = store or MetricStore()
    results = evaluate(thresholds, store)
    if not any(floor.applies(t, c) for t in thresholds for c in t.conditions):
        return results
    return floor.calibrate(thresholds, results, store, _floor_server(item.config).measure,
                           remote=_remote(item.config))


def _floor_server(config: pytest.Config) -> Any:
    from prsm_validate.sla import floor

    server = config.stash.get(FLOOR_KEY, None)
    if server is None:
        server = config.stash[FLOOR_KEY] = floor.FloorServer()
        config.add_cleanup(server.stop)
    return server


def _remote(config: pytest.Config) -> bool:
    from prsm_validate.session import SETTINGS_KEY

    settings = config.stash.get(SETTINGS_KEY, None)
    return settings is not None and settings.spec.kind == "remote"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    """After the test body: evaluate thresholds; a breach or unknown fails the test."""
    report: pytest.TestReport = yield
    if call.when != "call":
        return report
    store = item.stash.get(STORE_KEY, None)
    if store is not None:
        store.stop()
    results = _results(item)
    if store is not None and store.series:
        _record(item, report, "metrics", store.summary())
    if not results:
        return report
    _record(item, report, "sla", describe(results))
    breaches = [r for r in results if r.verdict != "pass"]
    if breaches and report.passed and all(r.machine_floor for r in breaches):
        path, line, _ = item.location
        report.outcome = "skipped"
        report.longrepr = (path, (line or 0) + 1, "Skipped: " + "; ".join(
            r.message() for r in breaches))
    elif breaches and report.passed:
        report.outcome = "failed"
        report.longrepr = "\n".join(r.message() for r in breaches)
        report.user_properties.append((BREACH, True))
    if any(r.abort for r in breaches if not r.machine_floor):
        item.session.shouldstop = f"abortOnFail: {breaches[0].message()}"
    return report


def _record(item: pytest.Item, report: pytest.TestReport, name: str, value: object) -> None:
    """A property on this report (run summary) and on the item (JUnit, later phases)."""
    report.user_properties.append((name, value))
    item.user_properties.append((name, value))


class SlaOutcomes:
    """Tells, from the reports (also those of xdist workers), whether only SLAs failed."""

    def __init__(self) -> None:
        self.failed: set[tuple[str, str]] = set()  # (nodeid, phase)
        self.breached: set[tuple[str, str]] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Remember failing test phases, and which of them failed on an SLA breach."""
        if report.failed:
            self.failed.add((report.nodeid, report.when))
            if report.when == "call" and (BREACH, True) in report.user_properties:
                self.breached.add((report.nodeid, report.when))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Exit status 6 when every failure of the session is an SLA breach."""
        only_sla = bool(self.breached) and self.failed == self.breached
        if exitstatus == pytest.ExitCode.TESTS_FAILED and only_sla:
            session.exitstatus = SLA_ONLY_EXIT


def describe(results: list[Result]) -> list[dict[str, Any]]:
    """Results as JSON (for gate files and reports)."""
    return [r.to_json() for r in results]
