"""One exception root: every exception class the harness defines descends from PrsmError."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "prsm_validate"
BUILTIN = {"Exception", "ValueError", "RuntimeError", "LookupError", "KeyError", "TypeError",
           "OSError", "AssertionError", "TimeoutError"}
UNWINDING = {"BudgetExhausted"}  # BaseException on purpose (documented in errors.py)


def _classes() -> list[tuple[str, str, list[str]]]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")
                         for b in node.bases]
                found.append((f"{path.relative_to(PACKAGE.parent)}", node.name, bases))
    return found


def test_every_exception_of_the_harness_descends_from_prsm_error():
    classes = _classes()
    rooted = {"PrsmError"}
    changed = True
    while changed:
        changed = False
        for _, name, bases in classes:
            if name not in rooted and rooted & set(bases):
                rooted.add(name)
                changed = True
    offenders = [f"{where}: {name}({', '.join(bases)})" for where, name, bases in classes
                 if BUILTIN & set(bases) and name not in rooted | {"PrsmError"} | UNWINDING]
    assert offenders == []
