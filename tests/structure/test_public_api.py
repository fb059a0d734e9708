"""The scenario API: scenarios (ours, and so a user's) import only the public names of
``prsm_validate`` (its ``__all__``), every public name resolves, and importing the package
alone loads none of the modules behind those names."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import prsm_validate

REPO = Path(__file__).resolve().parents[2]


def _harness_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of prsm_validate in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prsm_validate"):
            found.append((node.lineno, node.module or "", [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names
                      if a.name.startswith("prsm_validate")]
    return found


def test_scenarios_import_only_public_names():
    offences = []
    for path in sorted((REPO / "scenarios").rglob("*.py")):
        for line, module, names in _harness_imports(path):
            private = [n for n in names if n not in prsm_validate.__all__]
            if module != "prsm_validate" or not names or private:
                offences.append(f"{path.relative_to(REPO)}:{line}: {module} {private or names}")
    assert offences == [], "scenarios must use `from prsm_validate import <public name>`"


def test_every_public_name_resolves():
    missing = [name for name in prsm_validate.__all__ if getattr(prsm_validate, name) is None]
    assert missing == []
    assert "eventually" in dir(prsm_validate)


def test_an_unknown_name_is_an_attribute_error_naming_it():
    try:
        prsm_validate.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("no AttributeError")


def test_importing_the_package_loads_no_public_module():
    code = "import json, sys, prsm_validate; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                       text=True, check=True).stdout)
    assert [m for m in loaded if m.startswith("prsm_validate.")] == []
