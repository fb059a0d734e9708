"""Threshold expressions: every accepted form, and errors with a caret under the problem."""

from __future__ import annotations

import pytest

from prsm_validate.sla.thresholds import (
    ThresholdSyntaxError,
    parse_condition,
    parse_line,
    parse_selector,
    parse_threshold,
)


@pytest.mark.parametrize(("text", "agg", "pct", "op", "value", "window"), [
    ("p(99)<10ms", "p", 99, "<", 10, None),
    ("p(99.9) <= 1s", "p", 99.9, "<=", 1000, None),
    ("p(100)<1", "p", 100, "<", 1, None),
    ("avg<200", "avg", None, "<", 200, None),  # a bare number is milliseconds
    ("med<5s", "med", None, "<", 5000, None),
    ("min>=250us", "min", None, ">=", 0.25, None),
    ("max<2m", "max", None, "<", 120000, None),
    ("max > 1.5", "max", None, ">", 1.5, None),
    ("rate<0.01", "rate", None, "<", 0.01, None),
    ("count>100", "count", None, ">", 100, None),
    ("avg==3", "avg", None, "==", 3, None),
    ("p(95)<100ms over 60s", "p", 95, "<", 100, 60),
    ("rate<0.001 over 2m", "rate", None, "<", 0.001, 120),
    ("avg<3 over 2000ms", "avg", None, "<", 3, 2),
])
def test_conditions_parse(text, agg, pct, op, value, window):
    c = parse_condition(text)
    assert (c.aggregation, c.percentile, c.op, c.value, c.window_s) == (agg, pct, op, value,
                                                                         window)
    assert not c.abort_on_fail


def test_abort_on_fail_with_and_without_window():
    assert parse_condition("p(99)<10ms abortOnFail").abort_on_fail
    both = parse_condition("rate<0.01 over 10s abortOnFail")
    assert both.abort_on_fail and both.window_s == 10


def test_selectors_with_and_without_tags():
    selector = parse_selector("http_req_duration{name:health, status:200}")
    assert selector.tags == (("name", "health"), ("status", "200"))
    assert str(selector) == "http_req_duration{name:health,status:200}"
    assert parse_selector("db.query_ms").tags == ()


def test_lines_and_marker_arguments_give_the_same_threshold():
    line = parse_line("http_req_duration{name:health}: p(99)<10ms, avg<5")
    assert [c.text for c in line.conditions] == ["p(99)<10ms", "avg<5"]
    assert line == parse_threshold("http_req_duration{name:health}", ["p(99)<10ms", "avg<5"])
    assert parse_line("http_req_failed: rate<0.01").selector.name == "http_req_failed"


def _caret(error: ThresholdSyntaxError) -> tuple[str, int]:
    """The quoted expression and the column of the caret under it."""
    lines = str(error).splitlines()
    return lines[1][4:], lines[2].index("^") - 4


@pytest.mark.parametrize(("text", "caret"), [
    ("p(99)<<10", 6), ("p99<10", 0), ("rate<0.01ms", 9), ("p(101)<5", 2), ("p(0)<5", 2),
    ("avg<", 4), ("avg 10", 4), ("avg<10h", 6), ("avg<10 foo", 7), ("avg<10 over 5x", 7),
    ("avg<10 over 500ms", 12), ("avg<10 over 0s", 12), ("rate<1 over 1.5s", 12),
    ("count>5s", 7), ("", 0),
])
def test_condition_errors_put_a_caret_under_the_problem(text, caret):
    with pytest.raises(ThresholdSyntaxError) as excinfo:
        parse_condition(text)
    assert _caret(excinfo.value) == (text, caret)


@pytest.mark.parametrize(("line", "caret"), [
    ("latency{name:x}: p(99)<10, avg<<3", 31),  # inside the second condition of the line
    ("latency{name:x}:  med<1 over 0.5s", 29),
    ("latency p(99)<10", 16),  # no colon
    ("latency{name}: avg<1", 8),  # tag without value
    ("9latency: avg<1", 0),
    ("latency:", 8),  # no condition
])
def test_line_errors_point_into_the_whole_line(line, caret):
    with pytest.raises(ThresholdSyntaxError) as excinfo:
        parse_line(line)
    assert _caret(excinfo.value) == (line, caret)


def test_a_threshold_needs_a_condition():
    with pytest.raises(ThresholdSyntaxError, match="no condition"):
        parse_threshold("latency", [])
