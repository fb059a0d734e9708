"""The PBFT replica is state plus transition functions (issue 15): the transition modules
import neither the replica nor a module above them, and define no classes (so no mixins)."""

from __future__ import annotations

import ast
from pathlib import Path

CONSENSUS = Path(__file__).resolve().parents[2] / "reference_system" / "consensus"
# Lowest first: a module may import only those before it.
LAYERS = ("state", "batching", "checkpoints", "normal", "viewchange", "recovery", "replica")


def _imported_layers(name: str) -> set[str]:
    tree = ast.parse((CONSENSUS / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            found |= {m.rsplit(".", 1)[-1] for m in modules
                      if m.startswith("reference_system.consensus")}
    return found & set(LAYERS)


def test_transition_modules_import_only_lower_layers() -> None:
    for index, name in enumerate(LAYERS):
        assert _imported_layers(name) <= set(LAYERS[:index]), name


def test_transition_modules_define_no_classes() -> None:
    for name in LAYERS[1:-1]:
        tree = ast.parse((CONSENSUS / f"{name}.py").read_text())
        assert not [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)], name
