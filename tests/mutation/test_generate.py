"""Cosmic Ray's mutants: enumerated as it numbers them, sampled reproducibly, applied in memory."""

from __future__ import annotations

import pytest

from prsm_validate.mutation import generate

SOURCE = '''from __future__ import annotations


def pay(balance: int | None, amount: int) -> bool:
    ok: bool | None = balance >= amount and amount > 0
    return ok
'''


def test_candidates_skip_type_annotations():
    found = generate.candidates("pay.py", SOURCE)
    assert found, "Cosmic Ray found nothing to mutate"
    lines = {c.start[0] for c in found}
    assert lines == {5}, "annotation-only line 4 must not be mutated"
    assert all("BitOr" not in c.operator for c in found), "no '|' of an annotation"


def test_sample_is_reproducible_and_one_mutant_per_site():
    found = generate.candidates("pay.py", SOURCE)
    first, again = generate.sample(found, 3, 7), generate.sample(found, 3, 7)
    assert first == again
    assert len({(c.start, c.end) for c in first}) == 3
    others = [generate.sample(found, 3, seed) for seed in range(20)]
    assert any(o != first for o in others), "the seed does not change the sample"


def test_sample_never_exceeds_the_sites():
    found = generate.candidates("pay.py", SOURCE)
    sites = {(c.start, c.end) for c in found}
    assert len(generate.sample(found, 1000, 1)) == len(sites)


def test_make_applies_exactly_the_candidate():
    found = generate.candidates("pay.py", SOURCE)
    candidate = next(c for c in found if c.operator == "core/ReplaceComparisonOperator_GtE_Gt")
    mutant = generate.make(candidate, SOURCE)
    assert mutant.compiles
    assert mutant.original_line == "ok: bool | None = balance >= amount and amount > 0"
    assert mutant.mutated_line == "ok: bool | None = balance > amount and amount > 0"
    assert "-    ok: bool | None = balance >= amount" in mutant.diff
    assert mutant.line == 5 and candidate.id == "pay.py:ReplaceComparisonOperator_GtE_Gt:0"


def test_a_mutant_that_does_not_compile_is_recognised():
    mutant = generate.Mutant(generate.Candidate("x.py", "core/AddNot", 0, (1, 0), (1, 1)),
                             "def (:\n", "", 1, "", "")
    assert not mutant.compiles


def test_cache_returns_what_enumeration_does(tmp_path):
    direct = generate.candidates("pay.py", SOURCE)
    assert generate.cached_candidates("pay.py", SOURCE, tmp_path) == direct
    assert list(tmp_path.iterdir()), "nothing cached"
    assert generate.cached_candidates("pay.py", SOURCE, tmp_path) == direct


@pytest.mark.parametrize("name", ["core/VariableReplacer", "core/VariableInserter"])
def test_operators_that_need_arguments_or_randomness_are_not_used(name):
    assert name not in dict(generate.operators())
