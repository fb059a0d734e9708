"""Budget, timeouts and selection of the mutation runner; one mutant run for real (slow)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prsm_validate import mutants
from prsm_validate.mutation import generate, runner
from prsm_validate.mutation.catalogue import Module

ROOT = Path(__file__).resolve().parents[2]
AUTH = "scenarios/integration/test_auth.py"


def _row(module: Module, source: str = "x = 1\n") -> runner.Row:
    candidate = generate.Candidate(module.path, "core/NumberReplacer", 0, (1, 4), (1, 5))
    return runner.Row(generate.make(candidate, source), module)


def _baseline(durations: dict[str, float], seconds: float = 20.0) -> runner.Baseline:
    return runner.Baseline(True, seconds, durations, [], Path("baseline.log"))


def test_expected_time_and_timeout_come_from_the_baseline():
    module = Module("api/auth.py", "auth", (f"{AUTH}::test_a",))
    base = _baseline({f"{AUTH}::test_a": 4.0, f"{AUTH}::test_a[x]": 2.0, f"{AUTH}::test_b": 9.0})
    assert base.expected_s(module) == pytest.approx(5.0 + 6.0)  # overhead 20 - 15 = 5
    assert base.timeout_s(module) == pytest.approx(3 * 11.0 + runner.TIMEOUT_SLACK_S)


def test_union_drops_entries_a_file_already_covers():
    modules = [Module("a.py", "auth", (AUTH, f"{AUTH}::test_a")),
               Module("b.py", "auth", ("scenarios/x.py::test_b[1]",))]
    assert runner.scenario_union(modules) == (AUTH, "scenarios/x.py::test_b[1]")


def test_interleave_takes_one_mutant_of_each_module_in_turn():
    assert runner.interleave([[1, 2, 3], [4], [5, 6]]) == [1, 4, 5, 2, 6, 3]


def test_nothing_starts_past_the_deadline():
    module = Module("api/auth.py", "auth", (AUTH,))
    rows = [_row(module), _row(module)]
    ran = []
    runner.run_budgeted(rows, _baseline({AUTH: 30.0}), ROOT, 1, time.monotonic() + 10,
                        on_done=ran.append)
    assert ran == [] and all(r.outcome == "not-run" for r in rows)
    assert rows[0].reason == "the budget ran out first"


def test_a_timeout_is_classified_apart(monkeypatch):
    def too_slow(*args, **kwargs):
        return mutants.ScenarioRun(False, kwargs["timeout_s"], ["(timed out)"], timed_out=True)

    monkeypatch.setattr(mutants, "run_scenarios", too_slow)
    row = runner.run_one(_row(Module("api/auth.py", "auth", (AUTH,))), _baseline({}), ROOT, 1)
    assert row.outcome == "timeout" and "no verdict within" in row.reason


def test_incompetent_and_listed_mutants_are_decided_without_running():
    module = Module("api/auth.py", "auth", (AUTH,))
    broken = _row(module)
    broken.mutant = generate.Mutant(broken.mutant.candidate, "def (:\n", "", 1, "", "")
    rows = [broken, _row(module)]
    runner.classify_statically(rows, [])
    assert [r.outcome for r in rows] == ["incompetent", "not-run"]


@pytest.mark.slow
def test_a_mutant_that_refuses_every_password_is_killed_by_the_auth_scenario():
    source = (mutants.SOURCE / "passwords.py").read_text()
    found = generate.candidates("passwords.py", source)
    candidate = next(c for c in found if c.operator == "core/ReplaceComparisonOperator_NotEq_Eq")
    mutant = generate.make(candidate, source)
    assert mutant.mutated_line == 'if scheme == "scrypt":'
    module = Module("passwords.py", "auth", (f"{AUTH}::test_wrong_password_is_401",
                                             f"{AUTH}::test_login_then_me_names_the_user"))
    row = runner.run_one(runner.Row(mutant, module),
                         _baseline({}, 60.0), ROOT, 1)
    assert row.outcome == "killed", (row.mutant.diff, row.reason)
    assert row.caught_by, row
