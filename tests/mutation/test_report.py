"""Scores: timeouts count against, equivalent and incompetent mutants are left out."""

from __future__ import annotations

import json

from prsm_validate.mutation import report


def _row(outcome, subsystem="ledger", module="consensus/state_machine.py", **extra):
    return {"id": f"{module}:Op:{len(outcome)}", "module": module, "subsystem": subsystem,
            "outcome": outcome, "line": 3, "diff": "-a < b\n+a <= b <script>", **extra}


def _result(rows):
    meta = {"run_id": "r1", "finished": 1.0, "seed": 5, "sample": 3, "budget_s": 60.0,
            "wall_s": 50.0, "baseline_s": 10.0, "tool_version": "8.7.0"}
    return report.summarise(rows, meta)


def test_score_counts_timeouts_against_and_leaves_out_equivalents():
    rows = [_row("killed"), _row("killed"), _row("survived"), _row("timeout"),
            _row("equivalent"), _row("incompetent"), _row("not-run")]
    c = report.counts(rows)
    assert (c["run"], c["killed"], c["score"]) == (4, 2, 0.5)
    assert (c["equivalent"], c["incompetent"], c["not-run"], c["sampled"]) == (1, 1, 1, 7)


def test_nothing_run_has_no_score():
    assert report.counts([_row("equivalent")])["score"] is None


def test_goals_per_subsystem():
    result = _result([_row("killed")] * 9 + [_row("survived")]
                     + [_row("killed", "memory", "memory.py")] * 4
                     + [_row("survived", "memory", "memory.py")])
    assert result["subsystems"]["ledger"]["meets_goal"] is True  # 90 % >= 90 %
    assert result["subsystems"]["memory"]["meets_goal"] is True  # 80 % >= 80 %
    assert set(result["modules"]) == {"consensus/state_machine.py", "memory.py"}
    assert "BELOW GOAL" not in report.table(result)
    low = _result([_row("killed"), _row("survived")])
    assert "BELOW GOAL" in report.table(low)


def test_page_shows_survivors_escaped_and_the_trend(tmp_path):
    result = _result([_row("killed"), _row("survived")])
    report.append_trend(tmp_path, result)
    trend = report.load_trend(tmp_path)
    assert trend[0]["score"] == 0.5 and trend[0]["subsystems"] == {"ledger": 0.5}
    page = report.render(result, trend)
    assert "a &lt;= b &lt;script&gt;" in page and "<script>" not in page
    assert "reference_system/consensus/state_machine.py:3" in page
    json.dumps(result)  # the whole result is JSON
