"""A real, short ``prsm-validate nightly``: one summary line on stdout, summary.json and
report.html, the exit status of its failure class, a stop within the budget, retention."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from prsm_validate.nightly import summary, trends

pytestmark = pytest.mark.slow
BUDGET_S = 90  # the target's start takes 5-25 s on a busy machine
OLD_RUN = "20200101-000000-abcd"


def test_a_one_minute_night_reports_and_stops_within_its_budget(tmp_path):
    report = tmp_path / "nightly"
    (report / OLD_RUN).mkdir(parents=True)  # an old night retention must remove
    trends.append(report, {"run_id": OLD_RUN, "outcomes": {"edge": "pass"}, "figures": {}})
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "prsm_validate.cli", "nightly", "--budget", f"{BUDGET_S}s",
         "--seed", "5", "--families", "consensus,edge", "--rate", "10", "--report",
         str(report), "--keep-runs", "1"], capture_output=True, text=True, timeout=BUDGET_S + 60)
    took = time.monotonic() - started
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("prsm nightly "), done.stdout + done.stderr
    data = json.loads((report / "latest" / "summary.json").read_text())
    assert done.returncode == data["exit_status"] == summary.EXIT[data["failure_class"]]
    assert data["summary_line"] in lines[0] and "report.html" in lines[0]
    assert took < BUDGET_S + 5 and data["elapsed_s"] < BUDGET_S
    assert data["outcomes"], done.stderr
    for outcome in data["outcomes"]:
        assert "--seed 5 --only " + outcome["name"] in outcome["replay"]
        assert f"{outcome['name']} seed={outcome['seed']}" in done.stderr
        assert outcome["verdict"] in ("pass", "fail", "unknown")
    assert data["scenarios"]["soak"] in ("pass", "fail", "unknown")
    assert data["resources"]["harness_peak_rss_mb"] > 0
    page = (report / "latest" / "report.html").read_text()
    for section in ("Schedules", "Load soak", "Trend across nights", "Regressions", "<svg"):
        assert section in page
    assert not (report / OLD_RUN).exists() and data["retention_removed"] == [OLD_RUN]
    assert [line["run_id"] for line in trends.load(report)] == [data["run_id"]]
