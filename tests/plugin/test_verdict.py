"""The run's verdict follows what happened, and the report and the exit status agree.

The tests below use only ``prsm_history`` (a run that records histories writes a report) so no
system is started.
"""

from __future__ import annotations

import json

import pytest

from prsm_validate.report.verdict import ERROR, FAIL, PASS, decide

THREE = """
def test_one(prsm_history):
    pass

def test_two(prsm_history):
    pass

def test_three(prsm_history):
    pass
"""

# An exception raised from a hook is a pytest INTERNALERROR: the session stops at once.
BREAKS_AFTER_FIRST = """
def pytest_runtest_logreport(report):
    if report.when == "call" and report.nodeid.endswith("test_one"):
        raise RuntimeError("injected internal error")
"""


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    latest = pytester.path / "reports" / "latest"
    return result, json.loads((latest / "summary.json").read_text())


def test_decide_passes_only_a_clean_run():
    assert decide(0, {"passed": 3}, [], []).verdict == PASS
    assert decide(0, {"passed": 3}, [], []).exit_status == 0
    failed = decide(1, {"passed": 2, "failed": 1}, [], [])
    assert failed.verdict == FAIL and failed.exit_status == 1 and failed.reasons == ["1 failed"]
    assert decide(6, {"passed": 2, "failed": 1}, [], []).exit_status == 6  # SLA-only kept


def test_decide_calls_an_internal_error_or_a_test_that_never_ran_an_error():
    crashed = decide(3, {"passed": 96}, ["a", "b"], ["HdrConcurrentModificationException"])
    assert crashed.verdict == ERROR and crashed.exit_status == 3
    assert any("did not run" in r for r in crashed.reasons)
    silent = decide(0, {"passed": 1}, ["t::x"], [])  # exit 0 but a test never reported
    assert silent.verdict == ERROR and silent.exit_status == 1


def test_decide_stopped_by_a_failure_is_a_failure_naming_what_did_not_run():
    stopped = decide(1, {"failed": 1}, ["t::b", "t::c"], [])
    assert stopped.verdict == FAIL and "2 collected test(s) did not run: t::b, t::c" in (
        stopped.reasons)


def test_decide_nothing_passed_is_not_a_pass_unless_a_gate_passed():
    skipped = decide(0, {"skipped": 4}, [], [])
    assert skipped.verdict == FAIL and skipped.exit_status == 5
    assert skipped.reasons == ["no scenario passed (4 skipped)"]
    assert decide(5, {}, [], [], gate_passed=True) == decide(0, {}, [], [], gate_passed=True)
    assert decide(5, {}, [], [], gate_passed=True).exit_status == 0
    assert decide(1, {}, [], [], gate_passed=False).verdict == FAIL


def test_an_internal_error_makes_the_report_say_error(pytester):
    pytester.makeconftest(BREAKS_AFTER_FIRST)
    pytester.makepyfile(test_three=THREE)
    result, summary = _run(pytester)
    assert result.ret == 3
    assert summary["verdict"] == ERROR and summary["exit_status"] == 3
    assert summary["not_run"] == ["test_three.py::test_two", "test_three.py::test_three"]
    assert summary["internal_errors"] == ["RuntimeError: injected internal error"]
    run = pytester.path / "reports" / "latest"
    page = (run / "report.html").read_text()
    assert ">ERROR<" in page and ">PASS<" not in page
    trend = [json.loads(line) for line in
             (pytester.path / "reports" / "trend.jsonl").read_text().splitlines()]
    assert trend[-1]["verdict"] == ERROR and trend[-1]["not_run"] == 2
    result.stdout.fnmatch_lines(["prsm verdict: ERROR (internal error: RuntimeError: injected*"])


def test_a_clean_run_passes_and_junit_counts_what_pytest_collected(pytester):
    pytester.makepyfile(test_three=THREE)
    result, summary = _run(pytester)
    assert result.ret == 0 and summary["verdict"] == PASS and summary["not_run"] == []
    junit = (pytester.path / "reports" / "latest" / "junit.xml").read_text()
    assert junit.count("<testcase") == 3 and 'tests="3"' in junit
    assert 'name="prsm.seed"' in junit
    result.stdout.fnmatch_lines(["prsm verdict: PASS", "prsm report: *"])


def test_a_run_where_everything_skipped_does_not_exit_zero(pytester):
    pytester.makepyfile("""
        import pytest

        def test_a(prsm_history):
            pytest.skip("target lacks everything")
    """)
    result, summary = _run(pytester)
    assert result.ret == 5 and summary["verdict"] == FAIL and summary["exit_status"] == 5
    result.stdout.fnmatch_lines(["prsm verdict: FAIL (no scenario passed (1 skipped))"])


def test_a_user_junitxml_is_left_where_asked_and_copied_into_the_run(pytester):
    pytester.makepyfile(test_three=THREE)
    result, _ = _run(pytester, "--junitxml=mine.xml")
    assert result.ret == 0
    mine = (pytester.path / "mine.xml").read_text()
    assert mine.count("<testcase") == 3
    assert (pytester.path / "reports" / "latest" / "junit.xml").read_text() == mine


CLASSES = """
import httpx
import pytest

def test_contract(prsm_history):
    assert {"status": "queued"} == {"status": "pending"}

def test_availability(prsm_history):
    raise httpx.ReadTimeout("timed out on memory_get after 10 s")

@pytest.mark.security
def test_security(prsm_history):
    assert False, "a second user read the first user's key"

def test_safety(prsm_history):
    verdict = {"valid": False, "witness": "replicas diverge at seq 7"}
    assert verdict["valid"], verdict

@pytest.mark.sla("latency", "p(99)<1ms")
def test_sla(prsm_metrics, prsm_history):
    prsm_metrics.trend("latency", 5.0)

def test_harness(prsm_history):
    {}["missing"]
"""


def test_each_failure_is_classified_with_a_one_line_cause(pytester):
    pytester.makepyfile(test_classes=CLASSES)
    result, summary = _run(pytester)
    assert summary["failure_classes"] == {"contract": 1, "availability": 1, "sla": 1,
                                          "safety": 1, "security": 1, "harness": 1}
    causes = {t["nodeid"].split("::")[1]: t["failure"] for t in summary["tests"]}
    assert causes["test_availability"]["cause"] == (
        "ReadTimeout: timed out on memory_get after 10 s")
    assert causes["test_harness"]["cause"] == "KeyError: 'missing'"
    assert causes["test_security"]["cause"].startswith("a second user read")
    result.stdout.fnmatch_lines([
        "prsm failures: 1 contract, 1 availability, 1 sla, 1 safety, 1 security, 1 harness",
        "  contract     test_classes.py::test_contract: assert *",
        "  availability test_classes.py::test_availability: ReadTimeout: timed out*"])
