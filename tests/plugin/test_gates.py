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
