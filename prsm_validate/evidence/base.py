"""What an evidence check returns: a finding with its gaps and the lines that decided it.

A gap names the file, the resource and the missing setting, e.g.
``terraform/database.tf:12: aws_db_instance.main: multi_az is false (needs true)``.
A finding is ``pass`` (nothing missing), ``fail`` (at least one gap) or ``unknown`` (the
check could not decide, e.g. a tool is missing); unknown never passes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
SKIP_DIRS = {".git", ".terraform", "node_modules", ".venv", "__pycache__"}


@dataclass(frozen=True)
class Line:
    """A line of an evidence file that decided a verdict."""

    file: str
    line: int
    text: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.text.strip()}"


@dataclass(frozen=True)
class Gap:
    """Something the roadmap asks for that the repository lacks."""

    file: str
    resource: str
    missing: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.resource}: {self.missing}"


@dataclass
class Finding:
    """The outcome of one evidence check."""

    verdict: str = PASS
    measured: Any = None
    threshold: str = ""
    gaps: list[Gap] = field(default_factory=list)
    evidence: list[Line] = field(default_factory=list)
    note: str = ""

    def gap(self, file: str, resource: str, missing: str, line: int | None = None) -> None:
        """Record a gap; the finding fails."""
        self.gaps.append(Gap(file, resource, missing, line))
        if self.verdict != UNKNOWN:
            self.verdict = FAIL

    def cite(self, line: Line | None) -> None:
        """Record a line that shows a requirement is met."""
        if line is not None:
            self.evidence.append(line)

    def unknown(self, why: str) -> Finding:
        """The check could not decide; ``why`` says what is needed."""
        self.verdict, self.note = UNKNOWN, why
        return self

    def to_json(self) -> dict[str, Any]:
        """The gate file's view of this finding."""
        reason = self.note or ("; ".join(str(g) for g in self.gaps[:12])
                               if self.gaps else "; ".join(str(e) for e in self.evidence[:3]))
        body: dict[str, Any] = {"verdict": self.verdict, "reason": reason,
                                "gaps": [str(g) for g in self.gaps],
                                "evidence": [{"file": e.file, "line": e.line or None,
                                              "text": e.text.strip()} for e in self.evidence]}
        if self.measured is not None:
            body["measured"] = self.measured
        if self.threshold:
            body["threshold"] = self.threshold
        return body


class Repository:
    """The platform's repository under check: file discovery and line lookup."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._texts: dict[Path, str] = {}
        self._parsed: dict[str, Any] = {}

    def parsed(self, kind: str, parse: Callable[[Repository], Any]) -> Any:
        """``parse(self)``, once per kind: checks sharing a parse do it once per gate run."""
        if kind not in self._parsed:
            self._parsed[kind] = parse(self)
        return self._parsed[kind]

    def files(self, *suffixes: str, under: str | None = None) -> list[Path]:
        """Files with one of ``suffixes`` (all files without), sorted, skipping tool dirs."""
        base = self.root / under if under else self.root
        return sorted(p for p in _walk(base)
                      if not suffixes or p.name.endswith(tuple(suffixes)))

    def rel(self, path: Path) -> str:
        """``path`` relative to the repository root, as shown in gaps."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def text(self, path: Path) -> str:
        """The file's text (cached); undecodable bytes are replaced."""
        if path not in self._texts:
            self._texts[path] = path.read_text(encoding="utf-8", errors="replace")
        return self._texts[path]

    def find_line(self, path: Path, pattern: str, start: int = 1) -> Line | None:
        """The first line at or after ``start`` matching the regular expression."""
        regex = re.compile(pattern)
        for number, text in enumerate(self.text(path).splitlines(), 1):
            if number >= start and regex.search(text):
                return Line(self.rel(path), number, text)
        return None


def _walk(base: Path) -> Iterator[Path]:
    if not base.exists():
        return
    if base.is_file():
        yield base
        return
    for entry in sorted(base.iterdir()):
        if entry.is_dir():
            if entry.name not in SKIP_DIRS:
                yield from _walk(entry)
        elif entry.is_file():
            yield entry


def merge(findings: Iterable[Finding]) -> Finding:
    """One finding from several: unknown if any is unknown, else fail if any failed."""
    out = Finding()
    for finding in findings:
        out.gaps += finding.gaps
        out.evidence += finding.evidence
        if finding.verdict == UNKNOWN:
            out.verdict, out.note = UNKNOWN, finding.note
        elif finding.verdict == FAIL and out.verdict == PASS:
            out.verdict = FAIL
    return out
