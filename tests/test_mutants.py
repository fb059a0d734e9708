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


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=lambda m: m.id)
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
