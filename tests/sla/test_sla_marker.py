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
    result.stdout.fnmatch_lines(["*SLA FAIL: latency{name:op} p(99)<10ms — measured "
                                 "p(99)=25ms over the whole run*"])
    assert result.ret == 6, "only SLA breaches: the distinct exit status"


def test_passing_thresholds_exit_0_and_report_their_figures(pytester):
    pytester.makepyfile(TESTS.split("@pytest.mark.sla", 2)[0] + "@pytest.mark.sla" +
                        TESTS.split("@pytest.mark.sla", 2)[1])
    result = pytester.runpytest("-p", "no:cacheprovider", "--junitxml=out.xml")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    junit = (pytester.path / "out.xml").read_text()
    assert "p(99)&lt;10ms" in junit and "latency{name:op}" in junit


def test_windowed_breach_names_the_window(pytester):
    pytester.makepyfile("""
        import pytest
        @pytest.mark.sla("errors", "rate<0.05 over 10s")
        def test_x(prsm_metrics):
            prsm_metrics.add_rate("errors", 3, 0, 100)
            prsm_metrics.add_rate("errors", 12, 9, 100)
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SLA FAIL: errors rate<0.05 over 10s — measured rate=0.09 over "
                                 "window 10s-20s of the test (2 windows)*"])
    assert result.ret == 6


def test_a_test_failing_on_its_own_keeps_exit_status_1(pytester):
    pytester.makepyfile("""
        import pytest
        @pytest.mark.sla("latency", "max<1")
        def test_x(prsm_metrics):
            prsm_metrics.trend("latency", 5.0)
            assert False, "wrong answer"
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert result.ret == 1


def test_a_breach_with_a_teardown_error_keeps_exit_status_1(pytester):
    pytester.makepyfile("""
        import pytest
        @pytest.fixture
        def broken_teardown():
            yield
            raise RuntimeError("cleanup failed")
        @pytest.mark.sla("latency", "max<1")
        def test_x(prsm_metrics, broken_teardown):
            prsm_metrics.trend("latency", 5.0)
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, errors=1)
    assert result.ret == 1


def test_the_plugin_works_on_its_own(pytester):
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("-p", "no:prsm", "-p", "prsm_validate.sla.plugin",
                                "-p", "no:cacheprovider",
                                "-W", "ignore::pytest.PytestUnknownMarkWarning")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == 6


@pytest.mark.slow
def test_exit_status_6_through_xdist_workers(pytester):
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == 6


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
    result.stdout.fnmatch_lines(["*SLA FAIL: latency{name:op} max<5ms — measured max=9*"])


def test_bad_ini_threshold_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\nprsm_thresholds =\n    latency: p(99)<<1\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*prsm_thresholds*invalid threshold condition*",
                                 "*    latency: p(99)<<1", "*                 ^"])


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
