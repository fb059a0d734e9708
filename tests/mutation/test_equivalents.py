"""The equivalents file: well-formed, each entry still names a mutant Cosmic Ray makes today."""

from __future__ import annotations

import re

import pytest

from prsm_validate import mutants
from prsm_validate.mutation import equivalents, generate


def test_shipped_entries_name_current_mutants_with_reasons():
    for entry in equivalents.load():
        source = (mutants.SOURCE / entry.module).read_text()
        lines = source.splitlines()
        made = [generate.make(c, source)
                for c in generate.candidates(entry.module, source, only=entry.operator)
                if lines[c.start[0] - 1].strip() == entry.line]
        assert any(entry.matches(m) for m in made), (
            f"stale entry in {equivalents.DEFAULT_FILE.name}: {entry.module} {entry.operator} "
            f"{entry.line!r} -> {entry.mutated!r}")
        assert len(entry.reason) > 20, entry


def test_a_listed_mutant_is_found(tmp_path):
    source = "def f(a, b):\n    return a < b\n"
    candidate = next(c for c in generate.candidates("f.py", source)
                     if c.operator == "core/ReplaceComparisonOperator_Lt_LtE")
    mutant = generate.make(candidate, source)
    path = tmp_path / "eq.yaml"
    path.write_text("equivalents:\n  - module: f.py\n    operator: "
                    "core/ReplaceComparisonOperator_Lt_LtE\n    line: 'return a < b'\n"
                    "    mutated: 'return a <= b'\n    reason: never called with a == b\n")
    listed = equivalents.load(path)
    assert equivalents.find(listed, mutant).reason == "never called with a == b"
    assert equivalents.entry_for(mutant, "x")["mutated"] == "return a <= b"


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n", "top level must be a mapping"),
    ("equivalents:\n  - just text\n", "equivalents[0] must be a mapping"),
    ("equivalents:\n  - {module: f.py, operator: x, line: y, mutated: z}\n",
     "equivalents[0] needs a non-empty string for reason"),
])
def test_a_malformed_file_is_named_with_the_fix(tmp_path, text, message):
    path = tmp_path / "eq.yaml"
    path.write_text(text)
    with pytest.raises(equivalents.EquivalentsError, match=re.escape(message)) as info:
        equivalents.load(path)
    assert str(path) in str(info.value)


def test_unreachable_entries_keep_their_kind_and_other_kinds_are_refused(tmp_path):
    entry = ("equivalents:\n  - {module: f.py, operator: x, line: y, mutated: z, "
             "reason: only the simulator runs it, kind: %s}\n")
    path = tmp_path / "eq.yaml"
    path.write_text(entry % "unreachable")
    assert equivalents.load(path)[0].kind == "unreachable"
    path.write_text(entry % "boring")
    with pytest.raises(equivalents.EquivalentsError, match="kind 'boring'"):
        equivalents.load(path)


def test_a_missing_file_lists_nothing(tmp_path):
    assert equivalents.load(tmp_path / "none.yaml") == []
