"""Mutants of ``reference_system`` made by Cosmic Ray's own operators, sampled with a seed.

Why Cosmic Ray and not mutmut: both are kept up to date on PyPI, but only Cosmic Ray makes a
single mutant's *source* as a public, documented step apart from its runner
(``cosmic_ray.mutating.mutate_code(code, operator, occurrence)``, the same call behind
``cosmic-ray apply``), with every mutant named by ``(module, operator, occurrence)`` so a seeded
sample is reproducible. mutmut 3 writes one "trampolined" copy of each file holding every
mutant of every function, switched at run time by an environment variable inside its own
forking pytest runner, and mutates function bodies only; ``mutmut apply`` needs a prior
``mutmut run`` of its own. Our mutants must run in a scratch copy of the package, with a whole
deployment of processes started per mutant, which is Cosmic Ray's model (one source per
mutant, an external test command with a timeout) minus its session database.

What is written here by hand (no library does it): choosing the sample. Cosmic Ray numbers
every (operator, position) pair, so ``a < b`` alone yields 11 comparison mutants; sampling
those uniformly would mostly measure arithmetic and comparison swaps. We sample *sites*
(source positions) uniformly without replacement, then one operator applicable at the site.
Positions inside type annotations are left out: with postponed evaluation they are never
executed, and where pydantic evaluates them a swapped ``|`` fails at import, which tells
nothing about the scenarios.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cosmic_ray.plugins
from cosmic_ray.ast import ast_nodes, get_ast
from cosmic_ray.mutating import mutate_code

Position = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class Candidate:
    """One mutation Cosmic Ray can make: ``operator`` at its ``occurrence`` in ``module``."""

    module: str  # path inside reference_system, e.g. "consensus/state_machine.py"
    operator: str  # Cosmic Ray's name, e.g. "core/ReplaceComparisonOperator_Lt_LtE"
    occurrence: int
    start: tuple[int, int]
    end: tuple[int, int]

    @property
    def id(self) -> str:
        """Stable within one version of the module: ``module:Operator:occurrence``."""
        return f"{self.module}:{self.operator.removeprefix('core/')}:{self.occurrence}"


@dataclass(frozen=True)
class Mutant:
    """A candidate with its mutated source, the diff and the changed line."""

    candidate: Candidate
    source: str | None  # None: Cosmic Ray applied nothing
    diff: str
    line: int
    original_line: str
    mutated_line: str

    @property
    def compiles(self) -> bool:
        """Whether the mutated module is valid Python (else: incompetent, never run)."""
        if self.source is None:
            return False
        try:
            compile(self.source, self.candidate.module, "exec")
        except (SyntaxError, ValueError):
            return False
        return True


@cache
def operators() -> tuple[tuple[str, Any], ...]:
    """Cosmic Ray's operators that need no arguments, as ``(name, instance)``, in its order."""
    chosen = []
    for name in cosmic_ray.plugins.operator_names():
        cls = cosmic_ray.plugins.get_operator(name)
        if not cls.arguments():
            chosen.append((name, cls()))
    return tuple(chosen)


def candidates(module: str, source: str, only: str | None = None) -> list[Candidate]:
    """Every mutation of ``source`` outside type annotations, numbered as Cosmic Ray does
    (only operator ``only``'s, if given)."""
    tree = get_ast(source)
    nodes = list(ast_nodes(tree))
    skip = _annotation_spans(nodes)
    found = []
    for name, operator in operators():
        if only is not None and name != only:
            continue
        positions = (pos for node in nodes for pos in operator.mutation_positions(node))
        for occurrence, (start, end) in enumerate(positions):
            if not any(a <= start and end <= b for a, b in skip):
                found.append(Candidate(module, name, occurrence, tuple(start), tuple(end)))
    return found


def cached_candidates(module: str, source: str, cache_dir: Path | None) -> list[Candidate]:
    """:func:`candidates`, kept in ``cache_dir`` by the source's digest (enumerating every
    operator over a large module takes seconds)."""
    if cache_dir is None:
        return candidates(module, source)
    digest = hashlib.sha256(f"{_operator_key()}\n{source}".encode()).hexdigest()[:24]
    path = cache_dir / f"{digest}.json"
    if path.exists():
        return [Candidate(module, c[0], c[1], tuple(c[2]), tuple(c[3]))
                for c in json.loads(path.read_text())]
    found = candidates(module, source)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([[c.operator, c.occurrence, c.start, c.end] for c in found]))
    return found


def sample(found: list[Candidate], size: int, seed: int | str) -> list[Candidate]:
    """``size`` distinct sites chosen with ``seed``, one candidate each (seeded too)."""
    by_site: dict[Position, list[Candidate]] = {}
    for candidate in found:
        by_site.setdefault((candidate.start, candidate.end), []).append(candidate)
    sites = sorted(by_site)
    rng = random.Random(f"{seed}:{found[0].module}" if found else seed)
    picked = rng.sample(sites, min(size, len(sites)))
    return [rng.choice(by_site[site]) for site in picked]


def make(candidate: Candidate, source: str) -> Mutant:
    """Apply ``candidate`` to ``source`` with Cosmic Ray."""
    operator = dict(operators())[candidate.operator]
    mutated = mutate_code(source, operator, candidate.occurrence)
    line = candidate.start[0]
    original_lines = source.splitlines()
    if mutated is None:
        return Mutant(candidate, None, "", line, original_lines[line - 1].strip(), "")
    mutated_lines = mutated.splitlines()
    diff = "\n".join(difflib.unified_diff(
        original_lines, mutated_lines, f"a/reference_system/{candidate.module}",
        f"b/reference_system/{candidate.module}", n=1, lineterm=""))
    changed = _changed_line(original_lines, mutated_lines, line)
    return Mutant(candidate, mutated, diff, line, original_lines[line - 1].strip(),
                  changed.strip())


def _changed_line(before: list[str], after: list[str], line: int) -> str:
    """The mutated text of ``line`` (or the first line that differs, if lines moved)."""
    if len(before) == len(after):
        return after[line - 1]
    first = next((i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b),
                 line - 1)
    return after[first] if first < len(after) else ""


def _annotation_spans(nodes: list[Any]) -> list[Position]:
    spans = []
    for node in nodes:
        annotation = None
        if node.type in ("param", "funcdef"):
            annotation = node.annotation
        elif node.type == "annassign":
            annotation = node.children[1]
        if annotation is not None:
            spans.append((annotation.start_pos, annotation.end_pos))
    return spans


def _operator_key() -> str:
    return ",".join(name for name, _ in operators())


def iter_sources(root: Path, modules: list[str]) -> Iterator[tuple[str, str]]:
    """``(module, source)`` for each module path under ``root``."""
    for module in modules:
        yield module, (root / module).read_text()
