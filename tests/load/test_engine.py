"""The load engine against a real HTTP server on loopback: closed, open, ramping, distributed
(local and "remote" workers), the coordinated-omission demonstration, bounds, SLA feeding."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from prsm_validate.load.demo_server import SmallServer
from prsm_validate.load.engine import Endpoint, LoadPlan, Stage, run_load, worker_command
from prsm_validate.sla.evaluate import evaluate_lines
from prsm_validate.sla.store import MetricStore
from reference_system.ports import free_ports

FAST = [Endpoint("fast", "GET", "/fast", weight=3), Endpoint("missing", "GET", "/missing")]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    with SmallServer() as running:
        yield running


def test_gevent_stays_out_of_the_pytest_process():
    assert "gevent" not in sys.modules and "locust" not in sys.modules


def test_plans_are_checked_before_anything_starts():
    with pytest.raises(ValueError, match="open model needs a rate"):
        LoadPlan(model="open")
    with pytest.raises(ValueError, match="max_requests"):
        run_load("http://127.0.0.1:9", FAST, model="open", rate=1000, duration_s=10,
                 max_requests=100)


def test_closed_model_counts_requests_failures_and_weights(server):
    # A request budget, not a time window: the counts do not depend on the machine's speed.
    result = run_load(server.url, FAST, users=4, duration_s=60, max_requests=400,
                      progress=False)
    fast, missing = result.requests("fast"), result.requests("missing")
    assert fast + missing == 400
    assert 2 < fast / missing < 4.5, "weights 3:1"
    assert result.failures("fast") == 0
    assert result.failures("missing") == missing - result.interrupted("missing")
    assert result.histogram("fast").get_total_count() == fast
    assert result.sources == {"local": result.requests()}
    assert sum(result.rps_series().values()) == result.requests()


def test_closed_model_stops_at_the_request_budget(server):
    result = run_load(server.url, FAST[:1], users=2, duration_s=60, max_requests=50)
    assert result.requests() == 50


def test_open_model_sends_at_the_arrival_rate(server):
    result = run_load(server.url, FAST[:1], model="open", rate=100, duration_s=2)
    assert result.requests() == 200 and result.failures() == 0
    busiest = max(result.rps_series().values())
    assert busiest <= 110, "arrivals are paced, not bursted"


def test_open_model_ramps_the_arrival_rate(server):
    result = run_load(server.url, FAST[:1], model="open", rate=0,
                      stages=[Stage(1, 100), Stage(1, 0)])
    assert result.requests() == 100
    assert result.duration_s == 2


def test_distributed_run_merges_both_local_workers(server):
    result = run_load(server.url, FAST[:1], users=4, duration_s=2, workers=2)
    assert len(result.sources) == 2 and min(result.sources.values()) > 0
    assert sum(result.sources.values()) == result.requests()
    assert result.histogram().get_total_count() == result.requests()


def test_open_model_split_over_workers_keeps_the_total_rate(server):
    result = run_load(server.url, FAST[:1], model="open", rate=100, duration_s=2, workers=2)
    assert result.requests() == 200 and len(result.sources) == 2


def test_workers_started_elsewhere_join_with_only_the_master_address(server):
    port = free_ports(1)[0]
    outcome = {}
    run = threading.Thread(target=lambda: outcome.setdefault("result", run_load(
        server.url, FAST[:1], users=2, duration_s=2, remote_workers=2, master_port=port,
        worker_wait_s=20)))
    run.start()
    # As on another machine: no spec in the environment, only the command with the address.
    workers = [subprocess.Popen(worker_command("127.0.0.1", port), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
               for _ in range(2)]
    try:
        run.join(60)
        assert [w.wait(30) for w in workers] == [0, 0]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    result = outcome["result"]
    assert len(result.sources) == 2 and min(result.sources.values()) > 0
    assert sum(result.sources.values()) == result.requests()


def test_open_model_reveals_a_stall_the_closed_model_understates():
    p99 = {}
    for model, settings in (("closed", {"users": 2}), ("open", {"rate": 100})):
        with SmallServer(stall=True) as stalled:
            result = run_load(stalled.url, FAST[:1], model=model, duration_s=3, **settings)
        p99[model] = result.quantiles_ms("fast")["p99"]
    # During the 1 s stall each closed-model user waits once (two slow samples among
    # thousands); the open model keeps arriving, so a third of its requests are late.
    assert p99["open"] > 500, p99
    assert p99["open"] > 5 * p99["closed"], p99


def test_results_feed_sla_thresholds_per_endpoint_and_second(server):
    store = MetricStore()
    result = run_load(server.url, FAST, users=2, duration_s=60, max_requests=200)
    result.record_into(store)
    ok, failed, count, duration = evaluate_lines([
        "http_req_failed{name:fast}: rate<0.01", "http_req_failed{name:missing}: rate<0.01",
        "http_reqs: count>50", "http_req_duration{name:fast}: p(99)<10s over 1s"], store)
    assert ok.verdict == "pass" and failed.verdict == "fail" and failed.measured > 0.9
    assert count.measured == result.requests()
    assert duration.verdict == "pass" and duration.window.startswith("window ")


def test_the_fixture_runs_a_load_that_an_sla_marker_judges(pytester, server):
    pytester.makepyfile(f"""
        import pytest
        from prsm_validate.load.engine import Endpoint

        @pytest.mark.sla("http_req_duration{{name:fast}}", "p(99)<10s", "count>10")
        def test_fast(prsm_load_url):
            prsm_load_url("{server.url}", [Endpoint("fast", "GET", "/fast")], users=2,
                          duration_s=60, max_requests=40)

        @pytest.mark.sla("http_req_failed", "rate<0.01")
        def test_errors(prsm_load_url):
            prsm_load_url("{server.url}", [Endpoint("missing", "GET", "/missing")], users=2,
                          duration_s=60, max_requests=40)
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*SLA FAIL: http_req_failed rate<0.01 — measured rate=1 over the "
                                 "whole run*"])
    assert result.ret == 6
