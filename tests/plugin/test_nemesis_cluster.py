"""Cluster faults (partition, link toxics, Byzantine restarts, twins) heal when their scope
exits, also when the test fails: the next test finds no toxic, no cut, no faulty replica."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

SCENARIOS = """
import json

from prsm_validate.faultproxy.client import ProxyClient

def test_1_faults_then_failure(prsm_nemesis, prsm_cluster):
    prsm_nemesis.partition("halves")
    prsm_nemesis.link("node-0", "node-1").latency(200, jitter=20)
    prsm_nemesis.byzantine("node-2", "silence")
    prsm_nemesis.twins("node-3", ["node-1"])
    assert prsm_cluster.status("node-2")["byzantine"] == ["silence"]
    raise AssertionError("planted failure with cluster faults in force")

def test_2_nothing_left(prsm_deployment, prsm_cluster):
    with ProxyClient(prsm_deployment.services["fault_proxy"]) as proxy:
        proxies = proxy.proxies()
    assert proxies and all(p["enabled"] and not p["toxics"] for p in proxies.values()), proxies
    listen = {n: json.loads(open(prsm_deployment.log_dir + "/../cluster/cluster.json").read())
              ["nodes"][n[-1]]["listen"] for n in prsm_cluster.names}
    cluster_links = {n: p for n, p in proxies.items() if n.split("-to-")[1] in listen}
    assert len(cluster_links) == len(proxies) - 1, proxies  # and the pipeline's to the broker
    for name, p in cluster_links.items():
        assert p["upstream"] == listen[name.split("-to-")[1]], (name, p)
    for name, status in prsm_cluster.statuses().items():
        assert status is not None and status["byzantine"] == [], (name, status)
    assert "node-3-twin" not in prsm_deployment.control.components()
"""


def test_cluster_faults_heal_after_a_failing_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cluster_faults=SCENARIOS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*planted failure with cluster faults in force*"])
    faults = json.loads((pytester.path / "reports" / "latest" / "faults.json").read_text())
    kinds = [f["kind"] for f in faults]
    assert kinds == ["partition", "latency", "byzantine", "twins"], kinds
    assert all(f["ended"] is not None for f in faults), faults
