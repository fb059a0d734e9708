"""The run report: written when the SUT is used, one folder per run, xdist-safe, no secrets."""

from __future__ import annotations

import json

import pytest

SCENARIOS = """
import pytest

def test_uses_api(prsm_api):
    assert prsm_api.call("me").status == 200

@pytest.mark.requires("teleport")
def test_skipped(prsm_api):
    pass

def test_fails(prsm_api):
    assert prsm_api.call("memory_get", {"key": "absent"}).status == 200
"""


def _summary(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "reports" / "latest" / "summary.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("workers", [None, "2"], ids=["serial", "xdist"])
def test_report_has_outcomes_reasons_histories_and_no_secrets(pytester, workers):
    pytester.makepyfile(test_scenarios=SCENARIOS)
    args = ["-p", "no:cacheprovider", "--prsm-seed=99", *(["-n", workers] if workers else [])]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=1, skipped=1, failed=1)
    result.stdout.fnmatch_lines(["prsm report: *", "prsm replay: pytest --prsm-seed=99*"])
    summary = _summary(pytester)
    assert summary["seed"] == 99 and summary["counts"] == {"passed": 1, "skipped": 1, "failed": 1}
    skipped = next(t for t in summary["tests"] if t["outcome"] == "skipped")
    assert "lacks capability teleport" in skipped["reason"]
    assert summary["deployments"] and summary["deployments"][0]["ready_s"] > 0
    run = pytester.path / "reports" / "latest"
    assert (run / "junit.xml").read_text().count("<testcase") == 3
    histories = list((run / "histories").glob("*.jsonl"))
    assert len(histories) == 2  # the skipped test never ran an operation
    everything = "".join(p.read_text() for p in run.rglob("*") if p.is_file())
    assert "eyJ" not in everything, "a bearer token leaked into the report"
    assert (run / "logs").exists()
    assert (run / "report.html").exists()
    allure = run / "allure-results"
    assert len(list(allure.glob("*-result.json"))) == 3
    assert len(list(allure.glob("*-attachment.jsonl"))) == 2  # the two histories
    results = [json.loads(p.read_text()) for p in allure.glob("*-result.json")]
    attached = [a for r in results for a in r.get("attachments", [])]  # on the tests themselves
    assert len(attached) == 2, "histories belong to the test results, not to fixture steps"
    assert all(a["type"] == "text/plain" and a["source"].endswith(".jsonl") for a in attached)


def test_no_report_when_the_system_is_not_used(pytester):
    pytester.makepyfile("def test_plain(): pass")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()
