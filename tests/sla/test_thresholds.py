"""Threshold expressions: parsing (errors point at the problem) and evaluation."""

from __future__ import annotations

import pytest

from prsm_validate.sla.evaluate import evaluate
from prsm_validate.sla.store import MetricStore
from prsm_validate.sla.thresholds import (
    ThresholdSyntaxError,
    parse_condition,
    parse_line,
    parse_selector,
)


@pytest.mark.parametrize(("text", "agg", "pct", "op", "value", "window"), [
    ("p(99)<10ms", "p", 99, "<", 10, None), ("p(99.9) <= 1s", "p", 99.9, "<=", 1000, None),
    ("avg<200", "avg", None, "<", 200, None), ("med<5s", "med", None, "<", 5000, None),
    ("min>=250us", "min", None, ">=", 0.25, None), ("max<2m", "max", None, "<", 120000, None),
    ("rate<0.01", "rate", None, "<", 0.01, None), ("count>100", "count", None, ">", 100, None),
    ("p(95)<100ms over 60s", "p", 95, "<", 100, 60), ("avg==3 over 500ms", "avg", None, "==",
                                                       3, 0.5),
])
def test_conditions_parse(text, agg, pct, op, value, window):
    c = parse_condition(text)
    assert (c.aggregation, c.percentile, c.op, c.value, c.window_s) == (agg, pct, op, value,
                                                                         window)


def test_abort_on_fail_and_selector_tags():
    assert parse_condition("p(99)<10ms abortOnFail").abort_on_fail
    selector = parse_selector("http_req_duration{name:health, status:200}")
    assert selector.tags == (("name", "health"), ("status", "200"))
    line = parse_line("http_req_duration{name:health}: p(99)<10ms, avg<5")
    assert [c.text for c in line.conditions] == ["p(99)<10ms", "avg<5"]


@pytest.mark.parametrize(("text", "caret"), [
    ("p(99)<<10", 6), ("p99<10", 0), ("rate<0.01ms", 9), ("p(101)<5", 2), ("avg<", 4),
])
def test_syntax_errors_put_a_caret_under_the_problem(text, caret):
    with pytest.raises(ThresholdSyntaxError) as excinfo:
        parse_condition(text)
    lines = str(excinfo.value).splitlines()
    assert lines[1].strip() == text and lines[2].index("^") - 4 == caret


def _store(values_ms, spacing_s=0.0):
    store = MetricStore()
    for index, value in enumerate(values_ms):
        series = store._series("d", "trend", {"name": "x"})
        series.add(index * spacing_s, value)
    return store


def test_quantiles_and_verdicts():
    store = _store([1.0] * 98 + [50.0, 60.0])
    results = evaluate([parse_line("d{name:x}: p(98)<2, p(99)<10, max<70, count==100")], store)
    assert [(r.verdict, r.measured) for r in results] == [
        ("pass", 1.0), ("fail", 50.0), ("pass", 60.0), ("pass", 100.0)]
    assert "d{name:x} p(99)<10 — measured 50 over the whole run" in results[1].message()


def test_every_window_must_hold():
    # 10 samples per second for 3 seconds; only the middle second is slow.
    values = [1.0] * 10 + [30.0] * 10 + [1.0] * 10
    store = _store(values, spacing_s=0.1)
    whole, windowed = evaluate([parse_line("d{name:x}: avg<20, avg<20 over 1s")], store)
    assert whole.verdict == "pass"
    assert windowed.verdict == "fail" and windowed.window.startswith("window 1s-2s")


def test_no_data_is_unknown_never_pass():
    (result,) = evaluate([parse_line("absent: p(99)<10")], MetricStore())
    assert result.verdict == "unknown" and "no data" in result.message()
