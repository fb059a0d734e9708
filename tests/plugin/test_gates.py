"""Milestone gates: selection, verdicts with evidence, non-zero exit naming the criterion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prsm_validate.gates.definitions import Criterion, GateFileError, load_gates
from prsm_validate.gates.evaluate import automated, selected

REPO = Path(__file__).parents[2]
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

CITE = "cite: {{source: r, section: s1, words: w}}"
GATES = """
version: 2
gates:
  G1:
    title: demo
    CITE
    criteria:
      - {{id: G1.fast, kind: automated, description: fast enough, CITE,
         select: ["test_demo.py::test_fast"],
         thresholds: [{{property: latency.p99, op: "<", value: {limit}}}]}}
      - {{id: G1.review, kind: manual, description: a person looks, CITE,
         person_checks: the report reads well}}
  G2:
    title: nothing runs
    CITE
    criteria:
      - {{id: G2.missing, kind: automated, description: no such scenario, CITE,
         select: ["test_demo.py::test_skipped"]}}
  T9:
    title: both
    CITE
    union: [G1, G2]
""".replace("CITE", CITE)


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
    result.stdout.fnmatch_lines(["FAIL*G1.fast [[]automated[]]*latency.p99 = 12.5 breaks "
                                 "latency.p99 < 1*", "gate G1: FAIL (failing: G1.fast; manual: 1)"])
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
    result.stderr.fnmatch_lines(["*--prsm-gate=M99*no such gate M99*G1, G2, T9*"])


def test_repo_gate_file_uses_the_roadmap_ids_and_cites_every_criterion():
    gates = load_gates(REPO / "fixtures/gates.yaml")
    assert list(gates) == [f"M{i}" for i in range(1, 13)] + ["T1", "T2", "T3", "T4", "EDGE"]
    for gate in gates.values():
        assert gate.cite and gate.criteria, gate.name
        for criterion in gate.criteria:
            assert criterion.cite and criterion.cite.words, criterion.id
    assert [c.id for c in gates["T1"].criteria] == [
        c.id for name in ("M1", "M2", "M3") for c in gates[name].criteria]
    assert gates["T2"].union == ("M4", "M5", "M6")


def test_repo_gate_selections_name_existing_scenarios():
    gates = load_gates(REPO / "fixtures/gates.yaml")
    for criterion in {c.id: c for g in gates.values() for c in g.criteria}.values():
        for selector in criterion.select:
            path = REPO / selector.split("::")[0]
            assert path.exists(), f"{criterion.id}: {selector} does not exist"
            if "::" in selector:
                assert f"def {selector.split('::')[1]}(" in path.read_text(), selector


def test_gate_file_mistakes_name_the_key(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("version: 2\ngates:\n  X: {criteria: [{id: a, kind: automated, "
                    "description: d, cite: {source: r, section: s, words: w}}]}\n")
    with pytest.raises(GateFileError, match=r"gates.X.criteria\[0\].select"):
        load_gates(path)


def test_a_criterion_without_citation_is_refused(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("version: 2\ngates:\n  X: {criteria: [{id: a, kind: manual, "
                    "description: d, person_checks: p}]}\n")
    with pytest.raises(GateFileError, match=r"gates.X.criteria\[0\].cite: needs"):
        load_gates(path)


def test_version_1_gate_file_is_a_usage_error_saying_what_changed(pytester):
    pytester.makefile(".yaml", gates="version: 1\ngates:\n  M1: {title: t, criteria: []}\n")
    pytester.makeini("[pytest]\nprsm_gates_file = gates.yaml\n")
    result = pytester.runpytest("--prsm-gate=M1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*gates.yaml: version: 1 is not supported*version 2 "
                                 "renumbered the gates*T1-T4*cite:*check:*"])


@pytest.mark.parametrize("spec", ["", ",", "G1,", " "])
def test_empty_gate_names_are_usage_errors(pytester, spec):
    _setup(pytester, limit=100)
    result = pytester.runpytest(f"--prsm-gate={spec}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--prsm-gate=*name one gate or a comma list*"])


def test_comma_list_runs_each_gate_and_writes_each_verdict(pytester):
    _setup(pytester, limit=100)
    result = pytester.runpytest("--prsm-gate=G1,G2", "-p", "no:cacheprovider")
    assert result.ret == 1  # G2's criterion is not measured
    result.assert_outcomes(passed=1, skipped=1, deselected=1)
    assert _verdict(pytester, "G1")["verdict"] == "pass"
    assert _verdict(pytester, "G2")["failing"] == ["G2.missing"]
    result.stdout.fnmatch_lines(["gate G1: PASS*", "*gate G2: FAIL (failing: G2.missing*"])


def test_a_tranche_gate_is_the_union_of_its_milestones(pytester):
    _setup(pytester, limit=100)
    pytester.runpytest("--prsm-gate=T9", "-p", "no:cacheprovider")
    verdict = _verdict(pytester, "T9")
    assert [c["id"] for c in verdict["criteria"]] == ["G1.fast", "G1.review", "G2.missing"]
    assert verdict["union"] == ["G1", "G2"] and verdict["failing"] == ["G2.missing"]


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


EVIDENCE_GATE = """
version: 2
gates:
  E:
    title: evidence only
    cite: {source: r, section: s, words: w}
    criteria:
      - {id: E.dr, kind: evidence, check: docs.dr-plan, description: a DR plan,
         cite: {source: r, section: s, words: w}}
