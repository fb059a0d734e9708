"""Documentation evidence (Phase 0 roadmap, 5.2 / Milestone 12): runbooks and the DR plan.

Runbooks are Markdown files in a folder named ``runbooks``; one must exist for each topic of
the roadmap's list, found by its file name or first heading, and each must have the sections
Symptoms, Diagnosis, Resolution, Prevention and Escalation with text under them. The disaster
recovery plan is a Markdown file named or titled "disaster recovery" that states an RTO and an
RPO as durations, judged against the configured maxima.

Written here by hand: reading ATX headings (``#``..``######``, outside code fences) and
durations ("15 minutes", "30 s"); a Markdown library would add a dependency for a dozen lines.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from prsm_validate.evidence.base import Finding, Line, Repository

RUNBOOK_TOPICS = {
    "service down": r"service[-_ ]down|outage",
    "high CPU/memory": r"cpu|memory",
    "disk full": r"disk",
    "database connection": r"database|postgres|\bdb\b",
    "VPN": r"vpn|wireguard",
    "slow API": r"slow|latency",
    "consumer lag": r"lag|consumer",
    "deployment": r"deploy|rollback|release",
    "backup and restore": r"backup|restore",
    "disaster recovery": r"disaster|\bdr\b",
}
SECTIONS = ("Symptoms", "Diagnosis", "Resolution", "Prevention", "Escalation")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600}  # by the unit's first letter
DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b",
                      re.IGNORECASE)


def headings(text: str) -> list[tuple[int, int, str]]:
    """(line, level, title) of every ATX heading outside fenced code blocks."""
    found, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            found.append((number, len(match.group(1)), match.group(2)))
    return found


def sections(text: str) -> dict[str, tuple[int, str]]:
    """Heading title (lower case) -> (line, text under it up to the next heading)."""
    lines = text.splitlines()
    marks = headings(text)
    out = {}
    for i, (line, _level, title) in enumerate(marks):
        end = marks[i + 1][0] - 1 if i + 1 < len(marks) else len(lines)
        out[title.lower()] = (line, "\n".join(lines[line:end]).strip())
    return out


def _runbooks(repo: Repository) -> list[Path]:
    return [p for p in repo.files(".md") if "runbooks" in p.parts[len(repo.root.parts):-1]]


def _title(repo: Repository, path: Path) -> str:
    marks = headings(repo.text(path))
    return marks[0][2] if marks else path.stem


def check_runbooks(repo: Repository, params: dict[str, Any]) -> Finding:
    """A runbook per topic, each with the five sections filled in."""
    finding = Finding()
    books = _runbooks(repo)
    folder = f"{repo.rel(books[0].parent)}/" if books else "runbooks/"
    if not books:
        finding.gap(folder, "runbooks", "no runbooks folder with Markdown files")
    topics = params.get("topics") or list(RUNBOOK_TOPICS)
    matched: dict[str, str] = {}
    for topic in topics:
        pattern = re.compile(RUNBOOK_TOPICS.get(topic, re.escape(topic)), re.IGNORECASE)
        book = next((b for b in books if pattern.search(b.stem) or
                     pattern.search(_title(repo, b))), None)
        if book is None:
            finding.gap(folder, f"runbook {topic!r}", "missing (no file or title "
                        f"matching {pattern.pattern})")
            continue
        matched[topic] = repo.rel(book)
    for rel in sorted(set(matched.values())):
        _check_sections(repo, repo.root / rel, finding)
    finding.measured = {"runbooks": len(books), "topics_covered": f"{len(matched)}/{len(topics)}"}
    return finding


def _check_sections(repo: Repository, path: Path, finding: Finding) -> None:
    found = sections(repo.text(path))
    for name in SECTIONS:
        entry = next((v for k, v in found.items() if k.startswith(name.lower())), None)
        if entry is None:
            finding.gap(repo.rel(path), f"runbook {_title(repo, path)!r}",
                        f"section {name} missing")
        elif not entry[1]:
            finding.gap(repo.rel(path), f"runbook {_title(repo, path)!r}",
                        f"section {name} is empty", entry[0])
        else:
            finding.cite(Line(repo.rel(path), entry[0], f"## {name}"))


def seconds(text: str) -> float | None:
    """The first duration in ``text`` in seconds ("15 minutes" -> 900)."""
    match = DURATION.search(text)
    if not match:
        return None
    return float(match.group(1)) * UNITS[match.group(2)[0].lower()]


def _dr_plan(repo: Repository) -> Path | None:
    for path in repo.files(".md"):
        if path in _runbooks(repo):
            continue
        name = f"{path.stem} {_title(repo, path)}".lower()
        if ("disaster" in name and "recovery" in name) or re.search(r"\bdr[-_ ]plan", name):
            return path
    return None


def check_dr_plan(repo: Repository, params: dict[str, Any]) -> Finding:
    """A disaster recovery plan stating RTO and RPO within the configured maxima."""
    limits = {"RTO": float(params.get("max_rto_s", 900)), "RPO": float(params.get("max_rpo_s",
                                                                                    300))}
    finding = Finding(threshold="; ".join(f"{k} <= {v:g}s" for k, v in limits.items()))
    plan = _dr_plan(repo)
    if plan is None:
        finding.gap("docs/", "disaster recovery plan", "no Markdown file named or titled "
                    "'disaster recovery'")
        return finding
    measured = {}
    for name, limit in limits.items():
        line = repo.find_line(plan, rf"\b{name}\b.*\d")
        value = seconds(line.text.split(name, 1)[1]) if line else None
        if line is None or value is None:
            finding.gap(repo.rel(plan), "disaster recovery plan",
                        f"{name} not stated as a duration (e.g. '{name}: 15 minutes')")
            continue
        measured[f"{name.lower()}_s"] = value
        if value > limit:
            finding.gap(repo.rel(plan), "disaster recovery plan",
                        f"{name} {value:g}s exceeds {limit:g}s", line.line)
        else:
            finding.cite(line)
    finding.measured = measured
    return finding
