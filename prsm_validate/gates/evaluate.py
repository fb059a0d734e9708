"""Gate verdicts from a run's outcomes and the repository's evidence.

Per criterion: pass, fail, not-measured (a failure), unknown (an evidence check could not
decide: a failure) or manual (a person must check; never passed, does not fail the gate).
Each criterion's entry carries its citation, kind, measured value against its threshold, and
the evidence: files with the line that decided.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

from prsm_validate.gates.definitions import Criterion, Gate, Threshold

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq}
FAILING = ("fail", "not-measured", "unknown")
Location = tuple[str, int | None]


def selected(criterion: Criterion, nodeid: str) -> bool:
    """True when ``nodeid`` is one of the criterion's scenarios.

    A selector is a folder, a file, a test, or a test with parameters: it matches the node id
    itself and everything below it (the next character is ``/``, ``:`` or ``[``).
    """
    return any(_below(nodeid, s.rstrip("/")) for s in criterion.select)


def _below(nodeid: str, selector: str) -> bool:
    return nodeid == selector or (
        nodeid.startswith(selector) and nodeid[len(selector)] in "/:[")


def _figure(properties: dict[str, Any], dotted: str) -> float | None:
    value: Any = properties
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, int | float) else None


def _evidence(outcome: dict[str, Any], text: str, locations: dict[str, Location]
              ) -> dict[str, Any]:
    file, line = locations.get(outcome["nodeid"], (outcome["nodeid"].split("::")[0], None))
    return {"file": file, "line": line, "text": f"{outcome['nodeid']}: {text}"}


def automated(criterion: Criterion, outcomes: list[dict[str, Any]],
              locations: dict[str, Location] | None = None) -> dict[str, Any]:
    """Verdict of an automated criterion from the run's test outcomes."""
    locations = locations or {}
    mine = [o for o in outcomes if selected(criterion, o["nodeid"])]
    failed = [o for o in mine if o["outcome"] in ("failed", "error")]
    passed = [o for o in mine if o["outcome"] == "passed"]
    if failed:
        return {"verdict": "fail", "reason": "failed: " + ", ".join(o["nodeid"]
                                                                    for o in failed[:5]),
                "evidence": [_evidence(o, _last_line(o.get("message", "")), locations)
                             for o in failed[:5]]}
    if not passed:
        skipped = [o for o in mine if o["outcome"] == "skipped"]
        why = f"; skipped: {skipped[0].get('reason')}" if skipped else ""
        return {"verdict": "not-measured", "reason": "no selected scenario ran and passed "
                f"(selection: {', '.join(criterion.select)}){why}",
                "evidence": [_evidence(o, f"skipped: {o.get('reason')}", locations)
                             for o in skipped[:3]]}
    verdict = _thresholds(criterion.thresholds, passed, locations)
    if verdict["verdict"] == "pass" and criterion.sla:
        verdict = _sla(criterion, passed, verdict)
    skipped = [o for o in mine if o["outcome"] == "skipped"]
    if verdict["verdict"] == "not-measured" and skipped:  # say why the figure is missing
        verdict["reason"] += "; skipped: " + "; ".join(
            f"{o['nodeid']}: {o.get('reason')}" for o in skipped[:3])
        verdict["evidence"] = [_evidence(o, f"skipped: {o.get('reason')}", locations)
                               for o in skipped[:3]] + verdict.get("evidence", [])
    return verdict


def _last_line(message: str) -> str:
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "failed"


GATE_SLA = "gate_sla"  # the property carrying a test's results of its gates' SLA lines


def _sla(criterion: Criterion, passed: list[dict[str, Any]], verdict: dict[str, Any]
         ) -> dict[str, Any]:
    """Every SLA line held in every selected scenario that recorded its metric."""
    results = [r for o in passed for r in o.get("properties", {}).get(GATE_SLA, [])
               if r.get("criterion") == criterion.id]
    for line in criterion.sla:
        mine = [r for r in results if r["line"] == line and r["verdict"] != "unknown"]
        if not mine:
            return {**verdict, "verdict": "not-measured", "threshold": line,
                    "reason": f"no selected scenario recorded data for {line}"}
        bad = [r for r in mine if r["verdict"] != "pass"]
        if bad:
            return {**verdict, "verdict": "fail", "threshold": line,
                    "measured": bad[0].get("measured"),
                    "reason": f"{bad[0]['nodeid']}: {bad[0]['message']}"}
    return {**verdict, "threshold": "; ".join(filter(None, [verdict.get("threshold", ""),
                                                           *criterion.sla]))}


def _thresholds(thresholds: tuple[Threshold, ...], passed: list[dict[str, Any]],
                locations: dict[str, Location]) -> dict[str, Any]:
    evidence = [_evidence(o, "passed", locations) for o in passed[:5]]
    measured = {}
    for threshold in thresholds:
        values = [(v, o) for o in passed
                  if (v := _figure(o.get("properties", {}), threshold.property)) is not None]
        if not values:
            return {"verdict": "not-measured", "threshold": str(threshold),
                    "reason": f"no scenario recorded {threshold.property}",
                    "evidence": evidence}
        worst, source = (max if threshold.op in ("<", "<=") else min)(values,
                                                                      key=lambda x: x[0])
        measured[threshold.property] = worst
        deciding = _evidence(source, f"{threshold.property} = {worst:g}", locations)
        if not _OPS[threshold.op](worst, threshold.value):
            return {"verdict": "fail", "measured": measured, "threshold": str(threshold),
                    "reason": f"{threshold.property} = {worst:g} breaks {threshold}",
                    "evidence": [deciding]}
        evidence.insert(0, deciding)
    return {"verdict": "pass", "measured": measured or f"{len(passed)} scenario(s) passed",
            "threshold": "; ".join(str(t) for t in thresholds),
            "reason": ", ".join(o["nodeid"] for o in passed[:5]), "evidence": evidence[:6]}


def evidence_check(criterion: Criterion, repo: Any) -> dict[str, Any]:
    """Verdict of an evidence criterion: its check over the platform's repository."""
    from prsm_validate.evidence import run_check

    finding = run_check(str(criterion.check), repo, criterion.params)
    return {"check": criterion.check, **finding.to_json()}


def manual(criterion: Criterion) -> dict[str, Any]:
    """A manual criterion: what a person must check; never passed."""
    return {"verdict": "manual", "reason": f"a person must check: {criterion.person_checks}",
            "person_checks": criterion.person_checks}


def judge(criterion: Criterion, outcomes: list[dict[str, Any]], repo: Any,
          locations: dict[str, Location] | None = None) -> dict[str, Any]:
    """One criterion's entry of the gate file."""
    if criterion.kind == "automated":
        result = automated(criterion, outcomes, locations)
    elif criterion.kind == "evidence":
        result = evidence_check(criterion, repo)
    else:
        result = manual(criterion)
    cite = criterion.cite
    return {"id": criterion.id, "kind": criterion.kind, "description": criterion.description,
            "cite": ({"source": cite.source, "section": cite.section, "words": cite.words}
                     if cite else None), **result}


def evaluate(gate: Gate, outcomes: list[dict[str, Any]], evidence_root: Path | Any,
             locations: dict[str, Location] | None = None,
             judged: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The gate's verdict file content (``judged`` shares criteria across gates of a run)."""
    from prsm_validate.evidence.base import Repository

    repo = evidence_root if isinstance(evidence_root, Repository) else Repository(
        Path(evidence_root))
    judged = {} if judged is None else judged
    criteria = []
    for criterion in gate.criteria:
        if criterion.id not in judged:
            judged[criterion.id] = judge(criterion, outcomes, repo, locations)
        criteria.append(judged[criterion.id])
    failing = [c["id"] for c in criteria if c["verdict"] in FAILING]
    cite = gate.cite
    return {"gate": gate.name, "title": gate.title, "verdict": "fail" if failing else "pass",
            "cite": str(cite) if cite else None, "union": list(gate.union),
            "evidence_root": str(repo.root), "failing": failing,
            "manual": [c["id"] for c in criteria if c["verdict"] == "manual"],
            "criteria": criteria}
