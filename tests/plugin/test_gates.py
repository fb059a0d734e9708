"""Milestone gates: selection, verdicts with evidence, non-zero exit naming the criterion."""

from __future__ import annotations

import json

import pytest

from prsm_validate.gates.definitions import Criterion, GateFileError, load_gates
from prsm_validate.gates.evaluate import automated, selected

SCENARIOS = """
import pytest

def test_fast(record_property):
    record_property("latency", {"p99": 12.5})

def test_other():
    pass

@pytest.mark.skip(reason="not here")
def test_skipped():
    pass
"""

GATES = """
gates:
  G1:
    title: demo
    criteria:
      - {{id: G1.fast, kind: automated, description: fast enough,
         select: ["test_demo.py::test_fast"],
         thresholds: [{{property: latency.p99, op: "<", value: {limit}}}]}}
      - {{id: G1.review, kind: manual, description: a person looks}}
  G2:
    title: nothing runs
    criteria:
      - {{id: G2.missing, kind: automated, description: no such scenario,
         select: ["test_demo.py::test_skipped"]}}
"""


def _setup(pytester: pytest.Pytester, limit: float) -> None:
    pytester.makepyfile(test_demo=SCENARIOS)
    pytester.makefile(".yaml", gates=GATES.format(limit=limit))
    pytester.makeini("[pytest]\nprsm_gates_file = gates.yaml\n")


def _verdict(pytester: pytest.Pytester, gate: str) -> dict:
    return json.loads((pytester.path / "reports" / "latest" / f"gate-{gate}.json").read_text())


def test_passing_gate_runs_only_its_scenarios(pytester):
    _setup(pytester, limit=100)
    result = pytester.runpytest("--prsm-gate=G1", "-p", "no:cacheprovider")
    assert result.ret == 0
    result.assert_outcomes(passed=1, deselected=2)
    verdict = _verdict(pytester, "G1")
    assert verdict["verdict"] == "pass"
    fast, review = verdict["criteria"]
    assert fast["verdict"] == "pass" and fast["measured"] == {"latency.p99": 12.5}
    assert review["verdict"] == "manual"  # never reported as passed


def test_impossible_threshold_fails_the_gate_and_names_the_criterion(pytester):
    _setup(pytester, limit=1)
    result = pytester.runpytest("--prsm-gate=G1", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["FAIL*G1.fast: latency.p99 = 12.5 breaks latency.p99 < 1*",
                                 "gate G1: FAIL (failing: G1.fast)"])
    assert _verdict(pytester, "G1")["failing"] == ["G1.fast"]


def test_unmeasured_criterion_fails_the_gate(pytester):
    _setup(pytester, limit=100)
    result = pytester.runpytest("--prsm-gate=G2", "-p", "no:cacheprovider")
    assert result.ret != 0
    assert _verdict(pytester, "G2")["criteria"][0]["verdict"] == "not-measured"


def test_unknown_gate_is_a_usage_error(pytester):
    _setup(pytester, limit=100)
    result = pytester.runpytest("--prsm-gate=M99")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--prsm-gate=M99*no such gate*G1, G2*"])


def test_repo_gate_file_defines_m1_to_m12_and_edge():
    gates = load_gates(__import__("pathlib").Path(__file__).parents[2] / "fixtures/gates.yaml")
    assert [f"M{i}" for i in range(1, 13)] + ["EDGE"] == list(gates)


def test_gate_file_mistakes_name_the_key(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("gates:\n  X: {criteria: [{id: a, kind: automated, description: d}]}\n")
    with pytest.raises(GateFileError, match=r"gates.X.criteria\[0\].select"):
        load_gates(path)


@pytest.mark.parametrize(("nodeid", "expected"), [
    ("scenarios/pipeline/test_a.py::test_x", True), ("scenarios/pipeline2/test_a.py::t", False),
    ("scenarios/pipeline/test_a.py::test_x[1]", True), ("scenarios/edge/test_b.py::t", False),
])
def test_selection_by_folder(nodeid, expected):
    criterion = Criterion("c", "automated", "d", select=("scenarios/pipeline",))
    assert selected(criterion, nodeid) is expected


def test_a_failed_selected_scenario_fails_even_if_others_pass():
    criterion = Criterion("c", "automated", "d", select=("t.py",))
    outcomes = [{"nodeid": "t.py::a", "outcome": "passed"},
                {"nodeid": "t.py::b", "outcome": "failed"}]
    assert automated(criterion, outcomes)["verdict"] == "fail"


@pytest.mark.parametrize(("manifest", "problem"), [
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: two}\n",
     "Deployment x"),
    ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {portz: []}\n", "Service s"),
    ("kind: [unclosed\n", "not valid YAML"),
])
def test_evidence_manifests_are_validated_against_kubernetes_schemas(tmp_path, manifest,
                                                                      problem):
    from prsm_validate.gates.evaluate import evidence

    (tmp_path / "m.yaml").write_text(manifest)
    criterion = Criterion("e", "evidence", "d", artifact="*.yaml", validate="k8s")
    result = evidence(criterion, tmp_path)
    assert result["verdict"] == "fail" and problem in result["reason"]


def test_repo_manifests_pass_schema_validation():
    from pathlib import Path

    from prsm_validate.gates.evaluate import evidence

    criterion = Criterion("e", "evidence", "d", artifact="reference_system/deploy/k8s/*.yaml",
                          validate="k8s")
    assert evidence(criterion, Path(__file__).parents[2])["verdict"] == "pass"


SLA_SCENARIO = """
def test_latency(prsm_metrics):
    for ms in range(1, 101):  # 1..100 ms: p(99) is 99-100 ms, the median 50 ms
        prsm_metrics.trend("http_req_duration", float(ms), name="health")
"""

SLA_GATE = """
gates:
  S:
    title: sla lines
    criteria:
      - id: S.lat
        kind: automated
        description: k6 lines judged on the scenario's own metrics
        select: ["test_sla.py"]
        sla: [{lines}]
"""


@pytest.mark.parametrize(("lines", "verdict", "reason"), [
    ('"http_req_duration{name:health}: med<60ms, p(99)<150ms"', "pass", ""),
    ('"http_req_duration{name:health}: p(99)<20ms"', "fail",
     "*SLA FAIL*p(99)<20ms*measured p(99)=99*"),
    ('"http_req_duration{name:login}: p(99)<20ms"', "not-measured", "no selected scenario*"),
])
def test_gate_sla_lines_are_judged_on_the_selected_scenarios_metrics(pytester, lines,
                                                                      verdict, reason):
    pytester.makepyfile(test_sla=SLA_SCENARIO)
    pytester.makefile(".yaml", gates=SLA_GATE.format(lines=lines))
    pytester.makeini("[pytest]\nprsm_gates_file = gates.yaml\n")
    result = pytester.runpytest("--prsm-gate=S", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)  # the gate judges the line; the test itself passed
    criterion = _verdict(pytester, "S")["criteria"][0]
    assert criterion["verdict"] == verdict, criterion
    assert (result.ret == 0) is (verdict == "pass")
    if reason:
        assert __import__("fnmatch").fnmatch(criterion["reason"], reason), criterion


def test_a_malformed_gate_sla_line_names_file_key_and_position(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(SLA_GATE.format(lines='"http_req_duration: p(99)<<10ms"'))
    with pytest.raises(GateFileError, match=r"gates.S.criteria\[0\].sla: invalid threshold"):
        load_gates(path)
