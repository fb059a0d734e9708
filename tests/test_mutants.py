"""The planted defects stay applicable and are caught; the shipped code is never touched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from prsm_validate import mutants


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("mutant", (*mutants.MUTANTS, *mutants.SIMULATED), ids=lambda m: m.id)
def test_each_mutant_applies_to_a_scratch_copy_only(tmp_path, mutant):
    before = _tree_digest(mutants.SOURCE)
    root = mutants.apply(mutant, tmp_path)
    changed = (root / "reference_system" / mutant.file).read_text()
    assert mutant.new in changed
    assert _tree_digest(mutants.SOURCE) == before, "the shipped code was modified"
    compile(changed, mutant.file, "exec")  # the defect is a bug, not a syntax error


def test_at_least_eight_distinct_defects():
    assert len({m.id for m in mutants.MUTANTS}) >= 8


@pytest.mark.slow
def test_a_planted_defect_is_caught_by_the_scenario_that_targets_it():
    mutant = next(m for m in mutants.MUTANTS if m.id == "auth-no-signature")
    row = mutants.detect(mutant, Path(__file__).parents[1])
    assert row["detected"] is True
    # Unchecked signatures let both tampered and unsigned (alg=none) tokens through.
    assert any(k in n for n in row["caught_by"] for k in ("tampered", "alg_none")), row


@pytest.mark.parametrize(("output", "reason"), [
    ("....E\nE   target 'local' did not start: nats exited\nERROR x.py::t\n",
     "E   target 'local' did not start: nats exited"),
    ("..F\nE   assert 1 == 2\nFAILED x.py::t - assert 1 == 2\n", "E   assert 1 == 2"),
    ("", "(no output)"),
])
def test_a_failing_run_names_its_first_reason(output, reason):
    assert mutants.first_reason(output) == reason


def _sleepy_scenario(folder: Path) -> str:
    (folder / "test_sleepy.py").write_text("import time\n\n\ndef test_hangs():\n"
                                           "    time.sleep(120)\n")
    return "test_sleepy.py"


def test_a_scenario_run_past_its_timeout_is_reported_as_timed_out(tmp_path):
    run = mutants.run_scenarios((_sleepy_scenario(tmp_path),), None, tmp_path, timeout_s=3,
                                failure_log=tmp_path / "out.log")
    assert run.timed_out and not run.passed
    assert run.failed == ["(timed out after 3 s)"]
    assert "timed out after 3 s" in (tmp_path / "out.log").read_text()


def test_mutants_command_goes_on_after_timeouts_and_prints_its_json(tmp_path, monkeypatch,
                                                                     capsys):
    import dataclasses
    import json

    from prsm_validate.cli import main

    scenario = _sleepy_scenario(tmp_path)
    hanging = dataclasses.replace(mutants.MUTANTS[0], scenarios=(scenario,))
    monkeypatch.setattr(mutants, "MUTANTS", (hanging,))
    monkeypatch.chdir(tmp_path)
    status = main(["mutants", "--timeout", "3"])
    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert out[0].startswith("baseline 1: TIMED OUT (false alarm)")
    assert f"{hanging.id}" in out[-2] and "timed out" in out[-2]
    result = json.loads(out[-1])  # the JSON line is printed whatever happened
    assert result["timed_out"] == [hanging.id] and result["undetected"] == []
    assert result["detected"] == 0 and result["false_alarms"] == 1
    assert result["baseline_timeouts"] == 1


def test_a_timed_out_mutant_is_neither_detected_nor_undetected():
    rows = [{"id": "a", "detected": True, "timed_out": False},
            {"id": "b", "detected": False, "timed_out": True},
            {"id": "c", "detected": False, "timed_out": False}]
    result = mutants.summary(rows, 0, 1)
    assert (result["detected"], result["undetected"], result["timed_out"]) == (1, ["c"], ["b"])


def test_only_takes_a_comma_list_and_refuses_unknown_ids(tmp_path, monkeypatch, capsys):
    import dataclasses
    import json

    from prsm_validate.cli import main

    (tmp_path / "test_quick.py").write_text("def test_passes():\n    pass\n")
    chosen = [dataclasses.replace(m, scenarios=("test_quick.py",)) for m in mutants.MUTANTS[:3]]
    monkeypatch.setattr(mutants, "MUTANTS", tuple(chosen))
    monkeypatch.chdir(tmp_path)
    assert main(["mutants", "--only", f"{chosen[0].id},{chosen[2].id}"]) == 1  # undetected
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[1:-1]] == [chosen[0].id, chosen[2].id]
    assert json.loads(out[-1])["undetected"] == [chosen[0].id, chosen[2].id]
    assert main(["mutants", "--only", f"{chosen[0].id},no-such-defect"]) == 2
    assert "unknown mutant no-such-defect" in capsys.readouterr().err