"""


@pytest.mark.parametrize(("plan", "code", "verdict"), [
    ("# Disaster recovery plan\n- RTO: 10 minutes\n- RPO: 30 seconds\n", 0, "pass"),
    ("# Disaster recovery plan\n- RTO: 10 minutes\n", 1, "fail"),
])
def test_an_evidence_only_gate_exits_0_or_1_never_5(pytester, plan, code, verdict):
    pytester.makepyfile(test_other="def test_x():\n    pass\n")
    pytester.makefile(".yaml", gates=EVIDENCE_GATE)
    (pytester.path / "repo" / "docs").mkdir(parents=True)
    (pytester.path / "repo" / "docs" / "disaster-recovery.md").write_text(plan)
    pytester.makeini("[pytest]\nprsm_gates_file = gates.yaml\nprsm_evidence = repo\n")
    result = pytester.runpytest("--prsm-gate=E", "-p", "no:cacheprovider")
    assert result.ret == code
    criterion = _verdict(pytester, "E")["criteria"][0]
    assert criterion["verdict"] == verdict
    if verdict == "fail":
        assert criterion["gaps"] == ["docs/disaster-recovery.md: disaster recovery plan: RPO "
                                     "not stated as a duration (e.g. 'RPO: 15 minutes')"]
    else:
        assert criterion["evidence"][0] == {"file": "docs/disaster-recovery.md", "line": 2,
                                            "text": "- RTO: 10 minutes"}


def test_missing_evidence_folder_is_a_usage_error(pytester):
    pytester.makefile(".yaml", gates=EVIDENCE_GATE)
    pytester.makeini("[pytest]\nprsm_gates_file = gates.yaml\n")
    result = pytester.runpytest("--prsm-gate=E", "--prsm-evidence=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--prsm-evidence=nope: not a folder*"])


def test_repo_evidence_gate_passes_with_default_evidence_from_another_folder(pytester):
    """The default gates file and evidence are found with a targets file outside the rootdir
    (the rootdir then is the targets file's folder), and M12 (evidence only) exits 0."""
    targets = pytester.path / "elsewhere"
    targets.mkdir()
    (targets / "t.yaml").write_text("targets: {}\n")
    result = pytester.runpytest("--prsm-gate", "M12", "--prsm-targets-file", str(targets /
                                "t.yaml"), "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()[-2000:]
    result.stdout.fnmatch_lines(["PASS*M12.runbooks [[]evidence[]]*", "MANUAL*M12.operations-"
                                 "handover [[]manual[]]*a person must check*",
                                 "gate M12: PASS (failing: none; manual: 1)"])


SLA_SCENARIO = """
def test_latency(prsm_metrics):
    for ms in range(1, 101):  # 1..100 ms: p(99) is 99-100 ms, the median 50 ms
        prsm_metrics.trend("http_req_duration", float(ms), name="health")
"""

SLA_GATE = """
version: 2
gates:
  S:
    title: sla lines
    cite: {{source: r, section: s, words: w}}
    criteria:
      - id: S.lat
        kind: automated
        cite: {{source: r, section: s, words: w}}
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


def test_a_not_measured_criterion_says_which_scenario_was_skipped_and_why():
    criterion = Criterion("c", "automated", "d", select=("t.py",),
                          sla=("http_req_duration{name:health}: p(99)<10ms",))
    outcomes = [{"nodeid": "t.py::a", "outcome": "passed"},
                {"nodeid": "t.py::b", "outcome": "skipped", "reason": "SLA UNKNOWN: floor 11ms"}]
    verdict = automated(criterion, outcomes, {"t.py::b": ("t.py", 7)})
    assert verdict["verdict"] == "not-measured"
    assert verdict["reason"].endswith("; skipped: t.py::b: SLA UNKNOWN: floor 11ms")
    assert verdict["evidence"][0] == {"file": "t.py", "line": 7,
                                      "text": "t.py::b: skipped: SLA UNKNOWN: floor 11ms"}
