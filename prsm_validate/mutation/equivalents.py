"""The versioned list of hand-triaged equivalent mutants (``fixtures/mutation-equivalents.yaml``).

A mutant is named there by what stays true when line numbers and occurrence counts move: its
module, Cosmic Ray's operator, the original source line and the mutated one (both stripped).
Each entry says why no user could see the difference. An entry with ``kind: unreachable``
names a mutant whose code no target the harness can start ever runs (the Ollama client, say):
it is reported apart from the equivalent ones. Listed mutants are not run and are left out of
the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from prsm_validate.errors import UsageProblem
from prsm_validate.mutation.generate import Mutant

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "mutation-equivalents.yaml"
_KEYS = ("module", "operator", "line", "mutated", "reason")
KINDS = ("equivalent", "unreachable")


class EquivalentsError(UsageProblem, ValueError):
    """The equivalents file is malformed; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class Equivalent:
    """One triaged equivalent mutant."""

    module: str
    operator: str
    line: str
    mutated: str
    reason: str
    kind: str = "equivalent"

    def matches(self, mutant: Mutant) -> bool:
        """Whether ``mutant`` is this one."""
        return (mutant.candidate.module, mutant.candidate.operator, mutant.original_line,
                mutant.mutated_line) == (self.module, self.operator, self.line, self.mutated)


def load(path: Path = DEFAULT_FILE) -> list[Equivalent]:
    """The entries of ``path`` (none if it does not exist)."""
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text()) or {}
    entries = (data.get("equivalents") or []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise EquivalentsError(f"{path}: top level must be a mapping with a list "
                               "'equivalents:'")
    return [_entry(path, index, entry) for index, entry in enumerate(entries)]


def _entry(path: Path, index: int, entry: object) -> Equivalent:
    if not isinstance(entry, dict):
        raise EquivalentsError(f"{path}: equivalents[{index}] must be a mapping with keys "
                               f"{', '.join(_KEYS)}")
    missing = [k for k in _KEYS if not isinstance(entry.get(k), str) or not entry[k].strip()]
    if missing:
        raise EquivalentsError(f"{path}: equivalents[{index}] needs a non-empty string for "
                               f"{', '.join(missing)}")
    kind = entry.get("kind", "equivalent")
    if kind not in KINDS:
        raise EquivalentsError(f"{path}: equivalents[{index}] kind {kind!r}: use one of "
                               f"{', '.join(KINDS)} (or leave it out: equivalent)")
    return Equivalent(*(entry[k].strip() for k in _KEYS), kind=kind)


def find(equivalents: list[Equivalent], mutant: Mutant) -> Equivalent | None:
    """The entry naming ``mutant``, if any."""
    return next((e for e in equivalents if e.matches(mutant)), None)


def entry_for(mutant: Mutant, reason: str) -> dict[str, str]:
    """The YAML entry that would list ``mutant`` as equivalent (for triage)."""
    return {"module": mutant.candidate.module, "operator": mutant.candidate.operator,
            "line": mutant.original_line, "mutated": mutant.mutated_line, "reason": reason}
