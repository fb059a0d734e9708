"""Calibrated SLAs: a latency threshold this machine's own floor breaks is not judged."""

from __future__ import annotations

import json

import pytest

from prsm_validate.sla.evaluate import duration_text, evaluate
from prsm_validate.sla.floor import FloorServer, calibrate
from prsm_validate.sla.store import MetricStore, new_histogram
from prsm_validate.sla.thresholds import parse_line


def _floor(value_ms: float):
    def measure(samples: int, threads: int):
        histogram = new_histogram()
        for _ in range(samples):
            histogram.record_value(round(value_ms * 1000))
        return histogram
    return measure


def _judge(line: str, recorded_ms: float, floor_ms: float, metric="http_req_duration"):
    store = MetricStore()
    for _ in range(200):
        store.trend(metric, recorded_ms, name="health")
    thresholds = [parse_line(line)]
    return calibrate(thresholds, evaluate(thresholds, store), store, _floor(floor_ms))


def test_a_floor_above_the_threshold_makes_the_verdict_unknown_with_the_reason():
    (result,) = _judge("http_req_duration{name:health}: p(99)<10ms", 36.0, 33.0)
    assert result.verdict == "unknown" and result.machine_floor
    assert result.floor == pytest.approx(33.0, rel=1e-2)
    assert result.message().startswith(
        "SLA UNKNOWN: http_req_duration{name:health} p(99)<10ms — this machine's floor for "
        "p(99) is 33ms, above the 10ms threshold: the verdict would be about the machine")
    assert "measured p(99)=36ms" in result.message()


def test_a_floor_below_the_threshold_leaves_the_verdict_and_is_shown():
    failed, passed = (_judge("http_req_duration: p(99)<10ms", ms, 2.0)[0] for ms in (36, 4))
    assert failed.verdict == "fail" and not failed.machine_floor
    assert failed.message().endswith("measured p(99)=36ms over the whole run; machine floor "
                                     "p(99)=2ms")
    assert passed.verdict == "pass" and passed.to_json()["floor"] == pytest.approx(2.0, 1e-2)


def test_a_breach_within_the_floor_is_unknown_and_one_beyond_threshold_plus_floor_fails():
    (close,) = _judge("http_req_duration{name:health}: p(99)<10ms", 11.0, 2.0)
    (beyond,) = _judge("http_req_duration{name:health}: p(99)<10ms", 12.5, 2.0)
    (inclusive,) = _judge("http_req_duration{name:health}: p(99)<=10ms", 11.9, 2.0)
    assert close.verdict == "unknown" and close.machine_floor
    assert "the breach is smaller than this machine's floor for p(99) (2ms)" in close.reason
    assert beyond.verdict == "fail" and not beyond.machine_floor
    assert inclusive.verdict == "unknown"


def test_only_upper_bounds_on_http_latency_are_calibrated():
    (lower,) = _judge("http_req_duration: p(99)>10ms", 36.0, 50.0)
    (other,) = _judge("db_query_duration: p(95)<10ms", 36.0, 50.0, metric="db_query_duration")
    (count,) = _judge("http_req_duration: count>10", 36.0, 50.0)
    assert lower.floor is None and other.floor is None and count.floor is None
    assert other.verdict == "fail"


def _no_measure(samples: int, threads: int):
    raise AssertionError("a paired store must not be measured again after the test")


def test_a_paired_store_records_one_floor_sample_after_each_value_with_the_same_tags():
    store = MetricStore()
    floors = iter(range(1, 100))
    paired = store.pair_with(lambda: float(next(floors)), ["http_req_duration"])
    store.trend("http_req_duration", 40.0, name="health")
    store.trend("http_req_duration", 41.0, name="me")
    store.trend("db_query_duration", 5.0)
    store.stop()
    store.trend("http_req_duration", 42.0, name="health")  # after the body: not paired
    (health,) = paired.matching("http_req_duration", (("name", "health"),))
    (me,) = paired.matching("http_req_duration", (("name", "me"),))
    assert health.total().get_total_count() == 1 and me.total().get_total_count() == 1
    assert health.total().get_max_value() == 1000  # the first sample, 1 ms, in us
    assert not paired.matching("db_query_duration", ())


