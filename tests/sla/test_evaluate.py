"""The metric store and threshold evaluation: aggregations, kinds, windows, no data."""

from __future__ import annotations

import json

import pytest
from hdrh.histogram import HdrHistogram

from prsm_validate.sla.evaluate import evaluate, evaluate_lines
from prsm_validate.sla.store import MetricStore, Trend, new_histogram
from prsm_validate.sla.thresholds import parse_line


def _trend_store(values_by_second: dict[int, list[float]], name: str = "d",
                 **tags: str) -> MetricStore:
    """A store whose trend ``name`` got ``values`` (ms) in each given second."""
    store = MetricStore()
    trend = store.get(name, "trend", tags)
    assert isinstance(trend, Trend)
    for second, values in values_by_second.items():
        for value in values:
            trend.add(second, value)
    return store


def _verdicts(store: MetricStore, line: str) -> list[tuple[str, float | None]]:
    """Verdicts and measured values rounded to the histograms' 3 significant digits."""
    return [(r.verdict, None if r.measured is None else float(f"{r.measured:.3g}"))
            for r in evaluate([parse_line(line)], store)]


def test_trend_aggregations_come_from_the_histogram():
    store = _trend_store({0: [1.0] * 98 + [50.0, 60.0]}, name="x")
    assert _verdicts(store, "x: p(98)<2, p(99)<10, max<70, min>=1, med==1, count==100") == [
        ("pass", 1.0), ("fail", 50.0), ("pass", 60.0), ("pass", 1.0), ("pass", 1.0),
        ("pass", 100.0)]
    (avg,) = evaluate_lines(["x: avg<2.1"], store)
    # (98 + 110) / 100
    assert avg.verdict == "pass" and avg.measured == pytest.approx(2.08, rel=1e-3)


def test_breach_message_names_metric_value_threshold_and_window():
    store = _trend_store({0: [25.0] * 10}, name="d", name_tag="x")
    (result,) = evaluate_lines(["d{name_tag:x}: p(99)<10ms"], store)
    assert result.verdict == "fail"
    assert result.message() == ("SLA FAIL: d{name_tag:x} p(99)<10ms — measured p(99)=25ms "
                                "over the whole run")


def test_selector_tags_select_and_merge_series():
    store = MetricStore()
    store.trend("lat", 5.0, name="a", status="200")
    store.trend("lat", 15.0, name="b", status="200")
    store.trend("lat", 50.0, name="b", status="500")
    assert _verdicts(store, "lat{name:b}: count==2, max<20") == [("pass", 2.0), ("fail", 50.0)]
    assert _verdicts(store, "lat{status:200}: max<20") == [("pass", 15.0)]
    assert _verdicts(store, "lat: count==3") == [("pass", 3.0)]


def test_rates_and_counters():
    store = MetricStore()
    for failed in [True] + [False] * 99:
        store.rate("failed", failed, name="x")
    store.count("reqs", 30)
    store.count("reqs", 12)
    store.stop()
    assert _verdicts(store, "failed: rate<0.01, rate<=0.01, count==100") == [
        ("fail", 0.01), ("pass", 0.01), ("pass", 100.0)]
    (count,) = _verdicts(store, "reqs: count==42")
    assert count == ("pass", 42.0)
    (per_second,) = evaluate_lines(["reqs: rate>1000"], store)  # a counter's rate is per second
    assert per_second.verdict == "pass" and per_second.measured > 1000


def test_an_aggregation_of_another_kind_is_unknown_with_the_reason():
    store = _trend_store({0: [1.0]}, name="lat")
    (result,) = evaluate_lines(["lat: rate<0.1"], store)
    assert result.verdict == "unknown" and "rate does not apply to trend" in result.message()


def test_every_window_must_hold():
    store = _trend_store({0: [1.0] * 10, 1: [30.0] * 10, 2: [1.0] * 10}, name="d")
    whole, windowed = evaluate_lines(["d: avg<20, avg<20 over 1s"], store)
    assert whole.verdict == "pass"
    assert windowed.verdict == "fail" and windowed.measured == pytest.approx(30, rel=1e-3)
    assert windowed.window == "window 1s-2s of the test (3 windows)"
    (wide,) = evaluate_lines(["d: avg<20 over 3s"], store)
    assert wide.verdict == "pass" and wide.window.startswith("window 0s-3s")


def test_a_passing_windowed_result_reports_the_closest_window():
    store = _trend_store({0: [1.0], 1: [8.0], 5: [3.0]}, name="d")
    (result,) = evaluate_lines(["d: max<10 over 2s"], store)
    assert result.verdict == "pass" and result.measured == pytest.approx(8, rel=1e-3)
    assert result.window == "window 0s-2s of the test (2 windows)"  # empty windows are skipped


def test_windowed_rates():
    store = MetricStore()
    for second, failures in ((0, 0), (1, 5), (2, 0)):
        store.add_rate("failed", second, failures, 100)
    whole, windowed = evaluate_lines(["failed: rate<0.02, rate<0.02 over 1s"], store)
    assert whole.verdict == "pass" and windowed.verdict == "fail"
    assert windowed.measured == 0.05 and windowed.window.startswith("window 1s-2s")


def test_no_data_is_unknown_never_pass():
    (result,) = evaluate_lines(["absent: p(99)<10"], MetricStore())
    assert result.verdict == "unknown" and "no data" in result.message()
    assert evaluate_lines(["absent: count<1 over 5s"], MetricStore())[0].verdict == "unknown"


def test_histograms_from_elsewhere_merge_per_second():
    store = MetricStore()
    for second in range(8):  # more seconds than stay decoded: older ones are encoded
        hist = new_histogram()
        hist.record_value(1000 * (second + 1))
        store.add_histogram("lat", second, hist)
    (trend,) = store.matching("lat", ())
    assert isinstance(trend, Trend) and trend.seconds() == list(range(8))
    assert trend.window(6, 8).get_total_count() == 2
    assert _verdicts(store, "lat: max<8.1, count==8") == [("pass", 8.0), ("pass", 8.0)]
    assert evaluate_lines(["lat: max<5 over 4s"], store)[0].window.startswith("window 4s-8s")


def test_summary_is_json_with_quantiles():
    store = _trend_store({0: [float(v) for v in range(1, 101)]}, name="lat", name_tag="h")
    store.rate("failed", False)
    summary = json.loads(json.dumps(store.summary()))
    lat = summary["lat{name_tag:h}"]
    assert lat["count"] == 100
    assert lat["p50_ms"] == pytest.approx(50, rel=1e-3)
    assert lat["p99_ms"] == pytest.approx(99, rel=1e-3)
    assert lat["max_ms"] >= 100.0 and summary["failed"] == {"rate": 0.0, "hits": 0, "trials": 1}


def test_reported_values_never_look_better_than_recorded():
    # A recorded 50 ms reads back as the top of its HDR bucket: within 0.1 %, never below.
    store = _trend_store({0: [50.0]}, name="d")
    (result,) = evaluate_lines(["d: p(99)<=50"], store)
    assert result.verdict == "fail" and 50 < result.measured < 50.05


def test_values_are_kept_with_microsecond_resolution():
    store = MetricStore()
    store.trend("fast", 0.123)
    (trend,) = store.matching("fast", ())
    assert isinstance(trend, Trend) and isinstance(trend.total(), HdrHistogram)
    assert trend.total().get_max_value() == 123
