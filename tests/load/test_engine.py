"""The load engine against a real HTTP server: closed, open and distributed runs."""

from __future__ import annotations

import pytest

from prsm_validate.load.demo_server import SmallServer
from prsm_validate.load.engine import Endpoint, run_load
from prsm_validate.load.recorder import Recorder
from prsm_validate.sla.evaluate import evaluate
from prsm_validate.sla.store import MetricStore
from prsm_validate.sla.thresholds import parse_line

FAST = [Endpoint("fast", "GET", "/fast", weight=3), Endpoint("missing", "GET", "/missing")]


def test_recorders_merge_histograms_and_series():
    a, b = Recorder(), Recorder()
    a.record("x", 1.0, False, 0)
    b.record("x", 3.0, True, 0)
    b.record("y", 2.0, False, 1)
    merged = Recorder()
    merged.merge(a.drain())
    merged.merge(b.drain())
    assert merged.series == {0: {"x": [2, 1]}, 1: {"y": [1, 0]}}
    assert merged.histograms["x|0"].get_total_count() == 2


@pytest.mark.slow
def test_closed_model_counts_requests_failures_and_weights():
    with SmallServer() as server:
        result = run_load(server.url, FAST, users=4, duration_s=2)
    fast, missing = result.requests("fast"), result.requests("missing")
    assert fast > 100 and missing > 20
    assert 2 < fast / missing < 4.5, "weights 3:1"
    assert result.failures("missing") == missing and result.failures("fast") == 0
    assert result.histogram("fast").get_total_count() == fast


@pytest.mark.slow
def test_open_model_sends_at_the_arrival_rate():
    with SmallServer() as server:
        result = run_load(server.url, [FAST[0]], model="open", rate=100, duration_s=2)
    assert 190 <= result.requests() <= 200


@pytest.mark.slow
def test_distributed_run_merges_both_workers():
    with SmallServer() as server:
        result = run_load(server.url, [FAST[0]], users=4, duration_s=2, workers=2)
    assert result.requests() > 100
    assert result.histogram().get_total_count() == result.requests()


@pytest.mark.slow
def test_open_model_reveals_a_stall_the_closed_model_understates():
    p99 = {}
    for model, settings in (("closed", {"users": 2}), ("open", {"rate": 100})):
        with SmallServer(stall=True) as server:
            result = run_load(server.url, [FAST[0]], model=model, duration_s=3, **settings)
        p99[model] = result.quantiles_ms("fast")["p99"]
    # During the 1 s stall each closed-model user waits once (two slow samples among
    # thousands); the open model keeps arriving, so a third of its requests are late.
    assert p99["open"] > 500, p99
    assert p99["open"] > 5 * p99["closed"], p99


@pytest.mark.slow
def test_results_feed_sla_thresholds():
    with SmallServer() as server:
        result = run_load(server.url, FAST, users=2, duration_s=1)
    store = MetricStore()
    result.record_into(store)
    ok, failed = evaluate([parse_line("http_req_failed{name:fast}: rate<0.01"),
                           parse_line("http_req_failed{name:missing}: rate<0.01")], store)
    assert ok.verdict == "pass" and failed.verdict == "fail"


def test_progress_line_only_for_a_person_at_a_terminal(monkeypatch):
    from prsm_validate.load import engine

    monkeypatch.setattr(engine.sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setenv("CI", "true")
    assert engine._interactive() is False
    monkeypatch.delenv("CI")
    assert engine._interactive() is True
