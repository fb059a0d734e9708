"""Per-session state and hooks: capability skips, outcome collection, the run report."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any

import pytest

from prsm_validate.report.store import RunStore, new_run_id
from prsm_validate.settings import RunSettings
from prsm_validate.targets.base import FAULT_CAPABILITIES, fault_permission

SETTINGS_KEY = pytest.StashKey[RunSettings]()
SESSION_KEY = pytest.StashKey["PrsmSession"]()
USES_PRSM = "prsm"  # user property marking a test that used the system under test
FAILURE = "failure"  # user property: {"class", "cause"} of a failed phase


def selected_gate(config: pytest.Config) -> str | None:
    """The gate(s) this run evaluates (``--prsm-gate``), or None."""
    return config.stash[SETTINGS_KEY].gate


class PrsmSession:
    """What the plugin knows about this run; registered as a plugin in ``pytest_configure``."""

    def __init__(self, config: pytest.Config, settings: RunSettings,
                 workerinput: dict[str, Any] | None) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = workerinput is not None
        run_id = workerinput["prsm_run_id"] if workerinput else new_run_id()
        self.store = RunStore(settings.report_root, run_id)
        self.started = time.time()
        self.reports: list[dict[str, Any]] = []
        self.uses_prsm = settings.report_explicit
        self.deployment_info: dict[str, Any] | None = None
        self.ready_s: float | None = None
        # Threshold results (gates, SLA markers) for the report's SLA table.
        self.thresholds: list[dict[str, Any]] = []
        self.collected: list[str] = []  # node ids selected to run (the controller's view)
        self.internal_errors: list[str] = []
        self.gate_passed: bool | None = None  # set by the gate plugin
        self.verdict: dict[str, Any] | None = None  # the summary, once written
        config.stash[SETTINGS_KEY] = settings
        config.stash[SESSION_KEY] = self

    # reporting the configuration ---------------------------------------------------------

    def pytest_report_header(self) -> list[str]:
        """Target, seed and report folder, at the top of the run."""
        spec = self.settings.spec
        return [f"prsm: target={spec.name} (kind {spec.kind}, profile {spec.profile}) "
                f"seed={self.settings.seed} report={self.store.path}"]

    def pytest_sessionstart(self) -> None:
        """The run's seed and target on the JUnit report, and the scenarios' figures."""
        from prsm_validate.report import junit

        junit.keep_test_properties(self.config)
        junit.add_properties(self.config, {"prsm.seed": str(self.settings.seed),
                                           "prsm.target": self.settings.spec.name,
                                           "prsm.run": self.store.run_id})

    # what is collected and what breaks -----------------------------------------------------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Remember what was selected to run (a test that never reports did not run)."""
        if session.items:
            self.collected = [item.nodeid for item in session.items]

    def pytest_internalerror(self, excrepr: Any) -> None:
        """An internal error makes the run's verdict ERROR (its last line is the cause)."""
        lines = [line for line in str(excrepr).splitlines() if line.strip()]
        self.internal_errors.append((lines[-1] if lines else "unknown").removeprefix("E   ")
                                    .strip()[:300])

    # skips ---------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Skip, with the reason, what the target cannot or may not do."""
        from prsm_validate.client.profiles import FEATURES, profile

        if _uses_prsm(item):  # marked before any fixture starts: a failed start is reported
            item.user_properties.append((USES_PRSM, True))
        spec = self.settings.spec
        needed = {c for m in item.iter_markers("requires") for c in m.args}
        api = spec.api_profile or profile(spec.profile)
        lacking = sorted((needed & set(FEATURES)) - api.features)
        if lacking:
            pytest.skip(f"target {spec.name!r} (profile {api.name}) lacks feature "
                        f"{', '.join(lacking)}: {FEATURES[lacking[0]]}")
        missing = sorted(needed - set(FEATURES) - spec.capabilities)
        if missing:
            pytest.skip(f"target {spec.name!r} lacks capability {', '.join(missing)}")
        harmful = needed & FAULT_CAPABILITIES or any(
            item.get_closest_marker(m) for m in ("destructive", "chaos"))
        if harmful:
            reason = fault_permission(spec.protected, spec.allow_chaos,
                                      self.settings.allow_destructive, spec.name)
            if reason:
                pytest.skip(reason)

    # outcomes ------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Any:
        """Once the test's fixtures are torn down (histories closed), attach its histories to
        its own Allure result."""
        try:
            return (yield)
        finally:
            from prsm_validate.report.allure import attach_histories

            attach_histories(self.config, item)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Any:
        """A failed phase gets its failure class and one-line cause (after the SLA plugin
        has judged the test: this wrapper is the outermost)."""
        report: pytest.TestReport = yield
        if report.failed:
            from prsm_validate.report.failures import classify

            exc = call.excinfo.value if call.excinfo is not None else None
            breach = ("sla_breach", True) in report.user_properties
            kind, cause = classify(exc, report.longreprtext,
                                   {m.name for m in item.iter_markers()}, breach, call.when)
            report.user_properties.append((FAILURE, {"class": kind, "cause": cause}))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect each test's outcome (also the workers', under xdist)."""
        if any(name == USES_PRSM for name, _ in report.user_properties):
            self.uses_prsm = True
        if report.when == "call" or report.outcome != "passed":
            self.reports.append(_outcome(report))
        elif report.when == "teardown":
            self._merge_teardown_properties(report)

    def _merge_teardown_properties(self, report: pytest.TestReport) -> None:
        """Properties recorded during teardown (e.g. the nemesis's faults) join the test's."""
        late = {k: v for k, v in report.user_properties if k != USES_PRSM}
        mine = [r for r in self.reports if r["nodeid"] == report.nodeid]
        if late and mine:
            mine[-1].setdefault("properties", {}).update(late)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write summary.json and report.html when the run used the system under test, and
        make the exit status agree with the run's verdict."""
        from prsm_validate.report import allure

        if self.is_worker:  # the controller decides whether the run folder stays
            allure.finish(self.config, self.store.path)
            return
        from prsm_validate.report import junit

        allure.finish(self.config, self.store.path if self.uses_prsm else None)
        if not self.uses_prsm:
            junit.finish(self.config, None)
            if self.store.path.exists():  # only workers' Allure results: no run to report
                shutil.rmtree(self.store.path, ignore_errors=True)
            return
        self.store.create()
        junit.finish(self.config, self.store.junit_path)
        summary = self.summary(int(session.exitstatus))
        session.exitstatus = summary["exit_status"]
        self.verdict = summary
        self.config.hook.pytest_prsm_run_summary(config=self.config, summary=summary)
        self.store.write_json("summary.json", summary)
        self.store.write_json("faults.json", _fault_schedule(self.reports))
        write_html(self.store, summary)
        if session.exitstatus == pytest.ExitCode.INTERNAL_ERROR:  # no terminal summary follows
            from prsm_validate.terminal import announce

            for line in self.closing_lines():
                announce(self.config, line)

    def record_deployment(self, worker: str) -> None:
        """Write this process's deployment description (xdist workers each have one)."""
        info = {**(self.deployment_info or {}), "ready_s": self.ready_s, "worker": worker}
        (self.store.path / "targets").mkdir(parents=True, exist_ok=True)
        self.store.write_json(f"targets/{worker}.json", info)

    def _deployments(self) -> list[dict[str, Any]]:
        import json

        folder = self.store.path / "targets"
        files = sorted(folder.glob("*.json")) if folder.exists() else []
        return [json.loads(f.read_text()) for f in files]

    def summary(self, exitstatus: int) -> dict[str, Any]:
        """The run summary written to summary.json (``exit_status`` agrees with ``verdict``)."""
        from prsm_validate.report.failures import counts as failure_counts
        from prsm_validate.report.verdict import decide

        counts: dict[str, int] = {}
        for r in self.reports:
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
        reported = {r["nodeid"] for r in self.reports}
        not_run = [nodeid for nodeid in self.collected if nodeid not in reported]
        verdict = decide(exitstatus, counts, not_run, self.internal_errors, self.gate_passed)
        return {
            "run_id": self.store.run_id, "started": self.started, "finished": time.time(),
            "exit_status": verdict.exit_status, "pytest_exit_status": exitstatus,
            **verdict.to_json(), "not_run": not_run, "internal_errors": self.internal_errors,
            "seed": self.settings.seed,
            "target": {"name": self.settings.spec.name, "kind": self.settings.spec.kind,
                       "profile": self.settings.spec.profile},
            "deployments": self._deployments(), "counts": counts, "tests": self.reports,
            "failure_classes": failure_counts(self.reports),
            "python": sys.version.split()[0], "argv": list(self.config.invocation_params.args),
            "versions": _versions(), "thresholds": self.thresholds + [
                {**r, "name": f"{t['nodeid'].split('::')[-1]}: {r['name']}"}
                for t in self.reports for r in (t.get("properties") or {}).get("sla", [])],
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The run's verdict, where the report is, and how to replay a failing run."""
        if not self.is_worker:
            for line in self.closing_lines():
                terminalreporter.write_line(line)

    def closing_lines(self) -> list[str]:
        """Verdict, report folder and (unless it passed) the replay command."""
        if self.verdict is None:
            return []
        verdict = self.verdict
        why = "; ".join(verdict["reasons"])
        lines = _failure_lines(self.reports)
        lines += [f"prsm verdict: {verdict['verdict']}" + (f" ({why})" if why else ""),
                  f"prsm report: {self.store.path}"]
        if verdict["verdict"] != "PASS":
            args = " ".join(a for a in self.config.invocation_params.args
                            if not a.startswith("--prsm-seed"))
            lines.append(f"prsm replay: pytest --prsm-seed={self.settings.seed} {args}".rstrip())
        return lines


def write_html(store: RunStore, summary: dict[str, Any]) -> None:
    """Append the run to the trend and (re)write its report.html."""
    from prsm_validate.report import html, trend

    trend.append(store.root, summary)
    page = html.render(store.path, trend.load(store.root, store.run_id))
    (store.path / "report.html").write_text(page, encoding="utf-8")


class XdistHooks:
    """Share the run id and seed with xdist workers."""

    def __init__(self, session: PrsmSession) -> None:
        self.session = session

    def pytest_configure_node(self, node: Any) -> None:
        """Hand the controller's run id and seed to a worker."""
        node.workerinput["prsm_run_id"] = self.session.store.run_id
        node.workerinput["prsm_seed"] = self.session.settings.seed

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Every worker collects the same tests: the first list is what should run."""
        if not self.session.collected:
            self.session.collected = list(ids)


PRSM_FIXTURES = ("prsm_deployment", "prsm_history")


def _failure_lines(tests: list[dict[str, Any]]) -> list[str]:
    """Failures per class, then one line per failure: class, test, cause."""
    from prsm_validate.report.failures import counts

    per_class = counts(tests)
    if not per_class:
        return []
    lines = ["prsm failures: " + ", ".join(f"{n} {c}" for c, n in per_class.items())]
    for test in tests:
        if test.get("failure"):
            lines.append(f"  {test['failure']['class']:12} {test['nodeid']}: "
                         f"{test['failure']['cause']}")
    return lines


def _uses_prsm(item: pytest.Item) -> bool:
    """The test needs the system under test (or records a history)."""
    names = getattr(item, "fixturenames", ())
    return any(name in names for name in PRSM_FIXTURES)


def _fault_schedule(outcomes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every fault of the run, by scenario, in the order applied."""
    schedule = []
    for outcome in outcomes:
        for fault in (outcome.get("properties") or {}).get("faults", []):
            schedule.append({"nodeid": outcome["nodeid"], **fault})
    return schedule


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for dist in ("prsm-validate", "pytest", "fastapi", "nats-py", "psycopg", "redis"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return found


def _outcome(report: pytest.TestReport) -> dict[str, Any]:
    outcome = report.outcome if report.when == "call" else (
        "error" if report.failed else report.outcome)
    entry: dict[str, Any] = {"nodeid": report.nodeid, "outcome": outcome, "when": report.when,
                             "duration_s": round(report.duration, 4)}
    if report.skipped and isinstance(report.longrepr, tuple):
        entry["reason"] = str(report.longrepr[2]).removeprefix("Skipped: ")
    elif report.failed:
        entry["message"] = report.longreprtext[-4000:]
    props = {k: v for k, v in report.user_properties
             if k not in (USES_PRSM, "sla_breach", FAILURE)}
    failure = [v for k, v in report.user_properties if k == FAILURE]
    if failure and report.failed:
        entry["failure"] = failure[-1]
    if props:
        entry["properties"] = props
    return entry
