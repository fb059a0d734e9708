"""The sla marker in a pytest run: verdicts, messages, exit status 6, usage errors."""

from __future__ import annotations

import pytest

TESTS = """
import pytest

@pytest.mark.sla("latency{name:op}", "p(99)<10ms")
def test_fast(prsm_metrics):
    for _ in range(50):
        prsm_metrics.trend("latency", 2.0, name="op")

@pytest.mark.sla("latency{name:op}", "p(99)<10ms")
def test_slow(prsm_metrics):
    for _ in range(50):
        prsm_metrics.trend("latency", 25.0, name="op")
"""


def test_breach_fails_naming_metric_value_threshold_window(pytester):
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*SLA FAIL: latency{name:op} p(99)<10ms — measured 25 over "
                                 "the whole run*"])
    assert result.ret == 6, "only SLA breaches: the distinct exit status"


def test_a_regular_failure_keeps_exit_status_1(pytester):
    pytester.makepyfile(TESTS + "\ndef test_broken():\n    assert False\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 1


def test_no_samples_is_unknown_and_fails(pytester):
    pytester.makepyfile("""
        import pytest
        @pytest.mark.sla("never_recorded", "avg<1")
        def test_x(prsm_metrics):
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SLA UNKNOWN: never_recorded avg<1 — measured no data*"])


def test_bad_marker_expression_is_a_usage_error_with_caret(pytester):
    pytester.makepyfile("""
        import pytest
        @pytest.mark.sla("latency", "p(99)<<10ms")
        def test_x():
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_x*invalid threshold*", "*p(99)<<10ms", "*^"])


def test_ini_thresholds_apply_to_tests_recording_the_metric(pytester):
    pytester.makeini("[pytest]\nprsm_thresholds =\n    latency{name:op}: max<5ms\n")
    pytester.makepyfile("""
        def test_records(prsm_metrics):
            prsm_metrics.trend("latency", 9.0, name="op")
        def test_does_not_record(prsm_metrics):
            prsm_metrics.trend("other", 9.0)
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*SLA FAIL: latency{name:op} max<5ms — measured 9*"])


def test_bad_ini_threshold_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\nprsm_thresholds =\n    latency: p(99)<<1\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*prsm_thresholds*invalid threshold*"])


def test_abort_on_fail_stops_the_session(pytester):
    pytester.makepyfile("""
        import pytest
        @pytest.mark.sla("latency", "max<1 abortOnFail")
        def test_a(prsm_metrics):
            prsm_metrics.trend("latency", 5.0)
        def test_b():
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*abortOnFail*"])
