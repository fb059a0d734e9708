"""Nightly parts without a system: budget, regressions, retention, exit classes, options."""

from __future__ import annotations

import json
import signal
import time

import pytest

from prsm_validate.checker.verdict import Verdict
from prsm_validate.cli import main
from prsm_validate.nightly import summary, trends
from prsm_validate.nightly.budget import Budget, BudgetExhausted, parse_duration
from prsm_validate.nightly.resources import slope_per_hour
from prsm_validate.nightly.trial import AVAILABILITY, SAFETY, Check, judge


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("90s", 90), ("2h", 7200),
                                               ("1h30m", 5400), ("45", 45)])
def test_budgets_read_like_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30x", "m30", "1h 30m", "-5m"])
def test_a_bad_budget_names_the_form(text):
    with pytest.raises(ValueError, match="30m, 90s, 2h"):
        parse_duration(text)


def test_the_budget_keeps_its_reserve_and_caps_waits():
    now = [0.0]
    budget = Budget(100, 20, clock=lambda: now[0])
    now[0] = 10.0
    assert budget.chaos_left() == 70 and budget.left() == 90
    assert budget.cap(1000) == 78  # a wait ends 60 % of the reserve before the deadline
    assert budget.cap(5) == 5 and not budget.chaos_over()
    now[0] = 85.0
    assert budget.chaos_over() and budget.left() == 15 and budget.cap(60) == 3


def test_the_hard_deadline_interrupts_a_blocking_wait():
    budget = Budget(0.4, 0.0)
    disarm = budget.arm()
    started = time.monotonic()
    try:
        with pytest.raises(BudgetExhausted):
            time.sleep(5)
    finally:
        disarm()
    assert time.monotonic() - started < 2
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def _night(run_id, outcomes, **figures):
    return {"run_id": run_id, "outcomes": outcomes, "figures": figures}


def test_a_scenario_that_passed_last_night_and_fails_now_is_named():
    history = [_night("a", {"consensus": "pass", "edge": "pass"})]
    found = trends.regressions(history, _night("b", {"consensus": "fail", "edge": "pass"}),
                               7, 50)
    assert [r["name"] for r in found["regressions"]] == ["consensus"]
    assert "consensus passed in a and is fail now" in found["regressions"][0]["text"]


def test_a_figure_drifting_past_the_limit_from_the_median_is_named_by_direction():
    history = [_night(str(i), {}, soak_me_p95_ms=v, soak_achieved_rps=20.0)
               for i, v in enumerate([10.0, 12.0, 11.0, 30.0])]
    tonight = _night("t", {}, soak_me_p95_ms=18.0, soak_achieved_rps=31.0)
    found = trends.regressions(history, tonight, 7, 50)
    assert [r["name"] for r in found["regressions"]] == ["soak_me_p95_ms"]  # +64% of 11.5
    assert found["regressions"][0]["median"] == 11.5
    assert [r["name"] for r in found["improvements"]] == ["soak_achieved_rps"]  # +55%, good
    within = trends.regressions(history, _night("t", {}, soak_me_p95_ms=17.0), 7, 50)
    assert not within["regressions"]


def test_drifts_wait_for_enough_nights():
    found = trends.regressions([_night("a", {}, soak_me_p95_ms=1.0)],
                               _night("b", {}, soak_me_p95_ms=99.0), 7, 50)
    assert not found["regressions"] and found["not_judged"][0]["name"] == "soak_me_p95_ms"


def test_retention_keeps_the_newest_runs_and_their_trend_lines(tmp_path):
    ids = [f"2026010{i}-000000-abcd" for i in range(1, 6)]
    for run_id in ids:
        (tmp_path / run_id).mkdir()
        trends.append(tmp_path, {"run_id": run_id})
    (tmp_path / "not-a-run").mkdir()
    removed = trends.retain(tmp_path, 2)
    assert removed == ids[:3]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [*ids[3:], "not-a-run"]
    assert [line["run_id"] for line in trends.load(tmp_path)] == ids[3:]


def test_the_worst_failure_class_decides_the_exit_status():
    def settled(classes, regressions=()):
        data = {"failure_classes": classes, "regressions": {"regressions": list(regressions)},
                "outcomes": [], "figures": {}, "scenarios": {}, "run_id": "r",
                "elapsed_s": 1.0, "budget_s": 60, "interrupted": None}
        summary.settle(data)
        return data["exit_status"], data["verdict"]

    assert settled([]) == (0, "PASS")
    assert settled(["sla", "safety"]) == (1, "FAIL")
    assert settled(["availability", "unknown"]) == (3, "FAIL")
    assert settled(["harness", "safety"]) == (4, "FAIL")
    assert settled(["unknown"]) == (5, "FAIL")
    assert settled(["sla"]) == (6, "FAIL")
    assert settled([], [{"text": "x"}]) == (7, "FAIL")
    assert len(set(summary.EXIT.values())) == len(summary.EXIT)


def test_unknown_never_passes_and_safety_comes_first():
    ok = Check(SAFETY, Verdict("agreement", True))
    assert judge([ok])[0] == "pass"
    assert judge([])[0] == "unknown"
    assert judge([ok, Check(AVAILABILITY, Verdict("recovery", "unknown", "cut short"))]) == \
        ("unknown", "unknown", "recovery: cut short")
    bad = Check(SAFETY, Verdict("agreement", False, "2 digests"))
    assert judge([Check(AVAILABILITY, Verdict("recovery", False, "slow")), bad])[:2] == \
        ("fail", "safety")


def test_a_flat_memory_line_has_no_slope_and_a_leak_has_one():
    flat = [(t * 5.0, 100.0 + (t % 2) * 0.5) for t in range(400)]
    leak = [(t * 5.0, 100.0 + t * 5.0 / 3600 * 40) for t in range(400)]  # 40 MB/h
    assert abs(slope_per_hour(flat)) < 0.5
    assert slope_per_hour(leak) == pytest.approx(40, rel=0.01)


@pytest.mark.parametrize(("argv", "message"), [
    (["--budget", "10x"], "give a duration"),
    (["--budget", "30s"], "at least 60s"),
    (["--seed", "tonight"], "integer or auto"),
    (["--families", "consensus,dns"], "unknown ['dns']"),
    (["--only", "consensus"], "FAMILY#K"),
    (["--faults", "1,2"], "needs --only"),
    (["--sla", "http_req_failed: rate<<1"], "--sla:"),
    (["--target", "nowhere"], "nowhere"),
])
def test_bad_options_are_one_line_and_status_2(argv, message, capsys):
    assert main(["nightly", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_trend_entries_keep_only_numbers():
    data = {"run_id": "r", "finished": 1.0, "seed": 3, "verdict": "PASS", "exit_status": 0,
            "scenarios": {"edge": "pass"}, "figures": {"a_ms": 1.5, "flag": True, "t": "x"}}
    entry = summary.trend_entry(data)
    assert entry["figures"] == {"a_ms": 1.5} and json.dumps(entry)
