"""No import cycle among the modules of the harness and of the reference system: the imports
run at import time (module and class bodies; imports inside functions and under
``TYPE_CHECKING`` are deferred on purpose) form a DAG."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("prsm_validate", "reference_system")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class _ImportTimeImports(ast.NodeVisitor):
    """The modules one module imports while it is being imported."""

    def __init__(self, here: str, is_package: bool) -> None:
        self.package = here.split(".") if is_package else here.split(".")[:-1]
        self.found: set[str] = set()

    def visit_FunctionDef(self, node: ast.AST) -> None:
        """Function bodies run later."""

    visit_AsyncFunctionDef = visit_Lambda = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" not in ast.unparse(node.test):
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found |= {alias.name for alias in node.names}

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parent = self.package[:len(self.package) - (node.level - 1)]
            base = ".".join([*parent, base] if base else parent)
        self.found |= {base, *(f"{base}.{alias.name}" for alias in node.names)}


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        visitor = _ImportTimeImports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(), str(path)))
        graph[name] = {m for m in visitor.found if m in paths and m != name}
    return graph


def test_module_imports_form_no_cycle():
    try:
        order = list(graphlib.TopologicalSorter(_graph()).static_order())
    except graphlib.CycleError as error:
        raise AssertionError(f"import cycle: {' -> '.join(error.args[1])}") from None
    assert "prsm_validate.plugin" in order and "reference_system.consensus.replica" in order


def test_deferred_imports_are_not_edges_and_relative_ones_resolve():
    visitor = _ImportTimeImports("pkg.sub.mod", is_package=False)
    visitor.visit(ast.parse(
        "import a\nfrom . import b\nfrom ..c import d\nif TYPE_CHECKING:\n    import e\n"
        "def f():\n    import g\nclass K:\n    import h\n"))
    assert visitor.found == {"a", "pkg.sub", "pkg.sub.b", "pkg.c", "pkg.c.d", "h"}
