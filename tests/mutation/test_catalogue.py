"""The catalogue covers every module of reference_system and names scenarios that exist."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from prsm_validate import mutants
from prsm_validate.mutation import catalogue

ROOT = Path(__file__).resolve().parents[2]
TIMING = ("scenarios/sla/test_latency.py", "scenarios/load/",
          "test_steady_rate_end_to_end_latency")


def _package_modules() -> set[str]:
    return {str(p.relative_to(mutants.SOURCE)) for p in mutants.SOURCE.rglob("*.py")
            if p.read_text().strip() and p.name != "__init__.py"}


def test_every_module_is_measured_or_excluded_with_a_reason():
    measured = {m.path for m in catalogue.MODULES}
    excluded = {p for p in _package_modules()
                if any(p == e or (e.endswith("/") and p.startswith(e)) for e in catalogue.EXCLUDED)}
    assert _package_modules() - measured - excluded == set()
    assert measured <= _package_modules()
    assert not measured & excluded


@pytest.mark.parametrize("module", catalogue.MODULES, ids=lambda m: m.path)
def test_scenarios_exist_and_none_depends_on_timing(module):
    assert module.subsystem in catalogue.SUBSYSTEMS
    assert module.scenarios
    for entry in module.scenarios:
        path, _, name = entry.partition("::")
        name = name.partition("[")[0]
        assert (ROOT / path).is_file(), entry
        if name:
            tree = ast.parse((ROOT / path).read_text())
            assert name in {f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}, entry
        assert not any(t in entry for t in TIMING), f"{entry} judges timing"


def test_every_subsystem_has_modules():
    assert {m.subsystem for m in catalogue.MODULES} == set(catalogue.SUBSYSTEMS)


def test_a_week_of_rotation_covers_every_module_once():
    days = [catalogue.rotation(day) for day in range(7)]
    paths = [m.path for day in days for m in day]
    assert sorted(paths) == sorted(m.path for m in catalogue.MODULES)
    assert all(days), "a day without modules"


def test_select_by_path_stem_or_subsystem():
    assert [m.path for m in catalogue.select(["memory.py"])] == ["memory.py"]
    assert [m.path for m in catalogue.select(["api/auth"])] == ["api/auth.py"]
    assert {m.subsystem for m in catalogue.select(["ledger"])} == {"ledger"}
    with pytest.raises(KeyError):
        catalogue.select(["nope.py"])