def _paired_judge(line: str, recorded_ms: float, paired_ms: float, pairs: int = 200):
    store = MetricStore()
    samples = iter([paired_ms] * pairs)
    store.pair_with(lambda: next(samples, None) or paired_ms, ["http_req_duration"])
    for i in range(200):
        if i == pairs:
            store.stop()
        store.trend("http_req_duration", recorded_ms, name="health")
    thresholds = [parse_line(line)]
    return calibrate(thresholds, evaluate(thresholds, store), store, _no_measure
                     if pairs == 200 else _floor(1.0))


def test_a_paired_floor_judges_the_threshold_without_measuring_after_the_test():
    (busy,) = _paired_judge("http_req_duration{name:health}: p(99)<10ms", 19.3, 12.0)
    (quiet,) = _paired_judge("http_req_duration{name:health}: p(99)<10ms", 19.3, 0.4)
    assert busy.verdict == "unknown" and busy.machine_floor
    assert busy.floor == pytest.approx(12.0, rel=1e-2)
    assert "one right after each of the test's 200 requests, in the same thread" in (
        busy.floor_note)
    assert quiet.verdict == "fail" and quiet.floor == pytest.approx(0.4, rel=1e-2)


def test_a_partly_paired_store_is_floored_after_the_test_instead():
    (result,) = _paired_judge("http_req_duration{name:health}: p(99)<10ms", 19.3, 12.0,
                              pairs=150)
    assert result.verdict == "fail" and result.floor == pytest.approx(1.0, rel=1e-2)
    assert "requests after the test" in result.floor_note


def test_units_are_written_out():
    assert duration_text(16.1) == "16.1ms" and duration_text(4691) == "4.69s"
    assert duration_text(0.123) == "0.123ms"


@pytest.mark.slow
def test_the_floor_server_measures_a_real_no_op_endpoint():
    server = FloorServer()
    try:
        histogram = server.measure(200, 2)
        assert histogram.get_total_count() == 200
        assert 0 < histogram.get_value_at_percentile(50) < 5_000_000  # us: a real answer
    finally:
        server.stop()
    assert server.url is None


MARKED = """
import pytest

@pytest.mark.sla("http_req_duration{name:op}", "p(99)<1us")
def test_impossible_here(prsm_metrics):
    for _ in range(100):
        prsm_metrics.trend("http_req_duration", 0.5, name="op")

@pytest.mark.sla("http_req_duration{name:op}", "p(99)<400ms")
def test_slow_system(prsm_metrics):
    for _ in range(100):
        prsm_metrics.trend("http_req_duration", 2000.0, name="op")

@pytest.mark.sla("http_req_duration{name:op}", "p(99)<60s")
def test_fine(prsm_metrics, prsm_history):
    for _ in range(100):
        prsm_metrics.trend("http_req_duration", 1.0, name="op")
"""


@pytest.mark.slow
def test_the_marker_skips_what_the_machine_cannot_meet_and_judges_the_rest(pytester):
    pytester.makepyfile(MARKED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "*SLA FAIL: http_req_duration{name:op} p(99)<400ms — measured p(99)=2s over the "
        "whole run; machine floor p(99)=*ms*",
        "*SKIPPED*SLA UNKNOWN: http_req_duration{name:op} p(99)<1us — this machine's floor "
        "for p(99) is *, above the 0.001ms threshold: the verdict would be about the machine*"])
    summary = json.loads((pytester.path / "reports/latest/summary.json").read_text())
    fine = next(t for t in summary["thresholds"] if t["name"].startswith("test_fine"))
    assert fine["verdict"] == "pass" and fine["floor"] > 0
    assert "one right after each of the test's 100 requests" in fine["floor_note"]
